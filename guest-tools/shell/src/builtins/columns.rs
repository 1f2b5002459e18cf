//! Commands that number, join or compare lines: `nl`, `paste`, `comm` and
//! `join`, as coreutils prints them.

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

/// What `join` prints and how it reads its fields.
struct JoinOptions {
    /// `-t`: the one character between fields (`None`: runs of blanks).
    separator: Option<char>,
    /// The join field of each file, from 0.
    field: [usize; 2],
    /// `-a`/`-v`: print the lines of file N that pair with nothing.
    unpaired: [bool; 2],
    /// `-v`: print only those.
    only_unpaired: bool,
    /// `-e`: what a missing field prints as under `-o`.
    empty: String,
    /// `-o`: the fields to print, as (file, field) with file 0 for the join field.
    format: Option<Vec<(usize, usize)>>,
    ignore_case: bool,
    header: bool,
}

/// `join [-t CHAR] [-1 N] [-2 N] [-j N] [-a 1|2] [-v 1|2] [-e EMPTY]
/// [-o LIST] [-i] [--header] FILE1 FILE2`: the lines of two files sorted on
/// their join fields, joined where the fields are equal.
pub fn join(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let mut options = JoinOptions {
        separator: None,
        field: [0, 0],
        unpaired: [false; 2],
        only_unpaired: false,
        empty: String::new(),
        format: None,
        ignore_case: false,
        header: false,
    };
    let mut files = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (flag, attached) = if arg.starts_with('-') && !arg.starts_with("--") && arg.len() > 2 {
            (&arg[..2], Some(arg[2..].to_string()))
        } else {
            (arg.as_str(), None)
        };
        let takes_value = ["-t", "-1", "-2", "-j", "-a", "-v", "-e", "-o"].contains(&flag);
        let value = if takes_value { attached.or_else(|| rest.next().cloned()) } else { None };
        let file_number = |v: &Option<String>| match v.as_deref() {
            Some("1") => Some(0),
            Some("2") => Some(1),
            _ => None,
        };
        let field = |v: &Option<String>| v.as_deref().and_then(|v| v.parse::<usize>().ok()).filter(|&n| n > 0);
        let ok = match flag {
            "-t" => value.as_deref().and_then(|v| v.chars().next()).map(|c| options.separator = Some(c)).is_some(),
            "-1" | "-2" | "-j" => field(&value)
                .map(|n| match flag {
                    "-1" => options.field[0] = n - 1,
                    "-2" => options.field[1] = n - 1,
                    _ => options.field = [n - 1, n - 1],
                })
                .is_some(),
            "-a" => file_number(&value).map(|n| options.unpaired[n] = true).is_some(),
            "-v" => file_number(&value)
                .map(|n| {
                    options.unpaired[n] = true;
                    options.only_unpaired = true;
                })
                .is_some(),
            "-e" => value.map(|v| options.empty = v).is_some(),
            "-o" => value.and_then(|v| join_format(&v)).map(|f| options.format = Some(f)).is_some(),
            "-i" | "--ignore-case" => {
                options.ignore_case = true;
                true
            }
            "--header" => {
                options.header = true;
                true
            }
            "--check-order" | "--nocheck-order" => true,
            flag if flag.starts_with('-') && flag != "-" => false,
            file => {
                files.push(file.to_string());
                true
            }
        };
        if !ok {
            return usage(io, "join", &format!("invalid option or argument: '{arg}'"), 1);
        }
    }
    if files.len() != 2 {
        return usage(io, "join", if files.len() < 2 { "missing operand" } else { "extra operand" }, 1);
    }
    let (inputs, status) = inputs(shell, "join", &files, io);
    if status != 0 || inputs.len() != 2 {
        return 1;
    }
    let split = |bytes: &[u8]| -> Vec<Vec<String>> {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(|line| match options.separator {
                Some(c) => line.split(c).map(str::to_string).collect(),
                None => line.split([' ', '\t']).filter(|f| !f.is_empty()).map(str::to_string).collect(),
            })
            .collect()
    };
    let (mut a, mut b) = (split(&inputs[0].1), split(&inputs[1].1));
    let key = |side: usize, line: &[String]| -> String {
        let field = line.get(options.field[side]).cloned().unwrap_or_default();
        if options.ignore_case { field.to_lowercase() } else { field }
    };
    let print = |lines: [Option<&[String]>; 2]| {
        let separator = options.separator.unwrap_or(' ').to_string();
        let side = if lines[0].is_some() { 0 } else { 1 };
        let join_field = lines[side].and_then(|l| l.get(options.field[side])).cloned().unwrap_or_default();
        let fields: Vec<String> = match &options.format {
            Some(format) => format
                .iter()
                .map(|&(file, field)| match file {
                    0 => join_field.clone(),
                    n => lines[n - 1].and_then(|l| l.get(field)).cloned().unwrap_or_else(|| options.empty.clone()),
                })
                .collect(),
            None => {
                let mut fields = vec![join_field.clone()];
                for (n, line) in lines.iter().enumerate() {
                    let others = line.iter().flat_map(|l| l.iter().enumerate()).filter(|(i, _)| *i != options.field[n]);
                    fields.extend(others.map(|(_, f)| f.clone()));
                }
                fields
            }
        };
        out!(io, "{}\n", fields.join(&separator));
    };
    if options.header && !a.is_empty() && !b.is_empty() {
        let (first_a, first_b) = (a.remove(0), b.remove(0));
        print([Some(&first_a), Some(&first_b)]);
    }
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let order = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => key(0, x).as_bytes().cmp(key(1, y).as_bytes()),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Less => {
                if options.unpaired[0] {
                    print([Some(&a[i]), None]);
                }
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                if options.unpaired[1] {
                    print([None, Some(&b[j])]);
                }
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                // Every line of one file with this key meets every line of the other.
                let shared = key(0, &a[i]);
                let end_a = (i..a.len()).find(|&n| key(0, &a[n]) != shared).unwrap_or(a.len());
                let end_b = (j..b.len()).find(|&n| key(1, &b[n]) != shared).unwrap_or(b.len());
                if !options.only_unpaired {
                    for x in &a[i..end_a] {
                        for y in &b[j..end_b] {
                            print([Some(x), Some(y)]);
                        }
                    }
                }
                (i, j) = (end_a, end_b);
            }
        }
    }
    0
}

/// `-o`'s list: `0` or `FILE.FIELD`, separated by commas or blanks.
fn join_format(list: &str) -> Option<Vec<(usize, usize)>> {
    list.split([',', ' ', '\t'])
        .filter(|item| !item.is_empty())
        .map(|item| match item.split_once('.') {
            None if item == "0" => Some((0, 0)),
            Some((file @ ("1" | "2"), field)) => {
                let field = field.parse::<usize>().ok().filter(|&n| n > 0)?;
                Some((file.parse().ok()?, field - 1))
            }
            _ => None,
        })
        .collect()
}
