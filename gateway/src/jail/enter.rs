//! The helper's side: `wasmgate __jail` builds the jail around itself
//! and runs the command inside.
//!
//! It runs before anything else in `main`, in a process with one thread,
//! which the namespaces need. The order matters:
//!
//! 1. new user, pid, mount, network, ipc and uts namespaces, the user's own
//!    id mapped to itself (so files keep their owner);
//! 2. a fork: the child is pid 1 of the new pid namespace, killed if the
//!    helper dies (the server kills the helper at the deadline); when pid 1
//!    ends, the kernel kills every process left in the namespace, so nothing
//!    a command starts outlives it;
//! 3. in the child: a private `/proc` of the new tree, the loopback up,
//!    the working folder entered by its handle, the rlimits, Landlock, the
//!    capability bounding set emptied, seccomp last (it forbids `mount`);
//! 4. the command replaces the child; the helper waits and exits with its
//!    status (and, where the host allows egress, serves the jail's proxy
//!    meanwhile, see [`super::egress`]).
//!
//! Any step that fails ends the helper with status 125 and a message on
//! stderr, before the command could run.

use super::{CWD_FD, JAIL_FAILED, Spec, WORKSPACE_FD};
use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Enters a jail if this process was started as the helper; `None` for
/// any other command line.
pub fn helper_main() -> Option<ExitCode> {
    if std::env::args_os().nth(1).as_deref() != Some(OsStr::new(super::HELPER_ARG)) {
        return None;
    }
    let spec = std::env::var_os(super::SPEC_VARIABLE);
    let status = match spec.map(|spec| serde_json::from_slice::<Spec>(spec.as_encoded_bytes())) {
        Some(Ok(spec)) => run(&spec).unwrap_or_else(|message| failed(&message)),
        Some(Err(e)) => failed(&format!("the jail's description is unreadable: {e}")),
        None => failed("no jail description"),
    };
    Some(ExitCode::from(status))
}

fn failed(message: &str) -> u8 {
    let _ = writeln!(std::io::stderr(), "wasmgate jail: {message}");
    JAIL_FAILED as u8
}

/// Makes the namespaces, forks pid 1, and waits for it.
fn run(spec: &Spec) -> Result<u8, String> {
    // SAFETY: plain syscalls on this process's own ids.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    // The working folder's name, read while its handle's mount is still
    // this namespace's (see `enter_working_folder`).
    let cwd = std::fs::read_link(format!("/proc/self/fd/{CWD_FD}")).map_err(|e| format!("the working folder: {e}"))?;
    // With a write layer, the working folder is found again beneath the
    // overlay by its place in the workspace.
    let cwd = match spec.layer {
        Some(_) => {
            let workspace = std::fs::read_link(format!("/proc/self/fd/{WORKSPACE_FD}"))
                .map_err(|e| format!("the workspace: {e}"))?;
            let within = cwd.strip_prefix(&workspace).map_err(|_| "the working folder is outside the workspace")?;
            WorkingFolder::Within { within: within.to_path_buf(), workspace }
        }
        None => WorkingFolder::Named(cwd),
    };
    // The egress gate stays in the host's network (see `egress`).
    let gate = spec.egress.as_ref().map(super::egress::open_gate).transpose()?;
    let namespaces = libc::CLONE_NEWUSER
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS;
    // SAFETY: a plain syscall; this process has one thread.
    check(unsafe { libc::unshare(namespaces) }, "new namespaces (are user namespaces allowed?)")?;
    write_file("/proc/self/setgroups", "deny")?;
    write_file("/proc/self/uid_map", &format!("{uid} {uid} 1"))?;
    write_file("/proc/self/gid_map", &format!("{gid} {gid} 1"))?;
    let proxy = match gate {
        Some(gate) => {
            loopback_up()?;
            Some((super::egress::listen()?, gate))
        }
        None => None,
    };
    // Pid 1 holds the read end: it closes when the helper is gone.
    let mut alive = [0; 2];
    // SAFETY: a plain syscall filling a two-element array.
    check(unsafe { libc::pipe2(alive.as_mut_ptr(), libc::O_CLOEXEC) }, "a pipe")?;
    // SAFETY: this process has one thread, so the child may do anything.
    match unsafe { libc::fork() } {
        -1 => Err(format!("fork: {}", std::io::Error::last_os_error())),
        0 => {
            // SAFETY: closes this process's copy of the write end.
            unsafe { libc::close(alive[1]) };
            let message = init(spec, &cwd, alive[0]);
            std::process::exit(failed(&message).into())
        }
        child => {
            if let Some((listener, gate)) = proxy {
                super::egress::start_forwarder(listener, gate)?;
            }
            wait(child)
        }
    }
}

