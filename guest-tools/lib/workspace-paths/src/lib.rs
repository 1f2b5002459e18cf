//! Resolves the paths a tool is given against the one directory it may see.
//!
//! Shared by every built-in tool component, and tested natively.
//!
//! A path may be relative to the workspace or absolute inside it. Resolution
//! is lexical (no filesystem access): `..` that climbs above the root or an
//! absolute path elsewhere is refused here with a clear message. Symlinks are
//! not resolved here: WASI refuses to follow one out of the preopen, and
//! [`Workspace::io_error`] turns that refusal into the same clear message.
//!
//! [`replace_contents`] is how a tool replaces a file's contents without
//! losing them to a write refused for space.

use std::io;

/// The errno for "operation not permitted": what WASI answers when a path
/// leaves the preopen or a write meets a read-only grant. wasi-libc numbers
/// it 63; elsewhere (where this crate's tests run) it is POSIX's EPERM.
#[cfg(target_os = "wasi")]
const ERRNO_NOT_PERMITTED: i32 = 63;
#[cfg(not(target_os = "wasi"))]
const ERRNO_NOT_PERMITTED: i32 = 1;

/// Why a path cannot be used. Each tool turns it into its own error type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// The path names something outside the workspace.
    Outside(String),
    /// Nothing is there.
    NotFound(String),
    /// The grant or the file's permissions forbid the operation.
    PermissionDenied(String),
    /// Any other I/O failure.
    Failed(String),
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathError::Outside(m) | PathError::NotFound(m) | PathError::PermissionDenied(m) | PathError::Failed(m) => {
                f.write_str(m)
            }
        }
    }
}

impl std::error::Error for PathError {}

/// The workspace of one call.
#[derive(Debug, Clone)]
pub struct Workspace {
    root: String,
    writable: bool,
}

/// A path inside the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Workspace {
    /// The workspace rooted at the absolute guest path `root`.
    pub fn new(root: &str, writable: bool) -> Self {
        let root = root.trim_end_matches('/');
        let root = if root.is_empty() { "/".to_string() } else { root.to_string() };
        Workspace { root, writable }
    }

    /// The root as an absolute guest path.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// Refuses a change when the call's grant is read-only.
    pub fn require_writable(&self, what: &str) -> Result<(), PathError> {
        if self.writable {
            Ok(())
        } else {
            Err(PathError::PermissionDenied(format!("cannot {what}: this call has a read-only grant on the workspace")))
        }
    }

    /// Resolves a path given by the caller (relative or absolute).
    pub fn resolve(&self, input: &str) -> Result<Resolved, PathError> {
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

    fn outside(&self, input: &str) -> PathError {
        PathError::Outside(format!("{input} is outside the workspace {}", self.root))
    }

    /// The metadata of `path` (following symlinks), refusing anything that is
    /// neither a regular file nor a folder: opening a FIFO blocks until a
    /// writer appears, and a device is no source file, so tools never open
    /// either. A missing path is `Ok(None)`.
    pub fn openable(&self, access: Access, path: &Resolved) -> Result<Option<std::fs::Metadata>, PathError> {
        match std::fs::metadata(&path.abs) {
            Ok(meta) if meta.is_file() || meta.is_dir() => Ok(Some(meta)),
            Ok(_) => Err(PathError::Failed(format!(
                "{} is not a regular file (a FIFO, socket or device); tools do not open those",
                path.abs
            ))),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(self.io_error(access, path, error)),
        }
    }

    /// Turns an I/O error on `path` into an error that says what happened.
    pub fn io_error(&self, access: Access, path: &Resolved, error: io::Error) -> PathError {
        let shown = &path.abs;
        if error.raw_os_error() == Some(ERRNO_NOT_PERMITTED) {
            return if access == Access::Write && !self.writable {
                PathError::PermissionDenied(format!("cannot change {shown}: the workspace is read-only for this call"))
            } else {
                PathError::Outside(format!("{shown} resolves outside the workspace {} (through a symlink?)", self.root))
            };
        }
        match error.kind() {
            io::ErrorKind::NotFound => PathError::NotFound(format!("File not found: {shown}")),
            io::ErrorKind::PermissionDenied => PathError::PermissionDenied(format!("permission denied: {shown}")),
            _ => PathError::Failed(format!("{shown}: {error}")),
        }
    }
}

/// Implements `From<PathError>` for a component's generated `tool-error`
/// type, whose variants every component shares through the WIT package:
/// `workspace_paths::tool_error_from_path_error!(ToolError);`
#[macro_export]
macro_rules! tool_error_from_path_error {
    ($tool_error:ty) => {
        impl From<$crate::PathError> for $tool_error {
            fn from(error: $crate::PathError) -> Self {
                match error {
                    $crate::PathError::Outside(m) => <$tool_error>::OutsideWorkspace(m),
                    $crate::PathError::NotFound(m) => <$tool_error>::NotFound(m),
                    $crate::PathError::PermissionDenied(m) => <$tool_error>::PermissionDenied(m),
                    $crate::PathError::Failed(m) => <$tool_error>::Failed(m),
                }
            }
        }
    };
}

