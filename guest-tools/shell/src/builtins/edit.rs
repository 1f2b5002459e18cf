//! Built-ins that edit text streams or compare them: sed, diff, xargs.

use super::{inputs, read, usage};
use crate::interp::Shell;
use crate::io::{Io, err, out};

/// A sed address: a line number, the last line, or a regular expression.
#[derive(Clone)]
enum Address {
    Line(usize),
    Last,
    Pattern(regex::Regex),
}

/// One sed command with its optional address range.
struct SedCommand {
    from: Option<Address>,
    to: Option<Address>,
    action: Action,
}

enum Action {
    Substitute { regex: regex::Regex, replacement: String, global: bool, print: bool },
    Print,
    Delete,
}

fn sed_regex(pattern: &str, extended: bool, insensitive: bool) -> Result<regex::Regex, String> {
    let source = if extended { pattern.to_string() } else { super::search::from_basic(pattern) };
    regex::RegexBuilder::new(&source).case_insensitive(insensitive).build().map_err(|e| format!("-e expression: {e}"))
}

/// Parses `script` (commands separated by `;` or newlines).
fn parse_sed(script: &str, extended: bool) -> Result<Vec<SedCommand>, String> {
    let mut commands = Vec::new();
    let chars: Vec<char> = script.chars().collect();
    let mut i = 0;
    let address = |i: &mut usize| -> Result<Option<Address>, String> {
        if *i < chars.len() && chars[*i].is_ascii_digit() {
            let start = *i;
            while *i < chars.len() && chars[*i].is_ascii_digit() {
                *i += 1;
            }
            let n: String = chars[start..*i].iter().collect();
            return Ok(Some(Address::Line(n.parse().map_err(|_| "bad line number")?)));
        }
        if *i < chars.len() && chars[*i] == '$' {
            *i += 1;
            return Ok(Some(Address::Last));
        }
        if *i < chars.len() && chars[*i] == '/' {
            let end = (*i + 1..chars.len())
                .find(|&j| chars[j] == '/' && chars[j - 1] != '\\')
                .ok_or("unterminated address regex")?;
            let pattern: String = chars[*i + 1..end].iter().collect();
            *i = end + 1;
            return Ok(Some(Address::Pattern(sed_regex(&pattern, extended, false)?)));
        }
        Ok(None)
    };
    while i < chars.len() {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ';') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let from = address(&mut i)?;
        let to = if i < chars.len() && chars[i] == ',' {
            i += 1;
            address(&mut i)?
        } else {
            None
        };
        let Some(&command) = chars.get(i) else { return Err("missing command".into()) };
        i += 1;
        let action = match command {
            'p' => Action::Print,
            'd' => Action::Delete,
            's' => {
                let delimiter = *chars.get(i).ok_or("unterminated `s' command")?;
                let mut parts = Vec::new();
                let mut current = String::new();
                i += 1;
                while i < chars.len() && parts.len() < 2 {
                    let c = chars[i];
                    if c == '\\' && chars.get(i + 1) == Some(&delimiter) {
                        current.push(delimiter);
                        i += 2;
                        continue;
                    }
                    if c == '\\' && i + 1 < chars.len() {
                        current.push(c);
                        current.push(chars[i + 1]);
                        i += 2;
                        continue;
                    }
                    if c == delimiter {
                        parts.push(std::mem::take(&mut current));
                    } else {
                        current.push(c);
                    }
                    i += 1;
                }
                if parts.len() < 2 {
                    return Err("unterminated `s' command".into());
                }
                let mut flags = String::new();
                while i < chars.len() && !matches!(chars[i], ';' | '\n' | '}') {
                    flags.push(chars[i]);
                    i += 1;
                }
                let flags = flags.trim();
                Action::Substitute {
                    regex: sed_regex(&parts[0], extended, flags.contains('I') || flags.contains('i'))?,
                    replacement: parts[1].clone(),
                    global: flags.contains('g'),
                    print: flags.contains('p'),
                }
            }
            other => return Err(format!("unknown command: `{other}'")),
        };
        commands.push(SedCommand { from, to, action });
    }
    Ok(commands)
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

