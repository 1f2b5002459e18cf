//! Built-ins that print or transform text: echo, printf, cat, head, tail,
//! wc, sort, uniq, cut, tr, seq, tee, basename, dirname.

use super::{flags, inputs, usage, write_bytes};
use crate::expand::backslash_escapes;
use crate::interp::Shell;
use crate::io::{Io, err, out};

pub fn echo(_: &mut Shell, args: &[String], io: &Io) -> i32 {
    let mut newline = true;
    let mut escapes = false;
    let mut words = args;
    while let Some(first) = words.first() {
        let is_option = first.len() > 1 && first.starts_with('-') && first[1..].chars().all(|c| "neE".contains(c));
        if !is_option {
            break;
        }
        for c in first[1..].chars() {
            match c {
                'n' => newline = false,
                'e' => escapes = true,
                _ => escapes = false,
            }
        }
        words = &words[1..];
    }
    let mut text = words.join(" ");
    if escapes {
        text = backslash_escapes(&text);
    }
    if newline {
        text.push('\n');
    }
    out!(io, "{text}");
    0
}

pub fn cat(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (flags, files) = flags(args);
    let number = flags.contains(&'n');
    let (inputs, status) = inputs(shell, "cat", &files, io);
    let mut line_number = 0;
    for (_, bytes) in inputs {
        if number {
            for line in String::from_utf8_lossy(&bytes).split_inclusive('\n') {
                line_number += 1;
                out!(io, "{line_number:>6}\t{line}");
            }
        } else {
            write_bytes(io, &bytes);
        }
    }
    status
}

/// `-n N`, `-N` or `-n +N` from head/tail arguments; the rest are files.
fn count_option(args: &[String], default: i64) -> Result<(i64, bool, Vec<String>), String> {
    let mut count = default;
    let mut from_start = false;
    let mut files = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = if arg == "-n" {
            Some(args.next().cloned().ok_or("option requires an argument -- 'n'")?)
        } else if let Some(v) = arg.strip_prefix("-n") {
            Some(v.to_string())
        } else if arg.len() > 1 && arg.starts_with('-') && arg[1..].chars().all(|c| c.is_ascii_digit()) {
            Some(arg[1..].to_string())
        } else {
            files.push(arg.clone());
            None
        };
        if let Some(value) = value {
            from_start = value.starts_with('+');
            count = value.trim_start_matches('+').parse().map_err(|_| format!("invalid number of lines: '{value}'"))?;
        }
    }
    Ok((count, from_start, files))
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|&b| b == b'\n').collect()
}

pub fn head(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    if let Some(position) = args.iter().position(|a| a == "-c") {
        let Some(bytes) = args.get(position + 1).and_then(|n| n.parse::<usize>().ok()) else {
            return usage(io, "head", "invalid number of bytes", 1);
        };
        let files: Vec<String> = args
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != position && *i != position + 1)
            .map(|(_, a)| a.clone())
            .collect();
        let (inputs, status) = inputs(shell, "head", &files, io);
        for (_, data) in inputs {
            write_bytes(io, &data[..data.len().min(bytes)]);
        }
        return status;
    }
    let (count, _, files) = match count_option(args, 10) {
        Ok(parsed) => parsed,
        Err(message) => return usage(io, "head", &message, 1),
    };
    let (inputs, status) = inputs(shell, "head", &files, io);
    each_with_header(io, &inputs, |bytes| {
        for line in lines(bytes).into_iter().take(count.max(0) as usize) {
            write_bytes(io, line);
        }
    });
    status
}

/// Runs `show` on each input, headed `==> name <==` when there are several,
/// as head and tail print them.
fn each_with_header(io: &Io, inputs: &[(String, Vec<u8>)], mut show: impl FnMut(&[u8])) {
    let many = inputs.len() > 1;
    for (i, (name, bytes)) in inputs.iter().enumerate() {
        if many {
            out!(io, "{}==> {name} <==\n", if i > 0 { "\n" } else { "" });
        }
        show(bytes);
    }
}

pub fn tail(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (count, from_start, files) = match count_option(args, 10) {
        Ok(parsed) => parsed,
        Err(message) => return usage(io, "tail", &message, 1),
    };
    let (inputs, status) = inputs(shell, "tail", &files, io);
    each_with_header(io, &inputs, |bytes| {
        let all = lines(bytes);
        let skip =
            if from_start { (count.max(1) - 1) as usize } else { all.len().saturating_sub(count.max(0) as usize) };
        for line in all.into_iter().skip(skip) {
            write_bytes(io, line);
        }
    });
    status
}

