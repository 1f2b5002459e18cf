//! Archives: `gzip`, `gunzip` and `zcat` (flate2), and `tar` (the `tar`
//! crate's headers and reader).
//!
//! The shell walks and writes the files itself rather than letting the
//! `tar` crate do it, so every member name goes through the workspace's
//! path resolution and WASI's preopen like any other path: a member named
//! `../x` or `/etc/x`, or one whose folder is a link out, is refused and
//! reported, and the rest of the archive still extracts.

use super::{read, usage, write_bytes};
use crate::interp::{Shell, describe};
use crate::io::{Io, err, out};
use flate2::read::MultiGzDecoder;
use flate2::{Compression, GzBuilder};
use std::io::{Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// Whether `bytes` start as a gzip stream does.
fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// `bytes` compressed, with the original name and time in the header as
/// gzip records them.
fn compress(bytes: &[u8], name: Option<&str>, mtime: u32, level: u32) -> Vec<u8> {
    let builder = GzBuilder::new().mtime(mtime);
    let builder = match name {
        Some(name) => builder.filename(name),
        None => builder,
    };
    let mut encoder = builder.write(Vec::new(), Compression::new(level));
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// Gives a file just written the time it is a copy of (best effort: the
/// contents are what matters).
fn set_modified(path: &str, time: SystemTime) {
    let _ = std::fs::File::options().append(true).open(path).and_then(|f| f.set_modified(time));
}

fn decompress(bytes: &[u8]) -> Result<Vec<u8>, String> {
    if !is_gzip(bytes) {
        return Err("not in gzip format".into());
    }
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes).read_to_end(&mut out).map_err(|e| format!("invalid compressed data--{e}"))?;
    Ok(out)
}

/// What `gzip` was asked to do.
struct GzipOptions {
    decompress: bool,
    stdout: bool,
    keep: bool,
    force: bool,
    level: u32,
}

pub fn gzip(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    run_gzip(
        shell,
        "gzip",
        args,
        GzipOptions { decompress: false, stdout: false, keep: false, force: false, level: 6 },
        io,
    )
}

pub fn gunzip(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    run_gzip(
        shell,
        "gunzip",
        args,
        GzipOptions { decompress: true, stdout: false, keep: false, force: false, level: 6 },
        io,
    )
}

pub fn zcat(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    run_gzip(
        shell,
        "zcat",
        args,
        GzipOptions { decompress: true, stdout: true, keep: true, force: false, level: 6 },
        io,
    )
}

/// `gzip [-d] [-c] [-k] [-f] [-1..-9] [FILE...]`: each FILE becomes
/// FILE.gz (or, with `-d`, the reverse), or goes to stdout with `-c`.
fn run_gzip(shell: &mut Shell, name: &str, args: &[String], mut options: GzipOptions, io: &Io) -> i32 {
    let mut files = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--decompress" | "--uncompress" => options.decompress = true,
            "--stdout" | "--to-stdout" => options.stdout = true,
            "--keep" => options.keep = true,
            "--force" => options.force = true,
            "--best" => options.level = 9,
            "--fast" => options.level = 1,
            "--quiet" | "--no-name" | "--name" => {}
            "-" => files.push(arg.clone()),
            flag if flag.starts_with('-') && !flag.starts_with("--") => {
                for letter in flag[1..].chars() {
                    match letter {
                        'd' => options.decompress = true,
                        'c' => options.stdout = true,
                        'k' => options.keep = true,
                        'f' => options.force = true,
                        'q' | 'n' | 'N' => {}
                        digit @ '1'..='9' => options.level = digit.to_digit(10).unwrap_or(6),
                        other => return usage(io, name, &format!("invalid option -- '{other}'"), 1),
                    }
                }
            }
            flag if flag.starts_with("--") => return usage(io, name, &format!("unrecognized option '{flag}'"), 1),
            file => files.push(file.to_string()),
        }
    }
    if files.is_empty() {
        files.push("-".into());
    }
    let mut status = 0;
    for file in &files {
        let bytes = match read(shell, file, io) {
            Ok(bytes) => bytes,
            Err(message) => {
                err!(io, "{name}: {message}\n");
                status = 1;
                continue;
            }
        };
        // The input's path and time: the header records the time, and the
        // result keeps it, as gzip's do.
        let source = (file != "-").then(|| shell.resolve(file).ok()).flatten();
        let modified = source.as_ref().and_then(|path| std::fs::metadata(&path.abs).ok()?.modified().ok());
        let mtime = modified.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs() as u32);
        let target = match (options.decompress, file.as_str()) {
            (_, "-") => None,
            _ if options.stdout => None,
            (true, file) => match [".gz", ".tgz", ".z"].iter().find_map(|s| file.strip_suffix(s).map(|b| (b, *s))) {
                Some((base, ".tgz")) => Some(format!("{base}.tar")),
                Some((base, _)) => Some(base.to_string()),
                None => {
                    err!(io, "{name}: {file}: unknown suffix -- ignored\n");
                    status = status.max(2);
                    continue;
                }
            },
            (false, file) if file.ends_with(".gz") => {
                // A warning that leaves the status alone, as gzip's does.
                err!(io, "{name}: {file} already has .gz suffix -- unchanged\n");
                continue;
            }
            (false, file) => Some(format!("{file}.gz")),
        };
        let result = if options.decompress {
            decompress(&bytes)
        } else {
            let base = file.rsplit('/').next().unwrap_or(file);
            Ok(compress(&bytes, (file != "-").then_some(base), mtime, options.level))
        };
        let output = match result {
            Ok(output) => output,
            Err(message) => {
                let shown = if file == "-" { "stdin" } else { file.as_str() };
                err!(io, "{name}: {shown}: {message}\n");
                status = 1;
                continue;
            }
        };
        let Some(target) = target else {
            write_bytes(io, &output);
            continue;
        };
        let written = shell.resolve(&target).and_then(|path| {
            if !options.force && std::fs::symlink_metadata(&path.abs).is_ok() {
                return Err(format!("{target} already exists; not overwritten"));
            }
            std::fs::write(&path.abs, &output).map_err(|e| format!("{target}: {}", describe(&e)))?;
            if let Some(time) = modified {
                set_modified(&path.abs, time);
            }
            if let Some(source) = source.as_ref().filter(|_| !options.keep) {
                std::fs::remove_file(&source.abs).map_err(|e| format!("{file}: {}", describe(&e)))?;
            }
            Ok(())
        });
        if let Err(message) = written {
            err!(io, "{name}: {message}\n");
            status = 1;
        }
    }
    status
}

