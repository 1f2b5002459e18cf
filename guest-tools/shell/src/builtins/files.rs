//! Built-ins that change or list files: ls, mkdir, rm, touch, cp, mv. All
//! paths resolve inside the workspace; WASI refuses the rest anyway.

use super::{flags, usage};
use crate::interp::{Shell, describe};
use crate::io::{Io, err, out};
use std::fs;

fn fail(io: &Io, name: &str, what: &str, arg: &str, error: &std::io::Error) -> i32 {
    err!(io, "{name}: {what} '{arg}': {}\n", describe(error));
    1
}

pub fn ls(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (flags, mut paths) = flags(args);
    let all = flags.contains(&'a');
    let almost_all = flags.contains(&'A');
    let long = flags.contains(&'l');
    let recursive = flags.contains(&'R');
    if paths.is_empty() {
        paths.push(".".into());
    }
    let mut status = 0;
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for path in &paths {
        let resolved = match shell.resolve(path) {
            Ok(r) => r,
            Err(message) => {
                err!(io, "ls: cannot access '{path}': {message}\n");
                status = 2;
                continue;
            }
        };
        match fs::metadata(&resolved.abs) {
            Ok(meta) if meta.is_dir() => dirs.push((path.clone(), resolved.abs)),
            Ok(meta) => files.push((path.clone(), meta)),
            Err(error) => {
                err!(io, "ls: cannot access '{path}': {}\n", describe(&error));
                status = 2;
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, meta) in &files {
        print_entry(io, name, meta, long);
    }
    dirs.sort();
    let headers = dirs.len() + files.len() > 1 || recursive;
    let mut first = files.is_empty();
    let mut queue: std::collections::VecDeque<(String, String)> = dirs.into_iter().collect();
    while let Some((shown, abs)) = queue.pop_front() {
        let Ok(entries) = fs::read_dir(&abs) else {
            err!(io, "ls: cannot open directory '{shown}'\n");
            status = 2;
            continue;
        };
        let mut names: Vec<String> = entries.flatten().filter_map(|e| e.file_name().into_string().ok()).collect();
        if all {
            names.push(".".into());
            names.push("..".into());
        }
        names.retain(|n| all || almost_all || !n.starts_with('.'));
        names.sort();
        if headers {
            out!(io, "{}{shown}:\n", if first { "" } else { "\n" });
        }
        first = false;
        let mut subdirs = Vec::new();
        for name in &names {
            let path = format!("{abs}/{name}");
            // `.` and `..` are the folder itself for our purposes: `..` of the
            // workspace root lies outside it and cannot be examined.
            let meta = if name == "." || name == ".." { fs::metadata(&abs) } else { fs::symlink_metadata(&path) };
            if let Ok(meta) = &meta {
                print_entry(io, name, meta, long);
                if recursive && meta.is_dir() && name != "." && name != ".." {
                    let shown = if shown.ends_with('/') { format!("{shown}{name}") } else { format!("{shown}/{name}") };
                    subdirs.push((shown, path));
                }
            }
        }
        for sub in subdirs.into_iter().rev() {
            queue.push_front(sub);
        }
    }
    status
}

fn print_entry(io: &Io, name: &str, meta: &fs::Metadata, long: bool) {
    if long {
        let kind = if meta.is_dir() {
            'd'
        } else if meta.file_type().is_symlink() {
            'l'
        } else {
            '-'
        };
        let mode = &super::metadata::mode_letters(meta)[1..];
        out!(io, "{kind}{mode} 1 user user {:>8} {name}\n", meta.len());
    } else {
        out!(io, "{name}\n");
    }
}

pub fn mkdir(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (flags, dirs) = flags(args);
    if dirs.is_empty() {
        return usage(io, "mkdir", "missing operand", 1);
    }
    let mut status = 0;
    for dir in &dirs {
        let result = shell.resolve(dir).map_err(|m| (m, None)).and_then(|path| {
            let made = if flags.contains(&'p') { fs::create_dir_all(&path.abs) } else { fs::create_dir(&path.abs) };
            made.map_err(|e| (String::new(), Some(e)))
        });
        match result {
            Ok(()) => {}
            Err((message, None)) => {
                err!(io, "mkdir: cannot create directory '{dir}': {message}\n");
                status = 1;
            }
            Err((_, Some(error))) => status = fail(io, "mkdir", "cannot create directory", dir, &error),
        }
    }
    status
}

pub fn rm(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (flags, targets) = flags(args);
    let recursive = flags.contains(&'r') || flags.contains(&'R');
    let force = flags.contains(&'f');
    if targets.is_empty() && !force {
        return usage(io, "rm", "missing operand", 1);
    }
    let mut status = 0;
    for target in &targets {
        let path = match shell.resolve(target) {
            Ok(path) => path,
            Err(message) => {
                err!(io, "rm: cannot remove '{target}': {message}\n");
                status = 1;
                continue;
            }
        };
        if path.rel.is_empty() {
            err!(io, "rm: refusing to remove the workspace root\n");
            status = 1;
            continue;
        }
        let result = match fs::symlink_metadata(&path.abs) {
            Ok(meta) if meta.is_dir() && !recursive => {
                err!(io, "rm: cannot remove '{target}': Is a directory\n");
                status = 1;
                continue;
            }
            Ok(meta) if meta.is_dir() => fs::remove_dir_all(&path.abs),
            Ok(_) => fs::remove_file(&path.abs),
            Err(error) if force && error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            status = fail(io, "rm", "cannot remove", target, &error);
        }
    }
    status
}

/// `touch [-c] [-d DATE | -r FILE] FILE...`: creates files and sets their
/// modification time (now, a date, or another file's). A date is
/// `YYYY-MM-DD[ HH:MM[:SS]]` (also with `T`) in UTC, or `@SECONDS`.
pub fn touch(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (mut time, mut create, mut files) = (std::time::SystemTime::now(), true, Vec::new());
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let parsed = match arg.as_str() {
            "-c" | "--no-create" => {
                create = false;
                Ok(())
            }
            "-a" | "-m" => Ok(()),
            "-d" | "-r" => match rest.next() {
                Some(value) if arg == "-d" => super::time::parse(value).map(|t| time = t),
                Some(file) => shell
                    .resolve(file)
                    .ok()
                    .and_then(|p| fs::metadata(p.abs).ok())
                    .and_then(|m| m.modified().ok())
                    .map(|t| time = t)
                    .ok_or_else(|| format!("failed to get attributes of '{file}': No such file or directory")),
                None => Err(format!("option requires an argument -- '{}'", &arg[1..])),
            },
            flag if flag.starts_with('-') && flag.len() > 1 => Err(format!("invalid option -- '{}'", &flag[1..])),
            file => {
                files.push(file.to_string());
                Ok(())
            }
        };
        if let Err(message) = parsed {
            return usage(io, "touch", &message, 1);
        }
    }
    let mut status = 0;
    for file in &files {
        let result = shell.resolve(file).map_err(std::io::Error::other).and_then(|path| {
            if !create && fs::symlink_metadata(&path.abs).is_err() {
                return Ok(());
            }
            let f = fs::OpenOptions::new().create(true).append(true).open(&path.abs)?;
            f.set_times(fs::FileTimes::new().set_accessed(time).set_modified(time))
        });
        if let Err(error) = result {
            status = fail(io, "touch", "cannot touch", file, &error);
        }
    }
    status
}

/// Where `source` goes when copied or moved to `target`: into it if it is a folder.
fn destination(shell: &Shell, source: &str, target: &str) -> Result<String, String> {
    let target_path = shell.resolve(target)?;
    if fs::metadata(&target_path.abs).is_ok_and(|m| m.is_dir()) {
        let name = source.trim_end_matches('/').rsplit('/').next().unwrap_or(source);
        Ok(format!("{}/{name}", target_path.abs))
    } else {
        Ok(target_path.abs)
    }
}

fn copy_tree(from: &str, to: &str) -> std::io::Result<()> {
    if fs::metadata(from)?.is_dir() {
        fs::create_dir_all(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            let name = entry.file_name().into_string().unwrap_or_default();
            copy_tree(&format!("{from}/{name}"), &format!("{to}/{name}"))?;
        }
        Ok(())
    } else {
        fs::copy(from, to).map(|_| ())
    }
}

pub fn cp(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (flags, operands) = flags(args);
    let recursive = flags.contains(&'r') || flags.contains(&'R') || flags.contains(&'a');
    let Some((target, sources)) = operands.split_last().filter(|(_, s)| !s.is_empty()) else {
        return usage(io, "cp", "missing file operand", 1);
    };
    let mut status = 0;
    for source in sources {
        let result = shell.resolve(source).and_then(|from| Ok((from, destination(shell, source, target)?)));
        let (from, to) = match result {
            Ok(paths) => paths,
            Err(message) => {
                err!(io, "cp: cannot copy '{source}': {message}\n");
                status = 1;
                continue;
            }
        };
        if fs::metadata(&from.abs).is_ok_and(|m| m.is_dir()) && !recursive {
            err!(io, "cp: -r not specified; omitting directory '{source}'\n");
            status = 1;
            continue;
        }
        if let Err(error) = copy_tree(&from.abs, &to) {
            status = fail(io, "cp", "cannot copy", source, &error);
        }
    }
    status
}

pub fn mv(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (_, operands) = flags(args);
    let Some((target, sources)) = operands.split_last().filter(|(_, s)| !s.is_empty()) else {
        return usage(io, "mv", "missing file operand", 1);
    };
    let mut status = 0;
    for source in sources {
        let result = shell.resolve(source).and_then(|from| Ok((from, destination(shell, source, target)?)));
        match result {
            Ok((from, to)) => {
                if let Err(error) = fs::rename(&from.abs, &to) {
                    status = fail(io, "mv", "cannot move", source, &error);
                }
            }
            Err(message) => {
                err!(io, "mv: cannot move '{source}': {message}\n");
                status = 1;
            }
        }
    }
    status
}

/// `ln -s TARGET LINK`: symbolic links only. The target is stored as given;
/// WASI refuses to follow one that leads out of the workspace.
pub fn ln(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (flags, operands) = flags(args);
    if !flags.contains(&'s') {
        return usage(io, "ln", "only symbolic links (ln -s) are supported", 1);
    }
    let [target, link] = operands.as_slice() else { return usage(io, "ln", "usage: ln -s TARGET LINK", 1) };
    let path = match shell.resolve(link) {
        Ok(path) => path,
        Err(message) => return usage(io, "ln", &format!("failed to create symbolic link '{link}': {message}"), 1),
    };
    match super::symlink(target, &path) {
        Ok(()) => 0,
        Err(message) => {
            err!(io, "ln: failed to create symbolic link '{link}': {message}\n");
            1
        }
    }
}
