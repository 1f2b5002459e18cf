//! The interpreter: runs brush-parser's syntax tree.
//!
//! Lists (`;`, newlines), `&&`/`||`, pipelines (stages run in turn, each
//! one's output buffered as the next one's input), simple commands with
//! assignments (arrays too) and redirects, `{ }` groups, `( )` subshells,
//! `if`, `for`, `for ((;;))`, `while`, `until`, `case`, `((...))`, `[[ ]]`,
//! functions with `local` and `return`, `break` and `continue`, and
//! `set -e`, `-u` and `-o pipefail` (the compound commands are in
//! `compound`). Commands are functions, then built-ins; any other name runs
//! as a host process where the host allows that (`host-process`), and
//! otherwise prints `bash: NAME: command not found` and sets status 127, as
//! bash does. A loop that never ends is stopped by the host's deadline.

use crate::builtins;
use crate::expand;
use crate::io::{FileOut, Io, Redirected, Terminal, Writer, buffer, err, null};
use crate::variables::{Key, Variables};
use brush_parser::ast::{
    AndOr, AndOrList, AssignmentName, AssignmentValue, Command, CommandPrefixOrSuffixItem, CompoundList,
    FunctionDefinition, IoFileRedirectKind, IoFileRedirectTarget, IoRedirect, Pipeline, SimpleCommand,
};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use wasmgate_tool_sdk::workspace::{Resolved, Workspace};

/// The built-ins whose `NAME=value` arguments are assignments.
const DECLARING: &[&str] = &["local", "export", "declare", "typeset", "readonly"];

/// Whether a declaring command (`readonly`, `declare -r`) makes its names
/// read-only.
fn makes_readonly(argv: &[String]) -> bool {
    match argv.first().map(String::as_str) {
        Some("readonly") => true,
        Some("declare" | "typeset" | "local") => argv[1..].iter().any(|a| a.starts_with('-') && a.contains('r')),
        _ => false,
    }
}

/// How deep `$(...)` may nest: each level is a recursion of the interpreter.
const MAX_SUBSTITUTION_DEPTH: usize = 32;

/// What stops a list before its end, besides `exit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Return,
    Break(u32),
    Continue(u32),
}

/// `set -e`, `set -u`, `set -o pipefail`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub errexit: bool,
    pub nounset: bool,
    pub pipefail: bool,
}

/// The state of one shell.
pub struct Shell {
    pub ws: Workspace,
    /// The current folder, relative to the workspace root ("" for the root).
    pub cwd: String,
    pub vars: Variables,
    pub exported: BTreeSet<String>,
    /// Names made read-only by `readonly` or `declare -r`.
    pub readonly: BTreeSet<String>,
    /// Where `getopts` goes on: the parameter (`OPTIND`) and the letter in
    /// it, for grouped options (`-abc`).
    pub getopts_next: (usize, usize),
    /// `$?`.
    pub status: i32,
    /// Set by `exit`: the status the script ends with.
    pub exit: Option<i32>,
    /// Set by `return`, `break` and `continue` until the construct they
    /// leave takes it.
    pub flow: Option<Flow>,
    pub functions: BTreeMap<String, Rc<FunctionDefinition>>,
    pub options: Options,
    /// Loops running in the current function (or the script).
    pub loops: usize,
    /// Set by `trap COMMAND EXIT`: run when the script ends.
    pub on_exit: Option<String>,
    /// Scripts being `source`d (`return` ends one).
    pub sourcing: usize,
    terminal: Terminal,
    depth: usize,
    /// Functions running.
    pub(crate) calls: usize,
    /// Command substitutions run so far (an assignment's status is its
    /// last one's).
    captures: usize,
    /// Inside an `if`/`while` condition or a `&&`/`||` list's left side,
    /// where a failure does not stop a `set -e` script.
    pub(crate) tested: usize,
}

