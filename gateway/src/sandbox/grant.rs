//! What one call may see: a workspace directory, read-only or read-write.
//!
//! The grant is decided by the caller of the sandbox (the CLI's flags, later
//! the session's agent), never by the tool. The directory is canonicalized
//! once, so the guest's view of it is the real path and a symlinked root does
//! not make the preopen and the paths the tool is given disagree.

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Whether a grant allows changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads only: the preopen refuses every write, rename and delete.
    ReadOnly,
    /// Reads and writes inside the workspace.
    ReadWrite,
}

/// A workspace a call may reach.
#[derive(Clone)]
pub struct Grant {
    root: PathBuf,
    guest_path: String,
    access: Access,
    /// The root, opened once: the handle host-side file access (bulk reads)
    /// goes through, so it resolves paths beneath it and never by name.
    dir: Arc<Dir>,
}

impl PartialEq for Grant {
    fn eq(&self, other: &Self) -> bool {
        self.root == other.root && self.access == other.access
    }
}

impl Eq for Grant {}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant").field("root", &self.root).field("access", &self.access).finish()
    }
}

impl Grant {
    /// Grants `root` with `access`. Fails if `root` is not a directory or its
    /// path is not UTF-8 (the guest sees paths as strings).
    pub fn new(root: impl AsRef<Path>, access: Access) -> io::Result<Self> {
        let root = root
            .as_ref()
            .canonicalize()
            .map_err(|e| io::Error::new(e.kind(), format!("workspace {}: {e}", root.as_ref().display())))?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("workspace {} is not a directory", root.display()),
            ));
        }
        let guest_path = root
            .to_str()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "workspace path is not UTF-8"))?
            .to_string();
        let dir = Dir::open_ambient_dir(&root, ambient_authority())?;
        Ok(Grant { root, guest_path, access, dir: Arc::new(dir) })
    }

    /// A read-only grant on `root`.
    pub fn read_only(root: impl AsRef<Path>) -> io::Result<Self> {
        Self::new(root, Access::ReadOnly)
    }

    /// A read-write grant on `root`.
    pub fn read_write(root: impl AsRef<Path>) -> io::Result<Self> {
        Self::new(root, Access::ReadWrite)
    }

    /// The host directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the guest sees the directory: the same absolute path, so paths
    /// in tool output mean the same thing to the model and to the user.
    pub fn guest_path(&self) -> &str {
        &self.guest_path
    }

    /// The access granted.
    pub fn access(&self) -> Access {
        self.access
    }

    /// The root as a capability handle.
    pub(crate) fn dir(&self) -> &Arc<Dir> {
        &self.dir
    }
}
