//! The `host-process` interface: real processes for the shell, where the
//! host allows them, in one of two ways ([`Processes`]).
//!
//! - **Jailed**: the process runs in a jail (see `crate::jail`) that
//!   reaches only the call's grant: the workspace (read-only under a
//!   read-only grant), the system's programs, the host's toolchains and a
//!   private temporary folder; no network but its own loopback; limits on
//!   CPU, memory, file size, processes and open files. For hosts serving
//!   others, tenants included.
//! - **Trusted**: a plain process, not confined by the sandbox, so never
//!   under a read-only grant and never for a tenant: one person's machine.
//!
//! Either way, a process starts in the folder the shell is in, opened
//! beneath the grant's directory handle (never by name), with a minimal
//! environment, the call's remaining deadline and the output cap. It leads a
//! process group of its own, and the whole group is killed when the process
//! ends, the deadline passes or the call is cancelled (or the call dropped);
//! a jail also ends every process left in it. Where the call records its
//! changes (for undo), a jailed process writes into a layer applied to the
//! workspace when it ends (see `process_changes`); a trusted one is told to
//! the record as out of its view. It is waited for on the
//! runtime (`tokio::process`), never by a blocked worker thread, so long
//! commands cannot starve the HTTP server.

use super::bindings::tool_provider::wasmgate::tools::host_process::{Host, ProcessError, ProcessOutput};
use super::state::{CallState, OutputCapReached};
use crate::jail::{JAIL_FAILED, Jail, JailedCommand, ProcessMode, WriteLayer};
use cap_std::fs::Dir;
use std::os::fd::AsRawFd;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::task::JoinHandle;

/// How a sandbox runs the shell's other commands.
#[derive(Debug, Clone, Default)]
pub enum Processes {
    /// Not at all: the shell says "command not found".
    #[default]
    Off,
    /// In this jail.
    Jailed(Arc<Jail>),
    /// As plain host processes (a trusted single-user machine).
    Trusted,
}

impl Processes {
    /// The mode, as the flags name it.
    pub fn mode(&self) -> ProcessMode {
        match self {
            Processes::Off => ProcessMode::Off,
            Processes::Jailed(_) => ProcessMode::Jailed,
            Processes::Trusted => ProcessMode::Trusted,
        }
    }

    /// How processes run for calls under `grant`: its tenant's quota may
    /// allow less than the sandbox does.
    pub(crate) fn for_grant(&self, grant: &super::Grant) -> Option<Runner> {
        self.for_caller(grant.owner().map(|(_, quota)| quota.limits().processes))
    }

    /// How a caller's processes run: `tenant_allows` is `None` for a call
    /// made as no tenant. A tenant never gets plain host processes.
    fn for_caller(&self, tenant_allows: Option<bool>) -> Option<Runner> {
        match (self, tenant_allows) {
            (Processes::Off, _) | (_, Some(false)) | (Processes::Trusted, Some(true)) => None,
            // Egress, where the host allows any, is for its own calls: a
            // tenant's jailed programs stay offline.
            (Processes::Jailed(jail), tenant) => Some(Runner::Jailed { jail: jail.clone(), network: tenant.is_none() }),
            (Processes::Trusted, None) => Some(Runner::Trusted),
        }
    }
}

/// How one call's processes run.
#[derive(Clone)]
pub(crate) enum Runner {
    /// In the jail; `network`: the host's egress policy applies (see
    /// [`crate::jail::egress`]).
    Jailed {
        jail: Arc<Jail>,
        network: bool,
    },
    Trusted,
}

impl Runner {
    pub(super) fn mode(&self) -> ProcessMode {
        match self {
            Runner::Jailed { .. } => ProcessMode::Jailed,
            Runner::Trusted => ProcessMode::Trusted,
        }
    }
}

