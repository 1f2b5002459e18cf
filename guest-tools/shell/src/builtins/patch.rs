//! `patch`: applies a unified diff (plain or git's) to the workspace, as
//! GNU patch does when nobody answers its questions.
//!
//! diffy parses the diff (one file or many, creations, deletions, git's
//! renames); the hunks are placed here, so that a hunk whose context moved
//! is found nearby and reported with its offset, and a hunk that fits
//! nowhere is saved to `FILE.rej` while the others still apply. There is no
//! fuzz: context must match exactly.

use super::usage;
use crate::interp::{Shell, describe};
use crate::io::{Io, out};
use diffy::patch_set::{FileOperation, ParseOptions, PatchKind, PatchSet};
use diffy::{Hunk, Line};

/// What `patch` was asked to do.
#[derive(Default)]
struct Options {
    /// `-p N`: leading path components to drop (`None`: the file's base name,
    /// or 1 for a git diff).
    strip: Option<usize>,
    reverse: bool,
    dry_run: bool,
    silent: bool,
    backup: bool,
    /// `--no-backup-if-mismatch` clears it: keep `FILE.orig` when a hunk
    /// moved, needed fuzz or failed (GNU's default).
    backup_if_mismatch: bool,
    /// `-N`: skip a patch that seems applied already, without asking.
    forward: bool,
    /// `-o FILE`: where the result goes instead.
    output: Option<String>,
    /// `-d DIR`: the folder the diff's names are relative to.
    directory: Option<String>,
    /// `-i FILE` or the second operand: the diff (stdin otherwise).
    input: Option<String>,
    /// The first operand: the file to patch, whatever the diff names.
    target: Option<String>,
}

/// `patch [-p N] [-R] [--dry-run] [-s] [-b] [-N] [-i PATCH] [-o OUT] [-d DIR] [FILE [PATCH]]`.
pub fn patch(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let options = match parse_options(args) {
        Ok(options) => options,
        Err(message) => return usage(io, "patch", &message, 2),
    };
    let diff = match &options.input {
        Some(file) => super::read(shell, file, io),
        None => Ok(io.stdin.rest()),
    };
    let diff = match diff {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(message) => return usage(io, "patch", &message, 2),
    };
    let git = diff.lines().any(|line| line.starts_with("diff --git "));
    let format = if git { ParseOptions::gitdiff() } else { ParseOptions::unidiff() };
    let mut status = 0;
    let mut any = false;
    for file in PatchSet::parse(&diff, format) {
        any = true;
        let file = match file {
            Ok(file) => file,
            Err(error) => {
                out!(io, "patch: **** {error}\n");
                return 2;
            }
        };
        let PatchKind::Text(text) = file.patch() else {
            out!(io, "patch: binary patches are not supported\n");
            status = status.max(1);
            continue;
        };
        let operation = file.operation();
        let strip = options.strip.unwrap_or(if git { 1 } else { 0 });
        let operation = operation.strip_prefix(strip);
        let base_name = options.strip.is_none() && !git;
        let name = |path: &str| {
            let path = if base_name { path.rsplit('/').next().unwrap_or(path) } else { path };
            match &options.directory {
                Some(dir) => format!("{}/{path}", dir.trim_end_matches('/')),
                None => path.to_string(),
            }
        };
        let (source, destination, creates, deletes) = match &operation {
            FileOperation::Create(path) => (name(path), name(path), true, false),
            FileOperation::Delete(path) => (name(path), name(path), false, true),
            FileOperation::Modify { original, modified } => {
                // Like GNU patch, the first of the two names that exists.
                let original = name(original);
                let exists = shell.resolve(&original).is_ok_and(|p| std::fs::metadata(p.abs).is_ok());
                let path = if exists { original } else { name(modified) };
                (path.clone(), path, false, false)
            }
            FileOperation::Rename { from, to } | FileOperation::Copy { from, to } => {
                (name(from), name(to), false, false)
            }
        };
        let (creates, deletes) = if options.reverse { (deletes, creates) } else { (creates, deletes) };
        let hunks: Vec<Hunk<'_, str>> = if options.reverse { reversed(text.hunks()) } else { text.hunks().to_vec() };
        let source = options.target.clone().unwrap_or(source);
        let destination = options.output.clone().or(options.target.clone()).unwrap_or(destination);
        let headers = [text.original(), text.modified()].map(|name| name.unwrap_or("/dev/null").to_string());
        let job = Job { source, destination, creates, deletes, renames: operation.is_rename(), headers };
        status = status.max(apply_file(shell, io, &options, &job, &hunks));
    }
    if !any {
        out!(io, "patch: **** Only garbage was found in the patch input.\n");
        return 2;
    }
    status
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut options = Options { backup_if_mismatch: true, ..Options::default() };
    let mut operands = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut value = |attached: &str| -> Result<String, String> {
            if attached.is_empty() {
                rest.next().cloned().ok_or_else(|| format!("option '{arg}' requires an argument"))
            } else {
                Ok(attached.to_string())
            }
        };
        match arg.as_str() {
            "-R" | "--reverse" => options.reverse = true,
            "--dry-run" => options.dry_run = true,
            "-s" | "--silent" | "--quiet" => options.silent = true,
            "-b" | "--backup" => options.backup = true,
            "-N" | "--forward" => options.forward = true,
            "--no-backup-if-mismatch" => options.backup_if_mismatch = false,
            "--backup-if-mismatch" => options.backup_if_mismatch = true,
            "-f" | "--force" | "-t" | "--batch" | "-u" | "--unified" | "-E" | "--remove-empty-files" => {}
            flag if flag.starts_with("--strip=") => options.strip = Some(strip(&flag[8..])?),
            flag if flag.starts_with("-p") => options.strip = Some(strip(&value(&flag[2..])?)?),
            flag if flag.starts_with("--input=") => options.input = Some(flag[8..].to_string()),
            flag if flag.starts_with("-i") => options.input = Some(value(&flag[2..])?),
            flag if flag.starts_with("--output=") => options.output = Some(flag[9..].to_string()),
            flag if flag.starts_with("-o") => options.output = Some(value(&flag[2..])?),
            flag if flag.starts_with("--directory=") => options.directory = Some(flag[12..].to_string()),
            flag if flag.starts_with("-d") => options.directory = Some(value(&flag[2..])?),
            flag if flag.starts_with('-') && flag.len() > 1 => return Err(format!("unrecognized option '{flag}'")),
            operand => operands.push(operand.to_string()),
        }
    }
    match operands.as_slice() {
        [] => {}
        [target] => options.target = Some(target.clone()),
        [target, input] => {
            options.target = Some(target.clone());
            options.input = Some(input.clone());
        }
        _ => return Err(format!("extra operand '{}'", operands[2])),
    }
    Ok(options)
}

