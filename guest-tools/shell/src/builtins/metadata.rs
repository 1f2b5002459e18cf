//! What the filesystem says about files: `stat` and `du`.
//!
//! WASI tells a guest a file's type, size and times, but not its owner,
//! mode bits, links, inode or disk blocks. So the mode shown is the one a
//! new file gets (`ls -l` shows the same), unknown numbers print as `?`, and disk
//! usage is estimated as an ext4 volume allocates it: whole 4 KiB blocks
//! per file, one block per folder (`du -b`/`--apparent-size` is exact).

use super::usage;
use crate::expand::backslash_escapes;
use crate::interp::{Shell, describe};
use crate::io::{Io, err, out};
use std::fs::Metadata;
use std::time::SystemTime;

/// The filesystem's allocation unit the estimate assumes.
const BLOCK: u64 = 4096;

/// The bytes `meta` takes on disk, by the estimate above.
fn allocated(meta: &Metadata) -> u64 {
    if meta.is_dir() { BLOCK } else { meta.len().div_ceil(BLOCK) * BLOCK }
}

/// `%F`: the kind of file, in stat's words.
fn kind(meta: &Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_symlink() {
        "symbolic link"
    } else if kind.is_dir() {
        "directory"
    } else if kind.is_file() && meta.len() == 0 {
        "regular empty file"
    } else if kind.is_file() {
        "regular file"
    } else {
        "special file"
    }
}

/// The mode bits, which WASI does not tell: those a new file of the kind
/// gets under the usual umask. (wasi-libc reports no permission bits at all,
/// so every file would look read-only.)
fn mode(meta: &Metadata) -> u32 {
    if meta.is_symlink() {
        0o777
    } else if meta.is_dir() {
        0o755
    } else {
        0o644
    }
}

/// `%A`: the mode as letters, with the type in front (as `ls -l` shows it).
pub fn mode_letters(meta: &Metadata) -> String {
    let kind = if meta.is_symlink() {
        'l'
    } else if meta.is_dir() {
        'd'
    } else {
        '-'
    };
    let bits = mode(meta);
    let letters: String =
        (0..9).rev().map(|bit| if bits & (1 << bit) != 0 { ['x', 'w', 'r'][bit % 3] } else { '-' }).collect();
    format!("{kind}{letters}")
}

/// `%y`: a time as stat prints it, in UTC.
fn human_time(time: std::io::Result<SystemTime>) -> String {
    let Some(stamp) = time.ok().and_then(|t| jiff::Timestamp::try_from(t).ok()) else { return "-".into() };
    stamp.to_zoned(jiff::tz::TimeZone::UTC).strftime("%Y-%m-%d %H:%M:%S.%f %z").to_string()
}

/// `%Y`: a time in seconds since the epoch.
fn epoch(time: std::io::Result<SystemTime>) -> String {
    time.ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or("0".into(), |d| d.as_secs().to_string())
}

/// One file's line under `stat -c FORMAT`.
fn format(spec: &str, name: &str, meta: &Metadata, target: Option<String>) -> String {
    let mut line = String::new();
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            line.push(c);
            continue;
        }
        let Some(directive) = chars.next() else {
            line.push('%');
            break;
        };
        let value = match directive {
            '%' => "%".to_string(),
            'n' => name.to_string(),
            'N' => match &target {
                Some(target) => format!("'{name}' -> '{target}'"),
                None => format!("'{name}'"),
            },
            's' => meta.len().to_string(),
            'F' => kind(meta).to_string(),
            'a' => format!("{:o}", mode(meta)),
            'A' => mode_letters(meta),
            'f' => format!("{:x}", mode(meta) | if meta.is_dir() { 0o40000 } else { 0o100000 }),
            'b' => (allocated(meta) / 512).to_string(),
            'B' => "512".into(),
            'o' => BLOCK.to_string(),
            'x' => human_time(meta.accessed()),
            'y' => human_time(meta.modified()),
            'z' => human_time(meta.modified()),
            'w' => human_time(meta.created()),
            'X' => epoch(meta.accessed()),
            'Y' => epoch(meta.modified()),
            'Z' => epoch(meta.modified()),
            'W' => epoch(meta.created()),
            'h' => "1".into(),
            'i' | 'd' | 'D' | 'u' | 'g' | 'U' | 'G' | 'm' | 't' | 'T' | 'C' => "?".into(),
            other => format!("?{other}"),
        };
        line.push_str(&value);
    }
    line
}

