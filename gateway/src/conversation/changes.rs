//! What each step of a conversation changed in the workspace: the records
//! undo, redo and the session's diffs are made from.
//!
//! The sandbox tells a [`StepRecorder`] what every path held before a tool
//! call first changed it (see `sandbox::change_capture`); the recorder keeps
//! that as [`FileChange`]s with the bytes apart, once per content, and the
//! caller stores them when the call ends. A step that writes three files
//! costs three files, whatever the size of the repository.
//!
//! A recorder keeps at most [`MAX_FILE`] of one file and [`MAX_STEP`] in all;
//! past that a path is recorded as not kept, and a revert says it could not
//! put it back rather than guessing.

use crate::model::FileDiff;
use crate::sandbox::{self, ChangeSink, Grant, Prior};
use crate::store::{Blob, FileChange, Kept, SessionKey, Store, StoreError, StoreResult};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The largest file one step keeps the earlier content of.
pub const MAX_FILE: u64 = 64 << 20;
/// The most one step keeps in all.
pub const MAX_STEP: u64 = 512 << 20;
/// The longest patch text a diff carries; a longer one is left out (the
/// counts stay).
const MAX_PATCH: usize = 256 << 10;

/// Records what one tool call changes, for one message's part.
pub struct StepRecorder {
    message_id: String,
    part_id: String,
    left: AtomicU64,
    recorded: Mutex<Recorded>,
}

#[derive(Default)]
struct Recorded {
    changes: Vec<FileChange>,
    blobs: BTreeMap<String, Vec<u8>>,
}

impl StepRecorder {
    /// A recorder for the tool part `part_id` of the message `message_id`.
    pub fn new(message_id: &str, part_id: &str) -> Self {
        StepRecorder {
            message_id: message_id.to_string(),
            part_id: part_id.to_string(),
            left: AtomicU64::new(MAX_STEP),
            recorded: Mutex::new(Recorded::default()),
        }
    }

    /// What was recorded so far, taken out (the recorder starts empty again).
    pub fn take(&self) -> (Vec<FileChange>, Vec<Blob>) {
        let recorded = std::mem::take(&mut *self.recorded.lock().unwrap_or_else(|p| p.into_inner()));
        let blobs = recorded.blobs.into_iter().map(|(hash, bytes)| Blob { hash, bytes }).collect();
        (recorded.changes, blobs)
    }
}

impl ChangeSink for StepRecorder {
    fn reserve(&self, bytes: u64) -> Result<(), String> {
        if bytes > MAX_FILE {
            return Err(format!("larger than the {} MiB undo keeps of one file", MAX_FILE >> 20));
        }
        self.left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(bytes))
            .map(|_| ())
            .map_err(|_| format!("past the {} MiB undo keeps of one step", MAX_STEP >> 20))
    }

    fn before_change(&self, path: &str, prior: Prior) {
        let mut recorded = self.recorded.lock().unwrap_or_else(|p| p.into_inner());
        let kept = keep(prior, &mut recorded.blobs);
        let change = FileChange {
            message_id: self.message_id.clone(),
            part_id: self.part_id.clone(),
            path: path.to_string(),
            kept,
            redo: false,
        };
        recorded.changes.push(change);
    }

    fn outside_view(&self, program: &str) {
        let reason = format!("`{program}` ran outside the sandbox; what it changed is not undone");
        let change = FileChange {
            message_id: self.message_id.clone(),
            part_id: self.part_id.clone(),
            path: String::new(),
            kept: Kept::Unkept { reason },
            redo: false,
        };
        self.recorded.lock().unwrap_or_else(|p| p.into_inner()).changes.push(change);
    }
}

/// `prior` as it is stored: a file's bytes go into `blobs` (once per
/// content, by SHA-256) and the record names them.
pub fn keep(prior: Prior, blobs: &mut BTreeMap<String, Vec<u8>>) -> Kept {
    match prior {
        Prior::Absent => Kept::Absent,
        Prior::Directory => Kept::Directory,
        Prior::Symlink(target) => Kept::Symlink { target },
        Prior::Unkept(reason) => Kept::Unkept { reason },
        Prior::File { bytes, mode } => {
            let hash = hash(&bytes);
            let size = bytes.len() as u64;
            blobs.entry(hash.clone()).or_insert(bytes);
            Kept::File { blob: hash, size, mode }
        }
    }
}

