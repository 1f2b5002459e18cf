//! Maps the directory a client names onto what the sandbox may reach.
//!
//! OpenCode lets a client pick any directory per request (`?directory=`, the
//! `x-opencode-directory` header, a session's own folder). wasmgate resolves
//! every such name here and only here: it must be, after symlinks, inside one
//! of the folders the server was started to serve, or the request is refused.
//! The result carries the project the directory belongs to and the grants the
//! sandbox calls receive, cached per name so a hot route does no file system
//! work. Tenant scoping will be added at this one place.

use crate::sandbox::Grant;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How many resolved names are remembered before the cache starts over.
const CACHE_LIMIT: usize = 4096;

/// Why a directory cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkspaceError {
    /// The directory is not inside a served folder.
    #[error("{0} is outside the folders this server serves")]
    Outside(String),
    /// The directory does not exist (or is not a directory).
    #[error("directory not found: {0}")]
    NotFound(String),
    /// The directory exists but a grant on it could not be opened.
    #[error("cannot open {0}: {1}")]
    Unreadable(String, String),
}

/// One directory a client works in.
#[derive(Debug)]
pub struct Workspace {
    /// The directory, canonical, as sessions and events name it.
    pub directory: String,
    /// The project it belongs to.
    pub project: Project,
    /// A read-write grant on the directory, for shell commands and edits.
    pub grant: Grant,
    /// A read-only grant on the directory, for the file and search routes.
    pub read_only: Grant,
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

/// Resolves and caches directories.
pub struct Workspaces {
    roots: Vec<PathBuf>,
    default: Arc<Workspace>,
    cache: Mutex<HashMap<String, Arc<Workspace>>>,
    started: i64,
}

impl Workspaces {
    /// Serves `default` and every folder of `more`.
    pub fn new(default: &Path, more: &[PathBuf]) -> Result<Self, WorkspaceError> {
        let started = crate::ids::now_millis();
        let canonical = |p: &Path| p.canonicalize().map_err(|_| WorkspaceError::NotFound(p.display().to_string()));
        let root = canonical(default)?;
        let mut roots = vec![root.clone()];
        for folder in more {
            roots.push(canonical(folder)?);
        }
        let default = Arc::new(open(&root, started)?);
        Ok(Self { roots, default, cache: Mutex::new(HashMap::new()), started })
    }

    /// The served folder, used when a request names none.
    pub fn default(&self) -> Arc<Workspace> {
        self.default.clone()
    }

    /// Every folder clients may open (and their subfolders).
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// The workspace for a directory a client named.
    pub fn resolve(&self, requested: &str) -> Result<Arc<Workspace>, WorkspaceError> {
        if let Some(workspace) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(requested) {
            return Ok(workspace.clone());
        }
        let path = Path::new(requested);
        if !path.is_absolute() {
            return Err(WorkspaceError::Outside(requested.to_string()));
        }
        let canonical = match path.canonicalize() {
            Ok(canonical) if canonical.is_dir() => canonical,
            // Say "outside" for a missing folder outside the roots, so the
            // answer does not reveal what exists elsewhere on the host.
            _ if !self.roots.iter().any(|root| path.starts_with(root)) => {
                return Err(WorkspaceError::Outside(requested.to_string()));
            }
            _ => return Err(WorkspaceError::NotFound(requested.to_string())),
        };
        if !self.roots.iter().any(|root| canonical.starts_with(root)) {
            return Err(WorkspaceError::Outside(requested.to_string()));
        }
        let workspace = if canonical == Path::new(&self.default.directory) {
            self.default.clone()
        } else {
            Arc::new(open(&canonical, self.started)?)
        };
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(requested.to_string(), workspace.clone());
        Ok(workspace)
    }
}

fn open(directory: &Path, started: i64) -> Result<Workspace, WorkspaceError> {
    let name = directory.display().to_string();
    let unreadable = |e: std::io::Error| WorkspaceError::Unreadable(name.clone(), e.to_string());
    let grant = Grant::read_write(directory).map_err(unreadable)?;
    let read_only = Grant::read_only(directory).map_err(unreadable)?;
    Ok(Workspace { project: project_of(directory, started), directory: name, grant, read_only })
}

/// Finds the git repository around `directory`, reading only `.git` metadata.
fn project_of(directory: &Path, started: i64) -> Project {
    let repository = directory.ancestors().find(|folder| folder.join(".git").exists());
    let Some(worktree) = repository else {
        return Project {
            id: "global".into(),
            worktree: directory.display().to_string(),
            git: false,
            branch: None,
            created: started,
        };
    };
    let git = worktree.join(".git");
    // The reference caches its project id in `.git/opencode`; reuse it so both
    // servers agree. Otherwise derive a stable id from the worktree's path.
    let id = std::fs::read_to_string(git.join("opencode"))
        .ok()
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(worktree.as_os_str().as_encoded_bytes());
            digest[..20].iter().map(|b| format!("{b:02x}")).collect()
        });
    let branch = std::fs::read_to_string(git.join("HEAD"))
        .ok()
        .and_then(|head| head.trim().strip_prefix("ref: refs/heads/").map(str::to_string));
    Project { id, worktree: worktree.display().to_string(), git: true, branch, created: started }
}
