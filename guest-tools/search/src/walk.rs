//! The workspace walk search uses: ripgrep's filtering rules over the host's
//! bulk directory listings.
//!
//! `ignore`'s own walker reads each directory through WASI, which costs two
//! stats per entry and a failed open for every `.gitignore` a folder lacks.
//! This walk lists each directory with one `bulk-fs` call (entry types come
//! from the directory itself), reads only the ignore files the listing shows,
//! and applies the same rules with `ignore`'s matchers:
//!
//! - `.gitignore` and `.ignore` in every folder from the start down, the
//!   deeper folder and `.ignore` winning, whether or not this is a git
//!   repository;
//! - hidden entries skipped unless asked for, `.git` always;
//! - an include glob that overrides the ignore files, as `rg -g` does;
//! - symlinks never followed; entries sorted by name.

use crate::wasmgate::tools::bulk_fs::{self, EntryKind};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::overrides::Override;
use std::ops::ControlFlow;

/// The largest ignore file read.
const MAX_IGNORE_FILE_BYTES: u64 = 1 << 20;

/// What to skip.
pub struct Rules<'a> {
    pub hidden: bool,
    pub overrides: Option<&'a Override>,
}

/// Visits every file under the folder `rel` (relative to the workspace root
/// `root`, an absolute guest path) with its absolute and relative paths.
/// Returns `Break` if `visit` stopped the walk.
pub fn files(
    root: &str,
    rel: &str,
    rules: &Rules,
    visit: &mut impl FnMut(&str, &str) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let mut ignores = Vec::new();
    descend(root, rel, rules, &mut ignores, visit)
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
    root: &str,
    rel: &str,
    rules: &Rules,
    ignores: &mut Vec<Gitignore>,
    visit: &mut impl FnMut(&str, &str) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let Ok(mut entries) = bulk_fs::list_dir(if rel.is_empty() { "." } else { rel }) else {
        return ControlFlow::Continue(());
    };
    entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    let dir_abs = absolute(root, rel);
    let pushed = match ignore_rules(&dir_abs, rel, &entries) {
        Some(rules) => {
            ignores.push(rules);
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
        if overridden.is_ignore() || (!overridden.is_whitelist() && is_ignored(ignores, &child_abs, is_dir)) {
            continue;
        }
        flow = if is_dir { descend(root, &child_rel, rules, ignores, visit) } else { visit(&child_abs, &child_rel) };
        if flow.is_break() {
            break;
        }
    }
    if pushed {
        ignores.pop();
    }
    flow
}

/// This folder's `.gitignore` and `.ignore` rules, if it has either.
fn ignore_rules(dir_abs: &str, rel: &str, entries: &[bulk_fs::Entry]) -> Option<Gitignore> {
    let mut builder = GitignoreBuilder::new(dir_abs);
    let mut any = false;
    // `.ignore` goes last so its rules win over `.gitignore`'s.
    for name in [".gitignore", ".ignore"] {
        if !entries.iter().any(|e| e.name == name && e.kind == EntryKind::File) {
            continue;
        }
        let Ok(bytes) = bulk_fs::read_file(&join(rel, name), MAX_IGNORE_FILE_BYTES) else { continue };
        for line in String::from_utf8_lossy(&bytes).lines() {
            let _ = builder.add_line(None, line);
        }
        any = true;
    }
    any.then(|| builder.build().ok()).flatten()
}

/// Whether the deepest folder with an opinion on `abs` ignores it.
fn is_ignored(ignores: &[Gitignore], abs: &str, is_dir: bool) -> bool {
    for rules in ignores.iter().rev() {
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
