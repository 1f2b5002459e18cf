//! `sed`, the stream editor, with GNU's commands and addresses.
//!
//! A script compiles to a flat list of commands run by a program counter,
//! so blocks (`{ }`) and branches (`b`, `t`, `T` to a `:label`) are jumps.
//! Addresses: a line, `$`, `/regex/` (with `I`), `first~step`, and ranges
//! `a,b` and `a,+N`, each negated by `!`. Commands: `s` (flags `g`, `p`,
//! `I`, a number), `y`, `p`, `P`, `d`, `D`, `n`, `N`, `a`, `i`, `c`, `=`,
//! `q`, `Q`, `h`, `H`, `g`, `G`, `x`, `z` (not `l`, `w`, `r`, `e`). Regular
//! expressions are POSIX basic (or extended with `-E`), translated for the
//! `regex` crate.

use super::{inputs, read, usage};
use crate::interp::Shell;
use crate::io::{Io, err, out};
use regex::Regex;

/// Where a command applies.
enum Address {
    Line(usize),
    Last,
    Pattern(Regex),
    /// `first~step`.
    Step(usize, usize),
}

/// The end of a range.
enum RangeEnd {
    Address(Address),
    /// `+N`: the N lines after the first.
    Following(usize),
}

enum Action {
    Substitute {
        regex: Regex,
        replacement: String,
        global: bool,
        nth: usize,
        print: bool,
    },
    Transliterate(Vec<(char, char)>),
    Print,
    PrintFirstLine,
    Delete,
    DeleteFirstLine,
    Next,
    AppendNext,
    Insert(String),
    Append(String),
    Change(String),
    LineNumber,
    Quit(i32),
    QuitSilently(i32),
    Hold,
    HoldAppend,
    Get,
    GetAppend,
    Exchange,
    Zap,
    /// `{`: where its `}` ends, to jump to when the address does not match.
    Block(usize),
    EndBlock,
    Label,
    /// `b`, and `t`/`T` (branch if a substitution was / was not made since
    /// the last line was read or the last `t`): the command to go to.
    Branch(Jump, Option<usize>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Jump {
    Always,
    IfSubstituted,
    UnlessSubstituted,
}

struct Command {
    from: Option<Address>,
    to: Option<RangeEnd>,
    negated: bool,
    action: Action,
}

/// A script being read, one character at a time.
struct Script {
    chars: Vec<char>,
    at: usize,
    extended: bool,
}

impl Script {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.at += 1;
        c
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.at += 1;
        }
    }

    fn number(&mut self) -> Option<usize> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect::<String>().parse().ok()
    }

    /// Text up to `delimiter` (`\delimiter` stands for it), the delimiter
    /// consumed. `\n` becomes a newline.
    fn delimited(&mut self, delimiter: char, what: &str) -> Result<String, String> {
        let mut text = String::new();
        loop {
            match self.next() {
                None => return Err(format!("unterminated {what}")),
                Some(c) if c == delimiter => return Ok(text),
                Some('\\') => match self.next() {
                    Some(c) if c == delimiter => text.push(c),
                    Some('n') => text.push('\n'),
                    Some(c) => {
                        text.push('\\');
                        text.push(c);
                    }
                    None => return Err(format!("unterminated {what}")),
                },
                Some(c) => text.push(c),
            }
        }
    }

    fn regex(&self, pattern: &str, insensitive: bool) -> Result<Regex, String> {
        let source = if self.extended { pattern.to_string() } else { super::search::from_basic(pattern) };
        regex::RegexBuilder::new(&source)
            .case_insensitive(insensitive)
            .build()
            .map_err(|e| format!("-e expression: {e}"))
    }

    fn address(&mut self) -> Result<Option<Address>, String> {
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {
                let first = self.number().ok_or("bad line number")?;
                if self.peek() == Some('~') {
                    self.at += 1;
                    return Ok(Some(Address::Step(first, self.number().unwrap_or(0))));
                }
                Ok(Some(Address::Line(first)))
            }
            Some('$') => {
                self.at += 1;
                Ok(Some(Address::Last))
            }
            Some(delimiter @ ('/' | '\\')) => {
                self.at += 1;
                let delimiter = if delimiter == '\\' { self.next().ok_or("unexpected end of script")? } else { '/' };
                let pattern = self.delimited(delimiter, "address regex")?;
                let insensitive = self.peek() == Some('I');
                if insensitive {
                    self.at += 1;
                }
                Ok(Some(Address::Pattern(self.regex(&pattern, insensitive)?)))
            }
            _ => Ok(None),
        }
    }

    /// The text of `a`, `i` and `c`: GNU's one-line form (`1i text`) or
    /// POSIX's (`a\` then lines, each but the last ending in `\`).
    fn text(&mut self) -> String {
        self.skip_blanks();
        if self.peek() == Some('\\') {
            self.at += 1;
            if self.peek() == Some('\n') {
                self.at += 1;
            }
        }
        let mut text = String::new();
        while let Some(c) = self.next() {
            match c {
                '\n' => break,
                '\\' => match self.next() {
                    Some('t') => text.push('\t'),
                    Some(c) => text.push(c),
                    None => {}
                },
                c => text.push(c),
            }
        }
        text
    }

    /// A label after `:`, `b`, `t` or `T`: up to a newline or `;`.
    fn label(&mut self) -> String {
        self.skip_blanks();
        let start = self.at;
        while self.peek().is_some_and(|c| c != '\n' && c != ';') {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect::<String>().trim_end().to_string()
    }
}