fn strip(value: &str) -> Result<usize, String> {
    value.parse().map_err(|_| format!("strip count {value} is not a number"))
}

/// One file's part of the diff, with its names settled.
struct Job {
    source: String,
    destination: String,
    creates: bool,
    deletes: bool,
    renames: bool,
    /// The names on the diff's `---` and `+++` lines, for `FILE.rej`.
    headers: [String; 2],
}

/// Applies one file's hunks; returns 0, or 1 if a hunk failed or the file
/// could not be read or written.
fn apply_file(shell: &Shell, io: &Io, options: &Options, job: &Job, hunks: &[Hunk<'_, str>]) -> i32 {
    let say = |text: String| {
        if !options.silent {
            out!(io, "{text}");
        }
    };
    let path = match shell.resolve(&job.source) {
        Ok(path) => path,
        Err(message) => {
            out!(io, "patch: {message}\n");
            return 1;
        }
    };
    let original = match std::fs::read(&path.abs) {
        Ok(bytes) => {
            if job.creates && !bytes.is_empty() {
                say(format!(
                    "The next patch would create the file {}, which already exists!  Skipping patch.\n",
                    job.source
                ));
                say(format!("{} out of {} hunk{} ignored\n", hunks.len(), hunks.len(), plural(hunks.len())));
                return 1;
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Err(_) if job.creates => String::new(),
        Err(error) => {
            out!(io, "can't find file to patch: {} ({})\n", job.source, describe(&error));
            out!(io, "Perhaps you should have used the -p or --strip option?\n");
            say(format!("{} out of {} hunk{} ignored\n", hunks.len(), hunks.len(), plural(hunks.len())));
            return 1;
        }
    };
    let verb = if options.dry_run { "checking" } else { "patching" };
    match &options.output {
        Some(output) => say(format!("{verb} file {output} (read from {})\n", job.source)),
        None if job.renames => say(format!("{verb} file {}\n", job.destination)),
        None => say(format!("{verb} file {}\n", job.source)),
    }
    let mut placed = place(&original, hunks);
    // A first hunk that fits only reversed: the patch is applied already.
    let applied = !hunks.is_empty()
        && placed.failed.first().is_some_and(|first| std::ptr::eq(*first, &hunks[0]))
        && place(&original, &reversed(&hunks[..1])).failed.is_empty();
    if applied {
        say(if options.forward {
            "Reversed (or previously applied) patch detected!  Skipping patch.\n".into()
        } else {
            "Reversed (or previously applied) patch detected!  Assume -R? [n] \nApply anyway? [n] \nSkipping patch.\n"
                .into()
        });
        placed =
            Placed { text: original.clone(), reports: Vec::new(), failed: hunks.iter().collect(), mismatched: false };
    } else {
        for report in &placed.reports {
            say(report.clone());
        }
    }
    if !placed.failed.is_empty() {
        let rejects = format!("{}.rej", job.destination);
        say(format!(
            "{} out of {} hunk{} {}{}\n",
            placed.failed.len(),
            hunks.len(),
            plural(hunks.len()),
            if applied { "ignored" } else { "FAILED" },
            if options.dry_run { String::new() } else { format!(" -- saving rejects to file {rejects}") }
        ));
        if !options.dry_run {
            write(shell, io, &rejects, rejected(&job.headers, &placed.failed).as_bytes());
        }
    }
    if options.dry_run {
        return if placed.failed.is_empty() { 0 } else { 1 };
    }
    let mut status = if placed.failed.is_empty() { 0 } else { 1 };
    if (options.backup || (options.backup_if_mismatch && placed.mismatched)) && !job.creates {
        status = status.max(write(shell, io, &format!("{}.orig", job.source), original.as_bytes()));
    }
    if job.deletes && placed.text.is_empty() && options.output.is_none() {
        if let Err(error) = std::fs::remove_file(&path.abs) {
            out!(io, "patch: cannot remove {}: {}\n", job.source, describe(&error));
            return 1;
        }
        return status;
    }
    status = status.max(write(shell, io, &job.destination, placed.text.as_bytes()));
    if job.renames && job.destination != job.source && options.output.is_none() && options.target.is_none() {
        let _ = std::fs::remove_file(&path.abs);
    }
    status
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn reversed<'a>(hunks: &[Hunk<'a, str>]) -> Vec<Hunk<'a, str>> {
    hunks.iter().map(Hunk::reverse).collect()
}

/// Writes `bytes` to the file `name`, making its folder; 0 or 1.
fn write(shell: &Shell, io: &Io, name: &str, bytes: &[u8]) -> i32 {
    let written = shell.resolve(name).and_then(|path| {
        if let Some((folder, _)) = path.abs.rsplit_once('/') {
            let _ = std::fs::create_dir_all(folder);
        }
        let exists = std::fs::metadata(&path.abs).is_ok();
        let result =
            if exists { workspace_paths::replace_contents(&path.abs, bytes) } else { std::fs::write(&path.abs, bytes) };
        result.map_err(|e| format!("cannot write {name}: {}", describe(&e)))
    });
    match written {
        Ok(()) => 0,
        Err(message) => {
            out!(io, "patch: {message}\n");
            1
        }
    }
}

/// The result of placing a file's hunks.
struct Placed<'a> {
    text: String,
    /// What GNU patch says of hunks that moved, needed fuzz or failed.
    reports: Vec<String>,
    failed: Vec<&'a Hunk<'a, str>>,
    /// Whether a hunk moved, needed fuzz or failed: then GNU patch keeps `FILE.orig`.
    mismatched: bool,
}

