//! Maps the directory a client names onto what the sandbox may reach.
//!
//! OpenCode lets a client pick any directory per request (`?directory=`, the
//! `x-opencode-directory` header, a session's own folder). wasmgate resolves
//! every such name here and only here, and never by following the name on
//! the host: each served folder (a *root*) is opened once at start as a
//! directory handle, and a requested name is accepted only if it spells a
//! path under a root, whose rest is then opened *beneath* the root's handle
//! (cap-std: `..`, absolute and symlinked components cannot leave it). That
//! happens at every request, so a folder swapped for a symlink between two
//! requests is judged anew, and what the sandbox gets is the opened handle.
//!
//! Workspaces are remembered by the folder they opened (its canonical name
//! and inode), never by the string a client sent, so a thousand spellings of
//! one folder cost one handle. The project a folder belongs to is found by
//! reading `.git` beneath the same root handle, never above a root, regular
//! files only and size-capped.
//!
//! Each tenant has its own `Workspaces` over its own roots ([`Owner`]): a
//! tenant's requests resolve names only there, its workspaces name it (so
//! its sessions and events carry it), and their grants carry its quota.

use crate::sandbox::{Access, Follow, Grant, Quota, read_regular};
use cap_std::ambient_authority;
use cap_std::fs::{Dir, MetadataExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How many folders keep an open workspace; past it the least recently
/// resolved one is let go (sessions using it keep their own handle).
const CACHE_LIMIT: usize = 256;
/// The most a `.git` metadata file may hold; a longer one is ignored.
const GIT_FILE_LIMIT: u64 = 4096;

/// Why a directory cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkspaceError {
    /// The directory is not inside a served folder, or its name leads out
    /// of one. Said the same whether or not such a folder exists.
    #[error("{0} is outside the folders this server serves")]
    Outside(String),
    /// The directory, inside a served folder, does not exist (or is not a
    /// directory).
    #[error("directory not found: {0}")]
    NotFound(String),
    /// The host ran out of file descriptors (or another resource) opening it.
    #[error("cannot open {0} now: {1}")]
    Exhausted(String, String),
    /// The directory exists but could not be opened.
    #[error("cannot open {0}: {1}")]
    Unreadable(String, String),
}

/// One directory a client works in.
#[derive(Debug)]
pub struct Workspace {
    /// The directory, canonical when it was opened, as sessions and events
    /// name it.
    pub directory: String,
    /// The project it belongs to.
    pub project: Project,
    /// A read-write grant on the directory, for shell commands and edits.
    pub grant: Grant,
    /// A read-only grant on the same handle, for the file and search routes.
    pub read_only: Grant,
    /// The tenant whose folder this is (`None`: the server's own user).
    pub tenant: Option<String>,
    /// Which folder on disk this is, to tell it from a later one of the same
    /// name.
    identity: (u64, u64),
}

/// Whose workspaces a [`Workspaces`] opens: the tenant they belong to and
/// the quota their grants carry (neither for the server's own user).
#[derive(Debug, Clone, Default)]
pub struct Owner {
    pub tenant: Option<String>,
    pub quota: Option<Arc<Quota>>,
}

impl Workspace {
    /// The scope of the events this workspace's sessions publish.
    pub fn scope(&self) -> crate::events::Scope {
        crate::events::Scope::Instance {
            tenant: self.tenant.clone(),
            directory: self.directory.clone(),
            project: self.project.id.clone(),
        }
    }

    /// `relative` (a path inside the workspace) with its symlinks resolved
    /// beneath the workspace, relative to it (`.` for the workspace itself):
    /// what a file rule should see. A part that does not exist yet is kept
    /// as written; `None` when the path leads out of the workspace.
    pub fn resolve_path(&self, relative: &str) -> Option<String> {
        let dir = self.grant.dir();
        let mut existing = Path::new(relative);
        let mut missing = Vec::new();
        let mut resolved = loop {
            let probe = if existing.as_os_str().is_empty() { Path::new(".") } else { existing };
            match dir.canonicalize(probe) {
                Ok(found) => break found,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    missing.push(existing.file_name()?);
                    existing = existing.parent()?;
                }
                Err(_) => return None,
            }
        };
        resolved.extend(missing.iter().rev());
        let text = resolved.to_str()?.trim_start_matches("./").to_string();
        Some(if text.is_empty() { ".".into() } else { text })
    }
}

/// The project a directory belongs to (`GET /project/current`).
#[derive(Debug, Clone)]
pub struct Project {
    /// `"global"` outside git; otherwise a stable id of the repository.
    pub id: String,
    /// The repository's top folder (the directory itself outside git).
    pub worktree: String,
    /// Whether the worktree is a git repository.
    pub git: bool,
    /// The branch `.git/HEAD` names, if any.
    pub branch: Option<String>,
    /// When the server first saw the project (ms).
    pub created: i64,
}

