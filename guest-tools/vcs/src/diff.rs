//! The working tree against a commit, as `git diff <commit>` plus the
//! untracked files `git status` lists, with git's patch headers.
//!
//! A tracked file whose size and time still match the index is taken to be
//! what the index staged, without reading it (git's own shortcut, with its
//! guard for files changed in the index's last second); every other file
//! is read and hashed. Mode changes are not seen: WASI does not report a
//! file's permission bits.

use crate::exports::wasmgate::tools::vcs::{ChangeKind, DiffBase, DiffQuery, FileChange};
use git_read::{Index, IndexEntry, Oid, Repository, merge_base};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::path::Path;
use wasmgate_tool_sdk::ToolError;
use wasmgate_tool_sdk::wasmgate::tools::host::{LogLevel, log};
use wasmgate_tool_sdk::workspace::{BulkListing, Workspace};

/// The most bytes of patches one diff returns; later files get headers only.
const MAX_TOTAL_PATCH: usize = 10 << 20;
/// Files larger than this are counted as changed but not diffed by line.
const MAX_DIFFED_FILE: u64 = 10 << 20;
/// Git's test for binary content: a NUL in the first 8000 bytes.
const BINARY_SNIFF: usize = 8000;

const REGULAR: u32 = 0o100644;
const LINK: u32 = 0o120000;

pub fn run(ws: &Workspace, query: DiffQuery) -> Result<Vec<FileChange>, ToolError> {
    let root = Path::new(ws.root());
    let repo = match Repository::at_worktree(root) {
        Ok(Some(repo)) => repo,
        Ok(None) => return Ok(Vec::new()),
        Err(git_read::Error::Io(path, e)) => {
            // A worktree or submodule whose git folder lies outside the
            // workspace: out of reach by design.
            log(LogLevel::Info, &format!("no repository in reach: {}: {e}", path.display()));
            return Ok(Vec::new());
        }
        Err(e) => return Err(failed(e)),
    };
    let Some(base) = base_commit(&repo, query.base).map_err(failed)? else {
        return Ok(Vec::new());
    };
    let base = match base {
        Some(commit) => repo.tree_files(repo.commit(commit).map_err(failed)?.tree).map_err(failed)?,
        None => BTreeMap::new(),
    };
    let index = Index::read(repo.git_dir()).map_err(failed)?;
    let index_time = std::fs::metadata(repo.git_dir().join("index")).ok().and_then(|m| m.modified().ok());
    let staged: BTreeMap<&str, &IndexEntry> = index.entries.iter().map(|e| (e.path.as_str(), e)).collect();

    let mut paths: BTreeSet<String> = base.keys().cloned().collect();
    paths.extend(index.entries.iter().filter(|e| !e.skip_worktree).map(|e| e.path.clone()));
    let rules = workspace_walk::Rules { hidden: true, overrides: None };
    let _ = workspace_walk::files(&BulkListing, ws.root(), "", &rules, &mut |_, rel| {
        if !staged.contains_key(rel) {
            paths.insert(rel.to_string());
        }
        ControlFlow::Continue(())
    });

    let mut writer = PatchWriter { repo: &repo, query: &query, spent: 0 };
    let mut changes = Vec::new();
    for path in &paths {
        let entry = staged.get(path.as_str()).copied();
        if entry.is_some_and(|e| e.skip_worktree) {
            continue;
        }
        let before = base.get(path).map(|e| (e.oid, e.mode));
        let now = Worktree::read(root, path, entry, index_time);
        let after_oid = now.as_ref().map(|n| n.oid);
        if before.map(|b| b.0) == after_oid {
            continue;
        }
        if before.is_none() && now.is_none() {
            continue;
        }
        changes.push(writer.change(path, before, now).map_err(failed)?);
    }
    Ok(changes)
}

/// The commit to compare with: `Some(None)` for a repository with no commit
/// yet (everything is added), `None` when there is nothing to compare.
fn base_commit(repo: &Repository, base: DiffBase) -> git_read::Result<Option<Option<Oid>>> {
    let head = repo.head()?;
    match base {
        DiffBase::Head => Ok(Some(head.commit)),
        DiffBase::BranchPoint => {
            let Some((name, full)) = repo.default_branch()? else { return Ok(None) };
            if head.branch.as_deref() == Some(name.as_str()) {
                return Ok(None);
            }
            let (Some(current), Some(default)) = (head.commit, repo.resolve(&full)?) else { return Ok(None) };
            Ok(merge_base(repo, default, current)?.map(Some))
        }
    }
}

/// What a tracked or untracked path holds in the working tree: its blob
/// name (hashed once) and mode, and its bytes when they were read.
struct Worktree {
    oid: Oid,
    mode: u32,
    held: Held,
}

enum Held {
    /// Unchanged since it was staged, by its size and time: not read.
    AsStaged,
    Bytes(Vec<u8>),
    /// Too large to diff by line: only its name.
    Large,
}

