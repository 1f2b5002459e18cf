//! What a call is about to change in the workspace, told before it changes it.
//!
//! Undo needs the state each file had before a step changed it. The sandbox
//! sees every change a component makes, because every one goes through a
//! handful of WASI functions: `open-at` for writing (which also covers the
//! writes through the handle it returns), `unlink-file-at`,
//! `remove-directory-at`, `create-directory-at`, `rename-at`, `symlink-at`
//! and `link-at`. For a call given a [`ChangeSink`], this module replaces
//! those (except `open-at`, which `special_files` replaces and which calls
//! [`before_open`]) with functions that first read what the path holds now
//! and hand it to the sink, once per path per call, then do what
//! wasmtime-wasi does. So the cost follows the files a step touches, never
//! the size of the workspace, and nothing is read for a call that writes
//! nothing.
//!
//! The prior state is read beneath the very directory handle the guest
//! named, as the change itself will resolve it, and FIFOs, sockets and
//! devices are never opened. Its workspace-relative name comes from the
//! kernel's name of that handle (`/proc/self/fd`), so a folder renamed
//! meanwhile is named where it is now.
//!
//! A removal also tells the call's disk budget that room was made (see
//! `disk_usage`), whether or not changes are captured.
//!
//! Renaming a directory moves everything under it, so the whole subtree is
//! told (as it was under the old name, and as absent under the new one), up
//! to [`MAX_SUBTREE`] entries.

use super::state::CallState;
use cap_std::fs::{Dir, PermissionsExt};
use std::collections::HashSet;
use std::os::fd::AsRawFd;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::FsPerms;
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::filesystem::types::{self as wasi, ErrorCode, HostDescriptor};

/// The interface whose functions are replaced.
const INTERFACE: &str = "wasi:filesystem/types@0.2.12";

/// The most entries a renamed directory may hold for its move to be kept.
pub const MAX_SUBTREE: usize = 10_000;

/// What a path held before a call first changed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prior {
    /// Nothing: the call made it.
    Absent,
    /// A directory (its entries are told one by one as they change).
    Directory,
    /// A symbolic link and its target, as written.
    Symlink(String),
    /// A regular file's bytes and permission bits.
    File { bytes: Vec<u8>, mode: u32 },
    /// Something that could not be kept, and why (too large, unreadable).
    Unkept(String),
}

/// Hears of every path a call is about to change.
pub trait ChangeSink: Send + Sync {
    /// Whether a file of `bytes` may be kept; `Err` says why not. A sink
    /// that says yes has counted the bytes against its budget.
    fn reserve(&self, bytes: u64) -> Result<(), String>;
    /// `path` (relative to the workspace root, `/`-separated) held `prior`
    /// before this call changed it.
    fn before_change(&self, path: &str, prior: Prior);
    /// The call ran `program` as a host process, whose changes the sandbox
    /// does not see (told once per program per call).
    fn outside_view(&self, program: &str);
}

/// A call's capture: its sink, the workspace root's current name and the
/// paths already told.
pub(crate) struct ChangeCapture {
    pub(super) sink: Arc<dyn ChangeSink>,
    /// The kernel's name of the workspace root, read once when first needed.
    root: Option<PathBuf>,
    pub(super) told: HashSet<String>,
}

impl ChangeCapture {
    pub(crate) fn new(sink: Arc<dyn ChangeSink>) -> Self {
        ChangeCapture { sink, root: None, told: HashSet::new() }
    }
}

/// How the last component of a changed path is read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Last {
    /// The entry itself (unlink, rename, mkdir, symlink).
    Entry,
    /// What a symlink there leads to (an open that follows links).
    Followed,
}

/// Tells the sink that the call runs `program` outside the sandbox's view.
pub(super) fn outside_view(state: &mut CallState, program: &str) {
    let Some(capture) = state.changes.as_mut() else { return };
    let program = Path::new(program).file_name().and_then(|n| n.to_str()).unwrap_or(program);
    if capture.told.insert(format!("\0process {program}")) {
        capture.sink.outside_view(program);
    }
}

/// Tells the sink what `path` beneath `parent` holds before an open for
/// writing changes it.
pub(super) fn before_open(state: &mut CallState, parent: &Resource<Descriptor>, path: &str, last: Last) {
    if let Some((dir, base)) = located(state, parent) {
        tell(state, &dir, &base, path, last);
    }
}

/// The guest directory behind `parent` as a cap-std handle and its name
/// below the workspace root, when the call captures changes and the
/// directory may be written at all.
fn located(state: &mut CallState, parent: &Resource<Descriptor>) -> Option<(Dir, PathBuf)> {
    let capture = state.changes.as_mut()?;
    let Ok(Descriptor::Dir(dir)) = state.table.get(parent) else { return None };
    if dir.perms != FsPerms::ReadWrite {
        return None;
    }
    let root = match &capture.root {
        Some(root) => root.clone(),
        None => capture.root.insert(kernel_name(state.grant.as_ref()?.dir().as_raw_fd())?).clone(),
    };
    let here = kernel_name(dir.dir.as_raw_fd())?;
    let base = here.strip_prefix(&root).ok()?.to_path_buf();
    let handle = dir.dir.try_clone().ok()?;
    Some((Dir::from_std_file(handle), base))
}