impl Project {
    /// The project as JSON.
    pub fn to_json(&self) -> Value {
        let mut project = json!({
            "id": self.id,
            "worktree": self.worktree,
            "time": { "created": self.created, "updated": self.created },
            "sandboxes": [],
        });
        if self.git {
            project["vcs"] = json!("git");
        }
        project
    }
}

/// A served folder: its handle, and the names an operator may know it by.
struct Root {
    handle: Arc<Dir>,
    /// The canonical name, which every workspace beneath it is named under.
    canonical: PathBuf,
    /// The name as the operator gave it (made absolute), when it differs:
    /// a client started in a symlinked folder sends that spelling.
    given: Option<PathBuf>,
}

impl Root {
    fn open(folder: &Path) -> Result<Root, WorkspaceError> {
        let not_found = || WorkspaceError::NotFound(folder.display().to_string());
        let canonical = folder.canonicalize().map_err(|_| not_found())?;
        let handle = Dir::open_ambient_dir(&canonical, ambient_authority()).map_err(|_| not_found())?;
        let given = std::path::absolute(folder).ok().map(|p| normalize(&p)).filter(|p| *p != canonical);
        Ok(Root { handle: Arc::new(handle), canonical, given })
    }

    /// What `requested` names beneath this root, if it is spelled under it.
    fn beneath<'a>(&self, requested: &'a Path) -> Option<&'a Path> {
        requested
            .strip_prefix(&self.canonical)
            .ok()
            .or_else(|| self.given.as_ref().and_then(|given| requested.strip_prefix(given).ok()))
    }
}

/// Resolves directories and remembers the workspaces they open.
pub struct Workspaces {
    roots: Vec<Root>,
    default: Arc<Workspace>,
    cache: Mutex<Cache>,
    started: i64,
    owner: Owner,
}

/// Workspaces by canonical folder, with a use counter for eviction.
#[derive(Default)]
struct Cache {
    entries: HashMap<PathBuf, (Arc<Workspace>, u64)>,
    clock: u64,
}

impl Workspaces {
    /// Serves `default` and every folder of `more` to the server's own user.
    pub fn new(default: &Path, more: &[PathBuf]) -> Result<Self, WorkspaceError> {
        Self::owned(default, more, Owner::default())
    }

    /// Serves `default` and every folder of `more` to `owner`.
    pub fn owned(default: &Path, more: &[PathBuf], owner: Owner) -> Result<Self, WorkspaceError> {
        let started = crate::ids::now_millis();
        let mut roots = vec![Root::open(default)?];
        for folder in more {
            roots.push(Root::open(folder)?);
        }
        if let Some(quota) = &owner.quota {
            quota.watch_roots(roots.iter().map(|root| root.handle.clone()).collect());
        }
        let root = &roots[0];
        let identity = identity(&root.handle).map_err(|e| opening_failed(&root.canonical.display().to_string(), e))?;
        let default = Arc::new(workspace(root, root.handle.clone(), identity, &root.canonical, started, &owner)?);
        Ok(Self { roots, default, cache: Mutex::new(Cache::default()), started, owner })
    }

    /// The served folder, used when a request names none.
    pub fn default(&self) -> Arc<Workspace> {
        self.default.clone()
    }

    /// The workspace for a directory a client named, opened beneath the root
    /// the name is spelled under.
    pub fn resolve(&self, requested: &str) -> Result<Arc<Workspace>, WorkspaceError> {
        let outside = || WorkspaceError::Outside(requested.to_string());
        let path = Path::new(requested);
        if !path.is_absolute() {
            return Err(outside());
        }
        let (root, rest) =
            self.roots.iter().find_map(|root| root.beneath(path).map(|rest| (root, rest))).ok_or_else(outside)?;
        let opened = if rest.as_os_str().is_empty() { root.handle.try_clone() } else { root.handle.open_dir(rest) };
        let handle = opened.map_err(|e| opening_failed(requested, e))?;
        let identity = identity(&handle).map_err(|e| opening_failed(requested, e))?;
        // The folder's own name now, as the kernel knows the open handle:
        // not the client's spelling, and inside the root by construction.
        let canonical = name_of(&handle).map_err(|e| opening_failed(requested, e))?;
        if !canonical.starts_with(&root.canonical) {
            return Err(outside());
        }
        if identity == self.default.identity && canonical == Path::new(&self.default.directory) {
            return Ok(self.default.clone());
        }
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.clock += 1;
        let now = cache.clock;
        if let Some((workspace, used)) = cache.entries.get_mut(&canonical)
            && workspace.identity == identity
        {
            *used = now;
            return Ok(workspace.clone());
        }
        drop(cache);
        let workspace = Arc::new(workspace(root, Arc::new(handle), identity, &canonical, self.started, &self.owner)?);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.entries.len() >= CACHE_LIMIT
            && let Some(oldest) = cache.entries.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone())
        {
            cache.entries.remove(&oldest);
        }
        cache.entries.insert(canonical, (workspace.clone(), now));
        Ok(workspace)
    }
}