impl Shell {
    pub fn new(ws: Workspace, terminal: Terminal) -> Self {
        let root = ws.root().to_string();
        let mut vars = Variables::default();
        for (name, value) in [
            ("HOME", root.as_str()),
            ("PWD", root.as_str()),
            ("SHELL", "/bin/bash"),
            ("PATH", "/usr/bin:/bin"),
            ("IFS", " \t\n"),
        ] {
            vars.set(name, value.to_string());
        }
        let exported = ["HOME", "PWD", "SHELL", "PATH"].iter().map(|s| s.to_string()).collect();
        Shell {
            ws,
            cwd: String::new(),
            vars,
            exported,
            readonly: BTreeSet::new(),
            getopts_next: (1, 1),
            status: 0,
            exit: None,
            flow: None,
            functions: BTreeMap::new(),
            options: Options::default(),
            loops: 0,
            on_exit: None,
            sourcing: 0,
            terminal,
            depth: 0,
            calls: 0,
            captures: 0,
            tested: 0,
        }
    }

    /// Runs a whole script on the terminal, then its `trap ... EXIT`;
    /// returns its exit status.
    pub fn run_script(&mut self, script: &str) -> i32 {
        let io = Io { stdin: Default::default(), out: self.terminal.writer(), err: self.terminal.writer() };
        let status = self.run_text(script, &io);
        let Some(trap) = self.on_exit.take() else { return status };
        (self.exit, self.flow, self.status) = (None, None, status);
        self.run_text(&trap, &io);
        self.exit.unwrap_or(status)
    }

    /// Runs `text` in this shell (`source`), with `args` as its positional
    /// parameters if there are any.
    pub fn source(&mut self, text: &str, args: &[String], io: &Io) -> i32 {
        if self.depth >= MAX_SUBSTITUTION_DEPTH {
            err!(io, "bash: source: too deeply nested\n");
            return 1;
        }
        let caller = (!args.is_empty()).then(|| std::mem::replace(&mut self.vars.positional, args.to_vec()));
        (self.sourcing, self.depth) = (self.sourcing + 1, self.depth + 1);
        let status = self.run_text(text, io);
        (self.sourcing, self.depth) = (self.sourcing - 1, self.depth - 1);
        if let Some(positional) = caller {
            self.vars.positional = positional;
        }
        match self.flow {
            Some(Flow::Return) => {
                self.flow = None;
                self.status
            }
            _ => status,
        }
    }

    /// Runs a built-in or a program by name, never a function (`command`).
    pub fn run_command_named(&mut self, argv: &[String], io: &Io) -> i32 {
        match builtins::find(&argv[0]) {
            Some(builtin) => builtin(self, &argv[1..], io),
            None => self.run_host_process(argv, io),
        }
    }

    /// A variable's value, or "".
    pub fn var(&self, name: &str) -> String {
        self.vars.get(name).unwrap_or_default()
    }

    /// Sets a variable.
    pub fn set_var(&mut self, name: &str, value: String) -> Result<(), String> {
        self.vars.set(name, value);
        Ok(())
    }

    /// The key a subscript names in array `name`: the expanded text for an
    /// associative array, the arithmetic value for any other.
    pub fn subscript(&mut self, name: &str, raw: &str) -> Result<Key, String> {
        match self.vars.is_associative(name) {
            true => expand::string(self, raw).map(Key::Name),
            false => crate::arith::evaluate(self, raw).map(Key::Index),
        }
    }

    /// A reference to an unset variable: an error that ends the script
    /// under `set -u`, nothing otherwise.
    pub fn unset_reference(&mut self, name: &str) -> Result<(), String> {
        match self.options.nounset {
            true => {
                let name = name.trim_start_matches('$').trim_start_matches('{').trim_end_matches('}');
                Err(self.fatal(format!("{name}: unbound variable")))
            }
            false => Ok(()),
        }
    }

    /// An expansion error that ends the script, as bash's `${x:?}` and
    /// `set -u` do outside an interactive shell (status 127).
    pub fn fatal(&mut self, message: String) -> String {
        self.fatal_with(127, message)
    }