/// What the kernel calls the directory open as `fd` now.
fn kernel_name(fd: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()
}

/// Reads what `path` beneath `dir` (itself at `base` in the workspace) holds
/// and tells the sink, unless this call told it already.
fn tell(state: &mut CallState, dir: &Dir, base: &Path, path: &str, last: Last) {
    let Some(capture) = state.changes.as_mut() else { return };
    let Some((beneath, key)) = name_of(dir, base, path, last) else { return };
    if capture.told.contains(&key) {
        return;
    }
    let prior = read_prior(dir, &beneath, &*capture.sink);
    capture.told.insert(key.clone());
    capture.sink.before_change(&key, prior);
}

/// The path beneath `dir` the change will reach, and its workspace name:
/// the parent resolved as the kernel resolves it (links followed, beneath
/// `dir` only), then the last component, or the link's target for an open
/// that follows links. `None` for a path that names no entry of its own
/// (`.`, `..`, empty), which no change can create or remove.
fn name_of(dir: &Dir, base: &Path, path: &str, last: Last) -> Option<(PathBuf, String)> {
    let path = Path::new(path);
    let beneath = match last {
        Last::Followed => match dir.canonicalize(path) {
            Ok(target) => target,
            Err(_) => parent_resolved(dir, path)?,
        },
        Last::Entry => parent_resolved(dir, path)?,
    };
    let mut key = String::new();
    for part in base.join(&beneath).components() {
        match part {
            Component::Normal(name) => {
                if !key.is_empty() {
                    key.push('/');
                }
                key.push_str(name.to_str()?);
            }
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!key.is_empty()).then_some((beneath, key))
}

/// `path` with its parent resolved beneath `dir` and its last component kept.
fn parent_resolved(dir: &Dir, path: &Path) -> Option<PathBuf> {
    let Some(Component::Normal(name)) = path.components().next_back() else { return None };
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    let parent = match parent {
        Some(parent) => dir.canonicalize(parent).ok()?,
        None => PathBuf::new(),
    };
    Some(parent.join(name))
}

/// What `path` beneath `dir` holds, read without following a last link and
/// without opening anything but a regular file.
pub(super) fn read_prior(dir: &Dir, path: &Path, sink: &dyn ChangeSink) -> Prior {
    let meta = match dir.symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Prior::Absent,
        Err(e) => return Prior::Unkept(format!("cannot be read: {e}")),
    };
    let kind = meta.file_type();
    if kind.is_dir() {
        return Prior::Directory;
    }
    if kind.is_symlink() {
        return match dir.read_link_contents(path) {
            Ok(target) => match target.into_os_string().into_string() {
                Ok(target) => Prior::Symlink(target),
                Err(_) => Prior::Unkept("a link whose target is not UTF-8".into()),
            },
            Err(e) => Prior::Unkept(format!("cannot be read: {e}")),
        };
    }
    if !kind.is_file() {
        return Prior::Unkept("not a regular file".into());
    }
    if let Err(why) = sink.reserve(meta.len()) {
        return Prior::Unkept(why);
    }
    let read = super::special_files::open_regular(dir, path).and_then(|mut file| {
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        std::io::Read::read_to_end(&mut file, &mut bytes)?;
        Ok(bytes)
    });
    match read {
        Ok(bytes) => Prior::File { bytes, mode: meta.permissions().mode() & 0o7777 },
        Err(e) => Prior::Unkept(format!("cannot be read: {e}")),
    }
}

/// Tells the sink of everything under the directory `from` (beneath `dir`,
/// named `from_key` in the workspace) that a rename moves to `to_key`: each
/// entry as it is under the old name, and as absent under the new one.
fn tell_subtree(state: &mut CallState, dir: &Dir, from: &Path, from_key: &str, to_key: &str) {
    let Some(capture) = state.changes.as_mut() else { return };
    let Some(top) = open_folder(dir, from) else { return };
    let mut pending = vec![(top, String::new())];
    let mut seen = 0;
    while let Some((folder, below)) = pending.pop() {
        let Ok(entries) = folder.entries() else { continue };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_SUBTREE {
                let why = format!("a moved folder of more than {MAX_SUBTREE} entries");
                capture.sink.before_change(from_key, Prior::Unkept(why));
                return;
            }
            let Ok(name) = entry.file_name().into_string() else { continue };
            let inner = if below.is_empty() { name.clone() } else { format!("{below}/{name}") };
            let old = format!("{from_key}/{inner}");
            if capture.told.insert(old.clone()) {
                let prior = read_prior(&folder, Path::new(&name), &*capture.sink);
                capture.sink.before_change(&old, prior);
            }
            let new = format!("{to_key}/{inner}");
            if capture.told.insert(new.clone()) {
                capture.sink.before_change(&new, Prior::Absent);
            }
            if entry.file_type().is_ok_and(|t| t.is_dir())
                && let Some(sub) = open_folder(&folder, Path::new(&name))
            {
                pending.push((sub, inner));
            }
        }
    }
}

