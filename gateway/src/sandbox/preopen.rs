//! WASI's preopens, made from the grant's handle.
//!
//! wasmtime-wasi's own preopen opens a directory by path. A workspace must
//! never be reopened by name (a folder swapped for a symlink would move the
//! boundary), so the call's WASI context has no preopen at all, and this
//! host's `get-directories` answers with the grant's directory handle,
//! duplicated for the guest: the guest's root is the very directory the
//! grant opened, with the grant's access. A guest that never touches files
//! never asks, and pays nothing for it.
//!
//! A tool whose policy narrows the grant to some of its folders gets one
//! preopen per folder instead, each opened beneath the grant's handle
//! (cap-std: a folder that is a symlink leading out, or that is not there,
//! is not opened and the tool gets nothing for it), named as the guest would
//! name it in the workspace, with the folder's access and never more than
//! the grant's.

use super::state::CallState;
use super::{Access, FolderRule, Grant};
use wasmtime::component::Linker;
use wasmtime_wasi::filesystem::{Descriptor, Dir};
use wasmtime_wasi::{FsPerms, OpenMode};

/// The interface whose `get-directories` is replaced.
const INTERFACE: &str = "wasi:filesystem/preopens@0.2.12";

/// Replaces `get-directories` in a linker that already has wasmtime-wasi's.
pub(super) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.instance(INTERFACE)?.func_wrap("get-directories", |mut store, (): ()| {
        let state: &mut CallState = store.data_mut();
        let Some(grant) = state.grant.clone() else { return Ok((Vec::new(),)) };
        // One duplicate of each handle per call, however often the guest
        // asks: each answer shares them, so asking cannot use up descriptors.
        let opened = match &state.preopens {
            Some(opened) => opened.clone(),
            None => state.preopens.insert(open(&grant, state.folders.as_deref())?).clone(),
        };
        let mut answer = Vec::with_capacity(opened.len());
        for (dir, name) in opened {
            answer.push((state.table.push(Descriptor::Dir(dir))?, name));
        }
        Ok((answer,))
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The guest's directories: the grant's root, or the policy's folders
/// beneath it that can be opened there.
fn open(grant: &Grant, folders: Option<&[FolderRule]>) -> std::io::Result<Vec<(Dir, String)>> {
    let Some(folders) = folders else {
        return Ok(vec![(wasi_dir(grant.dir().try_clone()?, grant.access())?, grant.guest_path().to_string())]);
    };
    let mut opened = Vec::with_capacity(folders.len());
    for folder in folders {
        let access = if grant.access() == Access::ReadWrite { folder.access } else { Access::ReadOnly };
        let dir = match folder.path.as_str() {
            "" => grant.dir().try_clone(),
            path => grant.dir().open_dir(path),
        };
        match dir {
            Ok(dir) => opened.push((wasi_dir(dir, access)?, folder_name(grant, &folder.path))),
            Err(error) => tracing::debug!(folder = folder.path, "a policy's folder is not opened: {error}"),
        }
    }
    Ok(opened)
}

/// Where the guest sees a folder of the grant.
pub(super) fn folder_name(grant: &Grant, path: &str) -> String {
    match path {
        "" => grant.guest_path().to_string(),
        path => format!("{}/{path}", grant.guest_path().trim_end_matches('/')),
    }
}

/// A directory handle of the grant's as a WASI directory of its own (a
/// duplicate, so the guest closing it leaves the grant's open).
fn wasi_dir(dir: cap_std::fs::Dir, access: Access) -> std::io::Result<Dir> {
    let (perms, mode) = match access {
        Access::ReadOnly => (FsPerms::ReadOnly, OpenMode::READ),
        Access::ReadWrite => (FsPerms::ReadWrite, OpenMode::READ | OpenMode::WRITE),
    };
    let handle = dir.into_std_file();
    // File calls run on the calling thread, as the sandbox's WASI context is
    // built to (`allow_blocking_current_thread`).
    Ok(Dir::new(handle, perms, mode, true))
}
