//! Walks a workspace with ripgrep's filtering rules over bulk directory
//! listings.
//!
//! `ignore`'s own walker reads each directory through WASI, which costs two
//! stats per entry, a failed open for every `.gitignore` a folder lacks, and
//! an open of any `.gitignore` that is there, even a FIFO that never answers.
//! This walk lists each directory with one [`Listing::list_dir`] call (entry
//! types come from the directory itself), reads only the ignore files the
//! listing shows to be regular files, and applies the same rules with
//! `ignore`'s matchers:
//!
//! - `.gitignore` and `.ignore` in every folder from the start down, the
//!   deeper folder and `.ignore` winning, whether or not this is a git
//!   repository;
//! - hidden entries skipped unless asked for, `.git` always;
//! - an include glob that overrides the ignore files, as `rg -g` does;
//! - symlinks never followed; entries sorted by name.
//!
//! The listing comes from the component's `bulk-fs` import (each component
//! implements [`Listing`] over its own bindings); tests use the local disk.

#![deny(missing_docs)]

use ignore::gitignore::{Gitignore, GitignoreBuilder};
pub use ignore::overrides::{Override, OverrideBuilder};
use std::ops::ControlFlow;

/// What a directory entry is, as the directory records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A folder.
    Directory,
    /// A symlink, never followed.
    Symlink,
    /// Anything else (FIFO, socket, device), never opened.
    Other,
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its file name.
    pub name: String,
    /// What it is.
    pub kind: EntryKind,
}

/// Directory listings and whole-file reads, by path relative to the
/// workspace root.
pub trait Listing {
    /// The entries of a folder (`.` for the root), in any order.
    fn list_dir(&self, rel: &str) -> Result<Vec<Entry>, String>;
    /// A regular file's bytes, if it has at most `max_bytes`.
    fn read_file(&self, rel: &str, max_bytes: u64) -> Result<Vec<u8>, String>;
}

/// The largest ignore file read.
const MAX_IGNORE_FILE_BYTES: u64 = 1 << 20;

/// How many folders deep a walk goes. Real trees stay far above it; a tree a
/// guest built thousands of levels deep to exhaust the walker's stack is
/// walked down to here and no further, so every other file is still found.
pub const MAX_DEPTH: usize = 256;

/// What to skip.
pub struct Rules<'a> {
    /// Include hidden entries (names starting with `.`); `.git` never.
    pub hidden: bool,
    /// Globs that override the ignore files: whitelist globs (`*.rs`) limit
    /// the walk to matching files, `!glob` leaves matches out.
    pub overrides: Option<&'a Override>,
}

/// Visits every file under the folder `rel` (relative to the workspace root
/// `root`, an absolute guest path) with its absolute and relative paths.
/// Returns `Break` if `visit` stopped the walk.
pub fn files(
    fs: &impl Listing,
    root: &str,
    rel: &str,
    rules: &Rules,
    visit: &mut impl FnMut(&str, &str) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let mut ignores = IgnoreStack::for_folder(fs, root, parent_of(rel));
    descend(fs, root, rel, rules, &mut ignores, visit, 0)
}

/// The ignore rules in force in a folder: those of every folder from the
/// workspace root down to it, the deepest with an opinion deciding.
pub struct IgnoreStack(Vec<Gitignore>);

impl IgnoreStack {
    /// The rules in force inside folder `rel` (its own ignore files included).
    pub fn for_folder(fs: &impl Listing, root: &str, rel: &str) -> Self {
        let mut stack = IgnoreStack(Vec::new());
        let mut folder = String::new();
        let parts = rel.split('/').filter(|p| !p.is_empty() && *p != ".");
        for part in std::iter::once("").chain(parts) {
            folder = join(&folder, part);
            if let Some(rules) = ignore_rules(fs, &absolute(root, &folder), &folder, None) {
                stack.0.push(rules);
            }
        }
        stack
    }

    /// Whether `abs` (inside the folder) is ignored.
    pub fn ignores(&self, abs: &str, is_dir: bool) -> bool {
        for rules in self.0.iter().rev() {
            let matched = rules.matched(abs, is_dir);
            if matched.is_ignore() {
                return true;
            }
            if matched.is_whitelist() {
                return false;
            }
        }
        false
    }
}

/// The folder above `rel` ("" for a top-level entry or the root).
fn parent_of(rel: &str) -> &str {
    rel.rsplit_once('/').map(|(parent, _)| parent).unwrap_or("")
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() { name.to_string() } else { format!("{parent}/{name}") }
}

fn absolute(root: &str, rel: &str) -> String {
    match (rel.is_empty(), root) {
        (true, _) => root.to_string(),
        (false, "/") => format!("/{rel}"),
        (false, root) => format!("{root}/{rel}"),
    }
}