/// Waits for pid 1 and returns its status as a shell reports it. The
/// helper's other children are reaped on the way: pid 1 cannot finish
/// exiting while the egress forwarder, pid 2 of its tree, is an unreaped
/// zombie.
fn wait(child: libc::pid_t) -> Result<u8, String> {
    let mut status = 0;
    loop {
        // SAFETY: waits for this process's own children.
        let waited = unsafe { libc::waitpid(-1, &mut status, 0) };
        if waited == child {
            break;
        }
        if waited == -1 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("waiting: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status) as u8
    } else {
        128u8.wrapping_add(libc::WTERMSIG(status) as u8)
    })
}

/// Where the command starts.
enum WorkingFolder {
    /// The folder of the inherited handle, by its name in the host.
    Named(PathBuf),
    /// The folder `within` the workspace (named `workspace` in the host),
    /// under a write layer, whose overlay covers the workspace's folders.
    Within { workspace: PathBuf, within: PathBuf },
}

/// Pid 1: finishes the jail and becomes the command. Returns only on failure.
fn init(spec: &Spec, cwd: &WorkingFolder, helper_alive: libc::c_int) -> String {
    match confine(spec, cwd, helper_alive) {
        Err(message) => message,
        Ok(()) if spec.argv.is_empty() => std::process::exit(0),
        Ok(()) => {
            let program = &spec.argv[0];
            let error = std::process::Command::new(program)
                .args(&spec.argv[1..])
                .env_clear()
                .envs(spec.env.iter().map(|(k, v)| (k, v)))
                .exec();
            if error.kind() == std::io::ErrorKind::NotFound {
                let _ = writeln!(std::io::stderr(), "bash: {program}: command not found");
                std::process::exit(127);
            }
            let _ = writeln!(std::io::stderr(), "bash: {program}: {error}");
            std::process::exit(126)
        }
    }
}

fn confine(spec: &Spec, cwd: &WorkingFolder, helper_alive: libc::c_int) -> Result<(), String> {
    // SAFETY: plain syscalls with valid arguments.
    unsafe {
        check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL), "parent-death signal")?;
        // The helper may have died before the signal was set: then its end
        // of the pipe is closed.
        let mut poll = libc::pollfd { fd: helper_alive, events: libc::POLLIN, revents: 0 };
        if libc::poll(&mut poll, 1, 0) != 0 {
            return Err("the helper is gone".into());
        }
        libc::close(helper_alive);
    }
    mount_proc()?;
    loopback_up()?;
    match (cwd, &spec.layer) {
        (WorkingFolder::Within { workspace, within }, Some(layer)) => {
            let folder = super::layer::mount(layer, WORKSPACE_FD, workspace, within)?;
            enter(folder.as_raw_fd())?;
        }
        (WorkingFolder::Named(name), _) => enter(enter_working_folder(name)?.as_raw_fd())?,
        (WorkingFolder::Within { .. }, None) => return Err("no write layer".into()),
    }
    set_limits(spec)?;
    super::filesystem::restrict(spec, WORKSPACE_FD)?;
    // SAFETY: the workspace's rule is made; nothing needs the handle now.
    unsafe { libc::close(WORKSPACE_FD) };
    drop_capabilities()?;
    super::syscalls::restrict()
}