/// What a call may run, when processes are allowed.
#[derive(Clone)]
pub(crate) struct ProcessGrant {
    pub(crate) runner: Runner,
    /// The workspace, as the grant's handle.
    pub(crate) workspace: Arc<Dir>,
    /// The workspace's name, as `HOME` of a trusted process (a label for
    /// the process; nothing opens it).
    pub(crate) home: String,
    /// Whether the grant allows writes.
    pub(crate) writable: bool,
    /// When the call's deadline passes.
    pub(crate) deadline: Instant,
    /// Bytes of stdout and of stderr kept.
    pub(crate) output_cap: usize,
    /// Bytes one file may grow to in a jail.
    pub(crate) file_size: u64,
}

/// How long the outputs may take to close once the process group is gone
/// (spent only when something that left the group holds them open; a busy
/// machine may take a while to read what the process wrote before ending).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

impl Host for CallState {
    async fn run(
        &mut self,
        argv: Vec<String>,
        env: Vec<(String, String)>,
        cwd: String,
        stdin: Vec<u8>,
    ) -> wasmtime::Result<Result<ProcessOutput, ProcessError>> {
        let Some(grant) = self.processes.clone() else { return Ok(Err(ProcessError::Disabled)) };
        let program = argv.first().map_or("", String::as_str);
        let records = grant.writable && self.changes.is_some();
        let ran = match run(&grant, &self.cancel, &argv, &env, &cwd, stdin.clone(), records).await {
            // A workspace on a filesystem overlayfs cannot stack on: the
            // program runs as it would where no change is recorded.
            Err(ProcessError::Failed(why)) if records && why.contains(crate::jail::LAYER_FAILED) => {
                tracing::warn!("{why}; the program writes to the workspace directly, out of undo's reach");
                run(&grant, &self.cancel, &argv, &env, &cwd, stdin, false).await
            }
            ran => ran,
        };
        let (mut output, layer) = match ran {
            Ok(ran) => ran,
            Err(error) => return Ok(Err(error)),
        };
        match layer {
            Some(layer) => {
                for problem in apply(self, &grant, layer).await {
                    output.stderr.extend_from_slice(format!("wasmgate: not applied: {problem}\n").as_bytes());
                }
            }
            None if grant.writable => super::change_capture::outside_view(self, program),
            None => {}
        }
        // Output past the cap stops the call, as it does from inside the sandbox.
        if output.stdout.len() > grant.output_cap || output.stderr.len() > grant.output_cap {
            self.output.exceeded = true;
            return Err(wasmtime::Error::new(OutputCapReached));
        }
        Ok(Ok(output))
    }
}

/// The most paths a call's output names as not applied.
const MAX_PROBLEMS: usize = 20;

/// Applies what a jailed program wrote in its layer to the workspace,
/// telling the call's change sink first (see `process_changes`), off the
/// runtime's threads: a build may have written thousands of files.
async fn apply(state: &mut CallState, grant: &ProcessGrant, layer: WriteLayer) -> Vec<String> {
    let (sink, told) = match state.changes.as_mut() {
        Some(capture) => (Some(capture.sink.clone()), std::mem::take(&mut capture.told)),
        None => (None, Default::default()),
    };
    let workspace = grant.workspace.clone();
    let applied = tokio::task::spawn_blocking(move || {
        let applied = super::process_changes::apply(&layer.upper(), &workspace, sink, told);
        drop(layer);
        applied
    })
    .await;
    match applied {
        Ok((told, mut problems)) => {
            if let Some(capture) = state.changes.as_mut() {
                capture.told = told;
            }
            if problems.len() > MAX_PROBLEMS {
                let more = problems.len() - MAX_PROBLEMS;
                problems.truncate(MAX_PROBLEMS);
                problems.push(format!("and {more} more"));
            }
            problems
        }
        Err(e) => vec![format!("applying the program's writes failed: {e}")],
    }
}