pub fn wc(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (mut flags, files) = flags(args);
    if flags.is_empty() {
        flags = vec!['l', 'w', 'c'];
    }
    let (inputs, status) = inputs(shell, "wc", &files, io);
    let counts: Vec<(String, [usize; 4])> = inputs
        .iter()
        .map(|(name, bytes)| {
            let text = String::from_utf8_lossy(bytes);
            let c = [
                bytes.iter().filter(|&&b| b == b'\n').count(),
                text.split_whitespace().count(),
                text.chars().count(),
                bytes.len(),
            ];
            (name.clone(), c)
        })
        .collect();
    let columns: Vec<usize> =
        [('l', 0), ('w', 1), ('m', 2), ('c', 3)].iter().filter(|(f, _)| flags.contains(f)).map(|&(_, i)| i).collect();
    let mut rows = counts.clone();
    if counts.len() > 1 {
        let mut total = [0; 4];
        for (_, c) in &counts {
            for i in 0..4 {
                total[i] += c[i];
            }
        }
        rows.push(("total".into(), total));
    }
    // GNU wc: one number from one input is printed bare; otherwise every
    // column is as wide as the total byte count of the named files (at
    // least 7 when reading stdin).
    let stdin = files.is_empty();
    let width = if columns.len() == 1 && rows.len() == 1 {
        1
    } else {
        let bytes: usize = counts.iter().map(|(_, c)| c[3]).sum();
        let digits = bytes.to_string().len();
        if stdin { digits.max(7) } else { digits }
    };
    for (name, c) in rows {
        let numbers: Vec<String> = columns.iter().map(|&i| format!("{:>width$}", c[i])).collect();
        if stdin {
            out!(io, "{}\n", numbers.join(" "));
        } else {
            out!(io, "{} {name}\n", numbers.join(" "));
        }
    }
    status
}

fn text_lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes).lines().map(str::to_string).collect()
}

pub fn uniq(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (flags, files) = flags(args);
    let (inputs, status) = inputs(shell, "uniq", &files[..files.len().min(1)], io);
    let all: Vec<String> = inputs.iter().flat_map(|(_, b)| text_lines(b)).collect();
    let mut groups: Vec<(String, usize)> = Vec::new();
    for line in all {
        match groups.last_mut() {
            Some((last, n)) if *last == line => *n += 1,
            _ => groups.push((line, 1)),
        }
    }
    for (line, n) in groups {
        if flags.contains(&'d') && n < 2 || flags.contains(&'u') && n > 1 {
            continue;
        }
        if flags.contains(&'c') {
            out!(io, "{n:>7} {line}\n");
        } else {
            out!(io, "{line}\n");
        }
    }
    status
}

/// A cut list (`1,3-5,7-`) as a predicate on 1-based positions.
fn ranges(list: &str) -> Result<Vec<(usize, usize)>, String> {
    list.split(',')
        .map(|part| {
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (a, b),
                None => (part, part),
            };
            let a = if a.is_empty() { 1 } else { a.parse().map_err(|_| format!("invalid field value '{part}'"))? };
            let b = if b.is_empty() {
                usize::MAX
            } else {
                b.parse().map_err(|_| format!("invalid field value '{part}'"))?
            };
            Ok((a, b))
        })
        .collect()
}

pub fn cut(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let mut delimiter = '\t';
    let mut fields = None;
    let mut chars = None;
    let mut files = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            arg.strip_prefix(flag).filter(|v| !v.is_empty()).map(str::to_string).or_else(|| args.next().cloned())
        };
        if arg.starts_with("-d") {
            delimiter = value("-d").and_then(|v| v.chars().next()).unwrap_or('\t');
        } else if arg.starts_with("-f") {
            fields = value("-f");
        } else if arg.starts_with("-c") {
            chars = value("-c");
        } else {
            files.push(arg.clone());
        }
    }
    let (list, by_field) = match (fields, chars) {
        (Some(list), None) => (list, true),
        (None, Some(list)) => (list, false),
        _ => return usage(io, "cut", "you must specify a list of fields or characters", 1),
    };
    let ranges = match ranges(&list) {
        Ok(r) => r,
        Err(message) => return usage(io, "cut", &message, 1),
    };
    let keep = |i: usize| ranges.iter().any(|&(a, b)| i >= a && i <= b);
    let (inputs, status) = inputs(shell, "cut", &files, io);
    for (_, bytes) in inputs {
        for line in text_lines(&bytes) {
            if by_field {
                if !line.contains(delimiter) {
                    out!(io, "{line}\n");
                    continue;
                }
                let picked: Vec<&str> =
                    line.split(delimiter).enumerate().filter(|(i, _)| keep(i + 1)).map(|(_, f)| f).collect();
                out!(io, "{}\n", picked.join(&delimiter.to_string()));
            } else {
                let picked: String = line.chars().enumerate().filter(|(i, _)| keep(i + 1)).map(|(_, c)| c).collect();
                out!(io, "{picked}\n");
            }
        }
    }
    status
}

