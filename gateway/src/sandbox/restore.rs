//! Putting paths of a workspace back as they were (undo and redo).
//!
//! The counterpart of `change_capture`: given what a path held before a step
//! changed it, make it hold that again, through the grant's directory handle
//! only (cap-std resolves every name beneath it, so a folder swapped for a
//! link out of the workspace meanwhile is refused, not followed). Nothing
//! beyond the named paths is touched: a folder is removed only when empty,
//! so files the journal does not know (made by a host process, or by the
//! user) are never deleted with it; such a path is reported, not forced.

use super::Grant;
use super::change_capture::{ChangeSink, Prior, read_prior};
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt, Permissions, PermissionsExt};
use std::io::{self, Write};
use std::path::{Component, Path};

/// One path to put back, and what it should hold.
#[derive(Debug, Clone)]
pub struct Restore {
    pub path: String,
    pub state: Prior,
}

/// A path that could not be put back, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotRestored {
    pub path: String,
    pub reason: String,
}

/// What `paths` hold now, read as the change capture reads them (for redo).
pub fn read_current(grant: &Grant, paths: &[String]) -> Vec<Restore> {
    let keep_all = KeepAll;
    paths
        .iter()
        .filter(|path| is_plain(path))
        .map(|path| Restore { path: path.clone(), state: read_prior(grant.dir(), Path::new(path), &keep_all) })
        .collect()
}

/// Puts every path back; removals first, deepest first, then the rest,
/// shallowest first, so a folder is emptied before it goes and made before
/// what it holds. Returns the paths it could not put back.
pub fn restore(grant: &Grant, mut changes: Vec<Restore>) -> Vec<NotRestored> {
    let depth = |path: &str| path.split('/').count();
    changes.sort_by(|a, b| {
        let (a_gone, b_gone) = (a.state == Prior::Absent, b.state == Prior::Absent);
        b_gone.cmp(&a_gone).then_with(|| match a_gone {
            true => depth(&b.path).cmp(&depth(&a.path)),
            false => depth(&a.path).cmp(&depth(&b.path)),
        })
    });
    let root = grant.dir();
    let mut failed = Vec::new();
    for change in changes {
        if !is_plain(&change.path) {
            failed.push(NotRestored { path: change.path, reason: "not a plain workspace path".into() });
            continue;
        }
        if let Err(e) = put_back(root, Path::new(&change.path), &change.state) {
            failed.push(NotRestored { path: change.path, reason: e.to_string() });
        }
    }
    failed
}

/// Whether `path` is relative and made of plain names only.
fn is_plain(path: &str) -> bool {
    !path.is_empty() && Path::new(path).components().all(|c| matches!(c, Component::Normal(_)))
}

fn put_back(root: &Dir, path: &Path, state: &Prior) -> io::Result<()> {
    match state {
        Prior::Absent => remove(root, path),
        Prior::Directory => match root.symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => {
                root.remove_file(path)?;
                root.create_dir(path)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                make_parent(root, path)?;
                root.create_dir(path)
            }
            Err(e) => Err(e),
        },
        Prior::Symlink(target) => {
            make_parent(root, path)?;
            remove(root, path)?;
            root.symlink(target, path)
        }
        Prior::File { bytes, mode } => {
            make_parent(root, path)?;
            write_file(root, path, bytes, *mode)
        }
        Prior::Unkept(why) => Err(io::Error::other(format!("its earlier content was not kept ({why})"))),
    }
}

/// Removes a file or link, or a folder that is empty.
fn remove(root: &Dir, path: &Path) -> io::Result<()> {
    match root.symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => root.remove_dir(path).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOTEMPTY) => io::Error::other("a folder holding files this session did not make; left as is"),
            _ => e,
        }),
        Ok(_) => root.remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn make_parent(root: &Dir, path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => root.create_dir_all(parent),
        _ => Ok(()),
    }
}

/// Writes `bytes` to a new file beside `path` and renames it over, so a
/// reader sees the old file or the new one, never half of one; a folder in
/// the way goes first if it is empty.
fn write_file(root: &Dir, path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    if root.symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        remove(root, path)?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let staging = path.with_file_name(format!(".{name}.wasmgate-restore-{}", std::process::id()));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true).mode(mode);
    let written = root.open_with(&staging, &options).and_then(|mut file| {
        file.write_all(bytes)?;
        file.set_permissions(Permissions::from_mode(mode))
    });
    match written.and_then(|()| root.rename(&staging, root, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = root.remove_file(&staging);
            Err(e)
        }
    }
}

/// A sink that keeps every file, for reading what is there now.
struct KeepAll;

impl ChangeSink for KeepAll {
    fn reserve(&self, _bytes: u64) -> Result<(), String> {
        Ok(())
    }

    fn before_change(&self, _path: &str, _prior: Prior) {}

    fn outside_view(&self, _program: &str) {}
}