/// Starts `command`, trying again a few times when the system is briefly
/// out of processes (`EAGAIN` from `fork`, seen on a busy machine), as a
/// shell would not but a server should.
async fn spawn(command: &mut Command) -> std::io::Result<tokio::process::Child> {
    let mut pause = Duration::from_millis(20);
    for _ in 0..5 {
        match command.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                tracing::warn!("starting a process: {e}; trying again in {pause:?}");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            other => return other,
        }
    }
    command.spawn()
}

/// Runs one process to its end (or its deadline, or the call's abort) on
/// the runtime: waiting is a future, never a blocked worker thread.
async fn run(
    grant: &ProcessGrant,
    cancel: &super::CancelToken,
    argv: &[String],
    env: &[(String, String)],
    cwd: &str,
    stdin: Vec<u8>,
    layer: bool,
) -> Result<(ProcessOutput, Option<WriteLayer>), ProcessError> {
    let Some(program) = argv.first() else { return Err(ProcessError::Failed("empty command".into())) };
    let folder = working_folder(&grant.workspace, cwd)?;
    // A jail's folders live until the process has ended; its write layer
    // goes back to the caller, to apply.
    let (mut command, folders) = match &grant.runner {
        Runner::Jailed { jail, network } => {
            let time = grant.deadline.saturating_duration_since(Instant::now());
            let jailed = JailedCommand {
                argv,
                env,
                workspace: &grant.workspace,
                cwd: &folder,
                writable: grant.writable,
                time,
                file_size: grant.file_size,
                network: *network,
                layer,
            };
            let (command, folders) = jail.command(&jailed).map_err(|e| ProcessError::Failed(e.to_string()))?;
            (command, Some(folders))
        }
        Runner::Trusted => (trusted(grant, program, &argv[1..], env, &folder)?, None),
    };
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = spawn(&mut command).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ProcessError::NotFound,
        _ => ProcessError::Failed(format!("{program}: {e}")),
    })?;
    drop(folder);
    let group = child.id().map(|id| id as libc::pid_t);
    // A call dropped mid-wait (its turn aborted) still ends the whole group.
    let _group = GroupGuard(group);
    // Feed stdin and drain the outputs concurrently, so a chatty process
    // never blocks on a full pipe while it is waited for.
    let mut input = child.stdin.take().expect("stdin is piped");
    tokio::spawn(async move {
        let _ = input.write_all(&stdin).await;
    });
    let cap = grant.output_cap;
    let stdout = drain(child.stdout.take(), cap);
    let stderr = drain(child.stderr.take(), cap);
    let deadline = tokio::time::Instant::from_std(grant.deadline);
    let status = tokio::select! {
        status = child.wait() => status.map_err(|e| ProcessError::Failed(e.to_string()))?,
        () = tokio::time::sleep_until(deadline) => stop(&mut child, group).await?,
        () = cancel.cancelled() => stop(&mut child, group).await?,
    };
    // What the process left running in the background ends with it.
    kill_group(group);
    let code = status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(9)
    });
    let grace = tokio::time::Instant::now() + DRAIN_GRACE;
    let stderr = finish(stderr, grace).await;
    if matches!(grant.runner, Runner::Jailed { .. }) && code == JAIL_FAILED && stderr.starts_with(b"wasmgate jail:") {
        return Err(ProcessError::Failed(String::from_utf8_lossy(&stderr).trim().to_string()));
    }
    let output = ProcessOutput { status: code, stdout: finish(stdout, grace).await, stderr };
    Ok((output, folders.and_then(|folders| folders.layer)))
}

/// A plain host process: only where the grant allows writes, since
/// nothing confines it.
fn trusted(
    grant: &ProcessGrant,
    program: &str,
    args: &[String],
    env: &[(String, String)],
    folder: &Dir,
) -> Result<Command, ProcessError> {
    if !grant.writable {
        return Err(ProcessError::Failed("host processes do not run under a read-only grant".into()));
    }
    let folder_fd = folder.as_raw_fd();
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()))
        .env("HOME", &grant.home)
        .env("LC_ALL", "C")
        .process_group(0)
        .kill_on_drop(true);
    // SAFETY: `fchdir` is async-signal-safe and `folder` outlives the spawn.
    unsafe {
        command.pre_exec(
            move || {
                if libc::fchdir(folder_fd) == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
            },
        );
    }
    Ok(command)
}

