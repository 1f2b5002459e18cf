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
//! symlinks leading out are refused. Only reads are offered.

use super::bindings::tool_provider::wasmgate::tools::bulk_fs::{Entry, EntryKind, Host};
use super::state::CallState;
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use std::io::{self, Read};
use std::path::Path;

/// Entries one listing may return: the result is copied into the guest, and
/// a directory of millions of files should fail plainly, not exhaust memory.
const MAX_DIR_ENTRIES: usize = 200_000;
/// The most one read may return, whatever the guest asks for.
const MAX_READ_BYTES: u64 = 64 << 20;

impl Host for CallState {
    fn list_dir(&mut self, path: String) -> Result<Vec<Entry>, String> {
        let root = self.workspace()?;
        let dir = if is_root(&path) { root.try_clone() } else { root.open_dir(&path) }.map_err(|e| failed(&path, e))?;
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
        read_regular(self.workspace()?, Path::new(&path), max_bytes, Follow::Yes).map_err(|e| failed(&path, e))
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
    fn workspace(&self) -> Result<&Dir, String> {
        self.grant.as_ref().map(|grant| &**grant.dir()).ok_or_else(|| "this call has no workspace".to_string())
    }
}

fn is_root(path: &str) -> bool {
    matches!(path, "" | ".")
}

fn failed(path: &str, error: io::Error) -> String {
    format!("{path}: {error}")
}
