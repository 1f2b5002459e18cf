//! Built-ins that steer the script: `local`, `return`, `break`,
//! `continue`, `shift`, `set`, `let`, `read`, `source`, `command`, `type`
//! and `trap`.

use crate::interp::{Flow, Shell};
use crate::io::{Io, err, out};

/// `local NAME[=value]...`: variables of the running function.
pub fn local(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    if !shell.vars.in_function() {
        err!(io, "bash: local: can only be used in a function\n");
        return 1;
    }
    let (flags, names): (Vec<&String>, Vec<&String>) = args.iter().partition(|a| a.starts_with(['-', '+']));
    let flags: String = flags.iter().map(|f| &f[1..]).collect();
    declare_names(shell, "local", &flags, &names, true, io)
}

/// `return [N]`: leaves the running function with status N (or `$?`).
pub fn return_(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    if !shell.vars.in_function() && shell.sourcing == 0 {
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

/// `read [-r] [-a ARRAY] [-p PROMPT] [NAME...]`: one line of input, split
/// on `IFS` into the names (the last takes the rest); `REPLY` when none
/// is named. Status 1 at the end of the input.
pub fn read(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (mut raw, mut array, mut names) = (false, None, Vec::new());
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-r" => raw = true,
            "-a" => array = rest.next().cloned(),
            // A prompt shows only on a terminal, which a tool call is not.
            "-p" => drop(rest.next()),
            "-s" => {}
            flag if flag.starts_with('-') && names.is_empty() => {
                err!(io, "bash: read: {flag}: invalid option\n");
                return 2;
            }
            name => names.push(name.to_string()),
        }
    }
    let Some((mut line, mut ended)) = io.stdin.line() else {
        for name in names.iter().chain(array.iter()) {
            shell.vars.set(name, String::new());
        }
        return 1;
    };
    if !raw {
        // A backslash at the end joins the next line; elsewhere it quotes
        // the character after it.
        while ended && line.ends_with('\\') && !line.ends_with("\\\\") {
            line.pop();
            match io.stdin.line() {
                Some((next, next_ended)) => {
                    line.push_str(&next);
                    ended = next_ended;
                }
                None => ended = false,
            }
        }
        line = unescape(&line);
    }
    let ifs = shell.vars.get("IFS").unwrap_or_else(|| " \t\n".into());
    if names.is_empty() && array.is_none() {
        shell.vars.set("REPLY", line);
        return i32::from(!ended);
    }
    let is_space = |c: char| ifs.contains(c) && c.is_whitespace();
    let is_separator = |c: char| ifs.contains(c);
    let mut fields = Vec::new();
    let mut text = line.trim_matches(is_space);
    let wanted = if array.is_some() { usize::MAX } else { names.len() };
    while !text.is_empty() {
        if fields.len() + 1 == wanted {
            fields.push(text.to_string());
            break;
        }
        let end = text.find(is_separator).unwrap_or(text.len());
        fields.push(text[..end].to_string());
        text = &text[end..];
        // One separator, with the IFS whitespace around it.
        text = text.trim_start_matches(is_space);
        if let Some(c) = text.chars().next().filter(|&c| is_separator(c) && !c.is_whitespace()) {
            text = text[c.len_utf8()..].trim_start_matches(is_space);
        }
    }
    match array {
        Some(array) => shell.vars.set_list(&array, fields),
        None => {
            for (i, name) in names.iter().enumerate() {
                shell.vars.set(name, fields.get(i).cloned().unwrap_or_default());
            }
        }
    }
    i32::from(!ended)
}

/// The line with each `\c` made `c`.
fn unescape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// `source FILE [ARGS]` and `. FILE`: runs a script of the workspace in
/// this shell.
pub fn source(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let Some(file) = args.first() else {
        err!(io, "bash: source: filename argument required\n");
        return 2;
    };
    let text = match super::read(shell, file, io) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(message) => {
            err!(io, "bash: {message}\n");
            return 1;
        }
    };
    shell.source(&text, &args[1..], io)
}

/// `command -v NAME`: prints the names that are functions or built-ins;
/// `command NAME ARGS`: runs the built-in (or program), never a function.
pub fn command(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    match args.first().map(String::as_str) {
        Some("-v" | "-V") => {
            let mut status = 0;
            for name in &args[1..] {
                if super::kind(shell, name).is_some() {
                    out!(io, "{name}\n");
                } else {
                    status = 1;
                }
            }
            status
        }
        Some(_) => shell.run_command_named(args, io),
        None => 0,
    }
}

/// `type [-t] NAME...`: what each name is.
pub fn type_(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let terse = args.first().is_some_and(|a| a == "-t");
    let mut status = 0;
    for name in args.iter().filter(|a| !a.starts_with('-')) {
        let kind = super::kind(shell, name).map(|kind| match kind {
            super::Kind::Function => ("function", "a function"),
            super::Kind::Builtin => ("builtin", "a shell builtin"),
        });
        match (kind, terse) {
            (Some((short, _)), true) => out!(io, "{short}\n"),
            (Some((_, long)), false) => out!(io, "{name} is {long}\n"),
            (None, true) => status = 1,
            (None, false) => {
                err!(io, "bash: type: {name}: not found\n");
                status = 1;
            }
        }
    }
    status
}

/// `trap COMMAND EXIT` (or `0`): runs COMMAND when the script ends; other
/// signals never reach a tool call and are accepted as set.
pub fn trap(shell: &mut Shell, args: &[String], _: &Io) -> i32 {
    if let [command, signals @ ..] = args
        && signals.iter().any(|s| s == "EXIT" || s == "0")
    {
        shell.on_exit = (command != "-" && !command.is_empty()).then(|| command.clone());
    }
    0
}

/// `declare`/`typeset [-a] [-A] [-i] [-x] [-r] [-g] NAME[=value]...`: in a
/// function the names are local to it (unless `-g`), `-a` and `-A` make
/// indexed and associative arrays, `-x` exports them; values are assigned
/// by the interpreter afterwards. (`-i` is accepted; values stay strings.)
pub fn declare(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (flags, names): (Vec<&String>, Vec<&String>) = args.iter().partition(|a| a.starts_with(['-', '+']));
    let flags: String = flags.iter().map(|f| &f[1..]).collect();
    let local = shell.vars.in_function() && !flags.contains('g');
    declare_names(shell, "declare", &flags, &names, local, io)
}

/// What `declare` and `local` share: each name made local if asked, then
/// an array of the kind the flags say, then exported.
fn declare_names(shell: &mut Shell, command: &str, flags: &str, names: &[&String], local: bool, io: &Io) -> i32 {
    let mut status = 0;
    for name in names {
        if local {
            shell.vars.make_local(name);
        }
        if flags.contains('A') {
            if let Err(message) = shell.vars.make_associative(name) {
                err!(io, "bash: {command}: {message}\n");
                status = 1;
            }
        } else if flags.contains('a') && !shell.vars.is_set(name) {
            shell.vars.set_list(name, Vec::new());
        }
        if flags.contains('x') {
            shell.exported.insert(name.to_string());
        }
    }
    status
}

/// `readonly NAME[=value]...`: the shell assigns and then marks each name
/// (see `Shell::run_simple`), so an assignment to it later fails.
pub fn readonly(_: &mut Shell, _: &[String], _: &Io) -> i32 {
    0
}
