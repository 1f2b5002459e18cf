//! Built-ins that take a script's input apart: `getopts` (options, as
//! bash parses them) and `mapfile`/`readarray` (lines into an array).

use crate::interp::Shell;
use crate::io::{Io, err};

/// `getopts OPTSTRING NAME [ARG...]`: the next option of the positional
/// parameters (or of ARG...), in NAME, its argument in `OPTARG`, the next
/// parameter's index in `OPTIND`. Status 1 once the options end.
pub fn getopts(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let [optstring, name, given @ ..] = args else {
        err!(io, "bash: getopts: usage: getopts optstring name [arg ...]\n");
        return 2;
    };
    let params: Vec<String> = if given.is_empty() { shell.vars.positional.clone() } else { given.to_vec() };
    let silent = optstring.starts_with(':');
    let index: usize = shell.vars.get("OPTIND").and_then(|v| v.parse().ok()).filter(|&i| i >= 1).unwrap_or(1);
    // A script that sets OPTIND=1 starts over.
    if index == 1 && shell.getopts_next.0 != 1 {
        shell.getopts_next = (1, 1);
    }
    let end = |shell: &mut Shell, index: usize| {
        shell.vars.set(name, "?".into());
        shell.vars.set("OPTIND", index.to_string());
        shell.getopts_next = (index, 1);
        1
    };
    let Some(arg) = params.get(index - 1) else { return end(shell, index) };
    if arg == "--" {
        return end(shell, index + 1);
    }
    if !arg.starts_with('-') || arg == "-" {
        return end(shell, index);
    }
    let chars: Vec<char> = arg.chars().collect();
    let offset = if shell.getopts_next.0 == index { shell.getopts_next.1.max(1) } else { 1 };
    let option = chars[offset.min(chars.len() - 1)];
    let mut next = (index, offset + 1);
    if next.1 >= chars.len() {
        next = (index + 1, 1);
    }
    shell.vars.remove("OPTARG");
    let spec = optstring.trim_start_matches(':').find(option).filter(|_| option != ':');
    match spec {
        None => {
            if silent {
                shell.vars.set("OPTARG", option.to_string());
            } else {
                err!(io, "bash: illegal option -- {option}\n");
            }
            shell.vars.set(name, "?".into());
        }
        Some(at) if optstring.trim_start_matches(':')[at + 1..].starts_with(':') => {
            let rest: String = chars[offset + 1..].iter().collect();
            if !rest.is_empty() {
                shell.vars.set("OPTARG", rest);
                next = (index + 1, 1);
                shell.vars.set(name, option.to_string());
            } else if let Some(value) = params.get(index) {
                shell.vars.set("OPTARG", value.clone());
                next = (index + 2, 1);
                shell.vars.set(name, option.to_string());
            } else if silent {
                shell.vars.set("OPTARG", option.to_string());
                shell.vars.set(name, ":".into());
                next = (index + 1, 1);
            } else {
                err!(io, "bash: option requires an argument -- {option}\n");
                shell.vars.set(name, "?".into());
                next = (index + 1, 1);
            }
        }
        Some(_) => shell.vars.set(name, option.to_string()),
    }
    shell.vars.set("OPTIND", next.0.to_string());
    shell.getopts_next = next;
    0
}

/// `mapfile [-t] [-n COUNT] [-s SKIP] [ARRAY]` (and `readarray`): the
/// input's lines into ARRAY (`MAPFILE` by default).
pub fn mapfile(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (mut trim, mut count, mut skip, mut name) = (false, 0usize, 0usize, "MAPFILE".to_string());
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut number = |flag: &str| match rest.next().and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => Ok(n),
            None => Err(format!("bash: mapfile: {flag}: invalid number\n")),
        };
        let parsed = match arg.as_str() {
            "-t" => {
                trim = true;
                Ok(())
            }
            "-n" => number("-n").map(|n| count = n),
            "-s" => number("-s").map(|n| skip = n),
            flag if flag.starts_with('-') => Err(format!("bash: mapfile: {flag}: invalid option\n")),
            array => {
                name = array.to_string();
                Ok(())
            }
        };
        if let Err(message) = parsed {
            err!(io, "{message}");
            return 2;
        }
    }
    let mut lines = Vec::new();
    let mut skipped = 0;
    while count == 0 || lines.len() < count {
        let Some((line, ended)) = io.stdin.line() else { break };
        if skipped < skip {
            skipped += 1;
            continue;
        }
        let newline = if ended && !trim { "\n" } else { "" };
        lines.push(format!("{line}{newline}"));
    }
    shell.vars.set_list(&name, lines);
    0
}