fn descend(
    fs: &impl Listing,
    root: &str,
    rel: &str,
    rules: &Rules,
    ignores: &mut IgnoreStack,
    visit: &mut impl FnMut(&str, &str) -> ControlFlow<()>,
    depth: usize,
) -> ControlFlow<()> {
    if depth > MAX_DEPTH {
        return ControlFlow::Continue(());
    }
    let Ok(mut entries) = fs.list_dir(if rel.is_empty() { "." } else { rel }) else {
        return ControlFlow::Continue(());
    };
    entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    let dir_abs = absolute(root, rel);
    let pushed = match ignore_rules(fs, &dir_abs, rel, Some(&entries)) {
        Some(rules) => {
            ignores.0.push(rules);
            true
        }
        None => false,
    };
    let mut flow = ControlFlow::Continue(());
    for entry in &entries {
        let is_dir = match entry.kind {
            EntryKind::Directory => true,
            EntryKind::File => false,
            EntryKind::Symlink | EntryKind::Other => continue,
        };
        if entry.name == ".git" || (!rules.hidden && entry.name.starts_with('.')) {
            continue;
        }
        let child_rel = join(rel, &entry.name);
        let child_abs = absolute(root, &child_rel);
        let overridden = rules.overrides.map(|o| o.matched(&child_abs, is_dir)).unwrap_or(ignore::Match::None);
        if overridden.is_ignore() || (!overridden.is_whitelist() && ignores.ignores(&child_abs, is_dir)) {
            continue;
        }
        flow = if is_dir {
            descend(fs, root, &child_rel, rules, ignores, visit, depth + 1)
        } else {
            visit(&child_abs, &child_rel)
        };
        if flow.is_break() {
            break;
        }
    }
    if pushed {
        ignores.0.pop();
    }
    flow
}

/// This folder's `.gitignore` and `.ignore` rules, if it has either. With the
/// folder's listing at hand, only ignore files it shows as regular files are
/// read; without it, reading is simply tried.
fn ignore_rules(fs: &impl Listing, dir_abs: &str, rel: &str, entries: Option<&[Entry]>) -> Option<Gitignore> {
    let mut builder = GitignoreBuilder::new(dir_abs);
    let mut any = false;
    // `.ignore` goes last so its rules win over `.gitignore`'s.
    for name in [".gitignore", ".ignore"] {
        if entries.is_some_and(|entries| !entries.iter().any(|e| e.name == name && e.kind == EntryKind::File)) {
            continue;
        }
        let Ok(bytes) = fs.read_file(&join(rel, name), MAX_IGNORE_FILE_BYTES) else { continue };
        for line in String::from_utf8_lossy(&bytes).lines() {
            let _ = builder.add_line(None, line);
        }
        any = true;
    }
    any.then(|| builder.build().ok()).flatten()
}

