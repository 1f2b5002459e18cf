//! WASI's `open-at`, refusing everything but regular files and directories.
//!
//! Opening a FIFO blocks in the kernel until a peer appears, and a device
//! node reads or writes forever; no epoch reaches a thread stuck there. So
//! for every component, built-in or not, this host's `open-at` replaces
//! wasmtime-wasi's: the same resolution beneath the parent directory handle
//! (cap-primitives, as wasmtime-wasi uses) and the same flag and permission
//! rules, but the open is non-blocking and the opened file is checked with
//! `fstat` before the guest gets it. The check is on the file that was
//! opened, so swapping a file for a FIFO between two calls cannot slip past.
//! An open for writing first tells the call's change capture what the file
//! holds (see `change_capture`).

use super::change_capture::{self, Last};
use super::state::CallState;
use cap_primitives::fs::{FollowSymlinks, OpenOptions};
use std::os::fd::AsRawFd;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi::filesystem::{Descriptor, Dir, File};
use wasmtime_wasi::p2::bindings::filesystem::types::{DescriptorFlags, ErrorCode, OpenFlags, PathFlags};
use wasmtime_wasi::{FsPerms, OpenMode};

/// The interface whose `open-at` is replaced (guests importing any 0.2.x
/// version link to it).
const INTERFACE: &str = "wasi:filesystem/types@0.2.12";

/// Opens `path` beneath `dir` to read, only if it is a regular file: never
/// through a last link, without blocking on a FIFO, and checked on what was
/// opened (a FIFO or device swapped in after a look is never read). For the
/// host's own reads of workspace files.
pub(super) fn open_regular(dir: &cap_std::fs::Dir, path: &std::path::Path) -> std::io::Result<cap_std::fs::File> {
    let mut options = cap_std::fs::OpenOptions::new();
    options.read(true);
    cap_std::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW | libc::O_NONBLOCK);
    let file = dir.open_with(path, &options)?;
    match file.metadata()?.is_file() {
        true => Ok(file),
        false => Err(std::io::Error::other("not a regular file")),
    }
}

/// Replaces `open-at` in a linker that already has wasmtime-wasi's WASI.
pub(super) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.instance(INTERFACE)?.func_wrap(
        "[method]descriptor.open-at",
        |mut store, (parent, path_flags, path, open_flags, flags): OpenAtArgs| {
            let state: &mut CallState = store.data_mut();
            let writes = open_flags.intersects(OpenFlags::CREATE | OpenFlags::TRUNCATE)
                || flags.contains(DescriptorFlags::WRITE);
            if writes {
                let follows = path_flags.contains(PathFlags::SYMLINK_FOLLOW);
                let last = if follows { Last::Followed } else { Last::Entry };
                change_capture::before_open(state, &parent, &path, last);
            }
            Ok((open_at(&mut state.table, &parent, path_flags, &path, open_flags, flags)?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

type OpenAtArgs = (Resource<Descriptor>, PathFlags, String, OpenFlags, DescriptorFlags);

/// Opens `path` beneath `parent` as wasmtime-wasi would, but never blocks
/// and never hands out a FIFO, socket or device. An unknown handle traps, as
/// it does in wasmtime-wasi; everything else is an error code for the guest.
fn open_at(
    table: &mut ResourceTable,
    parent: &Resource<Descriptor>,
    path_flags: PathFlags,
    path: &str,
    open_flags: OpenFlags,
    flags: DescriptorFlags,
) -> wasmtime::Result<Result<Resource<Descriptor>, ErrorCode>> {
    let Descriptor::Dir(dir) = table.get(parent)? else { return Ok(Err(ErrorCode::NotDirectory)) };
    let opened = match open_beneath(dir, path_flags, path, open_flags, flags) {
        Ok(opened) => opened,
        Err(code) => return Ok(Err(code)),
    };
    Ok(Ok(table.push(opened)?))
}

fn open_beneath(
    dir: &Dir,
    path_flags: PathFlags,
    path: &str,
    open_flags: OpenFlags,
    flags: DescriptorFlags,
) -> Result<Descriptor, ErrorCode> {
    let mut options = OpenOptions::new();
    let mut mode = OpenMode::empty();
    let creates = open_flags.contains(OpenFlags::CREATE);
    if creates {
        if open_flags.contains(OpenFlags::EXCLUSIVE) {
            options.create_new(true);
        } else {
            options.create(true);
        }
        options.write(true);
        mode |= OpenMode::WRITE;
    }
    if open_flags.contains(OpenFlags::TRUNCATE) {
        options.truncate(true).write(true);
        mode |= OpenMode::WRITE;
    }
    if flags.contains(DescriptorFlags::WRITE) {
        options.write(true);
        mode |= OpenMode::WRITE;
    }
    if flags.contains(DescriptorFlags::READ) || !flags.contains(DescriptorFlags::WRITE) {
        // Opened for reading when not for writing, as wasmtime-wasi does, so
        // the OS lets it open and the permissions refuse the rest later.
        options.read(true);
        mode |= OpenMode::READ;
    }
    // `follow` and `nonblock` are cap-primitives' own (re-exported by
    // cap-fs-ext); wasmtime-wasi sets the first the same way.
    let follow = if path_flags.contains(PathFlags::SYMLINK_FOLLOW) { FollowSymlinks::Yes } else { FollowSymlinks::No };
    options._cap_fs_ext_follow(follow);
    options._cap_fs_ext_nonblock(true);
    if flags.intersects(
        DescriptorFlags::FILE_INTEGRITY_SYNC
            | DescriptorFlags::DATA_INTEGRITY_SYNC
            | DescriptorFlags::REQUESTED_WRITE_SYNC,
    ) {
        return Err(ErrorCode::Unsupported);
    }
    if open_flags.contains(OpenFlags::DIRECTORY)
        && open_flags.intersects(OpenFlags::CREATE | OpenFlags::EXCLUSIVE | OpenFlags::TRUNCATE)
    {
        return Err(ErrorCode::Invalid);
    }
    if dir.perms == FsPerms::ReadOnly && (creates || mode.contains(OpenMode::WRITE)) {
        return Err(ErrorCode::NotPermitted);
    }

    let file = cap_primitives::fs::open(&dir.dir, path.as_ref(), &options).map_err(ErrorCode::from)?;
    let kind = file.metadata().map_err(ErrorCode::from)?.file_type();
    if kind.is_dir() {
        return Ok(Descriptor::Dir(Dir::new(file, dir.perms, mode, true)));
    }
    if open_flags.contains(OpenFlags::DIRECTORY) {
        return Err(ErrorCode::NotDirectory);
    }
    if !kind.is_file() {
        // A FIFO, socket or device: closed again before anyone reads it.
        return Err(ErrorCode::Access);
    }
    blocking(&file).map_err(ErrorCode::from)?;
    Ok(Descriptor::File(File::new(file, dir.perms, mode, true)))
}

/// Clears `O_NONBLOCK` again: it means nothing to a regular file, but the
/// guest asked for an ordinary descriptor and gets one.
fn blocking(file: &std::fs::File) -> std::io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: plain fcntl calls on a descriptor this function borrows.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
