//! grep and find.

use super::{read, usage};
use crate::interp::Shell;
use crate::io::{Io, err, out};

/// A basic regular expression (grep's default) in Rust's syntax: `\(`, `\|`,
/// `\+` are operators and bare `(`, `|`, `+` literals, the other way round
/// from extended syntax.
pub fn from_basic(pattern: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(op @ ('|' | '(' | ')' | '+' | '?' | '{' | '}')) => out.push(op),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push_str("\\\\"),
            },
            '|' | '(' | ')' | '+' | '?' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

pub fn grep(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let mut opts = std::collections::BTreeSet::new();
    let mut operands = Vec::new();
    let mut patterns = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "-e" {
            patterns.extend(args.next().cloned());
        } else if arg.starts_with("--") {
            return usage(io, "grep", &format!("unrecognized option '{arg}'"), 2);
        } else if arg.len() > 1 && arg.starts_with('-') && operands.is_empty() {
            opts.extend(arg[1..].chars());
        } else {
            operands.push(arg.clone());
        }
    }
    if patterns.is_empty() {
        if operands.is_empty() {
            return usage(io, "grep", "usage: grep [OPTION]... PATTERNS [FILE]...", 2);
        }
        patterns.push(operands.remove(0));
    }
    let source: Vec<String> = patterns
        .iter()
        .map(|p| {
            if opts.contains(&'F') {
                regex::escape(p)
            } else if opts.contains(&'E') {
                p.clone()
            } else {
                from_basic(p)
            }
        })
        .map(|p| if opts.contains(&'w') { format!(r"\b(?:{p})\b") } else { p })
        .collect();
    let regex = match regex::RegexBuilder::new(&source.join("|")).case_insensitive(opts.contains(&'i')).build() {
        Ok(regex) => regex,
        Err(e) => return usage(io, "grep", &format!("invalid regular expression: {e}"), 2),
    };
    let recursive = opts.contains(&'r') || opts.contains(&'R');
    let mut files: Vec<String> = Vec::new();
    let mut status = 1;
    let mut errors = false;
    if operands.is_empty() && recursive {
        walk(shell, ".", &mut files, io, true);
        files.iter_mut().for_each(|f| *f = f.trim_start_matches("./").to_string());
    } else {
        for operand in &operands {
            let is_dir = shell.resolve(operand).is_ok_and(|p| std::fs::metadata(p.abs).is_ok_and(|m| m.is_dir()));
            if is_dir && recursive {
                walk(shell, operand, &mut files, io, true);
            } else if is_dir {
                err!(io, "grep: {operand}: Is a directory\n");
                errors = true;
            } else {
                files.push(operand.clone());
            }
        }
    }
    let stdin = files.is_empty() && operands.is_empty();
    if stdin {
        files.push("-".into());
    }
    let show_names = !opts.contains(&'h') && (opts.contains(&'H') || files.len() > 1 || recursive);
    for file in &files {
        let bytes = match read(shell, file, io) {
            Ok(bytes) => bytes,
            Err(message) => {
                err!(io, "grep: {message}\n");
                errors = true;
                continue;
            }
        };
        if bytes.contains(&0) {
            if regex.is_match(&String::from_utf8_lossy(&bytes)) && !opts.contains(&'q') {
                out!(io, "Binary file {} matches\n", if file == "-" { "(standard input)" } else { file });
                status = 0;
            }
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        let shown = if file == "-" { "(standard input)" } else { file.as_str() };
        let mut count = 0;
        for (number, line) in text.lines().enumerate() {
            if regex.is_match(line) == opts.contains(&'v') {
                continue;
            }
            count += 1;
            status = 0;
            if opts.contains(&'q') {
                return 0;
            }
            if opts.contains(&'l') || opts.contains(&'c') {
                continue;
            }
            let prefix = format!(
                "{}{}",
                if show_names { format!("{shown}:") } else { String::new() },
                if opts.contains(&'n') { format!("{}:", number + 1) } else { String::new() }
            );
            if opts.contains(&'o') && !opts.contains(&'v') {
                for m in regex.find_iter(line) {
                    out!(io, "{prefix}{}\n", m.as_str());
                }
            } else {
                out!(io, "{prefix}{line}\n");
            }
        }
        if opts.contains(&'c') {
            if show_names {
                out!(io, "{shown}:{count}\n");
            } else {
                out!(io, "{count}\n");
            }
        } else if opts.contains(&'l') && count > 0 {
            out!(io, "{shown}\n");
        }
    }
    if errors && status != 0 { 2 } else { status }
}

/// Files below `start` (as written, e.g. `./a/b`), sorted by name at each
/// level, each folder before what it holds; hidden ones too, as grep -r and
/// find include them. Walked with a stack of its own, not recursion, so a
/// tree thousands of folders deep costs memory, not the guest's stack.
pub(super) fn walk(shell: &Shell, start: &str, out: &mut Vec<String>, io: &Io, files_only: bool) {
    let Ok(path) = shell.resolve(start) else {
        err!(io, "{start}: outside the workspace\n");
        return;
    };
    // Entries still to visit, the next one last: (shown name, real path, folder?).
    let mut pending: Vec<(String, String, bool)> = Vec::new();
    let list = |shown: &str, abs: &str, pending: &mut Vec<(String, String, bool)>| {
        let Ok(entries) = std::fs::read_dir(abs) else { return };
        let mut names: Vec<(String, bool, bool)> = entries
            .flatten()
            .filter_map(|e| {
                let t = e.file_type().ok()?;
                Some((e.file_name().into_string().ok()?, t.is_dir(), t.is_file()))
            })
            .filter(|(_, is_dir, is_file)| *is_dir || *is_file || !files_only)
            .collect();
        names.sort();
        for (name, is_dir, _) in names.into_iter().rev() {
            let shown = if shown.ends_with('/') { format!("{shown}{name}") } else { format!("{shown}/{name}") };
            pending.push((shown, format!("{abs}/{name}"), is_dir));
        }
    };
    list(start, &path.abs, &mut pending);
    while let Some((shown, abs, is_dir)) = pending.pop() {
        if is_dir {
            if !files_only {
                out.push(shown.clone());
            }
            list(&shown, &abs, &mut pending);
        } else {
            out.push(shown);
        }
    }
}
