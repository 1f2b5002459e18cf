//! The built-in commands, by name.
//!
//! Each takes the shell, its arguments (without its own name) and its
//! streams, and returns an exit status. They follow GNU coreutils' output
//! for the options an agent uses; the bash-oracle table in the gateway's
//! tests shows which, by comparing them with the real commands. Options they
//! do not know are ignored by the simple ones and refused by grep and find.

mod archive;
mod arguments;
mod awk;
mod columns;
mod digest;
mod edit;
mod files;
mod find;
mod flow;
mod jq;
mod metadata;
mod patch;
mod paths;
mod printf;
mod search;
mod sed;
mod session;
mod sort;
pub mod test;
mod text;
mod time;

use crate::interp::Shell;
use crate::io::{Io, err};

/// A built-in command.
pub type Builtin = fn(&mut Shell, &[String], &Io) -> i32;

/// The built-in called `name`.
pub fn find(name: &str) -> Option<Builtin> {
    Some(match name {
        "true" | ":" => |_, _, _| 0,
        "false" => |_, _, _| 1,
        "echo" => text::echo,
        "printf" => printf::printf,
        "cat" => text::cat,
        "head" => text::head,
        "tail" => text::tail,
        "wc" => text::wc,
        "sort" => sort::sort,
        "uniq" => text::uniq,
        "cut" => text::cut,
        "tr" => text::tr,
        "seq" => text::seq,
        "tee" => text::tee,
        "basename" => text::basename,
        "dirname" => text::dirname,
        "ls" => files::ls,
        "mkdir" => files::mkdir,
        "rm" => files::rm,
        "touch" => files::touch,
        "cp" => files::cp,
        "mv" => files::mv,
        "grep" => search::grep,
        "sed" => sed::sed,
        "diff" => edit::diff,
        "xargs" => edit::xargs,
        "ln" => files::ln,
        "find" => find::find,
        "cd" => session::cd,
        "pwd" => session::pwd,
        "export" => session::export,
        "unset" => session::unset,
        "env" => session::env,
        "exit" => session::exit,
        "which" => session::which,
        "type" => flow::type_,
        "yes" => text::yes,
        "test" => test::test,
        "[" => test::bracket,
        "local" => flow::local,
        "return" => flow::return_,
        "break" => flow::break_,
        "continue" => flow::continue_,
        "shift" => flow::shift,
        "set" => flow::set,
        "let" => flow::let_,
        "read" => flow::read,
        "source" | "." => flow::source,
        "command" => flow::command,
        "trap" => flow::trap,
        "declare" | "typeset" => flow::declare,
        "readonly" => flow::readonly,
        "jq" => jq::jq,
        "base64" => digest::base64,
        "sha256sum" => digest::sha256sum,
        "sha1sum" => digest::sha1sum,
        "md5sum" => digest::md5sum,
        "nl" => columns::nl,
        "paste" => columns::paste,
        "comm" => columns::comm,
        "join" => columns::join,
        "sleep" => time::sleep,
        "realpath" => paths::realpath,
        "readlink" => paths::readlink,
        "stat" => metadata::stat,
        "du" => metadata::du,
        "patch" => patch::patch,
        "gzip" => archive::gzip,
        "gunzip" => archive::gunzip,
        "zcat" => archive::zcat,
        "tar" => archive::tar,
        "date" => time::date,
        "awk" => awk::awk,
        "getopts" => arguments::getopts,
        "mapfile" | "readarray" => arguments::mapfile,
        _ => return None,
    })
}

/// What a command name runs, as `type`, `command -v` and `which` tell it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Function,
    Builtin,
}

/// What `name` runs in this shell: a function first, then a built-in
/// (`None`: a host process, or nothing).
pub fn kind(shell: &Shell, name: &str) -> Option<Kind> {
    if shell.functions.contains_key(name) {
        Some(Kind::Function)
    } else if find(name).is_some() {
        Some(Kind::Builtin)
    } else {
        None
    }
}

/// Reports a usage error the way coreutils does, and returns status 2 (1 for some).
pub fn usage(io: &Io, name: &str, message: &str, status: i32) -> i32 {
    err!(io, "{name}: {message}\n");
    status
}

/// The bytes of each input: the named files, or stdin when there are none
/// (or for `-`). A file that cannot be read is reported and skipped.
pub fn inputs(shell: &Shell, name: &str, files: &[String], io: &Io) -> (Vec<(String, Vec<u8>)>, i32) {
    if files.is_empty() {
        return (vec![("-".into(), io.stdin.rest())], 0);
    }
    let mut out = Vec::new();
    let mut status = 0;
    for file in files {
        match read(shell, file, io) {
            Ok(bytes) => out.push((file.clone(), bytes)),
            Err(message) => {
                err!(io, "{name}: {message}\n");
                status = 1;
            }
        }
    }
    (out, status)
}

/// One file's bytes (`-` is stdin).
pub fn read(shell: &Shell, file: &str, io: &Io) -> Result<Vec<u8>, String> {
    if file == "-" {
        return Ok(io.stdin.rest());
    }
    if file == "/dev/null" {
        return Ok(Vec::new());
    }
    let path = shell.resolve(file)?;
    match std::fs::metadata(&path.abs) {
        Ok(meta) if meta.is_dir() => return Err(format!("{file}: Is a directory")),
        Ok(meta) if !meta.is_file() => return Err(format!("{file}: not a regular file")),
        _ => {}
    }
    std::fs::read(&path.abs).map_err(|e| format!("{file}: {}", crate::interp::describe(&e)))
}

/// Makes a symbolic link at `link` holding `target` as written. WASI makes
/// it beneath the workspace's handle; it refuses an absolute target, and
/// never follows a relative one that leads out.
pub fn symlink(target: &str, link: &wasmgate_tool_sdk::workspace::Resolved) -> Result<(), String> {
    let Some((dir, _)) = wasip2::filesystem::preopens::get_directories().into_iter().next() else {
        return Err("no workspace".into());
    };
    dir.symlink_at(target, &link.rel).map_err(|code| code.message().to_string())
}

/// Writes bytes as they are (a file's contents, an archive) to the output.
pub fn write_bytes(io: &Io, bytes: &[u8]) {
    let _ = std::io::Write::write_all(&mut *io.out.borrow_mut(), bytes);
}

/// Splits `-abc` style flags off the front of `args`; stops at `--` or the
/// first operand. Returns the flags (as chars) and the operands.
pub fn flags(args: &[String]) -> (Vec<char>, Vec<String>) {
    let mut flags = Vec::new();
    let mut rest = Vec::new();
    let mut done = false;
    for arg in args {
        if done || !arg.starts_with('-') || arg == "-" {
            rest.push(arg.clone());
        } else if arg == "--" {
            done = true;
        } else {
            flags.extend(arg[1..].chars());
        }
    }
    (flags, rest)
}