/// Compiles `script` (commands separated by `;` or newlines).
fn compile(script: &str, extended: bool) -> Result<Vec<Command>, String> {
    let mut script = Script { chars: script.chars().collect(), at: 0, extended };
    let mut commands: Vec<Command> = Vec::new();
    let mut blocks = Vec::new();
    let mut labels = std::collections::BTreeMap::new();
    let mut branches = Vec::new();
    loop {
        while matches!(script.peek(), Some(' ' | '\t' | '\n' | ';')) {
            script.at += 1;
        }
        if script.peek() == Some('#') {
            while script.next().is_some_and(|c| c != '\n') {}
            continue;
        }
        if script.peek().is_none() {
            break;
        }
        let from = script.address()?;
        let to = if from.is_some() && script.peek() == Some(',') {
            script.at += 1;
            if script.peek() == Some('+') {
                script.at += 1;
                Some(RangeEnd::Following(script.number().ok_or("expected a number after `+'")?))
            } else {
                Some(RangeEnd::Address(script.address()?.ok_or("unexpected `,'")?))
            }
        } else {
            None
        };
        script.skip_blanks();
        let negated = script.peek() == Some('!');
        if negated {
            script.at += 1;
            script.skip_blanks();
        }
        let command = script.next().ok_or("missing command")?;
        let action = match command {
            '{' => {
                blocks.push(commands.len());
                Action::Block(0)
            }
            '}' => {
                let open = blocks.pop().ok_or("unexpected `}'")?;
                commands[open].action = Action::Block(commands.len() + 1);
                Action::EndBlock
            }
            's' => substitute(&mut script)?,
            'y' => {
                let delimiter = script.next().ok_or("unterminated `y' command")?;
                let from: Vec<char> =
                    script.delimited(delimiter, "`y' command")?.replace("\\\\", "\\").chars().collect();
                let to: Vec<char> = script.delimited(delimiter, "`y' command")?.replace("\\\\", "\\").chars().collect();
                if from.len() != to.len() {
                    return Err("strings for `y' command are different lengths".into());
                }
                Action::Transliterate(from.into_iter().zip(to).collect())
            }
            'a' => Action::Append(script.text()),
            'i' => Action::Insert(script.text()),
            'c' => Action::Change(script.text()),
            'q' | 'Q' => {
                script.skip_blanks();
                let code = script.number().unwrap_or(0) as i32;
                if command == 'q' { Action::Quit(code) } else { Action::QuitSilently(code) }
            }
            ':' => {
                let label = script.label();
                if label.is_empty() {
                    return Err("\":\" lacks a label".into());
                }
                labels.insert(label, commands.len());
                Action::Label
            }
            'b' | 't' | 'T' => {
                let jump = match command {
                    'b' => Jump::Always,
                    't' => Jump::IfSubstituted,
                    _ => Jump::UnlessSubstituted,
                };
                branches.push((commands.len(), script.label()));
                Action::Branch(jump, None)
            }
            'p' => Action::Print,
            'P' => Action::PrintFirstLine,
            'd' => Action::Delete,
            'D' => Action::DeleteFirstLine,
            'n' => Action::Next,
            'N' => Action::AppendNext,
            '=' => Action::LineNumber,
            'h' => Action::Hold,
            'H' => Action::HoldAppend,
            'g' => Action::Get,
            'G' => Action::GetAppend,
            'x' => Action::Exchange,
            'z' => Action::Zap,
            other => return Err(format!("unknown command: `{other}'")),
        };
        // What may follow: `{` and the text of `a`/`i`/`c` end themselves.
        let ended = matches!(action, Action::Block(_) | Action::Append(_) | Action::Insert(_) | Action::Change(_));
        commands.push(Command { from, to, negated, action });
        script.skip_blanks();
        match script.peek() {
            _ if ended => {}
            None | Some(';' | '\n' | '}' | '#') => {}
            Some(c) => return Err(format!("extra characters after command ({c})")),
        }
    }
    if !blocks.is_empty() {
        return Err("unmatched `{'".into());
    }
    for (at, label) in branches {
        let target = if label.is_empty() {
            commands.len()
        } else {
            *labels.get(&label).ok_or_else(|| format!("can't find label for jump to `{label}'"))?
        };
        if let Action::Branch(jump, _) = commands[at].action {
            commands[at].action = Action::Branch(jump, Some(target));
        }
    }
    Ok(commands)
}