/// A tr set with ranges (`a-z`) and escapes expanded.
fn tr_set(set: &str) -> Vec<char> {
    let chars: Vec<char> = backslash_escapes(set).chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if i + 2 < chars.len() && chars[i + 1] == '-' {
            let (a, b) = (chars[i] as u32, chars[i + 2] as u32);
            out.extend((a..=b).filter_map(char::from_u32));
            i += 3;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

pub fn tr(_: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (flags, sets) = flags(args);
    let input = String::from_utf8_lossy(&io.stdin).into_owned();
    let output: String = if flags.contains(&'d') {
        let Some(set) = sets.first() else { return usage(io, "tr", "missing operand", 1) };
        let set = tr_set(set);
        input.chars().filter(|c| !set.contains(c)).collect()
    } else {
        let (Some(from), Some(to)) = (sets.first(), sets.get(1)) else {
            return usage(io, "tr", "missing operand", 1);
        };
        let (from, to) = (tr_set(from), tr_set(to));
        input
            .chars()
            .map(|c| match from.iter().position(|&f| f == c) {
                Some(i) => *to.get(i).or(to.last()).unwrap_or(&c),
                None => c,
            })
            .collect()
    };
    out!(io, "{output}");
    0
}

pub fn seq(_: &mut Shell, args: &[String], io: &Io) -> i32 {
    let numbers: Result<Vec<i64>, _> = args.iter().map(|a| a.parse::<i64>()).collect();
    let Ok(numbers) = numbers else { return usage(io, "seq", "invalid argument", 1) };
    let (first, step, last) = match numbers.as_slice() {
        [last] => (1, 1, *last),
        [first, last] => (*first, 1, *last),
        [first, step, last] => (*first, *step, *last),
        _ => return usage(io, "seq", "missing operand", 1),
    };
    if step == 0 {
        return usage(io, "seq", "invalid Zero increment value: '0'", 1);
    }
    let mut n = first;
    while (step > 0 && n <= last) || (step < 0 && n >= last) {
        out!(io, "{n}\n");
        n += step;
    }
    0
}

pub fn tee(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (flags, files) = flags(args);
    let append = flags.contains(&'a');
    let mut status = 0;
    for file in &files {
        let written = shell.resolve(file).and_then(|path| {
            let mut options = std::fs::OpenOptions::new();
            options.create(true).write(true).append(append).truncate(!append);
            options
                .open(&path.abs)
                .and_then(|mut f| std::io::Write::write_all(&mut f, &io.stdin))
                .map_err(|e| format!("{file}: {}", crate::interp::describe(&e)))
        });
        if let Err(message) = written {
            err!(io, "tee: {message}\n");
            status = 1;
        }
    }
    write_bytes(io, &io.stdin);
    status
}

pub fn basename(_: &mut Shell, args: &[String], io: &Io) -> i32 {
    let Some(path) = args.first() else { return usage(io, "basename", "missing operand", 1) };
    let trimmed = path.trim_end_matches('/');
    let mut name = trimmed.rsplit('/').next().unwrap_or("").to_string();
    if trimmed.is_empty() && path.starts_with('/') {
        name = "/".into();
    }
    if let Some(suffix) = args.get(1)
        && name.len() > suffix.len()
        && name.ends_with(suffix.as_str())
    {
        name.truncate(name.len() - suffix.len());
    }
    out!(io, "{name}\n");
    0
}

pub fn dirname(_: &mut Shell, args: &[String], io: &Io) -> i32 {
    let Some(path) = args.first() else { return usage(io, "dirname", "missing operand", 1) };
    let trimmed = path.trim_end_matches('/');
    let dir = match trimmed.rfind('/') {
        Some(0) => "/".to_string(),
        Some(i) => trimmed[..i].trim_end_matches('/').to_string(),
        None if path.starts_with('/') => "/".to_string(),
        None => ".".to_string(),
    };
    out!(io, "{dir}\n");
    0
}

/// Prints its argument (or `y`) forever: only a pipe's reader, the output
/// cap or the deadline stops it, as with the real one.
pub fn yes(_: &mut Shell, args: &[String], io: &Io) -> i32 {
    let line = if args.is_empty() { "y".to_string() } else { args.join(" ") };
    let chunk = format!("{line}\n").repeat(1024);
    loop {
        out!(io, "{chunk}");
    }
}