/// What `tar` was asked to do.
#[derive(Default)]
struct TarOptions {
    /// `c`, `x` or `t`.
    mode: Option<char>,
    file: Option<String>,
    gzip: bool,
    verbose: bool,
    to_stdout: bool,
    /// `-C DIR`: where members are read from or extracted to.
    directory: Option<String>,
    strip: usize,
    excludes: Vec<crate::pattern::Pattern>,
    operands: Vec<String>,
}

fn tar_options(args: &[String]) -> Result<TarOptions, String> {
    let mut options = TarOptions::default();
    let mut rest = args.iter();
    // A letter option; `f` and `C` take a value.
    let letter = |options: &mut TarOptions, letter: char, value: &mut dyn FnMut() -> Result<String, String>| {
        match letter {
            'c' | 'x' | 't' => options.mode = Some(letter),
            'f' => options.file = Some(value()?),
            'C' => options.directory = Some(value()?),
            'z' => options.gzip = true,
            'v' => options.verbose = true,
            'O' => options.to_stdout = true,
            'p' | 'o' | 'm' => {}
            other => return Err(format!("invalid option -- '{other}'")),
        }
        Ok::<(), String>(())
    };
    // The old style, `tar czf FILE ...`: letters without a dash first, whose
    // values are the next arguments in turn.
    if let Some(first) = args.first().filter(|a| !a.starts_with('-') && !a.is_empty()) {
        rest.next();
        for c in first.chars() {
            letter(&mut options, c, &mut || {
                rest.next().cloned().ok_or_else(|| format!("option requires an argument -- '{c}'"))
            })?;
        }
    }
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--create" => options.mode = Some('c'),
            "--extract" | "--get" => options.mode = Some('x'),
            "--list" => options.mode = Some('t'),
            "--gzip" | "--gunzip" | "--auto-compress" => options.gzip = true,
            "--verbose" => options.verbose = true,
            "--to-stdout" => options.to_stdout = true,
            "--file" | "--directory" | "--exclude" | "--strip-components" => {
                let value = rest.next().ok_or_else(|| format!("option '{arg}' requires an argument"))?;
                long_option(&mut options, &arg[2..], value)?;
            }
            long if long.starts_with("--") && long.contains('=') => {
                let (key, value) = long[2..].split_once('=').expect("checked");
                long_option(&mut options, key, value)?;
            }
            long if long.starts_with("--") => return Err(format!("unrecognized option '{long}'")),
            // `-czf FILE`, `-fFILE`, `-C DIR`: a value is the rest of the
            // group, else the next argument.
            dashed if dashed.starts_with('-') && dashed.len() > 1 => {
                let group: Vec<char> = dashed[1..].chars().collect();
                for (at, &c) in group.iter().enumerate() {
                    let mut took_rest = false;
                    letter(&mut options, c, &mut || {
                        let attached: String = group[at + 1..].iter().collect();
                        if attached.is_empty() {
                            rest.next().cloned().ok_or_else(|| format!("option requires an argument -- '{c}'"))
                        } else {
                            took_rest = true;
                            Ok(attached)
                        }
                    })?;
                    if took_rest {
                        break;
                    }
                }
            }
            operand => options.operands.push(operand.to_string()),
        }
    }
    Ok(options)
}