/// The directory `path` beneath `dir`, never through a link (still beneath
/// `dir` if it is swapped for one meanwhile: cap-std resolves it there).
fn open_folder(dir: &Dir, path: &Path) -> Option<Dir> {
    let meta = dir.symlink_metadata(path).ok()?;
    if !meta.is_dir() {
        return None;
    }
    dir.open_dir(path).ok()
}

type PathArgs = (Resource<Descriptor>, String);
type TwoPathArgs = (Resource<Descriptor>, String, Resource<Descriptor>, String);
type Done = wasmtime::Result<(Result<(), ErrorCode>,)>;

/// Replaces the functions that change paths, in a linker that already has
/// wasmtime-wasi's.
pub(super) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut types = linker.instance(INTERFACE)?;
    types.func_wrap_async("[method]descriptor.unlink-file-at", |mut store, (fd, path): PathArgs| {
        Box::new(async move {
            told_one(store.data_mut(), &fd, &path);
            let mut view = store.data_mut().filesystem();
            let done = HostDescriptor::unlink_file_at(&mut view, fd, path).await;
            if done.is_ok() {
                store.data().disk.made_room();
            }
            let mut view = store.data_mut().filesystem();
            finish(&mut view, done)
        })
    })?;
    types.func_wrap_async("[method]descriptor.remove-directory-at", |mut store, (fd, path): PathArgs| {
        Box::new(async move {
            told_one(store.data_mut(), &fd, &path);
            let mut view = store.data_mut().filesystem();
            let done = HostDescriptor::remove_directory_at(&mut view, fd, path).await;
            if done.is_ok() {
                store.data().disk.made_room();
            }
            let mut view = store.data_mut().filesystem();
            finish(&mut view, done)
        })
    })?;
    types.func_wrap_async("[method]descriptor.create-directory-at", |mut store, (fd, path): PathArgs| {
        Box::new(async move {
            told_one(store.data_mut(), &fd, &path);
            let mut view = store.data_mut().filesystem();
            let done = HostDescriptor::create_directory_at(&mut view, fd, path).await;
            finish(&mut view, done)
        })
    })?;
    types.func_wrap_async(
        "[method]descriptor.symlink-at",
        |mut store, (fd, target, path): (Resource<Descriptor>, String, String)| {
            Box::new(async move {
                told_one(store.data_mut(), &fd, &path);
                let mut view = store.data_mut().filesystem();
                let done = HostDescriptor::symlink_at(&mut view, fd, target, path).await;
                finish(&mut view, done)
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.link-at",
        |mut store, (fd, flags, old, new_fd, new): (Resource<Descriptor>, wasi::PathFlags, String, _, String)| {
            Box::new(async move {
                told_one(store.data_mut(), &new_fd, &new);
                let mut view = store.data_mut().filesystem();
                let done = HostDescriptor::link_at(&mut view, fd, flags, old, new_fd, new).await;
                finish(&mut view, done)
            })
        },
    )?;
    types.func_wrap_async("[method]descriptor.rename-at", |mut store, (fd, old, new_fd, new): TwoPathArgs| {
        Box::new(async move {
            told_rename(store.data_mut(), (&fd, &old), (&new_fd, &new));
            let mut view = store.data_mut().filesystem();
            let done = HostDescriptor::rename_at(&mut view, fd, old, new_fd, new).await;
            finish(&mut view, done)
        })
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Tells the sink of the one entry `path` beneath `fd` names.
fn told_one(state: &mut CallState, fd: &Resource<Descriptor>, path: &str) {
    if let Some((dir, base)) = located(state, fd) {
        tell(state, &dir, &base, path, Last::Entry);
    }
}

/// Tells the sink of both ends of a rename, and of a moved folder's contents.
fn told_rename(state: &mut CallState, from: (&Resource<Descriptor>, &str), to: (&Resource<Descriptor>, &str)) {
    let (Some((from_dir, from_base)), Some((to_dir, to_base))) = (located(state, from.0), located(state, to.0)) else {
        return;
    };
    let moved = name_of(&from_dir, &from_base, from.1, Last::Entry);
    let arrives = name_of(&to_dir, &to_base, to.1, Last::Entry);
    tell(state, &from_dir, &from_base, from.1, Last::Entry);
    tell(state, &to_dir, &to_base, to.1, Last::Entry);
    if let (Some((beneath, from_key)), Some((_, to_key))) = (moved, arrives)
        && from_dir.symlink_metadata(&beneath).is_ok_and(|m| m.is_dir())
    {
        tell_subtree(state, &from_dir, &beneath, &from_key, &to_key);
    }
}

/// wasmtime-wasi's result as the guest gets it.
fn finish(
    view: &mut wasmtime_wasi::filesystem::WasiFilesystemCtxView<'_>,
    done: wasmtime_wasi::p2::FsResult<()>,
) -> Done {
    match done {
        Ok(()) => Ok((Ok(()),)),
        Err(error) => Ok((Err(wasi::Host::convert_error_code(view, error)?),)),
    }
}
