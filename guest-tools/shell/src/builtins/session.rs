//! Built-ins that change the shell itself: cd, pwd, export, unset, env,
//! exit, which.

use super::usage;
use crate::interp::Shell;
use crate::io::{Io, err, out};

pub fn cd(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let target = args.first().cloned().unwrap_or_else(|| shell.var("HOME"));
    let path = match shell.resolve(&target) {
        Ok(path) => path,
        Err(message) => {
            err!(io, "bash: cd: {message}\n");
            return 1;
        }
    };
    match std::fs::metadata(&path.abs) {
        Ok(meta) if meta.is_dir() => {
            shell.cwd = path.rel;
            let pwd = shell.cwd_abs();
            shell.vars.set("PWD", pwd);
            0
        }
        Ok(_) => {
            err!(io, "bash: cd: {target}: Not a directory\n");
            1
        }
        Err(_) => {
            err!(io, "bash: cd: {target}: No such file or directory\n");
            1
        }
    }
}

pub fn pwd(shell: &mut Shell, _: &[String], io: &Io) -> i32 {
    out!(io, "{}\n", shell.cwd_abs());
    0
}

pub fn export(shell: &mut Shell, args: &[String], _: &Io) -> i32 {
    for arg in args {
        match arg.split_once('=') {
            Some((name, value)) => {
                shell.vars.set(name, value.to_string());
                shell.exported.insert(name.to_string());
            }
            None => {
                shell.exported.insert(arg.clone());
            }
        }
    }
    0
}

/// `unset NAME`, `unset 'a[i]'`, `unset -f FUNCTION`.
pub fn unset(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let functions = args.first().is_some_and(|a| a == "-f");
    for name in args.iter().filter(|a| !a.starts_with('-')) {
        if functions {
            shell.functions.remove(name);
        } else if let Some((array, index)) = name.strip_suffix(']').and_then(|n| n.split_once('[')) {
            match shell.subscript(array, index) {
                Ok(key) => shell.vars.remove_element(array, &key),
                Err(e) => {
                    err!(io, "bash: unset: {e}\n");
                    return 1;
                }
            }
        } else if shell.readonly.contains(name) {
            err!(io, "bash: unset: {name}: cannot unset: readonly variable\n");
            return 1;
        } else {
            shell.vars.remove(name);
            shell.exported.remove(name);
        }
    }
    0
}

pub fn env(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    if !args.is_empty() {
        return usage(io, "env", "running commands is not supported; use NAME=value command", 1);
    }
    for name in &shell.exported {
        if let Some(value) = shell.vars.get(name) {
            out!(io, "{name}={value}\n");
        }
    }
    0
}

pub fn exit(shell: &mut Shell, args: &[String], _: &Io) -> i32 {
    let status = args.first().and_then(|a| a.parse::<i32>().ok()).unwrap_or(shell.status) & 0xff;
    shell.exit = Some(status);
    status
}

pub fn which(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let mut status = 0;
    for name in args {
        match super::kind(shell, name) {
            Some(super::Kind::Function) => out!(io, "{name}: shell function\n"),
            Some(super::Kind::Builtin) => out!(io, "{name}: shell built-in command\n"),
            None => status = 1,
        }
    }
    status
}