    /// An error that ends the script with `status`.
    pub fn fatal_with(&mut self, status: i32, message: String) -> String {
        self.exit.get_or_insert(status);
        message
    }

    /// `$-`: the options set, as bash's `bash -c` shows them.
    pub fn option_flags(&self) -> String {
        let mut flags = String::new();
        if self.options.errexit {
            flags.push('e');
        }
        flags.push('h');
        if self.options.nounset {
            flags.push('u');
        }
        flags.push_str("Bc");
        flags
    }

    /// Whether a list stops here: `exit`, `return`, `break` or `continue`.
    pub(crate) fn interrupted(&self) -> bool {
        self.exit.is_some() || self.flow.is_some()
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
        let io = Io { stdin: Default::default(), out, err: self.terminal.writer() };
        let saved = self.save();
        self.depth += 1;
        let status = self.run_text(command, &io);
        self.depth -= 1;
        self.restore(saved);
        // `exit`, `return`, `break` in `$(...)` end the substitution only.
        (self.exit, self.flow) = (None, None);
        self.status = status;
        self.captures += 1;
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
            if self.interrupted() {
                break;
            }
        }
        self.exit.unwrap_or(self.status)
    }

    pub fn run_list(&mut self, list: &CompoundList, io: &Io) -> i32 {
        for item in &list.0 {
            self.run_and_or(&item.0, io);
            if self.interrupted() {
                break;
            }
        }
        self.status
    }

    fn run_and_or(&mut self, list: &AndOrList, io: &Io) -> i32 {
        let last = list.additional.len();
        // Under `set -e`, only the last pipeline of `a && b || c` stops the
        // script by failing, and a negated one never does.
        let tested = usize::from(last > 0);
        self.tested += tested;
        let mut status = self.run_pipeline(&list.first, io);
        let mut decisive = (last == 0 && !list.first.bang).then_some(status);
        for (i, next) in list.additional.iter().enumerate() {
            if self.interrupted() {
                break;
            }
            if i + 1 == last {
                self.tested -= tested;
            }
            let ran = match next {
                AndOr::And(pipeline) if status == 0 => Some(pipeline),
                AndOr::Or(pipeline) if status != 0 => Some(pipeline),
                _ => None,
            };
            if let Some(pipeline) = ran {
                status = self.run_pipeline(pipeline, io);
                decisive = (i + 1 == last && !pipeline.bang).then_some(status);
            }
        }
        if last == 0 {
            self.tested -= tested;
        }
        if self.options.errexit && self.tested == 0 && decisive.is_some_and(|s| s != 0) && self.exit.is_none() {
            self.exit = Some(status);
        }
        status
    }

    fn run_pipeline(&mut self, pipeline: &Pipeline, io: &Io) -> i32 {
        let mut input: Option<Vec<u8>> = None;
        let mut status = 0;
        let mut failed = 0;
        let mut statuses = Vec::new();
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
            if status != 0 {
                failed = status;
            }
            statuses.push(status.to_string());
            if self.exit.is_some() {
                break;
            }
        }
        self.vars.set_list("PIPESTATUS", statuses);
        if self.options.pipefail {
            status = failed;
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
            Command::Function(definition) => match expand::string(self, &definition.fname.value) {
                Ok(name) => {
                    self.functions.insert(name, Rc::new(definition.clone()));
                    0
                }
                Err(e) => self.expansion_error(&e, io),
            },
            Command::ExtendedTest(test, redirects) => {
                let redirects: Vec<&IoRedirect> = redirects.iter().flat_map(|r| r.0.iter()).collect();
                match self.redirect(&redirects, io) {
                    Ok((io, _)) => match crate::cond::evaluate(self, &test.expr) {
                        Ok(true) => 0,
                        Ok(false) => 1,
                        Err(e) => {
                            err!(io, "bash: [[: {e}\n");
                            1
                        }
                    },
                    Err(status) => status,
                }
            }
        };
        self.status = status;
        status
    }

    pub(crate) fn unsupported(&mut self, what: &str, io: &Io) -> i32 {
        err!(io, "bash: {what} are not supported in this shell\n");
        2
    }

    pub(crate) fn expansion_error(&mut self, message: &str, io: &Io) -> i32 {
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
        let captures = self.captures;
        let mut argv = Vec::new();
        let mut assignments = Vec::new();
        let mut declared = Vec::new();
        let mut redirects = Vec::new();
        for part in parts {
            let result = match part {
                Part::Name(word) | Part::Item(CommandPrefixOrSuffixItem::Word(word)) => {
                    expand::fields(self, &word.value).map(|f| argv.extend(f))
                }
                // After `local`, `export`, `declare`..., `NAME=value` is an
                // assignment made once the built-in has declared NAME (its
                // value expanded now, before `local` hides the outer one).
                Part::Item(CommandPrefixOrSuffixItem::AssignmentWord(assignment, _))
                    if argv.first().is_some_and(|name| DECLARING.contains(&name.as_str())) =>
                {
                    let associative = argv[1..].iter().any(|a| a.starts_with('-') && a.contains('A'));
                    self.assignment(&assignment.name, &assignment.value, assignment.append, associative).map(|a| {
                        argv.push(a.name.clone());
                        declared.push(a);
                    })
                }
                // After any other command name, `NAME=value` is an ordinary
                // argument (`echo status=$?`).
                Part::Item(CommandPrefixOrSuffixItem::AssignmentWord(_, word)) if !argv.is_empty() => {
                    expand::fields(self, &word.value).map(|f| argv.extend(f))
                }
                Part::Item(CommandPrefixOrSuffixItem::AssignmentWord(assignment, _)) => self
                    .assignment(&assignment.name, &assignment.value, assignment.append, false)
                    .map(|a| assignments.push(a)),
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
            // A command substitution's status is the assignment's.
            let status = if self.captures != captures { self.status } else { 0 };
            for assignment in assignments {
                if let Err(e) = self.assign(assignment) {
                    return self.expansion_error(&e, &io);
                }
            }
            return status;
        }
        // `NAME=value command`: the assignments hold for that command only.
        let saved: Vec<(String, Option<String>)> =
            assignments.iter().map(|a| (a.name.clone(), self.vars.get(&a.name))).collect();
        for assignment in assignments {
            if let Err(e) = self.assign(assignment) {
                return self.expansion_error(&e, &io);
            }
        }
        let status = match (self.functions.get(&argv[0]).cloned(), builtins::find(&argv[0])) {
            (Some(function), _) => self.call_function(&function, &argv, &io),
            (None, Some(builtin)) => builtin(self, &argv[1..], &io),
            (None, None) => self.run_host_process(&argv, &io),
        };
        if status == 0 {
            for assignment in declared {
                if let Err(e) = self.assign(assignment) {
                    return self.expansion_error(&e, &io);
                }
            }
            // Marked only now, so `readonly NAME=value` can still assign.
            if makes_readonly(&argv) {
                self.readonly.extend(argv[1..].iter().filter(|a| !a.starts_with(['-', '+'])).cloned());
            }
        }
        let status = write_failures(&argv[0], &files, &io, status);
        for (name, value) in saved {
            match value {
                Some(value) => self.vars.set(&name, value),
                None => self.vars.remove(&name),
            };
        }
        status
    }

    /// Expands an assignment's value (`x=$y`, `a[i]=v`, `a=(x y)`).
    /// `associative`: the name is being declared an associative array
    /// (`declare -A a=([k]=v)`), so its subscripts are strings already.
    fn assignment(
        &mut self,
        name: &AssignmentName,
        value: &AssignmentValue,
        append: bool,
        associative: bool,
    ) -> Result<Assignment, String> {
        let (name, index) = match name {
            AssignmentName::VariableName(name) => (name.clone(), None),
            AssignmentName::ArrayElementName(name, index) => (name.clone(), Some(self.subscript(name, index)?)),
        };
        let associative = associative || self.vars.is_associative(&name);
        let value = match value {
            AssignmentValue::Scalar(word) => Assigned::Text(expand::string(self, &word.value)?),
            AssignmentValue::Array(elements) => {
                let mut values = Vec::new();
                for (key, word) in elements {
                    let key = match key {
                        Some(key) if associative => Some(Key::Name(expand::string(self, &key.value)?)),
                        Some(key) => Some(Key::Index(crate::arith::evaluate(self, &key.value)?)),
                        None => None,
                    };
                    match key {
                        // `[i]=value` is one element, never split.
                        Some(_) => values.push((key, expand::string(self, &word.value)?)),
                        None => values.extend(expand::fields(self, &word.value)?.into_iter().map(|v| (None, v))),
                    }
                }
                Assigned::Array(values)
            }
        };
        Ok(Assignment { name, index, value, append })
    }

    fn assign(&mut self, assignment: Assignment) -> Result<(), String> {
        let Assignment { name, index, value, append } = assignment;
        if self.readonly.contains(&name) {
            // As in bash, this ends a script (not an interactive shell).
            self.exit = Some(1);
            return Err(format!("{name}: readonly variable"));
        }
        match (index, value) {
            (None, Assigned::Text(text)) => {
                let text = if append { self.var(&name) + &text } else { text };
                self.vars.set(&name, text);
            }
            (Some(key), Assigned::Text(text)) => {
                let text = if append { self.vars.element(&name, &key).unwrap_or_default() + &text } else { text };
                self.vars.set_element(&name, &key, text)?;
            }
            (None, Assigned::Array(values)) if append => self.vars.append_array(&name, values)?,
            (None, Assigned::Array(values)) => self.vars.set_array(&name, values)?,
            (Some(_), Assigned::Array(_)) => return Err(format!("{name}: cannot assign list to array member")),
        }
        Ok(())
    }

    /// A command that is not built in: a real host process where the host
    /// allows them, otherwise "command not found", as bash says it.
    fn run_host_process(&mut self, argv: &[String], io: &Io) -> i32 {
        use wasmgate_tool_sdk::wasmgate::tools::host_process::{self, ProcessError};
        // The script's exported variables, but those the shell keeps for
        // its own view of the workspace (the host sets the process's own).
        let env: Vec<(String, String)> = self
            .exported
            .iter()
            .filter(|name| !["HOME", "PWD", "SHELL", "PATH"].contains(&name.as_str()))
            .filter_map(|name| Some((name.clone(), self.vars.get(name)?)))
            .collect();
        match host_process::run(argv, &env, &self.cwd, &io.stdin) {
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
    pub(crate) fn redirect(&mut self, redirects: &[&IoRedirect], io: &Io) -> Result<(Io, Vec<Redirected>), i32> {
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

    pub(crate) fn save(&self) -> Saved {
        Saved {
            cwd: self.cwd.clone(),
            vars: self.vars.clone(),
            exported: self.exported.clone(),
            functions: self.functions.clone(),
            options: self.options,
        }
    }

    pub(crate) fn restore(&mut self, saved: Saved) {
        self.cwd = saved.cwd;
        self.vars = saved.vars;
        self.exported = saved.exported;
        self.functions = saved.functions;
        self.options = saved.options;
    }
}

/// What a subshell or `$(...)` may change and must not keep.
pub(crate) struct Saved {
    cwd: String,
    vars: Variables,
    exported: BTreeSet<String>,
    functions: BTreeMap<String, Rc<FunctionDefinition>>,
    options: Options,
}

/// An assignment, expanded.
struct Assignment {
    name: String,
    index: Option<Key>,
    value: Assigned,
    append: bool,
}

enum Assigned {
    Text(String),
    Array(Vec<(Option<Key>, String)>),
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
pub(crate) fn write_failures(command: &str, files: &[Redirected], io: &Io, status: i32) -> i32 {
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
