//! Commands that number, join or compare lines: `nl`, `paste` and `comm`,
//! as coreutils prints them.

use super::{inputs, usage};
use crate::interp::Shell;
use crate::io::{Io, out};

/// `nl [-b a|t|n] [-n ln|rn|rz] [-w N] [-s SEP] [-v START] [-i STEP] [FILE...]`.
pub fn nl(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (mut body, mut format, mut width, mut separator) = ('t', "rn".to_string(), 6usize, "\t".to_string());
    let (mut number, mut step, mut files) = (1i64, 1i64, Vec::new());
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        // `-bX` or `-b X`, and so on.
        let (flag, attached) =
            if arg.starts_with('-') && arg.len() > 2 { (&arg[..2], Some(&arg[2..])) } else { (arg.as_str(), None) };
        let mut value = || attached.map(str::to_string).or_else(|| rest.next().cloned());
        let ok = match flag {
            "-b" => value().and_then(|v| v.chars().next()).filter(|c| "atn".contains(*c)).map(|c| body = c).is_some(),
            "-n" => value().filter(|v| ["ln", "rn", "rz"].contains(&v.as_str())).map(|v| format = v).is_some(),
            "-w" => value().and_then(|v| v.parse().ok()).filter(|&w| w > 0).map(|w| width = w).is_some(),
            "-s" => value().map(|v| separator = v).is_some(),
            "-v" => value().and_then(|v| v.parse().ok()).map(|v| number = v).is_some(),
            "-i" => value().and_then(|v| v.parse().ok()).map(|v| step = v).is_some(),
            flag if flag.starts_with('-') && flag != "-" => false,
            file => {
                files.push(file.to_string());
                true
            }
        };
        if !ok {
            return usage(io, "nl", &format!("invalid option or argument: '{arg}'"), 1);
        }
    }
    let (inputs, status) = inputs(shell, "nl", &files, io);
    for (_, bytes) in inputs {
        for line in String::from_utf8_lossy(&bytes).lines() {
            let numbered = match body {
                'a' => true,
                't' => !line.is_empty(),
                _ => false,
            };
            if !numbered {
                out!(io, "{}{line}\n", " ".repeat(width + separator.chars().count()));
                continue;
            }
            let shown = match format.as_str() {
                "ln" => format!("{number:<width$}"),
                "rz" => format!("{number:0width$}"),
                _ => format!("{number:>width$}"),
            };
            out!(io, "{shown}{separator}{line}\n");
            number += step;
        }
    }
    status
}

/// `paste [-s] [-d LIST] FILE...`: lines side by side (or, with `-s`, each
/// file's lines on one line), joined by the delimiters in turn.
pub fn paste(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (mut serial, mut delimiters, mut files) = (false, vec!['\t'], Vec::new());
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-s" | "--serial" => serial = true,
            "-d" => delimiters = rest.next().map(|d| list(d)).unwrap_or_default(),
            flag if flag.starts_with("-d") => delimiters = list(&flag[2..]),
            flag if flag.starts_with('-') && flag != "-" => {
                return usage(io, "paste", &format!("invalid option -- '{}'", &flag[1..]), 1);
            }
            file => files.push(file.to_string()),
        }
    }
    let (inputs, status) = inputs(shell, "paste", &files, io);
    let mut columns: Vec<Vec<String>> =
        inputs.iter().map(|(_, b)| String::from_utf8_lossy(b).lines().map(str::to_string).collect()).collect();
    // Several `-` take stdin's lines in turn (`paste - -` pairs them up);
    // the first read all of it.
    let stdin: Vec<usize> = files.iter().enumerate().filter(|(_, f)| *f == "-").map(|(i, _)| i).collect();
    if stdin.len() > 1 && columns.len() == files.len() {
        let lines = std::mem::take(&mut columns[stdin[0]]);
        for (n, line) in lines.into_iter().enumerate() {
            columns[stdin[n % stdin.len()]].push(line);
        }
    }
    let join = |cells: &[&str]| {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 && !delimiters.is_empty() {
                line.push(delimiters[(i - 1) % delimiters.len()]);
            }
            line.push_str(cell);
        }
        line
    };
    if serial {
        for column in &columns {
            let cells: Vec<&str> = column.iter().map(String::as_str).collect();
            out!(io, "{}\n", join(&cells));
        }
    } else {
        let rows = columns.iter().map(Vec::len).max().unwrap_or(0);
        for row in 0..rows {
            let cells: Vec<&str> = columns.iter().map(|c| c.get(row).map_or("", String::as_str)).collect();
            out!(io, "{}\n", join(&cells));
        }
    }
    status
}

/// A `-d` list: its characters, with `\n`, `\t`, `\\` and `\0` (none).
fn list(text: &str) -> Vec<char> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        out.push(match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => '\n',
                Some('t') => '\t',
                Some('0') => continue,
                Some(other) => other,
                None => '\\',
            },
            (c, false) => c,
        });
    }
    out
}

/// `comm [-1] [-2] [-3] FILE1 FILE2`: lines only in the first, only in the
/// second, and in both, in three tab-indented columns (both sorted).
pub fn comm(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (mut hide, mut files) = ([false; 3], Vec::new());
    for arg in args {
        match arg.as_str() {
            flag if flag.starts_with('-') && flag.len() > 1 && flag[1..].chars().all(|c| "123".contains(c)) => {
                for c in flag[1..].chars() {
                    hide[(c as u8 - b'1') as usize] = true;
                }
            }
            flag if flag.starts_with('-') && flag != "-" => {
                return usage(io, "comm", &format!("invalid option -- '{}'", &flag[1..]), 1);
            }
            file => files.push(file.to_string()),
        }
    }
    if files.len() != 2 {
        return usage(io, "comm", "missing operand", 1);
    }
    let (inputs, status) = inputs(shell, "comm", &files, io);
    if status != 0 || inputs.len() != 2 {
        return 1;
    }
    let lines =
        |i: usize| -> Vec<String> { String::from_utf8_lossy(&inputs[i].1).lines().map(str::to_string).collect() };
    let (a, b) = (lines(0), lines(1));
    let (mut i, mut j) = (0, 0);
    let show = |column: usize, line: &str| {
        if !hide[column] {
            let indent = (0..column).filter(|&c| !hide[c]).count();
            out!(io, "{}{line}\n", "\t".repeat(indent));
        }
    };
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                show(2, x);
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.as_bytes() < y.as_bytes() => {
                show(0, x);
                i += 1;
            }
            (Some(_), Some(y)) => {
                show(1, y);
                j += 1;
            }
            (Some(x), None) => {
                show(0, x);
                i += 1;
            }
            (None, Some(y)) => {
                show(1, y);
                j += 1;
            }
            (None, None) => break,
        }
    }
    0
}
