//! The `bulk-fs` host interface: whole directories and whole files in one
//! host call each, for tools that touch thousands of files.
//!
//! Through WASI, reading one small file costs the guest an open, a type
//! query, a stat, two reads and a close, each a trip through the host, and a
//! directory listing costs two stats per entry. Here a listing is one
//! `getdents` pass that reads entry types from the directory itself, and a
//! file is one open, one stat and one read. Both go through the grant's
//! capability handle (cap-std), which resolves every path beneath the
//! workspace root exactly as the WASI preopen does: `..`, absolute paths and
//! symlinks leading out are refused. Only reads are offered. A tool whose
//! policy narrows the grant to some folders reaches those only: a path is
//! read beneath the folder it lies in, opened from the grant's handle.

use super::FolderRule;
use super::bindings::tool_provider::wasmgate::tools::bulk_fs::{Entry, EntryKind, Host};
use super::state::CallState;
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use std::io::{self, Read};
use std::path::{Component, Path};

/// Entries one listing may return: the result is copied into the guest, and
/// a directory of millions of files should fail plainly, not exhaust memory.
const MAX_DIR_ENTRIES: usize = 200_000;
/// The most one read may return, whatever the guest asks for.
const MAX_READ_BYTES: u64 = 64 << 20;

impl Host for CallState {
    fn list_dir(&mut self, path: String) -> Result<Vec<Entry>, String> {
        let (root, rest) = self.reach(&path)?;
        let dir = if is_root(&rest) { root.try_clone() } else { root.open_dir(&rest) }.map_err(|e| failed(&path, e))?;
        let mut entries = Vec::new();
        for entry in dir.entries().map_err(|e| failed(&path, e))? {
            let entry = entry.map_err(|e| failed(&path, e))?;
            if entries.len() == MAX_DIR_ENTRIES {
                return Err(format!("{path}: more than {MAX_DIR_ENTRIES} entries"));
            }
            let Ok(name) = entry.file_name().into_string() else { continue };
            let kind = match entry.file_type() {
                Ok(t) if t.is_symlink() => EntryKind::Symlink,
                Ok(t) if t.is_dir() => EntryKind::Directory,
                Ok(t) if t.is_file() => EntryKind::File,
                _ => EntryKind::Other,
            };
            entries.push(Entry { name, kind });
        }
        Ok(entries)
    }

    fn read_file(&mut self, path: String, max_bytes: u64) -> Result<Vec<u8>, String> {
        let max_bytes = max_bytes.min(MAX_READ_BYTES);
        let (root, rest) = self.reach(&path)?;
        read_regular(&root, Path::new(&rest), max_bytes, Follow::Yes).map_err(|e| failed(&path, e))
    }
}

/// Whether a read follows a symlink at the path's last component (always
/// beneath the directory either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Follow {
    Yes,
    No,
}

/// The whole of a regular file beneath `dir`, for every host-side read of a
/// workspace file. It is opened non-blocking, so a FIFO planted there cannot
/// hold the caller until a writer appears; anything but a regular file is
/// refused, and so is one over `max_bytes` (checked again as it is read, in
/// case it grows).
pub(crate) fn read_regular(dir: &Dir, path: &Path, max_bytes: u64, follow: Follow) -> io::Result<Vec<u8>> {
    let refused = |kind: io::ErrorKind, why: String| Err(io::Error::new(kind, why));
    let mut flags = libc::O_NONBLOCK;
    if follow == Follow::No {
        flags |= libc::O_NOFOLLOW;
    }
    let mut options = OpenOptions::new();
    options.read(true).custom_flags(flags);
    let file = dir.open_with(path, &options)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return refused(io::ErrorKind::InvalidInput, "not a regular file".into());
    }
    let size = meta.len();
    if size > max_bytes {
        return refused(io::ErrorKind::FileTooLarge, format!("{size} bytes, over the {max_bytes}-byte limit"));
    }
    let mut bytes = Vec::with_capacity(size as usize + 1);
    file.take(max_bytes + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return refused(io::ErrorKind::FileTooLarge, format!("grew past the {max_bytes}-byte limit while it was read"));
    }
    Ok(bytes)
}

impl CallState {
    /// The directory `path` is read beneath, and the rest of the path: the
    /// grant's root, or the policy's folder `path` lies in.
    fn reach(&self, path: &str) -> Result<(Beneath<'_>, String), String> {
        let grant = self.grant.as_ref().ok_or_else(|| "this call has no workspace".to_string())?;
        let Some(folders) = &self.folders else { return Ok((Beneath::Grant(grant.dir()), path.to_string())) };
        let outside = || {
            let names: Vec<&str> =
                folders.iter().map(|f| if f.path.is_empty() { "." } else { f.path.as_str() }).collect();
            format!("{path}: outside the folders this tool's policy allows ({})", names.join(", "))
        };
        // Relative to the grant, or absolute as the guest names the grant.
        let relative = Path::new(path).strip_prefix(grant.guest_path()).unwrap_or(Path::new(path));
        let mut parts = Vec::new();
        for part in relative.components() {
            match part {
                Component::Normal(name) => parts.push(name.to_str().ok_or_else(outside)?),
                Component::CurDir => {}
                _ => return Err(outside()),
            }
        }
        let (folder, depth) = folders
            .iter()
            .map(|folder| (folder, folder_parts(folder)))
            .filter(|(_, prefix)| parts.starts_with(prefix))
            .max_by_key(|(_, prefix)| prefix.len())
            .map(|(folder, prefix)| (folder, prefix.len()))
            .ok_or_else(outside)?;
        let dir = if depth == 0 { grant.dir().try_clone() } else { grant.dir().open_dir(&folder.path) };
        Ok((Beneath::Folder(dir.map_err(|e| failed(path, e))?), parts[depth..].join("/")))
    }
}

/// A policy folder's path, by component (none for the grant's root).
fn folder_parts(folder: &FolderRule) -> Vec<&str> {
    folder.path.split('/').filter(|part| !part.is_empty()).collect()
}

/// A directory reads go beneath: the grant's own, or a folder of it opened
/// for one read.
enum Beneath<'a> {
    Grant(&'a Dir),
    Folder(Dir),
}

impl std::ops::Deref for Beneath<'_> {
    type Target = Dir;

    fn deref(&self) -> &Dir {
        match self {
            Beneath::Grant(dir) => dir,
            Beneath::Folder(dir) => dir,
        }
    }
}

fn is_root(path: &str) -> bool {
    matches!(path, "" | ".")
}

fn failed(path: &str, error: io::Error) -> String {
    format!("{path}: {error}")
}
