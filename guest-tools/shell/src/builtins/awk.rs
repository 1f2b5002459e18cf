//! `awk`: fields, patterns, `BEGIN`/`END`, `printf`, arithmetic and
//! associative arrays, by the awk-rs interpreter (POSIX awk with gawk's
//! extensions; vendored with three fixes, see `vendor/awk-rs/VENDORED.md`)
//! rather than a hand-written one.
//!
//! Options: `-F FS`, `-v NAME=VALUE`, `-f PROGFILE`, `--`; input from the
//! named files (inside the workspace) or stdin. What needs processes
//! (`system()`, `cmd | getline`, `print | cmd`) fails, as every process does
//! inside the sandbox.

use crate::expand::backslash_escapes;
use crate::interp::Shell;
use crate::io::{Io, err};
use awk_rs::{Interpreter, Lexer, Parser};
use std::io::{BufReader, Write};

pub fn awk(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let mut separator = None;
    let mut variables = Vec::new();
    let mut source = None;
    let mut files = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut value =
            |flag: &str| rest.next().cloned().ok_or_else(|| format!("option requires an argument -- {flag}"));
        let parsed = match arg.as_str() {
            "-F" => value("F").map(|fs| separator = Some(fs)),
            "-v" => value("v").and_then(|assignment| assign(&mut variables, &assignment)),
            "-f" => value("f").and_then(|file| {
                let bytes = super::read(shell, &file, io)?;
                source = Some(String::from_utf8_lossy(&bytes).into_owned());
                Ok(())
            }),
            "--" => {
                files.extend(rest.by_ref().cloned());
                Ok(())
            }
            flag if flag.starts_with("-F") => {
                separator = Some(flag[2..].to_string());
                Ok(())
            }
            flag if flag.starts_with("-v") && flag.len() > 2 => assign(&mut variables, &flag[2..]),
            flag if flag.starts_with('-') && flag != "-" => Err(format!("not an option: {flag}")),
            program if source.is_none() => {
                source = Some(program.to_string());
                Ok(())
            }
            file => {
                files.push(file.to_string());
                Ok(())
            }
        };
        if let Err(message) = parsed {
            err!(io, "awk: {message}\n");
            return 2;
        }
    }
    let Some(source) = source else {
        err!(io, "usage: awk [-F fs][-v var=value][prog | -f progfile][file ...]\n");
        return 2;
    };
    let program = match Lexer::new(&source).tokenize().and_then(|tokens| Parser::new(tokens).parse()) {
        Ok(program) => program,
        Err(error) => {
            err!(io, "awk: {error}\n");
            return 2;
        }
    };
    let mut interpreter = Interpreter::new(&program);
    if let Some(separator) = &separator {
        interpreter.set_fs(&backslash_escapes(separator));
    }
    for (name, value) in &variables {
        interpreter.set_variable(name, value);
    }
    interpreter.set_args(std::iter::once("awk".to_string()).chain(files.iter().cloned()).collect());
    let (inputs, status) = super::inputs(shell, "awk", &files, io);
    if status != 0 {
        return 2;
    }
    let names = inputs.iter().map(|(name, _)| if name == "-" { String::new() } else { name.clone() }).collect();
    interpreter.set_filenames(names);
    let readers: Vec<BufReader<&[u8]>> = inputs.iter().map(|(_, bytes)| BufReader::new(bytes.as_slice())).collect();
    let mut out = io.out.borrow_mut();
    let mut writer: &mut dyn Write = &mut *out;
    let result = interpreter.run(readers, &mut writer);
    drop(out);
    match result {
        Ok(status) => status,
        Err(error) => {
            err!(io, "awk: {error}\n");
            2
        }
    }
}

/// `-v NAME=VALUE` (the value and `-F` take escape sequences, as awk
/// strings do).
fn assign(variables: &mut Vec<(String, String)>, assignment: &str) -> Result<(), String> {
    let (name, text) = assignment.split_once('=').ok_or_else(|| format!("improper assignment: -v {assignment}"))?;
    variables.push((name.to_string(), backslash_escapes(text)));
    Ok(())
}