/// Kills the group and reaps the process.
async fn stop(
    child: &mut tokio::process::Child,
    group: Option<libc::pid_t>,
) -> Result<std::process::ExitStatus, ProcessError> {
    kill_group(group);
    child.wait().await.map_err(|e| ProcessError::Failed(e.to_string()))
}

/// Kills the process group when dropped.
struct GroupGuard(Option<libc::pid_t>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}

/// The folder the shell is in, opened beneath the workspace handle: `..`,
/// absolute and symlinked components cannot leave it.
fn working_folder(workspace: &Dir, cwd: &str) -> Result<Dir, ProcessError> {
    let relative = cwd.trim_start_matches('/');
    let opened = if relative.is_empty() { workspace.try_clone() } else { workspace.open_dir(relative) };
    opened.map_err(|e| ProcessError::Failed(format!("{cwd}: {e}")))
}

fn kill_group(group: Option<libc::pid_t>) {
    let Some(group) = group else { return };
    // SAFETY: a plain syscall; a group already gone answers ESRCH.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
}

/// One output pipe read on a task of its own, up to one byte past the cap
/// (which tells the caller the cap was passed), into a buffer the caller
/// keeps, so what was read is never lost with the task.
struct Drained {
    task: JoinHandle<()>,
    kept: Arc<std::sync::Mutex<Vec<u8>>>,
}

fn drain(pipe: Option<impl AsyncRead + Unpin + Send + 'static>, cap: usize) -> Drained {
    let kept = Arc::new(std::sync::Mutex::new(Vec::new()));
    let filling = kept.clone();
    let task = tokio::spawn(async move {
        let Some(pipe) = pipe else { return };
        let mut pipe = pipe.take(cap as u64 + 1);
        let mut chunk = [0u8; 8192];
        while let Ok(n @ 1..) = pipe.read(&mut chunk).await {
            filling.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(&chunk[..n]);
        }
    });
    Drained { task, kept }
}

/// What a pipe gave, once it closed or at `grace` (a process that left the
/// group may hold it open; it is not waited for, but what it read is kept).
async fn finish(mut drained: Drained, grace: tokio::time::Instant) -> Vec<u8> {
    if tokio::time::timeout_at(grace, &mut drained.task).await.is_err() {
        drained.task.abort();
    }
    std::mem::take(&mut *drained.kept.lock().unwrap_or_else(|p| p.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_never_gets_plain_host_processes() {
        let jail = Arc::new(Jail::new(Default::default()).unwrap());
        let jailed = Processes::Jailed(jail);
        let runs = |processes: &Processes, tenant| match processes.for_caller(tenant) {
            None => "none",
            Some(Runner::Jailed { .. }) => "jailed",
            Some(Runner::Trusted) => "trusted",
        };
        // (no tenant, a tenant allowed processes, a tenant not allowed them)
        let cases = [
            (Processes::Off, ["none"; 3]),
            (jailed, ["jailed", "jailed", "none"]),
            (Processes::Trusted, ["trusted", "none", "none"]),
        ];
        for (processes, expected) in cases {
            let got = [runs(&processes, None), runs(&processes, Some(true)), runs(&processes, Some(false))];
            assert_eq!(got, expected, "{:?}", processes.mode());
        }
    }

    #[test]
    fn only_the_hosts_own_calls_get_egress() {
        let jailed = Processes::Jailed(Arc::new(Jail::new(Default::default()).unwrap()));
        let network = |tenant| match jailed.for_caller(tenant) {
            Some(Runner::Jailed { network, .. }) => network,
            _ => panic!("jailed"),
        };
        assert!(network(None));
        assert!(!network(Some(true)), "a tenant's programs stay offline");
    }
}
