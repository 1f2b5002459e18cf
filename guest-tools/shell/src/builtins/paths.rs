//! Where a path really leads: `realpath` and `readlink`.
//!
//! Symlinks are followed one component at a time, as the kernel does, but
//! only inside the workspace: a link whose target leaves it is reported,
//! never followed (WASI would refuse to open it anyway). `..` after a link
//! climbs from the link's target, as in coreutils.

use super::usage;
use crate::interp::Shell;
use crate::io::{Io, err, out};

/// How much of a path must exist (`-e`, the default, `-m`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Existing {
    /// Every component (`-e`).
    All,
    /// All but the last (the default).
    AllButLast,
    /// None (`-m`).
    None,
}

/// Symlinks followed in one path before giving up, as Linux does.
const MAX_LINKS: usize = 40;

/// The path `arg` leads to, relative to the workspace root, with every
/// symlink followed (or none, with `physical` false: `-s`).
fn canonical(shell: &Shell, arg: &str, existing: Existing, physical: bool) -> Result<String, String> {
    if arg.is_empty() {
        return Err("'': No such file or directory".into());
    }
    let outside = || format!("{arg}: outside the workspace");
    let start = if arg.starts_with('/') {
        below_root(shell, arg).ok_or_else(outside)?.to_string()
    } else {
        format!("{}/{arg}", shell.cwd)
    };
    // Components still to walk, the next one last.
    let mut pending: Vec<String> = start.split('/').rev().map(str::to_string).collect();
    let mut resolved: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                resolved.pop().ok_or_else(outside)?;
                continue;
            }
            _ => {}
        }
        resolved.push(part);
        let abs = shell.ws.join(&resolved.join("/"));
        let last = pending.iter().all(|p| p.is_empty() || p == ".");
        let meta = match std::fs::symlink_metadata(&abs) {
            Ok(meta) => meta,
            Err(_) if existing == Existing::None || (existing == Existing::AllButLast && last) => continue,
            Err(error) => return Err(format!("{arg}: {}", crate::interp::describe(&error))),
        };
        if meta.is_symlink() && physical {
            links += 1;
            if links > MAX_LINKS {
                return Err(format!("{arg}: Too many levels of symbolic links"));
            }
            let target = std::fs::read_link(&abs).map_err(|e| format!("{arg}: {}", crate::interp::describe(&e)))?;
            let target = target.to_string_lossy().into_owned();
            resolved.pop();
            if target.starts_with('/') {
                let below = below_root(shell, &target);
                let below = below.ok_or_else(|| format!("{arg}: leads outside the workspace ({target})"))?;
                resolved.clear();
                pending.extend(below.split('/').rev().map(str::to_string));
            } else {
                pending.extend(target.split('/').rev().map(str::to_string));
            }
        } else if !meta.is_dir() && !last && existing != Existing::None {
            return Err(format!("{arg}: Not a directory"));
        }
    }
    Ok(resolved.join("/"))
}

/// What follows the workspace root in the absolute path `abs`, if `abs`
/// lies inside it.
fn below_root<'a>(shell: &Shell, abs: &'a str) -> Option<&'a str> {
    shell.ws.resolve(abs).ok()?;
    Some(&abs[shell.ws.root().trim_end_matches('/').len()..])
}

/// `to` relative to the folder `from` (both relative to the root).
fn relative(to: &str, from: &str) -> String {
    let to: Vec<&str> = to.split('/').filter(|p| !p.is_empty()).collect();
    let from: Vec<&str> = from.split('/').filter(|p| !p.is_empty()).collect();
    let shared = to.iter().zip(&from).take_while(|(a, b)| a == b).count();
    let mut parts = vec![".."; from.len() - shared];
    parts.extend(&to[shared..]);
    if parts.is_empty() { ".".into() } else { parts.join("/") }
}

/// `realpath [-e|-m] [-s] [-q] [-z] [--relative-to=DIR] FILE...`.
pub fn realpath(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (mut existing, mut physical, mut quiet, mut end) = (Existing::AllButLast, true, false, "\n");
    let (mut relative_to, mut files) = (None, Vec::new());
    for arg in args {
        match arg.as_str() {
            "-e" | "--canonicalize-existing" => existing = Existing::All,
            "-m" | "--canonicalize-missing" => existing = Existing::None,
            "-s" | "--strip" | "--no-symlinks" => physical = false,
            "-L" | "--logical" | "-P" | "--physical" => {}
            "-q" | "--quiet" => quiet = true,
            "-z" | "--zero" => end = "\0",
            flag if flag.starts_with("--relative-to=") => {
                relative_to = Some(flag["--relative-to=".len()..].to_string())
            }
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return usage(io, "realpath", &format!("unrecognized option '{flag}'"), 1);
            }
            file => files.push(file.to_string()),
        }
    }
    if files.is_empty() {
        return usage(io, "realpath", "missing operand", 1);
    }
    let base = match relative_to.map(|dir| canonical(shell, &dir, existing, physical)).transpose() {
        Ok(base) => base,
        Err(message) => return usage(io, "realpath", &message, 1),
    };
    let mut status = 0;
    for file in &files {
        match canonical(shell, file, existing, physical) {
            Ok(path) => match &base {
                Some(base) => out!(io, "{}{end}", relative(&path, base)),
                None => out!(io, "{}{end}", shell.ws.join(&path)),
            },
            Err(message) => {
                if !quiet {
                    err!(io, "realpath: {message}\n");
                }
                status = 1;
            }
        }
    }
    status
}

/// `readlink [-f|-e|-m] [-n] [-q|-s] [-z] FILE...`: a link's target as
/// written, or with `-f`/`-e`/`-m` the path it leads to.
pub fn readlink(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (mut existing, mut newline, mut end, mut files) = (None, true, "\n", Vec::new());
    for arg in args {
        if arg.starts_with('-') && arg.len() > 1 && !arg.starts_with("--") {
            for flag in arg[1..].chars() {
                match flag {
                    'f' => existing = Some(Existing::AllButLast),
                    'e' => existing = Some(Existing::All),
                    'm' => existing = Some(Existing::None),
                    'n' => newline = false,
                    'z' => end = "\0",
                    'q' | 's' | 'v' => {}
                    other => return usage(io, "readlink", &format!("invalid option -- '{other}'"), 1),
                }
            }
        } else {
            match arg.as_str() {
                "--canonicalize" => existing = Some(Existing::AllButLast),
                "--canonicalize-existing" => existing = Some(Existing::All),
                "--canonicalize-missing" => existing = Some(Existing::None),
                "--no-newline" => newline = false,
                "--zero" => end = "\0",
                flag if flag.starts_with("--") => {
                    return usage(io, "readlink", &format!("unrecognized option '{flag}'"), 1);
                }
                file => files.push(file.to_string()),
            }
        }
    }
    if files.is_empty() {
        return usage(io, "readlink", "missing operand", 1);
    }
    // Like coreutils, `-n` only drops the newline after a single path.
    let end = if !newline && files.len() == 1 { "" } else { end };
    let mut status = 0;
    for file in &files {
        let target = match existing {
            Some(existing) => canonical(shell, file, existing, true).ok().map(|path| shell.ws.join(&path)),
            None => shell
                .resolve(file)
                .ok()
                .and_then(|path| std::fs::read_link(path.abs).ok())
                .map(|target| target.to_string_lossy().into_owned()),
        };
        match target {
            Some(target) => out!(io, "{target}{end}"),
            None => status = 1,
        }
    }
    status
}