/// `stat [-L] [-c FORMAT | --printf FORMAT] FILE...`.
pub fn stat(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (mut follow, mut spec, mut newline, mut files) = (false, None, true, Vec::new());
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-L" | "--dereference" => follow = true,
            "--" => files.extend(rest.by_ref().cloned()),
            "-c" | "--format" => spec = rest.next().cloned(),
            "--printf" => {
                spec = rest.next().map(|s| backslash_escapes(s));
                newline = false;
            }
            flag if flag.starts_with("--format=") => spec = Some(flag["--format=".len()..].to_string()),
            flag if flag.starts_with("--printf=") => {
                spec = Some(backslash_escapes(&flag["--printf=".len()..]));
                newline = false;
            }
            flag if flag.starts_with("-c") && flag.len() > 2 => spec = Some(flag[2..].to_string()),
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return usage(io, "stat", &format!("invalid option -- '{}'", &flag[1..]), 1);
            }
            file => files.push(file.to_string()),
        }
    }
    if files.is_empty() {
        return usage(io, "stat", "missing operand", 1);
    }
    let mut status = 0;
    for file in &files {
        let found = shell.resolve(file).and_then(|path| {
            let meta = if follow { std::fs::metadata(&path.abs) } else { std::fs::symlink_metadata(&path.abs) };
            let meta = meta.map_err(|e| format!("cannot statx '{file}': {}", describe(&e)))?;
            let target = meta.is_symlink().then(|| std::fs::read_link(&path.abs).ok()).flatten();
            Ok((meta, target.map(|t| t.to_string_lossy().into_owned())))
        });
        let (meta, target) = match found {
            Ok(found) => found,
            Err(message) => {
                err!(io, "stat: {message}\n");
                status = 1;
                continue;
            }
        };
        let text = match &spec {
            Some(spec) => format(spec, file, &meta, target),
            None => {
                let name = format("%N", file, &meta, target);
                let name = if meta.is_symlink() { name } else { file.clone() };
                let mut text = format!("  File: {name}\n");
                text += &format("  Size: %-10s\tBlocks: %-10b IO Block: %-6o %F\n", file, &meta, None);
                text += "Device: ?\tInode: ?\tLinks: 1\n";
                text += &format("Access: (0%a/%A)  Uid: ?   Gid: ?\n", file, &meta, None);
                text += &format("Access: %x\nModify: %y\nChange: %z\n Birth: %w", file, &meta, None);
                text
            }
        };
        out!(io, "{text}{}", if newline { "\n" } else { "" });
    }
    status
}

/// How `du` prints sizes.
#[derive(Clone, Copy)]
enum Units {
    /// Blocks of this many bytes, rounded up (`-k`, `-m`, `-b`).
    Blocks(u64),
    /// `-h`: 4.0K, 12M.
    Human,
}

impl Units {
    fn show(self, bytes: u64) -> String {
        match self {
            Units::Blocks(size) => bytes.div_ceil(size).to_string(),
            Units::Human => human(bytes),
        }
    }
}

/// A size as `du -h` and `ls -h` print it: one decimal below 10, rounded up.
pub fn human(bytes: u64) -> String {
    if bytes < 1024 {
        return bytes.to_string();
    }
    let mut value = bytes as f64;
    for unit in ["K", "M", "G", "T", "P", "E"] {
        value /= 1024.0;
        if value < 1024.0 || unit == "E" {
            return if value < 10.0 {
                let tenths = (value * 10.0).ceil() / 10.0;
                if tenths >= 10.0 { format!("{tenths:.0}{unit}") } else { format!("{tenths:.1}{unit}") }
            } else {
                format!("{:.0}{unit}", value.ceil())
            };
        }
    }
    unreachable!("the last unit ends the loop")
}

/// What `du` was asked to show.
struct DuOptions {
    all: bool,
    summarize: bool,
    apparent: bool,
    max_depth: Option<usize>,
    units: Units,
}