/// Context lines GNU patch may ignore at each end of a hunk (its default `-F 2`).
const MAX_FUZZ: usize = 2;

/// Places each hunk as GNU patch does: at its line, else the nearest line
/// where its old lines match; failing that, ignoring a context line at
/// each end, then two. A hunk with less context on one side than the other
/// sits at that end of the file, and must, until fuzz lets it go.
fn place<'a>(original: &str, hunks: &'a [Hunk<'a, str>]) -> Placed<'a> {
    let lines: Vec<&str> = original.split_inclusive('\n').collect();
    let mut placed = Placed { text: String::new(), reports: Vec::new(), failed: Vec::new(), mismatched: false };
    // The next line of `lines` not yet copied, how far the last hunk moved,
    // and how many lines the new text has.
    let (mut cursor, mut offset, mut written) = (0usize, 0isize, 0usize);
    for (number, hunk) in hunks.iter().enumerate() {
        let old: Vec<&str> = hunk
            .lines()
            .iter()
            .filter_map(|line| match line {
                Line::Context(l) | Line::Delete(l) => Some(*l),
                Line::Insert(_) => None,
            })
            .collect();
        let is_context = |line: &&Line<'_, str>| matches!(line, Line::Context(_));
        let prefix = hunk.lines().iter().take_while(is_context).count();
        let suffix =
            if prefix == hunk.lines().len() { 0 } else { hunk.lines().iter().rev().take_while(is_context).count() };
        let context = prefix.max(suffix);
        // A range of length 0 names the line before the change.
        let start = hunk.old_range().start();
        let start = if hunk.old_range().is_empty() { start } else { start.saturating_sub(1) };
        let expected = (start as isize + offset).clamp(cursor as isize, lines.len() as isize) as usize;
        let found = (0..=MAX_FUZZ.min(context)).find_map(|fuzz| {
            // Lines ignored at each end; negative: the hunk must sit at that end.
            let skip_front = (fuzz + prefix) as isize - context as isize;
            let skip_back = (fuzz + suffix) as isize - context as isize;
            let (front, back) = (skip_front.max(0) as usize, skip_back.max(0) as usize);
            let fits = |at: usize| {
                at >= cursor
                    && at + old.len() <= lines.len()
                    && (skip_front >= 0 || at == 0)
                    && (skip_back >= 0 || at + old.len() == lines.len())
                    && lines[at + front..at + old.len() - back] == old[front..old.len() - back]
            };
            (0..=lines.len())
                .flat_map(|d| [expected.checked_add(d), expected.checked_sub(d).filter(|_| d > 0)])
                .flatten()
                .find(|&at| fits(at))
                .map(|at| (at, fuzz, front, back))
        });
        let Some((at, fuzz, front, back)) = found else {
            placed.reports.push(format!("Hunk #{} FAILED at {}.\n", number + 1, expected + 1));
            placed.failed.push(hunk);
            placed.mismatched = true;
            continue;
        };
        // The file's lines up to the hunk, and those fuzz ignored at its front.
        for line in &lines[cursor..at + front] {
            placed.text.push_str(line);
        }
        written += at - cursor;
        let moved = at as isize - start as isize;
        let fuzzed = if fuzz > 0 { format!(" with fuzz {fuzz}") } else { String::new() };
        let shifted = match moved {
            0 => String::new(),
            1 | -1 => format!(" (offset {moved} line)"),
            _ => format!(" (offset {moved} lines)"),
        };
        if fuzz > 0 || moved != 0 {
            placed.reports.push(format!("Hunk #{} succeeded at {}{fuzzed}{shifted}.\n", number + 1, written + 1));
        }
        placed.mismatched |= fuzz > 0 || moved != 0;
        let body = &hunk.lines()[front..hunk.lines().len() - back];
        for line in body {
            if let Line::Context(l) | Line::Insert(l) = line {
                placed.text.push_str(l);
                written += 1;
            }
        }
        written += front + back;
        for line in &lines[at + old.len() - back..at + old.len()] {
            placed.text.push_str(line);
        }
        cursor = at + old.len();
        offset = moved;
    }
    for line in &lines[cursor..] {
        placed.text.push_str(line);
    }
    placed
}

/// The failed hunks as a diff, for `FILE.rej`.
fn rejected([old, new]: &[String; 2], hunks: &[&Hunk<'_, str>]) -> String {
    let mut text = format!("--- {old}\n+++ {new}\n");
    for hunk in hunks {
        text += &format!("@@ -{} +{} @@\n", hunk.old_range(), hunk.new_range());
        for line in hunk.lines() {
            let (mark, body) = match line {
                Line::Context(l) => (' ', *l),
                Line::Delete(l) => ('-', *l),
                Line::Insert(l) => ('+', *l),
            };
            text.push(mark);
            text.push_str(body);
            if !body.ends_with('\n') {
                text.push_str("\n\\ No newline at end of file\n");
            }
        }
    }
    text
}