/// `s/regex/replacement/flags`.
fn substitute(script: &mut Script) -> Result<Action, String> {
    let delimiter = script.next().ok_or("unterminated `s' command")?;
    let pattern = script.delimited(delimiter, "`s' command")?;
    let replacement = script.delimited(delimiter, "`s' command")?;
    let (mut global, mut nth, mut print, mut insensitive) = (false, 1, false, false);
    loop {
        match script.peek() {
            Some('g') => global = true,
            Some('p') => print = true,
            Some('I' | 'i') => insensitive = true,
            Some('m' | 'M' | 'e') => {}
            Some(c) if c.is_ascii_digit() => {
                nth = script.number().filter(|&n| n > 0).ok_or("number option to `s' command may not be zero")?;
                continue;
            }
            _ => break,
        }
        script.at += 1;
    }
    Ok(Action::Substitute { regex: script.regex(&pattern, insensitive)?, replacement, global, nth, print })
}

/// sed's replacement text: `&` is the match, `\1`-`\9` groups, `\n` a newline.
fn replacement(template: &str, captures: &regex::Captures) -> String {
    let mut out = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str(captures.get(0).map_or("", |m| m.as_str())),
            '\\' => match chars.next() {
                Some(d @ '0'..='9') => {
                    out.push_str(captures.get(d.to_digit(10).unwrap_or(0) as usize).map_or("", |m| m.as_str()))
                }
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            _ => out.push(c),
        }
    }
    out
}

/// Replaces the `nth` match of `regex` in `text`, or it and all after it
/// (`global`); `None` if there were not that many.
fn replace(regex: &Regex, template: &str, text: &str, nth: usize, global: bool) -> Option<String> {
    let mut result = String::new();
    let mut copied = 0;
    let mut replaced = false;
    for (n, captures) in regex.captures_iter(text).enumerate() {
        if n + 1 < nth {
            continue;
        }
        let whole = captures.get(0).expect("group 0 is the match");
        result.push_str(&text[copied..whole.start()]);
        result.push_str(&replacement(template, &captures));
        copied = whole.end();
        replaced = true;
        if !global {
            break;
        }
    }
    replaced.then(|| result + &text[copied..])
}

fn matches(address: &Address, number: usize, last: bool, space: &str) -> bool {
    match address {
        Address::Line(n) => *n == number,
        Address::Last => last,
        Address::Pattern(regex) => regex.is_match(space),
        Address::Step(first, 0) => number == *first,
        Address::Step(first, step) => number >= *first && (number - first).is_multiple_of(*step),
    }
}

/// The lines being edited and where the editor is in them.
struct Input<'a> {
    lines: Vec<&'a str>,
    /// The next line to read.
    next: usize,
    /// Whether the text ended with a newline (sed keeps a missing one missing).
    newline_at_end: bool,
}

impl Input<'_> {
    fn last(&self) -> bool {
        self.next == self.lines.len()
    }
}

