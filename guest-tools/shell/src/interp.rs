//! The interpreter: runs brush-parser's syntax tree.
//!
//! Lists (`;`, newlines), `&&`/`||`, pipelines (stages run in turn, each
//! one's output buffered as the next one's input), simple commands with
//! assignments and redirects, `{ }` groups, `( )` subshells, `if`, `for`,
//! `while` and `until`. Commands are built-ins; any other name runs as a host
//! process where the host allows that (`host-process`), and otherwise prints
//! `bash: NAME: command not found` and sets status 127, as bash does.
//! A loop that never ends is stopped by the host's deadline.

use crate::builtins;
use crate::expand;
use crate::io::{FileOut, Io, Redirected, Terminal, Writer, buffer, err, null};
use brush_parser::ast::{
    AndOr, AndOrList, AssignmentName, AssignmentValue, Command, CommandPrefixOrSuffixItem, CompoundCommand,
    CompoundList, IoFileRedirectKind, IoFileRedirectTarget, IoRedirect, Pipeline, SimpleCommand,
};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use wasmgate_tool_sdk::workspace::{Resolved, Workspace};

/// How deep `$(...)` may nest: each level is a recursion of the interpreter.
const MAX_SUBSTITUTION_DEPTH: usize = 32;

/// The state of one shell.
pub struct Shell {
    pub ws: Workspace,
    /// The current folder, relative to the workspace root ("" for the root).
    pub cwd: String,
    pub vars: BTreeMap<String, String>,
    pub exported: BTreeSet<String>,
    /// `$?`.
    pub status: i32,
    /// Set by `exit`: the status the script ends with.
    pub exit: Option<i32>,
    terminal: Terminal,
    depth: usize,
}

impl Shell {
    pub fn new(ws: Workspace, terminal: Terminal) -> Self {
        let root = ws.root().to_string();
        let mut vars = BTreeMap::new();
        for (name, value) in [
            ("HOME", root.as_str()),
            ("PWD", root.as_str()),
            ("SHELL", "/bin/bash"),
            ("PATH", "/usr/bin:/bin"),
            ("IFS", " \t\n"),
        ] {
            vars.insert(name.to_string(), value.to_string());
        }
        let exported = ["HOME", "PWD", "SHELL", "PATH"].iter().map(|s| s.to_string()).collect();
        Shell { ws, cwd: String::new(), vars, exported, status: 0, exit: None, terminal, depth: 0 }
    }

    /// Runs a whole script on the terminal; returns its exit status.
    pub fn run_script(&mut self, script: &str) -> i32 {
        let io = Io { stdin: Rc::new(Vec::new()), out: self.terminal.writer(), err: self.terminal.writer() };
        self.run_text(script, &io)
    }

    /// A variable's value, or "".
    pub fn var(&self, name: &str) -> String {
        self.vars.get(name).cloned().unwrap_or_default()
    }

    /// The current folder as an absolute guest path.
    pub fn cwd_abs(&self) -> String {
        self.ws.join(&self.cwd)
    }

    /// Resolves a path argument against the current folder, inside the workspace.
    pub fn resolve(&self, arg: &str) -> Result<Resolved, String> {
        let joined =
            if arg.starts_with('/') || self.cwd.is_empty() { arg.to_string() } else { format!("{}/{arg}", self.cwd) };
        self.ws.resolve(&joined).map_err(|_| format!("{arg}: outside the workspace"))
    }