/// The SHA-256 of `bytes`, in hex.
fn hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A point in a session to revert to: every step after it is undone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Boundary {
    #[serde(rename = "messageID")]
    pub message_id: String,
    #[serde(rename = "partID", skip_serializing_if = "Option::is_none")]
    pub part_id: Option<String>,
}

impl Boundary {
    /// Whether `change` was made at or after this point.
    pub fn covers(&self, change: &FileChange) -> bool {
        match change.message_id.cmp(&self.message_id) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => self.part_id.as_ref().is_none_or(|part| &change.part_id >= part),
        }
    }
}

/// For each path, the first of `changes` (in order) that `pick` keeps: what
/// the path held before the earliest of them. (Notes of programs run
/// outside the sandbox name no path and are left out: see [`notes`].)
pub fn earliest(changes: &[FileChange], pick: impl Fn(&FileChange) -> bool) -> BTreeMap<&str, &FileChange> {
    let mut first = BTreeMap::new();
    for change in changes.iter().filter(|c| !c.path.is_empty() && pick(c)) {
        first.entry(change.path.as_str()).or_insert(change);
    }
    first
}

/// What the selected steps did that undo cannot put back (programs run
/// outside the sandbox), each said once.
pub fn notes(changes: &[FileChange], pick: impl Fn(&FileChange) -> bool) -> Vec<String> {
    let mut notes: Vec<String> = Vec::new();
    for change in changes.iter().filter(|c| c.path.is_empty() && pick(c)) {
        if let Kept::Unkept { reason } = &change.kept
            && !notes.contains(reason)
        {
            notes.push(reason.clone());
        }
    }
    notes
}

/// A file's content at one end of a diff (`None`: no file there).
pub type Side<'a> = Option<&'a [u8]>;

/// The diff of `file` from `before` to `after`, or `None` when nothing
/// differs. Text is diffed by lines; binary files are counted as changed
/// with no patch.
pub fn diff(file: &str, before: Side<'_>, after: Side<'_>) -> Option<FileDiff> {
    if before == after {
        return None;
    }
    let status = match (before, after) {
        (None, _) => "added",
        (_, None) => "deleted",
        _ => "modified",
    };
    let (old, new) = (before.unwrap_or_default(), after.unwrap_or_default());
    let (Ok(old), Ok(new)) = (std::str::from_utf8(old), std::str::from_utf8(new)) else {
        return Some(FileDiff { file: file.into(), patch: None, additions: 0, deletions: 0, status: status.into() });
    };
    let lines = similar::TextDiff::from_lines(old, new);
    let (mut additions, mut deletions) = (0, 0);
    for change in lines.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => additions += 1,
            similar::ChangeTag::Delete => deletions += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    let patch = lines.unified_diff().context_radius(3).header(file, file).to_string();
    let patch = format!("Index: {file}\n===================================================================\n{patch}");
    let patch = (patch.len() <= MAX_PATCH).then_some(patch);
    Some(FileDiff { file: file.into(), patch, additions, deletions, status: status.into() })
}

/// A stored state with its bytes read back.
pub async fn prior_of(store: &dyn Store, key: SessionKey<'_>, kept: &Kept) -> StoreResult<Prior> {
    Ok(match kept {
        Kept::Absent => Prior::Absent,
        Kept::Directory => Prior::Directory,
        Kept::Symlink { target } => Prior::Symlink(target.clone()),
        Kept::Unkept { reason } => Prior::Unkept(reason.clone()),
        Kept::File { blob, mode, .. } => match store.blob(key, blob).await? {
            Some(bytes) => Prior::File { bytes, mode: *mode },
            None => Prior::Unkept("its stored content is missing".into()),
        },
    })
}