/// A workspace over an opened folder, `identity` named `canonical`, beneath
/// `root`.
fn workspace(
    root: &Root,
    handle: Arc<Dir>,
    identity: (u64, u64),
    canonical: &Path,
    started: i64,
    owner: &Owner,
) -> Result<Workspace, WorkspaceError> {
    let directory = canonical
        .to_str()
        .ok_or_else(|| WorkspaceError::Unreadable(canonical.display().to_string(), "the name is not UTF-8".into()))?
        .to_string();
    let project = project_of(root, canonical, started);
    let mut grant = Grant::from_handle(handle, directory.clone(), Access::ReadWrite);
    if let (Some(tenant), Some(quota)) = (&owner.tenant, &owner.quota) {
        grant = grant.for_tenant(tenant, quota.clone());
    }
    let read_only = grant.with_access(Access::ReadOnly);
    Ok(Workspace { directory, project, grant, read_only, tenant: owner.tenant.clone(), identity })
}

fn opening_failed(requested: &str, error: io::Error) -> WorkspaceError {
    let name = requested.to_string();
    match error.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM) => WorkspaceError::Exhausted(name, error.to_string()),
        // cap-std's answer to a name that leads out of the root (`..`, an
        // absolute or outward symlink), given before anything past the root
        // is looked at: the same "outside" a name elsewhere gets.
        Some(libc::EXDEV | libc::EPERM) => WorkspaceError::Outside(name),
        // A name too long, or symlinks in a loop: nothing to serve there.
        Some(libc::ENAMETOOLONG | libc::ELOOP) => WorkspaceError::NotFound(name),
        _ => match error.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => WorkspaceError::NotFound(name),
            io::ErrorKind::PermissionDenied => WorkspaceError::Outside(name),
            _ => WorkspaceError::Unreadable(name, error.to_string()),
        },
    }
}

/// The device and inode of an open folder.
fn identity(handle: &Dir) -> io::Result<(u64, u64)> {
    let meta = handle.dir_metadata()?;
    Ok((meta.dev(), meta.ino()))
}

/// The name the kernel gives an open folder now.
fn name_of(handle: &Dir) -> io::Result<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", handle.as_fd().as_raw_fd()))
}

/// `path` with `.` components and repeated separators dropped (`..` kept:
/// only the root's handle may judge where it leads).
fn normalize(path: &Path) -> PathBuf {
    path.components().filter(|c| !matches!(c, Component::CurDir)).collect()
}

/// Finds the git repository around `canonical`, looking only at `.git`
/// entries between it and its root, through the root's handle.
fn project_of(root: &Root, canonical: &Path, started: i64) -> Project {
    let rest = canonical.strip_prefix(&root.canonical).unwrap_or(Path::new(""));
    let mut worktree = None;
    for within in rest.ancestors() {
        let git = within.join(".git");
        match root.handle.symlink_metadata(&git) {
            Ok(meta) if meta.is_dir() => {
                worktree = Some((within.to_path_buf(), true));
                break;
            }
            // A `.git` file (a linked worktree or submodule): a repository
            // whose metadata lives elsewhere, which is not read.
            Ok(meta) if meta.is_file() => {
                worktree = Some((within.to_path_buf(), false));
                break;
            }
            _ => {}
        }
    }
    let Some((within, has_metadata)) = worktree else {
        return Project {
            id: "global".into(),
            worktree: canonical.display().to_string(),
            git: false,
            branch: None,
            created: started,
        };
    };
    let worktree = root.canonical.join(&within);
    let git = within.join(".git");
    let read = |name: &str| has_metadata.then(|| small_file(&root.handle, &git.join(name))).flatten();
    // The reference caches its project id in `.git/opencode`; reuse it so both
    // servers agree. Otherwise derive a stable id from the worktree's path.
    let id = read("opencode")
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or_else(|| {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(worktree.as_os_str().as_encoded_bytes());
            digest[..20].iter().map(|b| format!("{b:02x}")).collect()
        });
    let branch = read("HEAD").and_then(|head| head.trim().strip_prefix("ref: refs/heads/").map(str::to_string));
    Project { id, worktree: worktree.display().to_string(), git: true, branch, created: started }
}

/// A small regular file beneath `root`, as text: no symlink is followed at
/// its last component, nothing but a regular file is read, and nothing over
/// [`GIT_FILE_LIMIT`].
fn small_file(root: &Dir, path: &Path) -> Option<String> {
    String::from_utf8(read_regular(root, path, GIT_FILE_LIMIT, Follow::No).ok()?).ok()
}
