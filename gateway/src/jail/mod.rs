//! Jailed processes: the real programs an agent needs to check its own work
//! (`cargo test`, `python3 -m pytest`, `git diff`), run so that they reach
//! only the call's grant.
//!
//! The server never confines itself. It starts its own binary again as a
//! small helper (`wasmgate __jail`), handing it the workspace and the
//! working folder as inherited directory handles, and the helper, alone in a
//! fresh single-threaded process, builds the jail around itself before it
//! runs the command (see [`enter`]):
//!
//! - **namespaces** (user, pid, mount, network, ipc, uts): the command is
//!   pid 1 of a process tree that ends with it, with a `/proc` of that tree
//!   only and a network holding nothing but its own loopback;
//! - **Landlock** ([`filesystem`]): the workspace (read-only under a
//!   read-only grant), the system's folders and the host's toolchain homes
//!   read-only, a private temporary folder, and nothing else; signals and
//!   abstract sockets cannot reach outside the jail;
//! - **seccomp** ([`syscalls`]): no ptrace, mounts, keyrings, bpf, new
//!   namespaces, io_uring, or sockets other than TCP/UDP;
//! - **network**: the jail's own loopback only, unless the host allows
//!   egress: then HTTPS to the hosts it lists, through a proxy that checks
//!   each connection ([`egress`]);
//! - **a write layer** ([`layer`]) where the call records its changes:
//!   the program writes into an overlay, applied to the workspace when it
//!   has ended, so undo knows what it replaced;
//! - **rlimits**: CPU time, memory, file size, processes and open files;
//! - no capabilities, no new privileges, and an environment made of what
//!   the host and the script set explicitly, never the server's.
//!
//! Why Landlock and not bubblewrap: Landlock is a kernel interface any
//! process may use on itself (no setuid helper, no package to install), it
//! confines root as well, and its rules are made from handles the server
//! already holds, so no path is looked up twice. bubblewrap builds a new
//! root from bind mounts by path and is one more program a host must keep.
//!
//! Every step fails closed: a kernel without what the jail needs (Landlock
//! ABI 6, user namespaces, seccomp) makes [`Jail::probe`] fail, and the
//! server refuses to start in `jailed` mode rather than run anything
//! unconfined.

pub mod egress;
pub mod enter;
mod filesystem;
mod layer;
mod syscalls;

use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// The helper's only argument: `wasmgate __jail` enters a jail.
pub const HELPER_ARG: &str = "__jail";
/// The variable the helper reads its [`Spec`] from (an environment, unlike
/// a command line, is not readable by other users of the host).
const SPEC_VARIABLE: &str = "WASMGATE_JAIL";
/// The descriptor the workspace's handle arrives on in the helper.
const WORKSPACE_FD: RawFd = 3;
/// The descriptor the working folder's handle arrives on in the helper.
const CWD_FD: RawFd = 4;
/// The status the helper exits with when the jail could not be built.
pub const JAIL_FAILED: i32 = 125;
/// How the helper's complaint starts when the write layer could not be
/// made (the workspace's filesystem may not stack under overlayfs).
pub const LAYER_FAILED: &str = "the write layer could not be made";

/// How the shell may run commands it does not have built in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ProcessMode {
    /// Not at all: "command not found".
    #[default]
    Off,
    /// As jailed processes that reach only the call's grant.
    Jailed,
    /// As plain host processes: one trusted user's own machine only.
    Trusted,
}

/// What a host sets for its jails.
#[derive(Debug, Clone, Default)]
pub struct JailSettings {
    /// The binary that enters a jail: this server's own.
    pub helper: PathBuf,
    /// Folders of toolchains readable and executable inside (a Cargo or
    /// Python home, a Node prefix); each one's `bin` joins `PATH`.
    pub toolchains: Vec<PathBuf>,
    /// Variables every jailed process gets (`RUSTUP_HOME`, ...).
    pub env: Vec<(String, String)>,
    /// Memory (private writable bytes) per process.
    pub memory: Option<u64>,
    /// Processes (and threads) at once.
    pub processes: Option<u64>,
    /// Files open at once per process.
    pub open_files: Option<u64>,
    /// Where the host's own jailed calls may connect (none when `None`).
    pub egress: Option<crate::egress::EgressPolicy>,
}

/// Why a jail cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JailError {
    #[error("the toolchain folder {path} cannot be used: {source}")]
    Toolchain { path: PathBuf, source: std::io::Error },
    #[error("jailed processes are not available on this machine: {0}")]
    Unavailable(String),
    #[error("the jail could not be prepared: {0}")]
    Prepare(#[from] std::io::Error),
}

