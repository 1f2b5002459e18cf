//! WASI's preopens, made from the grant's handle.
//!
//! wasmtime-wasi's own preopen opens a directory by path. A workspace must
//! never be reopened by name (a folder swapped for a symlink would move the
//! boundary), so the call's WASI context has no preopen at all, and this
//! host's `get-directories` answers with the grant's directory handle,
//! duplicated for the guest: the guest's root is the very directory the
//! grant opened, with the grant's access. A guest that never touches files
//! never asks, and pays nothing for it.

use super::state::CallState;
use super::{Access, Grant};
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
        // One duplicate of the handle per call, however often the guest
        // asks: each answer shares it, so asking cannot use up descriptors.
        let root = match &state.preopen {
            Some(root) => root.clone(),
            None => state.preopen.insert(root_of(&grant)?).clone(),
        };
        let root = state.table.push(Descriptor::Dir(root))?;
        Ok((vec![(root, grant.guest_path().to_string())],))
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The grant's directory as a WASI directory of its own (a duplicate of the
/// handle, so the guest closing it leaves the grant's open).
fn root_of(grant: &Grant) -> std::io::Result<Dir> {
    let (perms, mode) = match grant.access() {
        Access::ReadOnly => (FsPerms::ReadOnly, OpenMode::READ),
        Access::ReadWrite => (FsPerms::ReadWrite, OpenMode::READ | OpenMode::WRITE),
    };
    let handle = grant.dir().try_clone()?.into_std_file();
    // File calls run on the calling thread, as the sandbox's WASI context is
    // built to (`allow_blocking_current_thread`).
    Ok(Dir::new(handle, perms, mode, true))
}
