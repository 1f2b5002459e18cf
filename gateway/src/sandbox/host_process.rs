//! The `host-process` interface: real processes for the shell, when a
//! trusted single-user host allows them.
//!
//! Off by default (every call answers `disabled`), and never under a
//! read-only grant: a host process is not confined by the sandbox, so it runs
//! only where the call may write anyway. When allowed, a process starts in the
//! folder the shell is in, opened beneath the grant's directory handle (never
//! by name), with a minimal environment, the call's remaining deadline and the
//! output cap. It leads a process group of its own, and the whole group is
//! killed when the process ends, the deadline passes or the call is
//! cancelled, so nothing it started in the background outlives the call. The
//! host thread waits for it, so this is for one person's machine, never for a
//! host shared by tenants.

use super::bindings::tool_provider::wasmgate::tools::host_process::{Host, ProcessError, ProcessOutput};
use super::state::{CallState, OutputCapReached};
use cap_std::fs::Dir;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// What a call may run, when host processes are allowed.
#[derive(Clone)]
pub(crate) struct ProcessGrant {
    /// The workspace, as the grant's handle.
    pub(crate) workspace: Arc<Dir>,
    /// The workspace's name, as `HOME` (a label for the process; nothing
    /// opens it).
    pub(crate) home: String,
    /// Whether the grant allows writes; processes run only where it does.
    pub(crate) writable: bool,
    /// When the call's deadline passes.
    pub(crate) deadline: Instant,
    /// Bytes of stdout and of stderr kept.
    pub(crate) output_cap: usize,
}

/// How often a running process is checked on.
const POLL: Duration = Duration::from_millis(5);
/// How long the outputs may take to close once the process group is gone.
const DRAIN_GRACE: Duration = Duration::from_millis(200);
impl Host for CallState {
    fn run(
        &mut self,
        argv: Vec<String>,
        cwd: String,
        stdin: Vec<u8>,
    ) -> wasmtime::Result<Result<ProcessOutput, ProcessError>> {
        let Some(grant) = self.processes.clone() else { return Ok(Err(ProcessError::Disabled)) };
        let output = match run(&grant, &self.cancelled, &argv, &cwd, stdin) {
            Ok(output) => output,
            Err(error) => return Ok(Err(error)),
        };
        // Output past the cap stops the call, as it does from inside the sandbox.
        if output.stdout.len() > grant.output_cap || output.stderr.len() > grant.output_cap {
            self.output.exceeded = true;
            return Err(wasmtime::Error::new(OutputCapReached));
        }
        Ok(Ok(output))
    }
}

fn run(
    grant: &ProcessGrant,
    cancelled: &AtomicBool,
    argv: &[String],
    cwd: &str,
    stdin: Vec<u8>,
) -> Result<ProcessOutput, ProcessError> {
    let Some(program) = argv.first() else { return Err(ProcessError::Failed("empty command".into())) };
    if !grant.writable {
        return Err(ProcessError::Failed("host processes do not run under a read-only grant".into()));
    }
    let folder = working_folder(&grant.workspace, cwd)?;
    let folder_fd = folder.as_raw_fd();
    let mut command = Command::new(program);
    command
        .args(&argv[1..])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()))
        .env("HOME", &grant.home)
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: `fchdir` is async-signal-safe and `folder` outlives the spawn.
    unsafe {
        command.pre_exec(
            move || {
                if libc::fchdir(folder_fd) == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
            },
        );
    }
    let mut child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ProcessError::NotFound,
        _ => ProcessError::Failed(format!("{program}: {e}")),
    })?;
    drop(folder);
    let group = child.id() as libc::pid_t;
    // Feed stdin and drain the outputs on threads, so a chatty process
    // never blocks on a full pipe while it is waited for.
    let mut input = child.stdin.take().expect("stdin is piped");
    std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let cap = grant.output_cap;
    let stdout = Drained::start(child.stdout.take().map(OwnedFd::from), cap);
    let stderr = Drained::start(child.stderr.take().map(OwnedFd::from), cap);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= grant.deadline || cancelled.load(Ordering::Relaxed) => {
                kill_group(group);
                break child.wait().map_err(|e| ProcessError::Failed(e.to_string()))?;
            }
            Ok(None) => std::thread::sleep(POLL),
            Err(e) => {
                kill_group(group);
                return Err(ProcessError::Failed(e.to_string()));
            }
        }
    };
    // What the process left running in the background ends with it.
    kill_group(group);
    let code = status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(9)
    });
    Ok(ProcessOutput { status: code, stdout: stdout.finish(), stderr: stderr.finish() })
}

/// The folder the shell is in, opened beneath the workspace handle: `..`,
/// absolute and symlinked components cannot leave it.
fn working_folder(workspace: &Dir, cwd: &str) -> Result<Dir, ProcessError> {
    let relative = cwd.trim_start_matches('/');
    let opened = if relative.is_empty() { workspace.try_clone() } else { workspace.open_dir(relative) };
    opened.map_err(|e| ProcessError::Failed(format!("{cwd}: {e}")))
}

fn kill_group(group: libc::pid_t) {
    // SAFETY: a plain syscall; a group already gone answers ESRCH.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
}

/// One output pipe read on a thread of its own, up to one byte past the cap
/// (which tells the caller the cap was passed).
struct Drained {
    kept: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

impl Drained {
    fn start(pipe: Option<OwnedFd>, cap: usize) -> Self {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let (finished, done) = mpsc::channel();
        let sink = kept.clone();
        std::thread::spawn(move || {
            if let Some(pipe) = pipe {
                let mut pipe = std::fs::File::from(pipe).take(cap as u64 + 1);
                let mut chunk = [0u8; 8192];
                while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                    sink.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(&chunk[..n]);
                }
            }
            let _ = finished.send(());
        });
        Drained { kept, done }
    }

    /// What was read, once the pipe closed or the grace period passed (a
    /// process that left the group may hold it open; it is not waited for).
    fn finish(self) -> Vec<u8> {
        let _ = self.done.recv_timeout(DRAIN_GRACE);
        std::mem::take(&mut *self.kept.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