fn matches(address: &Address, number: usize, last: bool, line: &str) -> bool {
    match address {
        Address::Line(n) => *n == number,
        Address::Last => last,
        Address::Pattern(regex) => regex.is_match(line),
    }
}

/// Runs the commands over `text`.
fn run_sed(commands: &[SedCommand], text: &str, quiet: bool) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut active = vec![false; commands.len()];
    let mut out = String::new();
    for (index, original) in lines.iter().enumerate() {
        let number = index + 1;
        let last = number == lines.len();
        let mut line = original.to_string();
        let mut deleted = false;
        for (c, command) in commands.iter().enumerate() {
            let selected = match (&command.from, &command.to) {
                (None, _) => true,
                (Some(from), None) => matches(from, number, last, &line),
                (Some(from), Some(to)) => {
                    if active[c] {
                        if matches(to, number, last, &line) || matches!(to, Address::Line(n) if *n <= number) {
                            active[c] = false;
                        }
                        true
                    } else if matches(from, number, last, &line) {
                        active[c] = !matches!(to, Address::Line(n) if *n <= number);
                        true
                    } else {
                        false
                    }
                }
            };
            if !selected {
                continue;
            }
            match &command.action {
                Action::Print => {
                    out.push_str(&line);
                    out.push('\n');
                }
                Action::Delete => {
                    deleted = true;
                    break;
                }
                Action::Substitute { regex, replacement: template, global, print } => {
                    let replaced = if *global {
                        regex.replace_all(&line, |caps: &regex::Captures| replacement(template, caps)).into_owned()
                    } else {
                        regex.replacen(&line, 1, |caps: &regex::Captures| replacement(template, caps)).into_owned()
                    };
                    let changed = replaced != line || regex.is_match(&line);
                    line = replaced;
                    if *print && changed {
                        out.push_str(&line);
                        out.push('\n');
                    }
                }
            }
        }
        if !deleted && !quiet {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

pub fn sed(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let mut quiet = false;
    let mut in_place = false;
    let mut extended = false;
    let mut scripts = Vec::new();
    let mut files = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-n" => quiet = true,
            "-i" => in_place = true,
            "-E" | "-r" => extended = true,
            "-e" => scripts.extend(args.next().cloned()),
            flags if flags.starts_with('-') && flags.len() > 1 && flags[1..].chars().all(|c| "niEr".contains(c)) => {
                quiet |= flags.contains('n');
                in_place |= flags.contains('i');
                extended |= flags.contains('E') || flags.contains('r');
            }
            _ if scripts.is_empty() => scripts.push(arg.clone()),
            _ => files.push(arg.clone()),
        }
    }
    let commands = match parse_sed(&scripts.join("\n"), extended) {
        Ok(commands) => commands,
        Err(message) => return usage(io, "sed", &message, 1),
    };
    if in_place {
        let mut status = 0;
        for file in &files {
            let result = read(shell, file, io).and_then(|bytes| {
                let edited = run_sed(&commands, &String::from_utf8_lossy(&bytes), quiet);
                let path = shell.resolve(file)?;
                workspace_paths::replace_contents(&path.abs, edited.as_bytes())
                    .map_err(|e| format!("{file}: {}", crate::interp::describe(&e)))
            });
            if let Err(message) = result {
                err!(io, "sed: {message}\n");
                status = 4;
            }
        }
        return status;
    }
    let (inputs, status) = inputs(shell, "sed", &files, io);
    let text: String = inputs.iter().map(|(_, b)| String::from_utf8_lossy(b).into_owned()).collect();
    out!(io, "{}", run_sed(&commands, &text, quiet));
    if status != 0 { 2 } else { 0 }
}

