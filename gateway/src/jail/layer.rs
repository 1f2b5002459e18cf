//! A jailed program's writes, held in a layer of their own until it ends,
//! so undo knows what each one replaced.
//!
//! The sandbox reads what a path held before a component changes it (see
//! `sandbox::change_capture`), but a real program writes with its own
//! system calls. So, where a call records its changes, the helper mounts an
//! overlay over the workspace inside the jail's private mount namespace:
//! the workspace is the lower layer and is never written; everything the
//! program writes lands in an upper folder the server made outside the
//! jail's rules (new and changed files, a whiteout for each removal, an
//! opaque folder for one made anew). The program sees its own writes at
//! once, under the workspace's own name; when it has ended, the server
//! applies the layer to the workspace through the grant, reading first
//! what every path it replaces held (`sandbox::process_changes`).
//!
//! Nothing here is looked up by name: the layers arrive as paths the server
//! made and are opened once, the overlay is made with the mount API
//! (`fsopen`, `fsmount`) and attached over the workspace's handle, and the
//! working folder is opened beneath the overlay's root by cap-std, so a
//! folder renamed meanwhile cannot lead outside it.
//!
//! The overlay runs with `userxattr` (an overlay in a user namespace keeps
//! its marks in `user.overlay.*`), which also means folders are never
//! renamed in place: a program's `mv dir other` copies, as across disks.

use serde::{Deserialize, Serialize};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// The layer's two folders, made by the server on one filesystem.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerSpec {
    /// Where the program's writes land.
    pub upper: PathBuf,
    /// The overlay's own scratch folder.
    pub work: PathBuf,
}

/// Mounts the overlay over the workspace (the handle on `workspace`, named
/// `name` in the host), puts the overlay's root on that descriptor in its
/// place, and returns the working folder `cwd` (relative to the workspace)
/// opened beneath it.
///
/// The inherited handle belongs to the server's mount namespace, which a
/// mount in this one cannot use, so the workspace is opened again by name
/// and used only if it is the very folder of the handle (same device and
/// inode).
pub(super) fn mount(layer: &LayerSpec, workspace: RawFd, name: &Path, cwd: &Path) -> Result<OwnedFd, String> {
    fn failed(what: &'static str) -> impl Fn(std::io::Error) -> String {
        move |e| format!("{} ({what}): {e}", super::LAYER_FAILED)
    }
    let reopened = std::fs::File::open(name).map_err(failed("the workspace"))?;
    let identity = |fd: std::os::fd::BorrowedFd| rustix::fs::fstat(fd).map(|stat| (stat.st_dev, stat.st_ino));
    // SAFETY: the workspace's descriptor is open for the helper's life.
    let inherited = unsafe { std::os::fd::BorrowedFd::borrow_raw(workspace) };
    if identity(reopened.as_fd()).ok() != identity(inherited).ok() {
        return Err(format!("{}: the workspace was moved or replaced meanwhile", super::LAYER_FAILED));
    }
    let upper = std::fs::File::open(&layer.upper).map_err(failed("its folder"))?;
    let work = std::fs::File::open(&layer.work).map_err(failed("its scratch folder"))?;
    let fd_path = |fd: RawFd| format!("/proc/self/fd/{fd}");
    let overlay = (|| {
        use rustix::mount::*;
        let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
        fsconfig_set_string(&fs, "lowerdir", fd_path(reopened.as_raw_fd()))?;
        fsconfig_set_string(&fs, "upperdir", fd_path(upper.as_raw_fd()))?;
        fsconfig_set_string(&fs, "workdir", fd_path(work.as_raw_fd()))?;
        fsconfig_set_flag(&fs, "userxattr")?;
        for off in ["index", "metacopy", "xino"] {
            fsconfig_set_string(&fs, off, "off")?;
        }
        fsconfig_create(&fs)?;
        let attributes = MountAttrFlags::MOUNT_ATTR_NOSUID | MountAttrFlags::MOUNT_ATTR_NODEV;
        let mounted = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attributes)?;
        let flags = MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH;
        move_mount(&mounted, "", &reopened, "", flags)?;
        Ok::<_, rustix::io::Errno>(mounted)
    })()
    .map_err(|e| format!("{} (mounting): {}", super::LAYER_FAILED, std::io::Error::from(e)))?;
    let root = cap_std::fs::Dir::from_std_file(
        rustix::fs::openat(
            &overlay,
            ".",
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map(std::fs::File::from)
        .map_err(|e| failed("its root")(e.into()))?,
    );
    let folder = match cwd.as_os_str().is_empty() {
        true => root.try_clone(),
        false => root.open_dir(cwd),
    }
    .map_err(failed("the working folder"))?;
    // The overlay's root replaces the workspace's handle, for Landlock's rule.
    // SAFETY: dup2 onto a descriptor this process owns; the copy closes with `root`.
    if unsafe { libc::dup2(root.as_fd().as_raw_fd(), workspace) } == -1 {
        return Err(failed("its root")(std::io::Error::last_os_error()));
    }
    // SAFETY: `folder`'s descriptor is handed over to the returned owner.
    Ok(unsafe { OwnedFd::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(folder.into_std_file())) })
}