/// Defines `BulkListing`, a [`Listing`] over a component's generated
/// `bulk-fs` import: `workspace_walk::bulk_listing!(crate::wasmgate::tools::bulk_fs);`
#[macro_export]
macro_rules! bulk_listing {
    ($bulk_fs:path) => {
        /// The host's `bulk-fs` interface as a workspace listing.
        pub struct BulkListing;

        impl $crate::Listing for BulkListing {
            fn list_dir(&self, rel: &str) -> Result<Vec<$crate::Entry>, String> {
                use $bulk_fs as bulk;
                Ok(bulk::list_dir(rel)?
                    .into_iter()
                    .map(|entry| $crate::Entry {
                        name: entry.name,
                        kind: match entry.kind {
                            bulk::EntryKind::File => $crate::EntryKind::File,
                            bulk::EntryKind::Directory => $crate::EntryKind::Directory,
                            bulk::EntryKind::Symlink => $crate::EntryKind::Symlink,
                            bulk::EntryKind::Other => $crate::EntryKind::Other,
                        },
                    })
                    .collect())
            }

            fn read_file(&self, rel: &str, max_bytes: u64) -> Result<Vec<u8>, String> {
                use $bulk_fs as bulk;
                bulk::read_file(rel, max_bytes)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The local disk, as a listing.
    struct Disk<'a>(&'a Path);

    impl Listing for Disk<'_> {
        fn list_dir(&self, rel: &str) -> Result<Vec<Entry>, String> {
            let entries = std::fs::read_dir(self.0.join(rel)).map_err(|e| e.to_string())?;
            Ok(entries
                .flatten()
                .map(|e| {
                    let t = e.file_type().unwrap();
                    let kind = if t.is_symlink() {
                        EntryKind::Symlink
                    } else if t.is_dir() {
                        EntryKind::Directory
                    } else if t.is_file() {
                        EntryKind::File
                    } else {
                        EntryKind::Other
                    };
                    Entry { name: e.file_name().into_string().unwrap(), kind }
                })
                .collect())
        }

        fn read_file(&self, rel: &str, _max_bytes: u64) -> Result<Vec<u8>, String> {
            std::fs::read(self.0.join(rel)).map_err(|e| e.to_string())
        }
    }

    fn walk(dir: &Path, rel: &str, rules: &Rules) -> Vec<String> {
        let mut seen = Vec::new();
        let root = dir.to_str().unwrap();
        let _ = files(&Disk(dir), root, rel, rules, &mut |abs, rel| {
            assert_eq!(abs, format!("{root}/{rel}"));
            seen.push(rel.to_string());
            ControlFlow::Continue(())
        });
        seen
    }

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        dir
    }

    const ALL: Rules = Rules { hidden: false, overrides: None };

    #[test]
    fn files_come_sorted_and_hidden_ones_only_when_asked() {
        let dir = tree(&[("b.rs", ""), ("a/z.rs", ""), ("a/y.rs", ""), (".env", ""), (".git/HEAD", "")]);
        assert_eq!(walk(dir.path(), "", &ALL), ["a/y.rs", "a/z.rs", "b.rs"]);
        let hidden = Rules { hidden: true, overrides: None };
        assert_eq!(walk(dir.path(), "", &hidden), [".env", "a/y.rs", "a/z.rs", "b.rs"]);
    }

    #[test]
    fn ignore_files_apply_below_their_folder_and_deeper_ones_win() {
        let dir = tree(&[
            (".gitignore", "*.log\nbuild/\n"),
            ("app.log", ""),
            ("build/out.rs", ""),
            ("src/keep.log", ""),
            ("src/.gitignore", "!keep.log\nsecret.rs\n"),
            ("src/secret.rs", ""),
            ("src/main.rs", ""),
            ("docs/.ignore", "draft.md\n"),
            ("docs/draft.md", ""),
            ("docs/final.md", ""),
        ]);
        assert_eq!(walk(dir.path(), "", &ALL), ["docs/final.md", "src/keep.log", "src/main.rs"]);
        assert_eq!(walk(dir.path(), "src", &ALL), ["src/keep.log", "src/main.rs"]);
        // A folder named explicitly is walked even if ignored, as rg does;
        // the rules of the folders above still apply inside it.
        assert_eq!(walk(dir.path(), "build", &ALL), ["build/out.rs"]);
        let stack = IgnoreStack::for_folder(&Disk(dir.path()), dir.path().to_str().unwrap(), "src");
        let abs = |rel: &str| format!("{}/{rel}", dir.path().display());
        assert!(stack.ignores(&abs("src/secret.rs"), false));
        assert!(!stack.ignores(&abs("src/keep.log"), false));
        assert!(stack.ignores(&abs("src/other.log"), false));
    }

    #[test]
    fn include_globs_override_ignore_files_and_exclusions_leave_out() {
        let dir = tree(&[
            (".gitignore", "gen/\n*.gen.rs\n"),
            ("a.rs", ""),
            ("b.ts", ""),
            ("x.gen.rs", ""),
            ("gen/c.rs", ""),
            ("node_modules/d.rs", ""),
        ]);
        let root = dir.path().to_str().unwrap();
        let mut include = OverrideBuilder::new(root);
        include.add("*.rs").unwrap();
        let include = include.build().unwrap();
        let rules = Rules { hidden: false, overrides: Some(&include) };
        // As with `rg -g`: a matching file is searched even if ignored, but an
        // ignored folder is still not entered.
        assert_eq!(walk(dir.path(), "", &rules), ["a.rs", "node_modules/d.rs", "x.gen.rs"]);
        let mut exclude = OverrideBuilder::new(root);
        exclude.add("!node_modules/").unwrap();
        let exclude = exclude.build().unwrap();
        let rules = Rules { hidden: false, overrides: Some(&exclude) };
        assert_eq!(walk(dir.path(), "", &rules), ["a.rs", "b.ts"]);
    }

    #[test]
    fn symlinks_and_special_files_are_never_visited() {
        let dir = tree(&[("real.rs", "")]);
        std::os::unix::fs::symlink("real.rs", dir.path().join("link.rs")).unwrap();
        std::os::unix::fs::symlink("/", dir.path().join("root")).unwrap();
        let fifo = dir.path().join("pipe");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert_eq!(walk(dir.path(), "", &ALL), ["real.rs"]);
    }

    #[test]
    fn a_visitor_can_stop_the_walk() {
        let dir = tree(&[("a", ""), ("b", ""), ("c", "")]);
        let mut seen = 0;
        let flow = files(&Disk(dir.path()), dir.path().to_str().unwrap(), "", &ALL, &mut |_, _| {
            seen += 1;
            if seen == 2 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        });
        assert!(flow.is_break());
        assert_eq!(seen, 2);
    }
}