/// Runs `commands` over `text`; returns the output and the exit status.
fn run(commands: &[Command], text: &str, quiet: bool) -> (String, i32) {
    let mut input =
        Input { lines: text.lines().collect(), next: 0, newline_at_end: text.ends_with('\n') || text.is_empty() };
    // Per command: whether its range is open, and the line a `+N` range ends on.
    let mut open = vec![None::<usize>; commands.len()];
    let (mut out, mut hold) = (String::new(), String::new());
    let end_line = |out: &mut String, input: &Input| {
        if !input.last() || input.newline_at_end {
            out.push('\n');
        }
    };
    // A `D` with lines left starts the next cycle without reading.
    let mut carried: Option<String> = None;
    while carried.is_some() || input.next < input.lines.len() {
        let mut space = match carried.take() {
            Some(space) => space,
            None => {
                input.next += 1;
                input.lines[input.next - 1].to_string()
            }
        };
        let (mut appended, mut substituted, mut autoprint, mut quit) = (String::new(), false, !quiet, None);
        let mut pc = 0;
        while pc < commands.len() {
            let command = &commands[pc];
            pc += 1;
            let (number, last) = (input.next, input.last());
            let selected = selects(command, &mut open[pc - 1], number, last, &space) != command.negated;
            if !selected {
                if let Action::Block(end) = command.action {
                    pc = end;
                }
                continue;
            }
            match &command.action {
                Action::Substitute { regex, replacement, global, nth, print } => {
                    if let Some(new) = self::replace(regex, replacement, &space, *nth, *global) {
                        space = new;
                        substituted = true;
                        if *print {
                            out.push_str(&space);
                            out.push('\n');
                        }
                    }
                }
                Action::Transliterate(pairs) => {
                    space = space.chars().map(|c| pairs.iter().find(|(f, _)| *f == c).map_or(c, |(_, t)| *t)).collect();
                }
                Action::Print => {
                    out.push_str(&space);
                    out.push('\n');
                }
                Action::PrintFirstLine => {
                    out.push_str(space.split('\n').next().unwrap_or(""));
                    out.push('\n');
                }
                Action::Delete => {
                    autoprint = false;
                    break;
                }
                Action::DeleteFirstLine => {
                    autoprint = false;
                    if let Some((_, rest)) = space.split_once('\n') {
                        carried = Some(rest.to_string());
                    }
                    break;
                }
                Action::Next | Action::AppendNext if input.next >= input.lines.len() => {
                    // No next line: GNU sed prints the pattern space and stops.
                    quit = Some(0);
                    break;
                }
                Action::Next => {
                    if !quiet {
                        out.push_str(&space);
                        out.push('\n');
                    }
                    out.push_str(&std::mem::take(&mut appended));
                    input.next += 1;
                    space = input.lines[input.next - 1].to_string();
                }
                Action::AppendNext => {
                    input.next += 1;
                    space.push('\n');
                    space.push_str(input.lines[input.next - 1]);
                }
                Action::Insert(text) => {
                    out.push_str(text);
                    out.push('\n');
                }
                Action::Append(text) => {
                    appended.push_str(text);
                    appended.push('\n');
                }
                Action::Change(text) => {
                    // In a range, the text replaces the whole range: it is
                    // printed once, at its end.
                    if command.negated || command.to.is_none() || open[pc - 1].is_none() {
                        out.push_str(text);
                        out.push('\n');
                    }
                    autoprint = false;
                    break;
                }
                Action::LineNumber => out.push_str(&format!("{number}\n")),
                Action::Quit(code) => {
                    quit = Some(*code);
                    break;
                }
                Action::QuitSilently(code) => {
                    autoprint = false;
                    quit = Some(*code);
                    break;
                }
                Action::Hold => hold = space.clone(),
                Action::HoldAppend => {
                    hold.push('\n');
                    hold.push_str(&space);
                }
                Action::Get => space = hold.clone(),
                Action::GetAppend => {
                    space.push('\n');
                    space.push_str(&hold);
                }
                Action::Exchange => std::mem::swap(&mut space, &mut hold),
                Action::Zap => space.clear(),
                Action::Block(_) | Action::EndBlock | Action::Label => {}
                Action::Branch(jump, target) => {
                    let taken = match jump {
                        Jump::Always => true,
                        Jump::IfSubstituted => substituted,
                        Jump::UnlessSubstituted => !substituted,
                    };
                    if *jump != Jump::Always {
                        substituted = false;
                    }
                    if taken {
                        pc = target.unwrap_or(commands.len());
                    }
                }
            }
        }
        if autoprint {
            out.push_str(&space);
            end_line(&mut out, &input);
        }
        out.push_str(&appended);
        if let Some(code) = quit {
            return (out, code);
        }
    }
    (out, 0)
}