/// A host's jail: how to start a jailed process.
#[derive(Debug, Clone)]
pub struct Jail {
    settings: JailSettings,
    path: String,
    /// Whether this machine can hold a program's writes in a layer (see
    /// [`Jail::probe`]).
    layers: bool,
}

/// The limits of one jailed process tree.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ProcessLimits {
    pub cpu_seconds: u64,
    pub memory: u64,
    pub file_size: u64,
    pub processes: u64,
    pub open_files: u64,
}

/// What the helper is told (as JSON, in [`SPEC_VARIABLE`]); the workspace
/// and working folder come as handles, never as paths.
#[derive(Debug, Serialize, Deserialize)]
pub struct Spec {
    /// The command; empty for a probe, which builds the jail and exits 0.
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub writable: bool,
    /// The private temporary folder (`HOME`, `TMPDIR`).
    pub temp: PathBuf,
    /// Toolchain folders, readable and executable.
    pub toolchains: Vec<PathBuf>,
    pub limits: ProcessLimits,
    /// Egress through the proxy (see [`egress`]); none when `None`.
    pub egress: Option<crate::egress::EgressPolicy>,
    /// The layer the program's writes are held in (see [`layer`]); they go
    /// to the workspace directly when `None`.
    pub layer: Option<layer::LayerSpec>,
}

/// One command to run in a jail.
pub struct JailedCommand<'a> {
    pub argv: &'a [String],
    /// Variables the script exported.
    pub env: &'a [(String, String)],
    /// The grant's folder.
    pub workspace: &'a cap_std::fs::Dir,
    /// The folder it starts in, opened beneath the workspace.
    pub cwd: &'a cap_std::fs::Dir,
    pub writable: bool,
    /// Time left in the call.
    pub time: Duration,
    /// Bytes one file may grow to.
    pub file_size: u64,
    /// Whether the caller may use the host's egress policy, if it has one.
    pub network: bool,
    /// Whether to hold the program's writes in a layer, where this machine
    /// can (only under a writable grant).
    pub layer: bool,
}

/// What a jailed command needs while it runs, and leaves behind.
pub struct JailFolders {
    /// The private temporary folder, removed when dropped.
    pub temp: tempfile::TempDir,
    /// The write layer, when the command has one: its writes, to apply.
    pub layer: Option<WriteLayer>,
}

/// A jailed program's writes, held apart from the workspace (see [`layer`]);
/// the folder is removed when dropped.
pub struct WriteLayer {
    folder: tempfile::TempDir,
}

impl WriteLayer {
    /// The folder holding what the program wrote, whiteouts and opaque
    /// folders included, as overlayfs leaves them (`user.overlay.*` marks).
    pub fn upper(&self) -> PathBuf {
        self.folder.path().join("upper")
    }
}

/// Variables a script may not set for a jailed process: the jail's own.
const JAIL_VARIABLES: &[&str] = &["PATH", "HOME", "TMPDIR", "PWD", "SHELL"];

impl Jail {
    /// Checks the settings (every toolchain folder exists).
    pub fn new(mut settings: JailSettings) -> Result<Self, JailError> {
        for path in &mut settings.toolchains {
            *path = path.canonicalize().map_err(|source| JailError::Toolchain { path: path.clone(), source })?;
        }
        let mut path: Vec<String> = settings
            .toolchains
            .iter()
            .map(|t| t.join("bin"))
            .filter(|bin| bin.is_dir())
            .map(|bin| bin.display().to_string())
            .collect();
        path.extend(["/usr/local/bin", "/usr/bin", "/bin"].map(String::from));
        Ok(Jail { path: path.join(":"), settings, layers: true })
    }

    /// Builds a jail and leaves it at once: fails where the kernel lacks
    /// anything the jail needs, with the reason. A machine that cannot hold
    /// a program's writes in a layer (no overlayfs in user namespaces) still
    /// runs jailed programs, writing to the workspace directly, which undo
    /// then cannot reach; the reason is logged.
    pub fn probe(&mut self) -> Result<(), JailError> {
        let root = cap_std::fs::Dir::open_ambient_dir("/", cap_std::ambient_authority())?;
        self.try_empty(&root, false)?.map_err(JailError::Unavailable)?;
        let scratch = tempfile::Builder::new().prefix("wasmgate-probe-").tempdir()?;
        let scratch = cap_std::fs::Dir::open_ambient_dir(scratch.path(), cap_std::ambient_authority())?;
        if let Err(why) = self.try_empty(&scratch, true)? {
            tracing::warn!("jailed programs write to the workspace directly, out of undo's reach: {why}");
            self.layers = false;
        }
        Ok(())
    }

