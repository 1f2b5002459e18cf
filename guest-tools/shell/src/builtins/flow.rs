//! Built-ins that steer the script: `local`, `return`, `break`,
//! `continue`, `shift`, `set` and `let`.

use crate::interp::{Flow, Shell};
use crate::io::{Io, err, out};

/// `local NAME[=value]...`: variables of the running function.
pub fn local(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    if !shell.vars.in_function() {
        err!(io, "bash: local: can only be used in a function\n");
        return 1;
    }
    for arg in args.iter().filter(|a| !a.starts_with('-')) {
        let (name, value) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (arg.as_str(), None),
        };
        shell.vars.make_local(name);
        if let Some(value) = value {
            shell.vars.set(name, value.to_string());
        }
    }
    0
}

/// `return [N]`: leaves the running function with status N (or `$?`).
pub fn return_(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    if !shell.vars.in_function() {
        err!(io, "bash: return: can only `return' from a function or sourced script\n");
        return 1;
    }
    let status = match args.first() {
        None => shell.status,
        Some(n) => match n.parse::<i64>() {
            Ok(n) => (n & 0xff) as i32,
            Err(_) => {
                err!(io, "bash: return: {n}: numeric argument required\n");
                2
            }
        },
    };
    shell.flow = Some(Flow::Return);
    shell.status = status;
    status
}

/// `break [N]` and `continue [N]`.
fn loop_control(shell: &mut Shell, name: &str, args: &[String], io: &Io, flow: fn(u32) -> Flow) -> i32 {
    let levels = match args.first().map(|n| n.parse::<u32>()) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => {
            err!(io, "bash: {name}: {}: loop count out of range\n", args[0]);
            shell.exit = Some(1);
            return 1;
        }
    };
    if shell.loops == 0 {
        err!(io, "bash: {name}: only meaningful in a `for', `while', or `until' loop\n");
        return 0;
    }
    shell.flow = Some(flow(levels.min(shell.loops as u32)));
    0
}

pub fn break_(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    loop_control(shell, "break", args, io, Flow::Break)
}

pub fn continue_(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    loop_control(shell, "continue", args, io, Flow::Continue)
}

/// `shift [N]`: drops the first N positional parameters.
pub fn shift(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let n = match args.first().map(|n| n.parse::<usize>()) {
        None => 1,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            err!(io, "bash: shift: {}: numeric argument required\n", args[0]);
            return 1;
        }
    };
    if n > shell.vars.positional.len() {
        return 1;
    }
    shell.vars.positional.drain(..n);
    0
}

/// `set -e`, `-u`, `-o pipefail` (and `+` to turn off), `set -- args`.
pub fn set(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    if args.is_empty() {
        for (name, value) in shell.vars.strings() {
            out!(io, "{name}={}\n", quote(value));
        }
        return 0;
    }
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--" {
            shell.vars.positional = rest.cloned().collect();
            return 0;
        }
        let (on, flags) = match arg.chars().next() {
            Some('-') => (true, &arg[1..]),
            Some('+') => (false, &arg[1..]),
            _ => {
                // `set a b`: the positional parameters.
                shell.vars.positional = std::iter::once(arg).chain(rest).cloned().collect();
                return 0;
            }
        };
        for flag in flags.chars() {
            match flag {
                'e' => shell.options.errexit = on,
                'u' => shell.options.nounset = on,
                'x' | 'v' | 'f' | 'h' | 'B' | 'C' => {}
                'o' => match rest.next().map(String::as_str) {
                    Some("errexit") => shell.options.errexit = on,
                    Some("nounset") => shell.options.nounset = on,
                    Some("pipefail") => shell.options.pipefail = on,
                    Some("xtrace" | "noclobber" | "noglob" | "posix") => {}
                    Some(other) => {
                        err!(io, "bash: set: {other}: invalid option name\n");
                        return 1;
                    }
                    None => return 0,
                },
                other => {
                    err!(io, "bash: set: -{other}: invalid option\n");
                    return 2;
                }
            }
        }
    }
    0
}

/// A value as `set` prints it: quoted when it needs to be.
fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | ',' | '+' | '='));
    match plain {
        true => value.to_string(),
        false => format!("'{}'", value.replace('\'', r"'\''")),
    }
}

/// `let EXPR...`: evaluates each; status 0 when the last is not 0.
pub fn let_(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    if args.is_empty() {
        err!(io, "bash: let: expression expected\n");
        return 1;
    }
    let mut last = 0;
    for arg in args {
        match crate::arith::evaluate(shell, arg) {
            Ok(value) => last = value,
            Err(e) => {
                err!(io, "bash: let: {e}\n");
                return 1;
            }
        }
    }
    i32::from(last == 0)
}