    /// Runs `$(command)` and returns what it printed.
    pub fn capture(&mut self, command: &str) -> String {
        if self.depth >= MAX_SUBSTITUTION_DEPTH {
            return String::new();
        }
        let (buf, out) = buffer();
        let io = Io { stdin: Rc::new(Vec::new()), out, err: self.terminal.writer() };
        let saved = self.save();
        self.depth += 1;
        let status = self.run_text(command, &io);
        self.depth -= 1;
        self.restore(saved);
        self.status = status;
        let bytes = buf.borrow().clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn run_text(&mut self, text: &str, io: &Io) -> i32 {
        let mut parser = brush_parser::Parser::new(std::io::BufReader::new(text.as_bytes()), &Default::default());
        let program = match parser.parse_program() {
            Ok(program) => program,
            Err(error) => {
                err!(io, "bash: syntax error: {error}\n");
                self.status = 2;
                return 2;
            }
        };
        for list in &program.complete_commands {
            self.run_list(list, io);
            if self.exit.is_some() {
                break;
            }
        }
        self.exit.unwrap_or(self.status)
    }

    fn run_list(&mut self, list: &CompoundList, io: &Io) -> i32 {
        for item in &list.0 {
            self.run_and_or(&item.0, io);
            if self.exit.is_some() {
                break;
            }
        }
        self.status
    }

    fn run_and_or(&mut self, list: &AndOrList, io: &Io) -> i32 {
        let mut status = self.run_pipeline(&list.first, io);
        for next in &list.additional {
            if self.exit.is_some() {
                break;
            }
            status = match next {
                AndOr::And(pipeline) if status == 0 => self.run_pipeline(pipeline, io),
                AndOr::Or(pipeline) if status != 0 => self.run_pipeline(pipeline, io),
                _ => status,
            };
        }
        status
    }

    fn run_pipeline(&mut self, pipeline: &Pipeline, io: &Io) -> i32 {
        let mut input: Option<Vec<u8>> = None;
        let mut status = 0;
        let stages = pipeline.seq.len();
        for (i, command) in pipeline.seq.iter().enumerate() {
            let stage_io = match input.take() {
                Some(bytes) => io.with_stdin(bytes),
                None => io.clone(),
            };
            if i + 1 == stages {
                status = self.run_command(command, &stage_io);
            } else {
                let (buf, out) = buffer();
                status = self.run_command(command, &stage_io.with_out(out));
                input = Some(buf.take());
            }
            if self.exit.is_some() {
                break;
            }
        }
        if pipeline.bang {
            status = i32::from(status == 0);
        }
        self.status = status;
        status
    }

    fn run_command(&mut self, command: &Command, io: &Io) -> i32 {
        let status = match command {
            Command::Simple(simple) => self.run_simple(simple, io),
            Command::Compound(compound, redirects) => {
                let redirects: Vec<&IoRedirect> = redirects.iter().flat_map(|r| r.0.iter()).collect();
                match self.redirect(&redirects, io) {
                    Ok((io, files)) => {
                        let status = self.run_compound(compound, &io);
                        write_failures("bash", &files, &io, status)
                    }
                    Err(status) => status,
                }
            }
            Command::Function(_) => self.unsupported("function definitions", io),
            Command::ExtendedTest(..) => self.unsupported("[[ ]] tests (use [ ] or test)", io),
        };
        self.status = status;
        status
    }

    fn unsupported(&mut self, what: &str, io: &Io) -> i32 {
        err!(io, "bash: {what} are not supported in this shell\n");
        2
    }

    fn run_compound(&mut self, compound: &CompoundCommand, io: &Io) -> i32 {
        match compound {
            CompoundCommand::BraceGroup(group) => self.run_list(&group.list, io),
            CompoundCommand::Subshell(sub) => {
                let saved = self.save();
                let status = self.run_list(&sub.list, io);
                let status = self.exit.take().unwrap_or(status);
                self.restore(saved);
                status
            }
            CompoundCommand::IfClause(clause) => {
                if self.run_list(&clause.condition, io) == 0 {
                    return self.run_list(&clause.then, io);
                }
                for branch in clause.elses.iter().flatten() {
                    match &branch.condition {
                        Some(condition) if self.run_list(condition, io) != 0 => continue,
                        _ => return self.run_list(&branch.body, io),
                    }
                }
                0
            }
            CompoundCommand::ForClause(clause) => {
                let mut values = Vec::new();
                for word in clause.values.iter().flatten() {
                    match expand::fields(self, &word.value) {
                        Ok(fields) => values.extend(fields),
                        Err(e) => return self.expansion_error(&e, io),
                    }
                }
                let mut status = 0;
                for value in values {
                    self.vars.insert(clause.variable_name.clone(), value);
                    status = self.run_list(&clause.body.list, io);
                    if self.exit.is_some() {
                        break;
                    }
                }
                status
            }
            CompoundCommand::WhileClause(clause) | CompoundCommand::UntilClause(clause) => {
                let until = matches!(compound, CompoundCommand::UntilClause(_));
                let mut status = 0;
                while self.exit.is_none() && (self.run_list(&clause.0, io) == 0) != until {
                    status = self.run_list(&clause.1.list, io);
                }
                status
            }
            _ => self.unsupported("case, arithmetic and coprocess commands", io),
        }
    }

    fn expansion_error(&mut self, message: &str, io: &Io) -> i32 {
        err!(io, "bash: {message}\n");
        1
    }

    fn run_simple(&mut self, command: &SimpleCommand, io: &Io) -> i32 {
        let parts = command
            .prefix
            .iter()
            .flat_map(|p| p.0.iter().map(Part::Item))
            .chain(command.word_or_name.iter().map(Part::Name))
            .chain(command.suffix.iter().flat_map(|s| s.0.iter().map(Part::Item)));
        let mut argv = Vec::new();
        let mut assignments = Vec::new();
        let mut redirects = Vec::new();
        for part in parts {
            let result = match part {
                Part::Name(word) | Part::Item(CommandPrefixOrSuffixItem::Word(word)) => {
                    expand::fields(self, &word.value).map(|f| argv.extend(f))
                }
                // After the command name, `NAME=value` is an ordinary argument
                // (`export FOO=bar`, `echo status=$?`).
                Part::Item(CommandPrefixOrSuffixItem::AssignmentWord(_, word)) if !argv.is_empty() => {
                    expand::fields(self, &word.value).map(|f| argv.extend(f))
                }
                Part::Item(CommandPrefixOrSuffixItem::AssignmentWord(assignment, _)) => {
                    match (&assignment.name, &assignment.value) {
                        (AssignmentName::VariableName(name), AssignmentValue::Scalar(value)) => {
                            expand::string(self, &value.value)
                                .map(|v| assignments.push((name.clone(), v, assignment.append)))
                        }
                        _ => Err("arrays are not supported".to_string()),
                    }
                }
                Part::Item(CommandPrefixOrSuffixItem::IoRedirect(redirect)) => {
                    redirects.push(redirect);
                    Ok(())
                }
                Part::Item(CommandPrefixOrSuffixItem::ProcessSubstitution(..)) => {
                    Err("process substitution is not supported".into())
                }
            };
            if let Err(message) = result {
                return self.expansion_error(&message, io);
            }
        }
        let (io, files) = match self.redirect(&redirects, io) {
            Ok(redirected) => redirected,
            Err(status) => return status,
        };
        if argv.is_empty() {
            for (name, value, append) in assignments {
                let value = if append { self.var(&name) + &value } else { value };
                self.vars.insert(name, value);
            }
            return 0;
        }
        // `NAME=value command`: the assignments hold for that command only.
        let saved: Vec<(String, Option<String>)> =
            assignments.iter().map(|(name, _, _)| (name.clone(), self.vars.get(name).cloned())).collect();
        for (name, value, _) in assignments {
            self.vars.insert(name, value);
        }
        let status = match builtins::find(&argv[0]) {
            Some(builtin) => builtin(self, &argv[1..], &io),
            None => self.run_host_process(&argv, &io),
        };
        let status = write_failures(&argv[0], &files, &io, status);
        for (name, value) in saved {
            match value {
                Some(value) => self.vars.insert(name, value),
                None => self.vars.remove(&name),
            };
        }
        status
    }

    /// A command that is not built in: a real host process where the host
    /// allows them, otherwise "command not found", as bash says it.
    fn run_host_process(&mut self, argv: &[String], io: &Io) -> i32 {
        use wasmgate_tool_sdk::wasmgate::tools::host_process::{self, ProcessError};
        match host_process::run(argv, &self.cwd, &io.stdin) {
            Ok(output) => {
                let _ = io.out.borrow_mut().write_all(&output.stdout);
                let _ = io.err.borrow_mut().write_all(&output.stderr);
                output.status
            }
            Err(ProcessError::Disabled | ProcessError::NotFound) => {
                err!(io, "bash: {}: command not found\n", argv[0]);
                127
            }
            Err(ProcessError::Failed(message)) => {
                err!(io, "bash: {}: {message}\n", argv[0]);
                126
            }
        }
    }

    /// The streams after applying redirects and the files they opened, or
    /// the status of a failed one.
    fn redirect(&mut self, redirects: &[&IoRedirect], io: &Io) -> Result<(Io, Vec<Redirected>), i32> {
        let mut io = io.clone();
        let mut files = Vec::new();
        for redirect in redirects {
            match redirect {
                IoRedirect::File(fd, kind, target) => {
                    let default_fd = match kind {
                        IoFileRedirectKind::Read
                        | IoFileRedirectKind::ReadAndWrite
                        | IoFileRedirectKind::DuplicateInput => 0,
                        _ => 1,
                    };
                    let fd = fd.unwrap_or(default_fd);
                    match (kind, target) {
                        (IoFileRedirectKind::DuplicateOutput, IoFileRedirectTarget::Fd(n)) => {
                            self.duplicate(&mut io, fd, *n)
                        }
                        (IoFileRedirectKind::DuplicateOutput, IoFileRedirectTarget::Duplicate(word)) => {
                            let n = expand::string(self, &word.value).unwrap_or_default();
                            match n.parse::<i32>() {
                                Ok(n) => self.duplicate(&mut io, fd, n),
                                Err(_) => return Err(self.expansion_error(&format!("{n}: ambiguous redirect"), &io)),
                            }
                        }
                        (_, IoFileRedirectTarget::Filename(word)) => {
                            let path = match expand::string(self, &word.value) {
                                Ok(path) => path,
                                Err(e) => return Err(self.expansion_error(&e, &io)),
                            };
                            match kind {
                                IoFileRedirectKind::Read | IoFileRedirectKind::ReadAndWrite => {
                                    let bytes = self.read_for_redirect(&path, &io)?;
                                    io = io.with_stdin(bytes);
                                }
                                _ => {
                                    let append = matches!(kind, IoFileRedirectKind::Append);
                                    let writer = self.open_for_redirect(&path, append, &io, &mut files)?;
                                    match fd {
                                        2 => io.err = writer,
                                        _ => io.out = writer,
                                    }
                                }
                            }
                        }
                        _ => return Err(self.expansion_error("unsupported redirect", &io)),
                    }
                }
                IoRedirect::OutputAndError(word, append) => {
                    let path = match expand::string(self, &word.value) {
                        Ok(path) => path,
                        Err(e) => return Err(self.expansion_error(&e, &io)),
                    };
                    let writer = self.open_for_redirect(&path, *append, &io, &mut files)?;
                    io.out = writer.clone();
                    io.err = writer;
                }
                IoRedirect::HereDocument(_, doc) => {
                    let text = if doc.requires_expansion {
                        match expand::string(self, &format!("\"{}\"", doc.doc.value.replace('"', "\\\""))) {
                            Ok(text) => text,
                            Err(e) => return Err(self.expansion_error(&e, &io)),
                        }
                    } else {
                        doc.doc.value.clone()
                    };
                    io = io.with_stdin(text.into_bytes());
                }
                IoRedirect::HereString(_, word) => {
                    let mut text = expand::string(self, &word.value).unwrap_or_default();
                    text.push('\n');
                    io = io.with_stdin(text.into_bytes());
                }
            }
        }
        Ok((io, files))
    }

    fn duplicate(&self, io: &mut Io, fd: i32, target: i32) {
        match (fd, target) {
            (2, 1) => io.err = io.out.clone(),
            (1, 2) => io.out = io.err.clone(),
            _ => {}
        }
    }

    fn read_for_redirect(&mut self, path: &str, io: &Io) -> Result<Vec<u8>, i32> {
        if path == "/dev/null" {
            return Ok(Vec::new());
        }
        let resolved = self.resolve(path).map_err(|e| self.expansion_error(&e, io))?;
        std::fs::read(&resolved.abs).map_err(|e| self.expansion_error(&format!("{path}: {}", describe(&e)), io))
    }

    fn open_for_redirect(
        &mut self,
        path: &str,
        append: bool,
        io: &Io,
        opened: &mut Vec<Redirected>,
    ) -> Result<Writer, i32> {
        if path == "/dev/null" {
            return Ok(null());
        }
        let resolved = self.resolve(path).map_err(|e| self.expansion_error(&e, io))?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .append(append)
            .truncate(!append)
            .open(&resolved.abs)
            .map_err(|e| self.expansion_error(&format!("{path}: {}", describe(&e)), io))?;
        let (file, writer) = FileOut::open(file);
        opened.push(file);
        Ok(writer)
    }

    fn save(&self) -> (String, BTreeMap<String, String>, BTreeSet<String>) {
        (self.cwd.clone(), self.vars.clone(), self.exported.clone())
    }

    fn restore(&mut self, (cwd, vars, exported): (String, BTreeMap<String, String>, BTreeSet<String>)) {
        self.cwd = cwd;
        self.vars = vars;
        self.exported = exported;
    }
}

/// A simple command's parts in the order they are written.
enum Part<'a> {
    Name(&'a brush_parser::ast::Word),
    Item(&'a CommandPrefixOrSuffixItem),
}

/// An I/O error as bash words it.
/// Says that `command`'s output to a redirected file failed (a full disk,
/// the workspace's disk quota), as bash does, and fails the command if it
/// had not failed already.
fn write_failures(command: &str, files: &[Redirected], io: &Io, status: i32) -> i32 {
    match files.iter().find_map(|file| file.borrow_mut().failure()) {
        Some(error) => {
            err!(io, "{command}: write error: {}\n", describe(&error));
            if status == 0 { 1 } else { status }
        }
        None => status,
    }
}

pub fn describe(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory",
        std::io::ErrorKind::PermissionDenied => "Permission denied",
        std::io::ErrorKind::AlreadyExists => "File exists",
        std::io::ErrorKind::IsADirectory => "Is a directory",
        std::io::ErrorKind::NotADirectory => "Not a directory",
        std::io::ErrorKind::DirectoryNotEmpty => "Directory not empty",
        std::io::ErrorKind::StorageFull => "No space left on device",
        std::io::ErrorKind::QuotaExceeded => "Disk quota exceeded",
        _ => "Input/output error",
    }
}