impl Worktree {
    fn read(
        root: &Path,
        path: &str,
        staged: Option<&IndexEntry>,
        index_time: Option<std::time::SystemTime>,
    ) -> Option<Worktree> {
        let full = root.join(path);
        let meta = std::fs::symlink_metadata(&full).ok()?;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&full).ok()?.to_string_lossy().into_owned().into_bytes();
            return Some(Worktree { oid: Oid::of_blob(&target), mode: LINK, held: Held::Bytes(target) });
        }
        if !meta.is_file() {
            return None;
        }
        let mode = staged.map_or(REGULAR, |e| e.mode);
        if let Some(entry) = staged
            && !entry.intent_to_add
            && entry.size == meta.len() as u32
            && let Ok(modified) = meta.modified()
            && let Ok(since) = modified.duration_since(std::time::UNIX_EPOCH)
            && (since.as_secs() as u32, since.subsec_nanos()) == entry.mtime
            && index_time.is_some_and(|index| modified < index)
        {
            return Some(Worktree { oid: entry.oid, mode, held: Held::AsStaged });
        }
        let bytes = std::fs::read(&full).ok()?;
        let oid = Oid::of_blob(&bytes);
        let held = if meta.len() > MAX_DIFFED_FILE { Held::Large } else { Held::Bytes(bytes) };
        Some(Worktree { oid, mode, held })
    }
}

struct PatchWriter<'a> {
    repo: &'a Repository,
    query: &'a DiffQuery,
    spent: usize,
}

impl PatchWriter<'_> {
    fn change(
        &mut self,
        path: &str,
        before: Option<(Oid, u32)>,
        now: Option<Worktree>,
    ) -> git_read::Result<FileChange> {
        let status = match (&before, &now) {
            (None, _) => ChangeKind::Added,
            (_, None) => ChangeKind::Deleted,
            _ => ChangeKind::Modified,
        };
        let old = match before {
            Some((oid, _)) => Some(self.repo.blob(oid)?),
            None => None,
        };
        let new = match &now {
            Some(Worktree { oid, held: Held::AsStaged, .. }) => Some(self.repo.blob(*oid)?),
            Some(Worktree { held: Held::Bytes(bytes), .. }) => Some(bytes.clone()),
            Some(Worktree { held: Held::Large, .. }) | None => None,
        };
        let large = matches!(now, Some(Worktree { held: Held::Large, .. }));
        let header = header(path, before, now.as_ref().map(|n| (n.oid, n.mode)));
        let text = |bytes: &Option<Vec<u8>>| match bytes {
            None => Some(String::new()),
            Some(b) if b[..b.len().min(BINARY_SNIFF)].contains(&0) => None,
            Some(b) => String::from_utf8(b.clone()).ok(),
        };
        let (old_text, new_text) = (text(&old), text(&new));
        let (Some(old_text), Some(new_text)) = (old_text.filter(|_| !large), new_text.filter(|_| !large)) else {
            let (a, b) = (side("a", path, before.is_some()), side("b", path, now.is_some()));
            let patch = if large { header } else { format!("{header}Binary files {a} and {b} differ\n") };
            return Ok(self.finish(path, status, 0, 0, patch, String::new()));
        };
        let lines = similar::TextDiff::from_lines(&old_text, &new_text);
        let (mut additions, mut deletions) = (0, 0);
        for op in lines.ops() {
            for change in lines.iter_changes(op) {
                match change.tag() {
                    similar::ChangeTag::Insert => additions += 1,
                    similar::ChangeTag::Delete => deletions += 1,
                    similar::ChangeTag::Equal => {}
                }
            }
        }
        let mut body = String::new();
        if self.query.patches && (additions > 0 || deletions > 0) {
            let whole = old_text.lines().count().max(new_text.lines().count());
            let radius = self.query.context.map_or(whole, |c| c as usize);
            body.push_str(&format!(
                "--- {}\n+++ {}\n",
                side("a", path, before.is_some()),
                side("b", path, now.is_some())
            ));
            for hunk in lines.unified_diff().context_radius(radius).iter_hunks() {
                body.push_str(&hunk.to_string());
            }
        }
        Ok(self.finish(path, status, additions, deletions, header, body))
    }

    /// The change, its patch kept while the budget lasts (the header alone after).
    fn finish(
        &mut self,
        path: &str,
        status: ChangeKind,
        additions: u32,
        deletions: u32,
        header: String,
        body: String,
    ) -> FileChange {
        let patch = if !self.query.patches {
            String::new()
        } else if self.spent + header.len() + body.len() <= MAX_TOTAL_PATCH {
            format!("{header}{body}")
        } else {
            header
        };
        self.spent += patch.len();
        FileChange { path: path.to_string(), status, additions, deletions, patch }
    }
}

/// `diff --git` and the lines git writes under it before the hunks.
fn header(path: &str, before: Option<(Oid, u32)>, after: Option<(Oid, u32)>) -> String {
    let zero = "0000000";
    let mut out = format!("diff --git a/{path} b/{path}\n");
    match (before, after) {
        (None, Some((oid, mode))) => out.push_str(&format!("new file mode {mode:o}\nindex {zero}..{}\n", oid.short(7))),
        (Some((oid, mode)), None) => {
            out.push_str(&format!("deleted file mode {mode:o}\nindex {}..{zero}\n", oid.short(7)))
        }
        (Some((old, old_mode)), Some((new, new_mode))) if old_mode != new_mode => out.push_str(&format!(
            "old mode {old_mode:o}\nnew mode {new_mode:o}\nindex {}..{}\n",
            old.short(7),
            new.short(7)
        )),
        (Some((old, mode)), Some((new, _))) => {
            out.push_str(&format!("index {}..{} {mode:o}\n", old.short(7), new.short(7)))
        }
        (None, None) => {}
    }
    out
}

/// `a/path`, or `/dev/null` for the side a file is absent on.
fn side(prefix: &str, path: &str, present: bool) -> String {
    if present { format!("{prefix}/{path}") } else { "/dev/null".into() }
}

fn failed(error: git_read::Error) -> ToolError {
    ToolError::Failed(format!("reading the git repository: {error}"))
}
