//! The `host-process` interface: real processes for the shell, when a
//! trusted single-user host allows them.
//!
//! Off by default (every call answers `disabled`). When allowed, a process
//! runs in the workspace folder the shell is in (checked to lie inside the
//! grant's root after resolving symlinks), with a minimal environment, the
//! call's remaining deadline and the output cap; it is killed when either
//! runs out or the call is cancelled. The host thread waits for it, so this
//! is for one person's machine, never for a host shared by tenants.

use super::bindings::tool_provider::wasmgate::tools::host_process::{Host, ProcessError, ProcessOutput};
use super::state::{CallState, OutputCapReached};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What a call may run, when host processes are allowed.
#[derive(Clone)]
pub(crate) struct ProcessGrant {
    /// The workspace root (canonical).
    pub(crate) root: PathBuf,
    /// When the call's deadline passes.
    pub(crate) deadline: Instant,
    /// Bytes of stdout and of stderr kept.
    pub(crate) output_cap: usize,
}

/// How often a running process is checked on.
const POLL: Duration = Duration::from_millis(5);

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
    let dir = grant.root.join(cwd.trim_start_matches('/'));
    let dir = dir.canonicalize().map_err(|e| ProcessError::Failed(format!("{cwd}: {e}")))?;
    if !dir.starts_with(&grant.root) {
        return Err(ProcessError::Failed(format!("{cwd} is outside the workspace")));
    }
    let mut child = Command::new(program)
        .args(&argv[1..])
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()))
        .env("HOME", &grant.root)
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ProcessError::NotFound,
            _ => ProcessError::Failed(format!("{program}: {e}")),
        })?;
    // Feed stdin and drain the outputs on threads, so a chatty process
    // never blocks on a full pipe while it is waited for.
    let mut input = child.stdin.take().expect("stdin is piped");
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let cap = grant.output_cap;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            if let Some(pipe) = pipe {
                // One byte past the cap tells the caller it was passed.
                let _ = pipe.take(cap as u64 + 1).read_to_end(&mut kept);
            }
            kept
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= grant.deadline || cancelled.load(Ordering::Relaxed) => {
                let _ = child.kill();
                break child.wait().map_err(|e| ProcessError::Failed(e.to_string()))?;
            }
            Ok(None) => std::thread::sleep(POLL),
            Err(e) => return Err(ProcessError::Failed(e.to_string())),
        }
    };
    let _ = feeder.join();
    let code = status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(9)
    });
    Ok(ProcessOutput {
        status: code,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}
