//! `test` and `[`: file tests, string tests, integer comparisons, `!`.

use crate::interp::Shell;
use crate::io::{Io, err};

pub fn bracket(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    match args.split_last() {
        Some((last, rest)) if last == "]" => test(shell, rest, io),
        _ => {
            err!(io, "bash: [: missing `]'\n");
            2
        }
    }
}

pub fn test(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    match evaluate(shell, args) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(message) => {
            err!(io, "bash: test: {message}\n");
            2
        }
    }
}

fn evaluate(shell: &Shell, args: &[String]) -> Result<bool, String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] => Ok(false),
        ["!", rest @ ..] => evaluate(shell, &rest.iter().map(|s| s.to_string()).collect::<Vec<_>>()).map(|b| !b),
        [one] => Ok(!one.is_empty()),
        [op, operand] => unary(shell, op, operand),
        [a, op, b] => binary(a, op, b),
        _ => Err("too many arguments".into()),
    }
}

/// A one-operand test (`-f FILE`, `-z TEXT`...); files are looked up inside
/// the workspace only. `[[ ]]` uses it too.
pub fn unary(shell: &Shell, op: &str, operand: &str) -> Result<bool, String> {
    let meta = || shell.resolve(operand).ok().and_then(|p| std::fs::metadata(p.abs).ok());
    Ok(match op {
        "-z" => operand.is_empty(),
        "-n" => !operand.is_empty(),
        "-e" => meta().is_some(),
        "-f" => meta().is_some_and(|m| m.is_file()),
        "-d" => meta().is_some_and(|m| m.is_dir()),
        "-s" => meta().is_some_and(|m| m.len() > 0),
        "-r" => meta().is_some(),
        "-w" => meta().is_some_and(|m| !m.permissions().readonly()),
        "-x" => false,
        "-L" | "-h" => shell
            .resolve(operand)
            .ok()
            .and_then(|p| std::fs::symlink_metadata(p.abs).ok())
            .is_some_and(|m| m.file_type().is_symlink()),
        _ => return Err(format!("{op}: unary operator expected")),
    })
}

fn binary(a: &str, op: &str, b: &str) -> Result<bool, String> {
    let int = |s: &str| s.trim().parse::<i64>().map_err(|_| format!("{s}: integer expression expected"));
    Ok(match op {
        "=" | "==" => a == b,
        "!=" => a != b,
        "<" => a < b,
        ">" => a > b,
        "-eq" => int(a)? == int(b)?,
        "-ne" => int(a)? != int(b)?,
        "-lt" => int(a)? < int(b)?,
        "-le" => int(a)? <= int(b)?,
        "-gt" => int(a)? > int(b)?,
        "-ge" => int(a)? >= int(b)?,
        _ => return Err(format!("{op}: binary operator expected")),
    })
}