fn long_option(options: &mut TarOptions, key: &str, value: &str) -> Result<(), String> {
    match key {
        "file" => options.file = Some(value.to_string()),
        "directory" => options.directory = Some(value.to_string()),
        "exclude" => options.excludes.push(crate::pattern::Pattern::new(value)?),
        "strip-components" => options.strip = value.parse().map_err(|_| format!("invalid number '{value}'"))?,
        other => return Err(format!("unrecognized option '--{other}'")),
    }
    Ok(())
}

/// `tar -c|-x|-t [-z] [-v] [-f FILE] [-C DIR] [-O] [--strip-components=N]
/// [--exclude=PATTERN] [MEMBER...]`.
pub fn tar(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let options = match tar_options(args) {
        Ok(options) => options,
        Err(message) => return usage(io, "tar", &message, 2),
    };
    match options.mode {
        Some('c') => create(shell, &options, io),
        Some(mode) => read_archive(shell, &options, mode == 'x', io),
        None => usage(io, "tar", "You must specify one of the '-Acdtrux', '--delete' or '--test-label' options", 2),
    }
}

/// The path of `name` under `-C`'s folder.
fn under(options: &TarOptions, name: &str) -> String {
    match &options.directory {
        Some(dir) => format!("{}/{name}", dir.trim_end_matches('/')),
        None => name.to_string(),
    }
}

fn excluded(options: &TarOptions, name: &str) -> bool {
    let name = name.trim_end_matches('/');
    let base = name.rsplit('/').next().unwrap_or(name);
    options.excludes.iter().any(|pattern| pattern.matches(name) || pattern.matches(base))
}

fn create(shell: &mut Shell, options: &TarOptions, io: &Io) -> i32 {
    if options.operands.is_empty() {
        return usage(io, "tar", "Cowardly refusing to create an empty archive", 2);
    }
    let archive_path = options.file.as_deref().filter(|f| *f != "-").and_then(|f| shell.resolve(f).ok());
    let mut builder = tar::Builder::new(Vec::new());
    let mut status = 0;
    // Members still to add, the next one last: (name in the archive, where it is).
    let mut pending: Vec<(String, String)> = Vec::new();
    for operand in options.operands.iter().rev() {
        let name = operand.trim_start_matches('/');
        if name.len() != operand.len() {
            err!(io, "tar: Removing leading `/' from member names\n");
        }
        pending.push((name.to_string(), under(options, operand)));
    }
    while let Some((name, source)) = pending.pop() {
        if excluded(options, &name) {
            continue;
        }
        let path = match shell.resolve(&source) {
            Ok(path) => path,
            Err(message) => {
                err!(io, "tar: {message}\n");
                status = 2;
                continue;
            }
        };
        if archive_path.as_ref().is_some_and(|archive| archive.abs == path.abs) {
            err!(io, "tar: {name}: file is the archive; not dumped\n");
            continue;
        }
        let meta = match std::fs::symlink_metadata(&path.abs) {
            Ok(meta) => meta,
            Err(error) => {
                err!(io, "tar: {name}: Cannot stat: {}\n", describe(&error));
                status = 2;
                continue;
            }
        };
        let mut header = tar::Header::new_gnu();
        let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        if options.verbose {
            out!(io, "{}{}\n", name, if meta.is_dir() && !name.ends_with('/') { "/" } else { "" });
        }
        let added = if meta.is_symlink() {
            let target = std::fs::read_link(&path.abs).map(|t| t.to_string_lossy().into_owned()).unwrap_or_default();
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_mode(0o777);
            header.set_size(0);
            builder.append_link(&mut header, &name, &target)
        } else if meta.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            let folder = if name.ends_with('/') { name.clone() } else { format!("{name}/") };
            let mut names: Vec<String> = std::fs::read_dir(&path.abs)
                .map(|entries| entries.flatten().filter_map(|e| e.file_name().into_string().ok()).collect())
                .unwrap_or_default();
            names.sort();
            for child in names.into_iter().rev() {
                pending.push((format!("{folder}{child}"), format!("{}/{child}", source.trim_end_matches('/'))));
            }
            builder.append_data(&mut header, &folder, std::io::empty())
        } else if meta.is_file() {
            match std::fs::read(&path.abs) {
                Ok(bytes) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(0o644);
                    header.set_size(bytes.len() as u64);
                    builder.append_data(&mut header, &name, bytes.as_slice())
                }
                Err(error) => Err(error),
            }
        } else {
            err!(io, "tar: {name}: socket ignored\n");
            continue;
        };
        if let Err(error) = added {
            err!(io, "tar: {name}: {}\n", describe(&error));
            status = 2;
        }
    }
    let Ok(bytes) = builder.into_inner() else { return usage(io, "tar", "cannot finish the archive", 2) };
    let bytes = if options.gzip {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as u32);
        compress(&bytes, None, now, 6)
    } else {
        bytes
    };
    match options.file.as_deref() {
        None | Some("-") => write_bytes(io, &bytes),
        Some(file) => {
            let written = shell
                .resolve(file)
                .and_then(|path| std::fs::write(&path.abs, &bytes).map_err(|e| format!("{file}: {}", describe(&e))));
            if let Err(message) = written {
                err!(io, "tar: {message}\n");
                return 2;
            }
        }
    }
    status
}