pub fn diff(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (flags, files) = super::flags(args);
    let unified = flags.contains(&'u');
    let [a, b] = files.as_slice() else { return usage(io, "diff", "missing operand", 2) };
    let (old, new) = match (read(shell, a, io), read(shell, b, io)) {
        (Ok(old), Ok(new)) => (String::from_utf8_lossy(&old).into_owned(), String::from_utf8_lossy(&new).into_owned()),
        (Err(message), _) | (_, Err(message)) => return usage(io, "diff", &message, 2),
    };
    if old == new {
        return 0;
    }
    let diff = similar::TextDiff::from_lines(&old, &new);
    if unified {
        out!(io, "{}", diff.unified_diff().context_radius(3).header(a, b));
        return 1;
    }
    let range = |start: usize, len: usize| {
        if len <= 1 { format!("{}", start + len.min(1)) } else { format!("{},{}", start + 1, start + len) }
    };
    for op in diff.ops() {
        let (tag, old_range, new_range) = op.as_tag_tuple();
        let old_lines: Vec<&str> = old_range.clone().map(|i| diff.old_slices()[i]).collect();
        let new_lines: Vec<&str> = new_range.clone().map(|i| diff.new_slices()[i]).collect();
        let show = |prefix: &str, lines: &[&str]| {
            for line in lines {
                out!(io, "{prefix} {}", line);
                if !line.ends_with('\n') {
                    out!(io, "\n\\ No newline at end of file\n");
                }
            }
        };
        match tag {
            similar::DiffTag::Equal => {}
            similar::DiffTag::Delete => {
                out!(io, "{}d{}\n", range(old_range.start, old_range.len()), new_range.start);
                show("<", &old_lines);
            }
            similar::DiffTag::Insert => {
                out!(io, "{}a{}\n", old_range.start, range(new_range.start, new_range.len()));
                show(">", &new_lines);
            }
            similar::DiffTag::Replace => {
                out!(io, "{}c{}\n", range(old_range.start, old_range.len()), range(new_range.start, new_range.len()));
                show("<", &old_lines);
                out!(io, "---\n");
                show(">", &new_lines);
            }
        }
    }
    1
}

pub fn xargs(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let mut replace: Option<String> = None;
    let mut per_call: Option<usize> = None;
    let mut rest = args;
    loop {
        match rest {
            [flag, value, tail @ ..] if flag == "-I" => {
                replace = Some(value.clone());
                rest = tail;
            }
            [flag, value, tail @ ..] if flag == "-n" => {
                per_call = value.parse().ok();
                rest = tail;
            }
            _ => break,
        }
    }
    let (command, fixed) = match rest.split_first() {
        Some((command, fixed)) => (command.clone(), fixed.to_vec()),
        None => ("echo".to_string(), Vec::new()),
    };
    let Some(builtin) = super::find(&command) else {
        err!(io, "xargs: {command}: No such file or directory\n");
        return 127;
    };
    let input = String::from_utf8_lossy(&io.stdin).into_owned();
    let io = io.with_stdin(Vec::new());
    let mut status = 0;
    let mut run = |argv: Vec<String>, shell: &mut Shell| {
        if builtin(shell, &argv, &io) != 0 {
            status = 123;
        }
    };
    if let Some(token) = replace {
        for line in input.lines().filter(|l| !l.trim().is_empty()) {
            let argv = fixed.iter().map(|a| a.replace(&token, line)).collect();
            run(argv, shell);
        }
    } else {
        let items: Vec<String> = input.split_whitespace().map(str::to_string).collect();
        let size = per_call.unwrap_or(items.len().max(1));
        if items.is_empty() {
            run(fixed.clone(), shell);
        }
        for chunk in items.chunks(size.max(1)) {
            let mut argv = fixed.clone();
            argv.extend(chunk.iter().cloned());
            run(argv, shell);
        }
    }
    status
}
