//! A serving process follows its tools folder: a component added, changed
//! or removed there (by `wasmgate tool add`, a copy, a deploy) serves the
//! next calls, with no restart and no signal.
//!
//! The kernel tells of changes (inotify, through the `notify` crate; where it
//! cannot, the folder is polled); once the folder has been quiet for a
//! moment the sandbox reads it again (`Sandbox::reload_tools_dir`), which
//! keeps what did not change, loads what did, and keeps a component's
//! previous version serving when its new file does not load. `SIGHUP` still
//! reloads at once.

use crate::sandbox::Sandbox;
use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecursiveMode, Watcher};
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the folder must stay quiet before it is read: a copy of a
/// 20 MB component arrives in many writes.
const QUIET: Duration = Duration::from_millis(300);

/// How often the folder is read where the kernel cannot tell of changes.
const POLL: Duration = Duration::from_secs(2);

/// Follows the sandbox's tools folder for as long as the process serves.
/// Does nothing for a sandbox without one.
pub fn watch(sandbox: Sandbox) {
    let Some(dir) = sandbox.tools_dir().map(Path::to_path_buf) else { return };
    let (changed, mut changes) = mpsc::unbounded_channel();
    let handler = move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| concerns_components(&e)) {
            let _ = changed.send(());
        }
    };
    let watcher: Box<dyn Watcher + Send> = match notify::recommended_watcher(handler.clone()) {
        Ok(watcher) => Box::new(watcher),
        Err(error) => {
            tracing::warn!(dir = %dir.display(), "polling the tools folder: the kernel cannot watch it ({error})");
            match notify::PollWatcher::new(handler, notify::Config::default().with_poll_interval(POLL)) {
                Ok(watcher) => Box::new(watcher),
                Err(error) => {
                    tracing::error!(dir = %dir.display(), "not following the tools folder (SIGHUP reloads it): {error}");
                    return;
                }
            }
        }
    };
    let mut watcher = watcher;
    if let Err(error) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
        tracing::error!(dir = %dir.display(), "not following the tools folder (SIGHUP reloads it): {error}");
        return;
    }
    tokio::spawn(async move {
        let _watching = watcher;
        while changes.recv().await.is_some() {
            // Settle: every change until the folder is quiet is one reload.
            while let Ok(Some(())) = tokio::time::timeout(QUIET, changes.recv()).await {}
            if let Err(error) = sandbox.reload_tools_dir().await {
                tracing::error!(dir = %dir.display(), "cannot read the tools folder: {error}");
            }
        }
    });
}

/// Whether an event may change what the folder serves: a write, creation,
/// rename or removal of a visible `*.wasm` file (not the reads a reload
/// makes, nor `tool add`'s hidden temporary file).
fn concerns_components(event: &notify::Event) -> bool {
    let writes = match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    };
    let component = |path: &Path| {
        path.extension().is_some_and(|e| e == "wasm")
            && path.file_name().and_then(|n| n.to_str()).is_some_and(|n| !n.starts_with('.'))
    };
    writes && (event.paths.is_empty() || event.paths.iter().any(|p| component(p)))
}
