//! Resolves the paths a tool is given against the one directory it may see.
//!
//! A path may be relative to the workspace or absolute inside it. Resolution
//! is lexical (no filesystem access): `..` that climbs above the root or an
//! absolute path elsewhere is refused here with a clear message. Symlinks are
//! not resolved here: WASI refuses to follow one out of the preopen, and
//! [`Workspace::io_error`] turns that refusal into the same clear message.

use crate::exports::wasmgate::tools::tool::{CallContext, ToolError};
use std::io;

/// wasi-libc's errno for "operation not permitted": what WASI answers when a
/// path leaves the preopen or a write meets a read-only grant.
const ERRNO_NOT_PERMITTED: i32 = 63;

/// The workspace of one call.
pub struct Workspace {
    root: String,
    writable: bool,
}

/// A path inside the workspace.
pub struct Resolved {
    /// The absolute guest path.
    pub abs: String,
    /// The path relative to the root, `/`-separated, empty for the root itself.
    pub rel: String,
}

impl Resolved {
    /// The relative path, or `.` for the root: what titles show.
    pub fn display(&self) -> &str {
        if self.rel.is_empty() { "." } else { &self.rel }
    }
}

/// Whether an operation reads or changes the workspace.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Workspace {
    pub fn new(context: &CallContext) -> Self {
        let root = context.workspace.trim_end_matches('/');
        let root = if root.is_empty() { "/".to_string() } else { root.to_string() };
        Workspace { root, writable: context.writable }
    }

    /// The root as an absolute guest path.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// Refuses a change when the call's grant is read-only.
    pub fn require_writable(&self, what: &str) -> Result<(), ToolError> {
        if self.writable {
            Ok(())
        } else {
            Err(ToolError::PermissionDenied(format!("cannot {what}: this call has a read-only grant on the workspace")))
        }
    }

    /// Resolves a path given by the caller (relative or absolute).
    pub fn resolve(&self, input: &str) -> Result<Resolved, ToolError> {
        let relative =
            if input.starts_with('/') { self.strip_root(input).ok_or_else(|| self.outside(input))? } else { input };
        let mut parts: Vec<&str> = Vec::new();
        for part in relative.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(self.outside(input));
                    }
                }
                name => parts.push(name),
            }
        }
        let rel = parts.join("/");
        Ok(Resolved { abs: self.join(&rel), rel })
    }

    /// The absolute guest path of a path relative to the root.
    pub fn join(&self, rel: &str) -> String {
        match (rel.is_empty(), self.root.as_str()) {
            (true, _) => self.root.clone(),
            (false, "/") => format!("/{rel}"),
            (false, root) => format!("{root}/{rel}"),
        }
    }

    fn strip_root<'a>(&self, abs: &'a str) -> Option<&'a str> {
        if self.root == "/" {
            return Some(abs);
        }
        let rest = abs.strip_prefix(self.root.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then_some(rest)
    }

    fn outside(&self, input: &str) -> ToolError {
        ToolError::OutsideWorkspace(format!("{input} is outside the workspace {}", self.root))
    }

    /// Turns an I/O error on `path` into a tool error that says what happened.
    pub fn io_error(&self, access: Access, path: &Resolved, error: io::Error) -> ToolError {
        let shown = &path.abs;
        if error.raw_os_error() == Some(ERRNO_NOT_PERMITTED) {
            return if access == Access::Write && !self.writable {
                ToolError::PermissionDenied(format!("cannot change {shown}: the workspace is read-only for this call"))
            } else {
                ToolError::OutsideWorkspace(format!(
                    "{shown} resolves outside the workspace {} (through a symlink?)",
                    self.root
                ))
            };
        }
        match error.kind() {
            io::ErrorKind::NotFound => ToolError::NotFound(format!("File not found: {shown}")),
            io::ErrorKind::PermissionDenied => ToolError::PermissionDenied(format!("permission denied: {shown}")),
            _ => ToolError::Failed(format!("{shown}: {error}")),
        }
    }
}