/// `du [-a] [-s] [-c] [-h|-k|-m|-b] [--apparent-size] [-d N] [PATH...]`:
/// space used under each folder, the deepest first.
pub fn du(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let mut options =
        DuOptions { all: false, summarize: false, apparent: false, max_depth: None, units: Units::Blocks(1024) };
    let (mut total, mut paths) = (false, Vec::new());
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let depth = match arg.as_str() {
            "-d" | "--max-depth" => Some(rest.next().cloned().unwrap_or_default()),
            flag if flag.starts_with("--max-depth=") => Some(flag["--max-depth=".len()..].to_string()),
            flag if flag.starts_with("-d") && flag.len() > 2 => Some(flag[2..].to_string()),
            _ => None,
        };
        if let Some(depth) = depth {
            match depth.parse() {
                Ok(depth) => options.max_depth = Some(depth),
                Err(_) => return usage(io, "du", &format!("invalid maximum depth '{depth}'"), 1),
            }
            continue;
        }
        match arg.as_str() {
            "--apparent-size" => options.apparent = true,
            "--summarize" => options.summarize = true,
            "--all" => options.all = true,
            "--total" => total = true,
            "--human-readable" => options.units = Units::Human,
            "--bytes" => {
                options.apparent = true;
                options.units = Units::Blocks(1);
            }
            flag if flag.starts_with('-') && flag.len() > 1 && !flag.starts_with("--") => {
                for c in flag[1..].chars() {
                    match c {
                        'a' => options.all = true,
                        's' => options.summarize = true,
                        'c' => total = true,
                        'h' => options.units = Units::Human,
                        'k' => options.units = Units::Blocks(1024),
                        'm' => options.units = Units::Blocks(1 << 20),
                        'b' => {
                            options.apparent = true;
                            options.units = Units::Blocks(1);
                        }
                        'x' | 'L' | 'P' | 'S' => {}
                        other => return usage(io, "du", &format!("invalid option -- '{other}'"), 1),
                    }
                }
            }
            flag if flag.starts_with("--") => return usage(io, "du", &format!("unrecognized option '{flag}'"), 1),
            path => paths.push(path.to_string()),
        }
    }
    if paths.is_empty() {
        paths.push(".".into());
    }
    let (mut status, mut sum) = (0, 0);
    // Folders counted already: a folder named twice, or inside another
    // operand, counts once (as GNU du does by inode).
    let mut seen = std::collections::BTreeSet::new();
    for path in &paths {
        let meta = shell.resolve(path).and_then(|resolved| {
            let meta = std::fs::symlink_metadata(&resolved.abs)
                .map_err(|e| format!("cannot access '{path}': {}", describe(&e)))?;
            Ok((resolved.abs, meta))
        });
        match meta {
            Ok((abs, meta)) => sum += measure(io, &options, (path, &abs), &meta, 0, (&mut seen, &mut status)),
            Err(message) => {
                err!(io, "du: {message}\n");
                status = 1;
            }
        }
    }
    if total {
        out!(io, "{}\ttotal\n", options.units.show(sum));
    }
    status
}

/// The space under `abs` (shown as `shown`), printing folders (and files,
/// with `-a`) after what they hold.
fn measure(
    io: &Io,
    options: &DuOptions,
    (shown, abs): (&str, &str),
    meta: &Metadata,
    depth: usize,
    (seen, status): (&mut std::collections::BTreeSet<String>, &mut i32),
) -> u64 {
    if meta.is_dir() && !seen.insert(abs.to_string()) {
        return 0;
    }
    let own = if options.apparent { meta.len() } else { allocated(meta) };
    let printed = !options.summarize && options.max_depth.is_none_or(|max| depth <= max);
    if !meta.is_dir() {
        if depth == 0 || (options.all && printed) {
            out!(io, "{}\t{shown}\n", options.units.show(own));
        }
        return own;
    }
    let mut size = own;
    match std::fs::read_dir(abs) {
        Ok(entries) => {
            let mut names: Vec<String> = entries.flatten().filter_map(|e| e.file_name().into_string().ok()).collect();
            names.sort();
            for name in names {
                let path = format!("{abs}/{name}");
                let Ok(child) = std::fs::symlink_metadata(&path) else { continue };
                let child_shown =
                    if shown.ends_with('/') { format!("{shown}{name}") } else { format!("{shown}/{name}") };
                size += measure(io, options, (&child_shown, &path), &child, depth + 1, (&mut *seen, &mut *status));
            }
        }
        Err(error) => {
            err!(io, "du: cannot read directory '{shown}': {}\n", describe(&error));
            *status = 1;
        }
    }
    if printed || depth == 0 {
        out!(io, "{}\t{shown}\n", options.units.show(size));
    }
    size
}
