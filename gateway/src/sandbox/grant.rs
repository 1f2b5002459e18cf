//! What one call may see: a workspace directory, read-only or read-write.
//!
//! A grant holds the workspace as an open directory handle, never as a path
//! to open again: WASI's preopen (a duplicate of the handle), `bulk-fs` and
//! host processes all reach the directory through that handle, so renaming the folder or swapping it for a
//! symlink after the grant was made cannot move what a call sees. The grant is
//! decided by the caller of the sandbox (the CLI's flags, the session's
//! agent), never by the tool.

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::Quota;

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
    /// The directory, opened once: the capability every call goes through.
    dir: Arc<Dir>,
    /// The directory's absolute name when the grant was made, which the guest
    /// sees as its preopen's name. A label only: nothing opens it.
    guest_path: String,
    access: Access,
    /// The tenant the grant was made for, and its share of the sandbox
    /// (neither for the server's own user).
    owner: Option<(Arc<str>, Arc<Quota>)>,
}

impl PartialEq for Grant {
    fn eq(&self, other: &Self) -> bool {
        self.guest_path == other.guest_path && self.access == other.access
    }
}

impl Eq for Grant {}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant").field("root", &self.guest_path).field("access", &self.access).finish()
    }
}

impl Grant {
    /// Grants the directory an operator named (the CLI's `--root`, a test's
    /// folder), opening it once now. Fails if `root` is not a directory or
    /// its path is not UTF-8 (the guest sees paths as strings).
    pub fn new(root: impl AsRef<Path>, access: Access) -> io::Result<Self> {
        let named = root.as_ref();
        let canonical = named
            .canonicalize()
            .map_err(|e| io::Error::new(e.kind(), format!("workspace {}: {e}", named.display())))?;
        let dir = Dir::open_ambient_dir(&canonical, ambient_authority()).map_err(|e| {
            io::Error::new(e.kind(), format!("workspace {} is not a directory: {e}", canonical.display()))
        })?;
        let guest_path = canonical
            .to_str()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "workspace path is not UTF-8"))?
            .to_string();
        Ok(Self::from_handle(Arc::new(dir), guest_path, access))
    }

    /// Grants a directory already open, shown to the guest as `guest_path`.
    pub fn from_handle(dir: Arc<Dir>, guest_path: String, access: Access) -> Self {
        Grant { dir, guest_path, access, owner: None }
    }

    /// The same grant for `tenant`: its calls are admitted and metered by
    /// the tenant's `quota`.
    pub fn for_tenant(self, tenant: &str, quota: Arc<Quota>) -> Self {
        Grant { owner: Some((tenant.into(), quota)), ..self }
    }

    /// The tenant the grant was made for and the quota its calls run
    /// under, if any.
    pub(super) fn owner(&self) -> Option<&(Arc<str>, Arc<Quota>)> {
        self.owner.as_ref()
    }

    /// The quota of the tenant the grant was made for, if any.
    pub fn quota(&self) -> Option<&Quota> {
        self.owner.as_ref().map(|(_, quota)| &**quota)
    }

    /// The tenant the grant was made for, if any.
    pub fn tenant(&self) -> Option<&str> {
        self.owner.as_ref().map(|(tenant, _)| &**tenant)
    }

    /// A read-only grant on `root`.
    pub fn read_only(root: impl AsRef<Path>) -> io::Result<Self> {
        Self::new(root, Access::ReadOnly)
    }

    /// A read-write grant on `root`.
    pub fn read_write(root: impl AsRef<Path>) -> io::Result<Self> {
        Self::new(root, Access::ReadWrite)
    }

    /// The same directory with another access.
    pub fn with_access(&self, access: Access) -> Self {
        Grant { access, ..self.clone() }
    }

    /// Where the guest sees the directory: its absolute name, so paths in
    /// tool output mean the same thing to the model and to the user.
    pub fn guest_path(&self) -> &str {
        &self.guest_path
    }

    /// The access granted.
    pub fn access(&self) -> Access {
        self.access
    }

    /// The directory as a capability handle.
    pub(crate) fn dir(&self) -> &Arc<Dir> {
        &self.dir
    }
}