/// The diff of every path `pick` selects, from before the earliest selected
/// change to what the workspace holds now (read through `grant`).
pub async fn diff_since(
    store: &dyn Store,
    grant: &Grant,
    key: SessionKey<'_>,
    records: &[FileChange],
    pick: impl Fn(&FileChange) -> bool + Sync,
) -> StoreResult<Vec<FileDiff>> {
    let [diffs] = diffs_since(store, grant, key, records, [&pick]).await?;
    Ok(diffs)
}

/// [`diff_since`] for several selections at once (a turn's and its
/// session's), reading each path the workspace holds now only once.
pub async fn diffs_since<const N: usize>(
    store: &dyn Store,
    grant: &Grant,
    key: SessionKey<'_>,
    records: &[FileChange],
    picks: [&(dyn Fn(&FileChange) -> bool + Sync); N],
) -> StoreResult<[Vec<FileDiff>; N]> {
    let firsts = picks.map(|pick| earliest(records, pick));
    let mut paths: Vec<String> = firsts.iter().flat_map(|first| first.keys().map(|p| p.to_string())).collect();
    paths.sort();
    paths.dedup();
    let mut diffs = std::array::from_fn(|_| Vec::new());
    if paths.is_empty() {
        return Ok(diffs);
    }
    let grant = grant.clone();
    let now = tokio::task::spawn_blocking(move || sandbox::read_current(&grant, &paths))
        .await
        .map_err(|e| StoreError::Failed(format!("reading the workspace failed: {e}")))?;
    for (first, diffs) in firsts.iter().zip(diffs.iter_mut()) {
        for current in &now {
            let Some(change) = first.get(current.path.as_str()) else { continue };
            let before = prior_of(store, key, &change.kept).await?;
            diffs.extend(diff(&current.path, content(&before), content(&current.state)));
        }
    }
    Ok(diffs)
}

/// A file's bytes for a diff (`None` for anything but a file).
pub fn content(state: &Prior) -> Option<&[u8]> {
    match state {
        Prior::File { bytes, .. } => Some(bytes),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(message: &str, part: &str, path: &str) -> FileChange {
        FileChange {
            message_id: message.into(),
            part_id: part.into(),
            path: path.into(),
            kept: Kept::Absent,
            redo: false,
        }
    }

    #[test]
    fn a_boundary_covers_what_came_at_or_after_it() {
        let whole = Boundary { message_id: "msg_2".into(), part_id: None };
        assert!(!whole.covers(&change("msg_1", "prt_9", "a")));
        assert!(whole.covers(&change("msg_2", "prt_1", "a")));
        assert!(whole.covers(&change("msg_3", "prt_0", "a")));
        let part = Boundary { message_id: "msg_2".into(), part_id: Some("prt_5".into()) };
        assert!(!part.covers(&change("msg_2", "prt_4", "a")));
        assert!(part.covers(&change("msg_2", "prt_5", "a")));
        assert!(part.covers(&change("msg_3", "prt_0", "a")));
    }

    #[test]
    fn the_earliest_change_of_a_path_wins() {
        let changes = [change("msg_1", "p", "a"), change("msg_2", "p", "a"), change("msg_2", "p", "b")];
        let first = earliest(&changes, |c| c.message_id.as_str() >= "msg_2");
        assert_eq!(first["a"].message_id, "msg_2");
        assert_eq!(first.len(), 2);
    }

    #[test]
    fn diffs_count_lines_and_name_the_status() {
        let d = diff("f.txt", Some(b"a\nb\n"), Some(b"a\nc\nd\n")).unwrap();
        assert_eq!((d.additions, d.deletions, d.status.as_str()), (2, 1, "modified"));
        assert!(d.patch.unwrap().contains("+c\n"));
        assert_eq!(diff("f", None, Some(b"x\n")).unwrap().status, "added");
        assert_eq!(diff("f", Some(b"x\n"), None).unwrap().status, "deleted");
        assert!(diff("f", Some(b"same"), Some(b"same")).is_none());
        assert_eq!(diff("bin", Some(&[0xff, 0]), Some(&[0xfe])).unwrap().patch, None);
    }
}