/// Replaces the contents of the file at `path` with `bytes` so that a
/// refused write (a full disk, the workspace's disk quota) leaves the file
/// as it was: the file is grown to its new length first, the one step that
/// can be refused for space, then written over, then cut to length. Unlike
/// writing a new file and renaming it over the old one, this keeps the
/// file's permissions and links, which WASI cannot set.
pub fn replace_contents(path: &str, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let existed = std::fs::symlink_metadata(path).is_ok();
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(path)?;
    let (old, new) = (file.metadata()?.len(), bytes.len() as u64);
    if new > old
        && let Err(refused) = file.set_len(new)
    {
        if !existed {
            let _ = std::fs::remove_file(path);
        }
        return Err(refused);
    }
    file.write_all(bytes)?;
    if new < old {
        file.set_len(new)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws() -> Workspace {
        Workspace::new("/home/me/proj/", true)
    }

    #[test]
    fn relative_paths_resolve_inside() {
        let r = ws().resolve("src/./lib.rs").unwrap();
        assert_eq!(r.abs, "/home/me/proj/src/lib.rs");
        assert_eq!(r.rel, "src/lib.rs");
        assert_eq!(ws().resolve("a/b/../c").unwrap().rel, "a/c");
        assert_eq!(ws().resolve(".").unwrap().display(), ".");
    }

    #[test]
    fn absolute_paths_inside_are_made_relative() {
        assert_eq!(ws().resolve("/home/me/proj/x/y").unwrap().rel, "x/y");
        assert_eq!(ws().resolve("/home/me/proj").unwrap().rel, "");
    }

    #[test]
    fn climbing_out_or_pointing_elsewhere_is_outside() {
        for path in ["..", "../proj2/x", "a/../../b", "/home/me/proj2/x", "/etc/passwd", "/home/me"] {
            let error = ws().resolve(path).unwrap_err();
            assert!(matches!(error, PathError::Outside(_)), "{path}: {error:?}");
            assert!(error.to_string().contains("outside the workspace /home/me/proj"), "{error}");
        }
    }

    #[test]
    fn a_root_workspace_joins_without_doubling_the_slash() {
        let root = Workspace::new("/", false);
        assert_eq!(root.resolve("etc/hosts").unwrap().abs, "/etc/hosts");
        assert_eq!(root.resolve("/etc/hosts").unwrap().rel, "etc/hosts");
    }

    #[test]
    fn a_read_only_workspace_refuses_changes() {
        let ro = Workspace::new("/w", false);
        assert!(matches!(ro.require_writable("write files"), Err(PathError::PermissionDenied(_))));
        assert!(ws().require_writable("write files").is_ok());
    }

    #[test]
    fn only_files_and_folders_are_openable() {
        let dir = std::env::temp_dir().join(format!("workspace-paths-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("file"), "x").unwrap();
        let ws = Workspace::new(dir.to_str().unwrap(), true);
        let file = ws.resolve("file").unwrap();
        assert!(ws.openable(Access::Read, &file).unwrap().unwrap().is_file());
        assert!(ws.openable(Access::Read, &ws.resolve(".").unwrap()).unwrap().unwrap().is_dir());
        assert!(ws.openable(Access::Read, &ws.resolve("missing").unwrap()).unwrap().is_none());
        let null = Workspace::new("/dev", false);
        let error = null.openable(Access::Read, &null.resolve("null").unwrap()).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn not_permitted_means_outside_for_reads_and_read_only_for_writes() {
        let path = Workspace::new("/w", false).resolve("link").unwrap();
        let eperm = || io::Error::from_raw_os_error(ERRNO_NOT_PERMITTED);
        let read: PathError = Workspace::new("/w", false).io_error(Access::Read, &path, eperm());
        assert!(matches!(read, PathError::Outside(_)), "{read:?}");
        let write: PathError = Workspace::new("/w", false).io_error(Access::Write, &path, eperm());
        assert!(matches!(write, PathError::PermissionDenied(_)), "{write:?}");
        let missing: PathError = ws().io_error(Access::Read, &path, io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(missing, PathError::NotFound("File not found: /w/link".into()));
    }

    #[test]
    fn replacing_contents_keeps_the_file_and_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("replace-contents-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("script.sh");
        std::fs::write(&path, "echo a long first version\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let name = path.to_str().unwrap();
        replace_contents(name, b"short\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "short\n");
        replace_contents(name, b"a longer second version\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a longer second version\n");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o755);
        replace_contents(dir.join("new.txt").to_str().unwrap(), b"new").unwrap();
        assert_eq!(std::fs::read(dir.join("new.txt")).unwrap(), b"new");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
