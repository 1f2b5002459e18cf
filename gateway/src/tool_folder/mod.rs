//! The operator's tools folder: the third-party tool components a server
//! loads beside the built-ins, and how they get in and out of it.
//!
//! The folder is `--tools-dir` (or the config's `tools_dir`), else the data
//! folder's `tools`. A component is one file, `NAME.wasm`; `wasmgate tool
//! add` checks it loads beside the others before it writes it, and writes it
//! under a hidden name first and renames it into place, so a server reading
//! the folder never meets half a file of `tool add`'s (one copied in by hand
//! may be met half-written: it fails to load and the previous version keeps
//! serving until the copy is whole). A serving process follows the folder as
//! it changes (see [`watch`]), unless the folder lies inside a folder it
//! serves: there a model's write would install a tool, so such a folder is
//! read at start and on `SIGHUP` only.

mod inspect;
mod watch;

pub use inspect::{Inspection, inspect};
pub use watch::watch;

use std::io::Write;
use std::path::{Path, PathBuf};

/// The longest component name.
const MAX_NAME: usize = 64;

/// Why the folder refused a change.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("{0:?} is not a component name: use letters, digits, '-' and '_' (at most 64), not starting with '-'")]
    BadName(String),
    #[error("{0} is a built-in component: it cannot be replaced or removed")]
    BuiltIn(String),
    #[error("no component {name} in {folder}{installed}")]
    NotInstalled { name: String, folder: PathBuf, installed: String },
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
}

/// One tools folder.
#[derive(Debug, Clone)]
pub struct ToolFolder {
    dir: PathBuf,
}

impl ToolFolder {
    /// The folder at `dir` (made on the first install).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        ToolFolder { dir: dir.into() }
    }

    /// The default: the data folder's `tools`.
    pub fn of_data_folder(data: &Path) -> Self {
        Self::at(data.join("tools"))
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The installed components' names, in name order.
    pub fn names(&self) -> Result<Vec<String>, FolderError> {
        match crate::sandbox::component_files(&self.dir) {
            Ok(files) => Ok(files.into_iter().map(|(name, _)| name).collect()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(error) => Err(self.io(error)),
        }
    }

    /// Writes `bytes` as the component `name`, whole or not at all (replacing
    /// one of that name). Returns whether one was replaced.
    pub fn install(&self, name: &str, bytes: &[u8]) -> Result<bool, FolderError> {
        check_name(name)?;
        std::fs::create_dir_all(&self.dir).map_err(|e| self.io(e))?;
        let target = self.dir.join(format!("{name}.wasm"));
        let replaced = target.exists();
        let mut temp = tempfile::Builder::new()
            .prefix(".adding-")
            .suffix(".tmp")
            .tempfile_in(&self.dir)
            .map_err(|e| self.io(e))?;
        temp.write_all(bytes).and_then(|()| temp.as_file().sync_all()).map_err(|e| self.io(e))?;
        temp.persist(&target).map_err(|e| FolderError::Io { path: target.clone(), error: e.error })?;
        Ok(replaced)
    }

    /// Removes the component `name`.
    pub fn remove(&self, name: &str) -> Result<(), FolderError> {
        check_name(name)?;
        let target = self.dir.join(format!("{name}.wasm"));
        match std::fs::remove_file(&target) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let installed = self.names()?;
                let installed = if installed.is_empty() {
                    String::new()
                } else {
                    format!(" (installed: {})", installed.join(", "))
                };
                Err(FolderError::NotInstalled { name: name.to_string(), folder: self.dir.clone(), installed })
            }
            Err(error) => Err(FolderError::Io { path: target, error }),
        }
    }

    fn io(&self, error: std::io::Error) -> FolderError {
        FolderError::Io { path: self.dir.clone(), error }
    }
}

/// The first of `roots` that holds `folder` (or is it), by their real paths.
pub fn within<'a>(folder: &Path, roots: &'a [PathBuf]) -> Option<&'a Path> {
    let folder = folder.canonicalize().unwrap_or_else(|_| folder.to_path_buf());
    roots.iter().map(PathBuf::as_path).find(|root| root.canonicalize().is_ok_and(|root| folder.starts_with(root)))
}

/// A name a component may be installed under: a plain file name, not a
/// built-in's (whose tools a server loads first, so a twin would only be
/// refused later, or shadow it in what `tool list` shows).
pub fn check_name(name: &str) -> Result<(), FolderError> {
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if name.is_empty() || name.len() > MAX_NAME || name.starts_with('-') || !name.chars().all(plain) {
        return Err(FolderError::BadName(name.to_string()));
    }
    if crate::builtin::COMPONENTS.iter().any(|&(builtin, _)| builtin == name) {
        return Err(FolderError::BuiltIn(name.to_string()));
    }
    Ok(())
}

/// The name a component file is installed under: its file name without
/// `.wasm`.
pub fn name_of(path: &Path) -> Result<String, FolderError> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    check_name(stem)?;
    Ok(stem.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_and_not_built_in() {
        for good in ["jq", "md-outline", "unit_calc2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "../x", "a/b", ".hidden", "-flag", "a b", "ä", &"x".repeat(65)] {
            assert!(matches!(check_name(bad), Err(FolderError::BadName(_))), "{bad:?}");
        }
        assert!(matches!(check_name("files"), Err(FolderError::BuiltIn(_))));
    }

    #[test]
    fn installs_whole_replaces_and_removes() {
        let dir = tempfile::tempdir().unwrap();
        let folder = ToolFolder::at(dir.path().join("tools"));
        assert_eq!(folder.names().unwrap(), Vec::<String>::new(), "a missing folder holds nothing");
        assert!(!folder.install("one", b"first").unwrap());
        assert!(folder.install("one", b"second").unwrap());
        assert_eq!(std::fs::read(dir.path().join("tools/one.wasm")).unwrap(), b"second");
        let files: Vec<_> = std::fs::read_dir(dir.path().join("tools")).unwrap().collect();
        assert_eq!(files.len(), 1, "no temporary file is left behind");
        assert_eq!(folder.names().unwrap(), ["one"]);
        let missing = folder.remove("two").unwrap_err().to_string();
        assert!(missing.contains("no component two") && missing.contains("installed: one"), "{missing}");
        folder.remove("one").unwrap();
        assert_eq!(folder.names().unwrap(), Vec::<String>::new());
    }
}
