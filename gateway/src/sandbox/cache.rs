//! Compiled components cached on disk, so a restart does not recompile.
//!
//! Compiling the file tools takes about a second; loading the compiled code
//! back is a memory map of a fraction of a millisecond. The key is a SHA-256
//! of the component's bytes and of the engine's compatibility hash (wasmtime
//! version, target and every setting that changes code), because compiled
//! code only loads into an engine configured exactly like the one that made
//! it. Entries are written to a temporary file and renamed into place, so a
//! crash or a concurrent start never leaves a half-written entry under a key;
//! an entry that fails to load anyway is compiled again and replaced.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled components live.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: Option<PathBuf>,
}

impl CompileCache {
    /// A cache in `dir`, created on first use.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        CompileCache { dir: Some(dir.into()) }
    }

    /// No cache: every start compiles.
    pub fn disabled() -> Self {
        CompileCache { dir: None }
    }

    /// Whether compiled code is kept at all.
    pub fn is_enabled(&self) -> bool {
        self.dir.is_some()
    }

    /// `$WASMGATE_CACHE_DIR`, else the user's cache folder.
    pub fn default_location() -> Self {
        match std::env::var_os("WASMGATE_CACHE_DIR") {
            Some(dir) => Self::at(dir),
            None => {
                dirs::cache_dir().map(|d| Self::at(d.join("wasmgate").join("components"))).unwrap_or(Self::disabled())
            }
        }
    }

    /// The component for `bytes`, whose SHA-256 is `digest` (in hex):
    /// loaded from the cache, or compiled and stored.
    pub fn load(&self, engine: &Engine, bytes: &[u8], digest: &str) -> wasmtime::Result<Component> {
        let Some(dir) = &self.dir else {
            return Component::new(engine, bytes);
        };
        let path = dir.join(format!("{}.cwasm", key(engine, digest)));
        if path.exists() {
            // SAFETY: the file was written by `Component::serialize` for an
            // engine with this compatibility hash (it is in the name), and
            // entries are only ever replaced by rename, never modified in place.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(error) => tracing::warn!("recompiling {}: {error:#}", path.display()),
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Err(error) = store(dir, &path, &component) {
            tracing::warn!("could not cache a compiled component in {}: {error}", dir.display());
        }
        Ok(component)
    }
}

/// The entry's name: the engine's compatibility hash and the component's
/// own digest (computed once per load, and shown as its identity), hashed.
fn key(engine: &Engine, digest: &str) -> String {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut engine_hash);
    let mut key = Sha256::new();
    key.update(engine_hash.finish().to_le_bytes());
    key.update(digest.as_bytes());
    key.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn store(dir: &Path, path: &Path, component: &Component) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let compiled = component.serialize().map_err(|e| std::io::Error::other(format!("{e:#}")))?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        std::process::id(),
        path.file_name().and_then(|n| n.to_str()).unwrap_or("entry")
    ));
    std::fs::write(&temp, compiled)?;
    std::fs::rename(&temp, path)
}