/// The working folder, to enter. Its handle belongs to the server's mount
/// namespace, where paths would read as unreachable from this one, so the
/// folder is opened again by name here, and used only if it is the very
/// folder of the handle (same device and inode): a folder renamed or
/// replaced meanwhile is refused, never entered.
fn enter_working_folder(path: &Path) -> Result<std::fs::File, String> {
    let refused = |e: std::io::Error| format!("entering the working folder: {e}");
    let reopened = std::fs::File::open(path).map_err(refused)?;
    let identity = |fd: libc::c_int| {
        // SAFETY: fstat fills a zeroed struct for a descriptor this process holds.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        check(unsafe { libc::fstat(fd, &mut stat) }, "the working folder").map(|()| (stat.st_dev, stat.st_ino))
    };
    if identity(reopened.as_raw_fd())? != identity(CWD_FD)? {
        return Err("the working folder was moved or replaced while the jail was built".into());
    }
    Ok(reopened)
}

/// Makes `folder` the working folder; the inherited handle is closed, no
/// longer needed.
fn enter(folder: RawFd) -> Result<(), String> {
    // SAFETY: fchdir to a directory this process holds, and a close of the
    // inherited descriptor nothing else uses.
    unsafe {
        check(libc::fchdir(folder), "entering the working folder")?;
        libc::close(CWD_FD);
    }
    Ok(())
}

/// A `/proc` showing the jail's processes only.
fn mount_proc() -> Result<(), String> {
    let none = c"none";
    // SAFETY: plain syscalls with NUL-terminated strings.
    unsafe {
        check(
            libc::mount(
                none.as_ptr(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ),
            "making mounts private",
        )?;
        check(
            libc::mount(
                c"proc".as_ptr(),
                c"/proc".as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            ),
            "mounting /proc",
        )
    }
}

/// Brings up the new network namespace's loopback, so a test suite may
/// talk to itself on 127.0.0.1 (and to nothing else).
fn loopback_up() -> Result<(), String> {
    // SAFETY: an ioctl on a socket this function owns, with a zeroed ifreq.
    unsafe {
        let socket = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        check(socket, "a socket for the loopback")?;
        let mut request: libc::ifreq = std::mem::zeroed();
        for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
            *slot = *byte as libc::c_char;
        }
        let result = (|| {
            check(libc::ioctl(socket, libc::SIOCGIFFLAGS, &mut request), "reading the loopback")?;
            request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            check(libc::ioctl(socket, libc::SIOCSIFFLAGS, &request), "bringing up the loopback")
        })();
        libc::close(socket);
        result
    }
}

/// Sets each limit, never above the host's own hard limit (which this
/// process could not raise).
fn set_limits(spec: &Spec) -> Result<(), String> {
    let limits = spec.limits;
    for (resource, value, name) in [
        (libc::RLIMIT_CPU, limits.cpu_seconds, "CPU time"),
        (libc::RLIMIT_DATA, limits.memory, "memory"),
        (libc::RLIMIT_FSIZE, limits.file_size, "file size"),
        (libc::RLIMIT_NPROC, limits.processes, "processes"),
        (libc::RLIMIT_NOFILE, limits.open_files, "open files"),
        (libc::RLIMIT_CORE, 0, "core files"),
    ] {
        let mut current = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: plain syscalls with valid structs.
        check(unsafe { libc::getrlimit(resource, &mut current) }, name)?;
        let value = value.min(current.rlim_max);
        let limit = libc::rlimit { rlim_cur: value, rlim_max: value };
        check(unsafe { libc::setrlimit(resource, &limit) }, name)?;
    }
    Ok(())
}

/// Empties the bounding and ambient sets: the command (uid 0 in its user
/// namespace where the server runs as root) gains no capability at exec.
fn drop_capabilities() -> Result<(), String> {
    // SAFETY: plain prctl calls.
    unsafe {
        for capability in 0..=63 {
            let dropped = libc::prctl(libc::PR_CAPBSET_DROP, capability, 0, 0, 0);
            if dropped != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
                return Err(format!("dropping capabilities: {}", std::io::Error::last_os_error()));
            }
        }
        check(
            libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0),
            "clearing ambient capabilities",
        )?;
        check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no new privileges")
    }
}

fn write_file(path: &str, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{path}: {e}"))
}

fn check(result: libc::c_int, what: &str) -> Result<(), String> {
    match result {
        -1 => Err(format!("{what}: {}", std::io::Error::last_os_error())),
        _ => Ok(()),
    }
}
