//! Built-ins that compare text or build commands from it: diff, xargs.

use super::{read, usage};
use crate::interp::Shell;
use crate::io::{Io, err, out};

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