    /// Builds a jail over `workspace` (with a write layer if `layer`) and
    /// leaves it: the helper's complaint when that fails.
    fn try_empty(&self, workspace: &cap_std::fs::Dir, layer: bool) -> Result<Result<(), String>, JailError> {
        let command = JailedCommand {
            argv: &[],
            env: &[],
            workspace,
            cwd: workspace,
            writable: layer,
            time: Duration::from_secs(10),
            file_size: 0,
            network: true,
            layer,
        };
        let (command, _folders) = self.command(&command)?;
        let output = command.into_std().stdin(Stdio::null()).output()?;
        Ok(match output.status.success() {
            true => Ok(()),
            false => Err(String::from_utf8_lossy(&output.stderr).trim().to_string()),
        })
    }

    /// The helper's command for `jailed`, and its folders (removed when
    /// dropped, after the process ends).
    pub fn command(&self, jailed: &JailedCommand) -> Result<(tokio::process::Command, JailFolders), JailError> {
        let temp = tempfile::Builder::new().prefix("wasmgate-jail-").tempdir()?;
        let layer = match jailed.layer && jailed.writable && self.layers {
            true => {
                let folder = tempfile::Builder::new().prefix("wasmgate-layer-").tempdir()?;
                std::fs::create_dir(folder.path().join("upper"))?;
                std::fs::create_dir(folder.path().join("work"))?;
                Some(WriteLayer { folder })
            }
            false => None,
        };
        let mut env: Vec<(String, String)> = vec![
            ("PATH".into(), self.path.clone()),
            ("HOME".into(), temp.path().display().to_string()),
            ("TMPDIR".into(), temp.path().display().to_string()),
            ("LANG".into(), "C.UTF-8".into()),
        ];
        let egress = self.settings.egress.clone().filter(|_| jailed.network);
        if egress.is_some() {
            let proxy = format!("http://127.0.0.1:{}", egress::PROXY_PORT);
            for name in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
                env.push((name.into(), proxy.clone()));
            }
            env.push(("NO_PROXY".into(), "localhost,127.0.0.1,::1".into()));
            env.push(("no_proxy".into(), "localhost,127.0.0.1,::1".into()));
        }
        env.extend(self.settings.env.iter().cloned());
        env.extend(jailed.env.iter().filter(|(name, _)| !JAIL_VARIABLES.contains(&name.as_str())).cloned());
        let spec = Spec {
            argv: jailed.argv.to_vec(),
            env,
            writable: jailed.writable,
            temp: temp.path().to_path_buf(),
            toolchains: self.settings.toolchains.clone(),
            limits: ProcessLimits {
                cpu_seconds: jailed.time.as_secs() + 1,
                memory: self.settings.memory.unwrap_or(4 << 30),
                file_size: jailed.file_size,
                processes: self.settings.processes.unwrap_or(256),
                open_files: self.settings.open_files.unwrap_or(4096),
            },
            egress,
            layer: layer
                .as_ref()
                .map(|layer| layer::LayerSpec { upper: layer.upper(), work: layer.folder.path().join("work") }),
        };
        let spec = serde_json::to_string(&spec).map_err(std::io::Error::other)?;
        let mut command = tokio::process::Command::new(&self.settings.helper);
        command.arg(HELPER_ARG).env_clear().env(SPEC_VARIABLE, spec).process_group(0).kill_on_drop(true);
        let (workspace, cwd) = (jailed.workspace.as_raw_fd(), jailed.cwd.as_raw_fd());
        // SAFETY: `fcntl` and `dup2` are async-signal-safe, and both handles
        // outlive the spawn (the caller holds them). Each is first copied
        // above the target numbers, so neither overwrites the other.
        unsafe {
            command.pre_exec(move || {
                let high = |fd| match libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) {
                    -1 => Err(std::io::Error::last_os_error()),
                    copy => Ok(copy),
                };
                let (workspace, cwd) = (high(workspace)?, high(cwd)?);
                for (from, to) in [(workspace, WORKSPACE_FD), (cwd, CWD_FD)] {
                    if libc::dup2(from, to) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        Ok((command, JailFolders { temp, layer }))
    }
}
