//! Reads a git repository from its files: refs, the index, and objects,
//! loose or packed (with delta chains), nothing more.
//!
//! wasmgate's version-control view (`GET /vcs/diff`) runs inside a
//! component, so a repository is parsed where a bug or a hostile packfile
//! costs a failed call and nothing else, and every path it opens (a `.git`
//! file's `gitdir:`, `objects/info/alternates`, a worktree's `commondir`)
//! resolves beneath the workspace's preopen or not at all. `gix` does not
//! build for `wasm32-wasip2` (`gix-path` needs the unstable `std::os::wasi`)
//! and `git2` is C, so this reads the handful of formats a diff needs
//! itself: it never writes, and it refuses what it does not know (SHA-256
//! repositories, index and idx versions it was not written for) rather
//! than guessing.
//!
//! It reads through `std::fs`, so it works natively (its tests build real
//! repositories with `git`) and in a WASI guest alike.

mod history;
mod index;
mod object;
mod pack;
mod refs;
mod store;

pub use history::merge_base;
pub use index::{Index, IndexEntry};
pub use object::{Commit, Kind, TreeEntry};
pub use refs::Head;

use std::fmt;
use std::path::{Path, PathBuf};

/// An object's SHA-1 name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Oid(pub [u8; 20]);

impl Oid {
    /// Parses 40 hex digits.
    pub fn from_hex(hex: &str) -> Option<Oid> {
        let hex = hex.as_bytes();
        if hex.len() != 40 {
            return None;
        }
        let mut out = [0u8; 20];
        for (i, pair) in hex.chunks(2).enumerate() {
            let digit = |c: u8| (c as char).to_digit(16);
            out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
        }
        Some(Oid(out))
    }

    /// The name git gives `bytes` stored as a blob (`git hash-object`).
    pub fn of_blob(bytes: &[u8]) -> Oid {
        use sha1::{Digest, Sha1};
        let mut hasher = Sha1::new();
        hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
        hasher.update(bytes);
        Oid(hasher.finalize().into())
    }

    /// The first `n` hex digits, as git abbreviates.
    pub fn short(&self, n: usize) -> String {
        let mut hex = self.to_string();
        hex.truncate(n);
        hex
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({self})")
    }
}

/// Why a repository could not be read.
#[derive(Debug)]
pub enum Error {
    Io(PathBuf, std::io::Error),
    /// A file that is not what git writes there.
    Corrupt(String),
    /// A format this reader does not handle.
    Unsupported(String),
    /// An object the repository does not have.
    Missing(Oid),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(path, e) => write!(f, "{}: {e}", path.display()),
            Error::Corrupt(what) => write!(f, "corrupt repository: {what}"),
            Error::Unsupported(what) => write!(f, "unsupported repository: {what}"),
            Error::Missing(oid) => write!(f, "object {oid} is missing"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn corrupt<T>(what: impl Into<String>) -> Result<T> {
    Err(Error::Corrupt(what.into()))
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Io(path.to_path_buf(), e))
}

/// Reads a file that may be absent.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io(path.to_path_buf(), e)),
    }
}

/// One repository: its git folder, the folder shared by its worktrees, and
/// its object store.
pub struct Repository {
    git_dir: PathBuf,
    common_dir: PathBuf,
    objects: store::Objects,
}

impl Repository {
    /// The repository whose working tree is `worktree` (a `.git` folder, or
    /// a `.git` file naming one), or `None` when there is none.
    pub fn at_worktree(worktree: &Path) -> Result<Option<Repository>> {
        let dot_git = worktree.join(".git");
        let meta = match std::fs::metadata(&dot_git) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::Io(dot_git, e)),
        };
        let git_dir = if meta.is_dir() {
            dot_git
        } else {
            let text =
                String::from_utf8(read_file(&dot_git)?).map_err(|_| Error::Corrupt(".git is not text".into()))?;
            let Some(target) = text.trim_end().strip_prefix("gitdir: ") else {
                return corrupt(".git names no gitdir");
            };
            worktree.join(target)
        };
        Repository::open(git_dir).map(Some)
    }

    /// The repository in the git folder `git_dir`.
    pub fn open(git_dir: PathBuf) -> Result<Repository> {
        match std::fs::metadata(&git_dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(Error::Io(git_dir, std::io::ErrorKind::NotADirectory.into())),
            Err(e) => return Err(Error::Io(git_dir, e)),
        }
        let common_dir = match read_optional(&git_dir.join("commondir"))? {
            Some(text) => git_dir.join(String::from_utf8_lossy(&text).trim_end()),
            None => git_dir.clone(),
        };
        if let Some(config) = read_optional(&common_dir.join("config"))? {
            let config = String::from_utf8_lossy(&config).to_ascii_lowercase();
            if config.lines().any(|l| l.replace(' ', "").starts_with("objectformat=sha256")) {
                return Err(Error::Unsupported("SHA-256 object names".into()));
            }
        }
        let objects = store::Objects::open(&common_dir.join("objects"))?;
        Ok(Repository { git_dir, common_dir, objects })
    }

    /// The git folder.
    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// An object's kind and content.
    pub fn object(&self, oid: Oid) -> Result<(Kind, Vec<u8>)> {
        self.objects.read(oid)
    }

    /// A commit, parsed.
    pub fn commit(&self, oid: Oid) -> Result<Commit> {
        match self.object(oid)? {
            (Kind::Commit, data) => Commit::parse(&data),
            (kind, _) => corrupt(format!("{oid} is a {kind:?}, not a commit")),
        }
    }

    /// A blob's content.
    pub fn blob(&self, oid: Oid) -> Result<Vec<u8>> {
        match self.object(oid)? {
            (Kind::Blob, data) => Ok(data),
            (kind, _) => corrupt(format!("{oid} is a {kind:?}, not a blob")),
        }
    }

    /// Every file of a tree, at any depth, by its path (`/`-separated).
    /// Submodules are left out; names no checkout could write (`..`, a
    /// slash, `.git`) are refused.
    pub fn tree_files(&self, tree: Oid) -> Result<std::collections::BTreeMap<String, TreeEntry>> {
        let mut files = std::collections::BTreeMap::new();
        let mut pending = vec![(String::new(), tree)];
        while let Some((prefix, oid)) = pending.pop() {
            let data = match self.object(oid)? {
                (Kind::Tree, data) => data,
                (kind, _) => return corrupt(format!("{oid} is a {kind:?}, not a tree")),
            };
            for entry in object::parse_tree(&data)? {
                let path = format!("{prefix}{}", entry.name);
                match entry.mode {
                    0o040000 => pending.push((format!("{path}/"), entry.oid)),
                    0o160000 => {}
                    _ => {
                        files.insert(path, entry);
                    }
                }
            }
        }
        Ok(files)
    }
}

#[cfg(test)]
mod tests;