/// Whether `command`'s address selects line `number`; `open` holds its
/// range's state: `Some(end)` while open (`end`: the last line of a `+N`
/// range, else 0).
fn selects(command: &Command, open: &mut Option<usize>, number: usize, last: bool, space: &str) -> bool {
    let Some(from) = &command.from else { return true };
    let Some(to) = &command.to else { return matches(from, number, last, space) };
    if let Some(end) = *open {
        let closes = match to {
            RangeEnd::Following(_) => number >= end,
            RangeEnd::Address(Address::Line(n)) => number >= *n,
            RangeEnd::Address(address) => matches(address, number, last, space),
        };
        if closes {
            *open = None;
        }
        return true;
    }
    if !matches(from, number, last, space) {
        return false;
    }
    // A range whose end is already behind it covers one line.
    let stays_open = match to {
        RangeEnd::Following(n) => {
            *open = Some(number + n);
            *n > 0
        }
        RangeEnd::Address(Address::Line(n)) => *n > number,
        RangeEnd::Address(_) => !last,
    };
    if stays_open {
        open.get_or_insert(0);
    } else {
        *open = None;
    }
    true
}

/// `sed [-n] [-E|-r] [-i[SUFFIX]] [-s] [-e SCRIPT]... [-f FILE] [SCRIPT] [FILE...]`.
pub fn sed(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (mut quiet, mut in_place, mut extended) = (false, None::<String>, false);
    let (mut scripts, mut files) = (Vec::new(), Vec::new());
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-n" | "--quiet" | "--silent" => quiet = true,
            "-E" | "-r" | "--regexp-extended" => extended = true,
            "-s" | "--separate" | "-u" | "--unbuffered" => {}
            "-e" => scripts.extend(args.next().cloned()),
            "-f" => match args.next().map(|file| read(shell, file, io)) {
                Some(Ok(bytes)) => scripts.push(String::from_utf8_lossy(&bytes).into_owned()),
                Some(Err(message)) => return usage(io, "sed", &message, 1),
                None => return usage(io, "sed", "option requires an argument -- 'f'", 1),
            },
            "-i" | "--in-place" => in_place = Some(String::new()),
            flag if flag.starts_with("--expression=") => scripts.push(flag["--expression=".len()..].to_string()),
            flag if flag.starts_with("--in-place=") => in_place = Some(flag["--in-place=".len()..].to_string()),
            // `-i.bak`, and letters together: `-ni`, `-Ei`.
            flag if flag.starts_with('-') && flag.len() > 1 && !flag.starts_with("--") => {
                let mut letters = flag[1..].chars();
                while let Some(letter) = letters.next() {
                    match letter {
                        'n' => quiet = true,
                        'E' | 'r' => extended = true,
                        's' | 'u' => {}
                        'i' => {
                            in_place = Some(letters.by_ref().collect());
                        }
                        other => return usage(io, "sed", &format!("invalid option -- '{other}'"), 1),
                    }
                }
            }
            _ if scripts.is_empty() => scripts.push(arg.clone()),
            _ => files.push(arg.clone()),
        }
    }
    let commands = match compile(&scripts.join("\n"), extended) {
        Ok(commands) => commands,
        Err(message) => return usage(io, "sed", &message, 1),
    };
    if let Some(suffix) = in_place {
        if files.is_empty() {
            return usage(io, "sed", "no input files", 1);
        }
        let mut status = 0;
        for file in &files {
            let result = read(shell, file, io).and_then(|bytes| {
                let original = String::from_utf8_lossy(&bytes);
                let (edited, code) = run(&commands, &original, quiet);
                let path = shell.resolve(file)?;
                let describe = |e: std::io::Error| format!("{file}: {}", crate::interp::describe(&e));
                if !suffix.is_empty() {
                    let backup = shell.resolve(&format!("{file}{suffix}"))?;
                    std::fs::write(&backup.abs, &bytes).map_err(describe)?;
                }
                workspace_paths::replace_contents(&path.abs, edited.as_bytes()).map_err(describe)?;
                Ok(code)
            });
            match result {
                Ok(code) => status = status.max(code),
                Err(message) => {
                    err!(io, "sed: {message}\n");
                    status = 4;
                }
            }
        }
        return status;
    }
    let (inputs, status) = inputs(shell, "sed", &files, io);
    // The files are one stream; a file without a final newline still ends its line.
    let mut text = String::new();
    for (n, (_, bytes)) in inputs.iter().enumerate() {
        text.push_str(&String::from_utf8_lossy(bytes));
        if n + 1 < inputs.len() && !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
    }
    let (output, code) = run(&commands, &text, quiet);
    out!(io, "{output}");
    if status != 0 { 2 } else { code }
}