/// Lists (`-t`) or extracts (`-x`) an archive, gzipped or not.
fn read_archive(shell: &mut Shell, options: &TarOptions, extract: bool, io: &Io) -> i32 {
    let bytes = match read(shell, options.file.as_deref().unwrap_or("-"), io) {
        Ok(bytes) => bytes,
        Err(message) => return usage(io, "tar", &message, 2),
    };
    let bytes = if is_gzip(&bytes) {
        match decompress(&bytes) {
            Ok(bytes) => bytes,
            Err(message) => return usage(io, "tar", &format!("Child returned status 1: {message}"), 2),
        }
    } else {
        bytes
    };
    let mut archive = tar::Archive::new(bytes.as_slice());
    let entries = match archive.entries() {
        Ok(entries) => entries,
        Err(error) => return usage(io, "tar", &format!("This does not look like a tar archive ({error})"), 2),
    };
    let mut status = 0;
    for entry in entries {
        let mut entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                err!(io, "tar: {error}\n");
                return 2;
            }
        };
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if excluded(options, &name)
            || (!options.operands.is_empty()
                && !options.operands.iter().any(|o| {
                    let o = o.trim_end_matches('/');
                    name.trim_end_matches('/') == o || name.starts_with(&format!("{o}/"))
                }))
        {
            continue;
        }
        if !extract {
            out!(io, "{name}\n");
            continue;
        }
        let stripped: Vec<&str> = name.split('/').filter(|p| !p.is_empty() && *p != ".").skip(options.strip).collect();
        if stripped.is_empty() {
            continue;
        }
        let relative = stripped.join("/");
        if options.verbose && !options.to_stdout {
            out!(io, "{name}\n");
        }
        if let Err(message) = extract_entry(shell, options, &mut entry, &relative, io) {
            err!(io, "tar: {name}: {message}\n");
            status = 2;
        }
    }
    status
}

fn extract_entry(
    shell: &Shell,
    options: &TarOptions,
    entry: &mut tar::Entry<'_, &[u8]>,
    relative: &str,
    io: &Io,
) -> Result<(), String> {
    if relative.split('/').any(|part| part == "..") {
        return Err("Member name contains '..'".into());
    }
    let kind = entry.header().entry_type();
    if options.to_stdout {
        if kind.is_file() {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
            write_bytes(io, &bytes);
        }
        return Ok(());
    }
    let path = shell.resolve(&under(options, relative))?;
    let fail = |e: std::io::Error| describe(&e).to_string();
    if let Some((parent, _)) = path.abs.rsplit_once('/') {
        std::fs::create_dir_all(parent).map_err(|e| format!("Cannot mkdir: {}", fail(e)))?;
    }
    match kind {
        tar::EntryType::Directory => std::fs::create_dir_all(&path.abs).map_err(fail)?,
        tar::EntryType::Symlink => {
            let target = entry.link_name_bytes().map(|t| String::from_utf8_lossy(&t).into_owned()).unwrap_or_default();
            let _ = std::fs::remove_file(&path.abs);
            // WASI refuses a link whose target is absolute: it could lead out.
            super::symlink(&target, &path)
                .map_err(|_| format!("Cannot create symlink to '{target}': not permitted"))?;
        }
        kind if kind.is_file() || kind == tar::EntryType::Continuous => {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(fail)?;
            // As GNU tar does, the old file is removed first: a link in its
            // place is replaced, never written through.
            let _ = std::fs::remove_file(&path.abs);
            std::fs::write(&path.abs, &bytes).map_err(fail)?;
            if let Ok(mtime) = entry.header().mtime() {
                set_modified(&path.abs, UNIX_EPOCH + std::time::Duration::from_secs(mtime));
            }
        }
        _ => return Err("hard links and special files are not extracted".into()),
    }
    Ok(())
}
