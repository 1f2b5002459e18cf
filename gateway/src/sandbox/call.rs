//! One call's life: a permit, a fresh store with exactly the granted
//! workspace, the deadline and cancellation check, and the translation of
//! whatever the guest did into a result or a [`CallError`].

use super::bindings::GuestError;
use super::change_capture::ChangeCapture;
use super::disk_quota::{DiskBudget, Refusal};
use super::disk_usage::STALE_AFTER;
use super::engine::EPOCH_TICK;
use super::host_process::ProcessGrant;
use super::limits::MemoryGuard;
use super::outgoing_http::OutgoingHttp;
use super::policy::CallPolicy;
use super::quota::Admitted;
use super::registry::Capabilities;
use super::state::{CallState, MAX_RESOURCES, OutputCapReached, OutputMeter};
use super::{Access, CallError, CallOptions, CancelToken, Grant, Inner, QuotaExceeded};
use std::time::{Duration, Instant};
use tokio::sync::OwnedSemaphorePermit;
use wasmtime::component::ResourceTable;
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// Why the epoch callback stopped a call.
#[derive(Debug)]
enum Interrupted {
    Deadline,
    Cpu,
    Cancelled,
    Quota(QuotaExceeded),
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Interrupted::Deadline => "deadline passed",
            Interrupted::Cpu => "CPU time used up",
            Interrupted::Cancelled => "call cancelled",
            Interrupted::Quota(_) => "quota used up",
        })
    }
}

impl std::error::Error for Interrupted {}

/// Ends a call whose guest is blocked in a host function: a WASI sleep
/// or `poll` on a clock (`sleep 600` in the shell, or a hostile component
/// asking to wait for an hour). The epoch callback only runs while guest
/// code runs, so without this such a call would outlive its deadline and
/// ignore an abort. The guest's store is dropped with the call.
pub(super) struct Watchdog {
    until: Instant,
    cancel: CancelToken,
}

impl Watchdog {
    /// Runs `work` until it ends, the deadline passes or the call is cancelled.
    pub(super) async fn bound<T>(
        self,
        work: impl std::future::Future<Output = wasmtime::Result<T>>,
    ) -> wasmtime::Result<T> {
        let why = tokio::select! {
            biased;
            outcome = work => return outcome,
            () = self.cancel.cancelled() => Interrupted::Cancelled,
            () = tokio::time::sleep_until(self.until.into()) => Interrupted::Deadline,
        };
        Err(wasmtime::Error::new(why))
    }
}

/// One call in progress: its store and the permit it holds.
pub(super) struct Call {
    pub(super) store: Store<CallState>,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
    cap: usize,
    deadline: Duration,
    /// The CPU time its policy allows, if it sets one.
    cpu: Option<Duration>,
    started: Instant,
    _permit: OwnedSemaphorePermit,
    /// The tenant's place, taken before the sandbox's permit.
    admitted: Option<Admitted>,
}

impl Call {
    /// Sets up one call's store: permit, WASI context, limits, deadline.
    /// `capabilities`: what the calling component holds beyond its grant
    /// (host processes still need the sandbox to allow them); `policy`: the
    /// operator's for the tool, if any.
    pub(super) async fn start(
        inner: &Inner,
        tool: &str,
        grant: Option<&Grant>,
        options: CallOptions,
        capabilities: Capabilities,
        policy: Option<&CallPolicy>,
    ) -> Result<Call, CallError> {
        // The tenant's own permits and fair share first: a tenant's flood
        // waits in its own queue, never holding the sandbox's permits.
        let owner = grant.and_then(Grant::owner);
        let admitted = match owner {
            Some((tenant, quota)) => Some(
                quota.admit(tenant, &inner.fair_share).await.map_err(|QuotaExceeded(m)| CallError::QuotaExceeded(m))?,
            ),
            None => None,
        };
        let quota = owner.map(|(_, quota)| quota.clone());
        let permit =
            inner.permits.clone().acquire_owned().await.map_err(|_| CallError::Host("sandbox closed".into()))?;
        let limits = quota.as_ref().map(|q| q.limits());
        // A tenant's writing call counts against what its folders hold:
        // measured before its first such call, again in the background
        // once the figure is old (see `disk_usage`).
        let writes_to = quota.as_ref().filter(|_| grant.is_some_and(|g| g.access() == Access::ReadWrite));
        let tenant_disk = writes_to.map(|q| q.disk());
        if let Some((usage, _)) = &tenant_disk {
            let measure = {
                let usage = usage.clone();
                move || usage.measure()
            };
            match usage.age() {
                None => drop(tokio::task::spawn_blocking(measure).await),
                Some(age) if age >= STALE_AFTER => drop(tokio::task::spawn_blocking(measure)),
                Some(_) => {}
            }
        }
        let cap = policy.and_then(|p| p.output).unwrap_or(inner.limits.output);
        let stdout = MemoryOutputPipe::new(cap);
        let stderr = MemoryOutputPipe::new(cap);
        let mut wasi = WasiCtxBuilder::new();
        // File calls run on the calling thread (bounded by the permits).
        wasi.allow_blocking_current_thread(true);
        wasi.stdout(stdout.clone()).stderr(stderr.clone());
        if let Some(policy) = policy {
            wasi.envs(&policy.env);
        }
        // No preopen here: `get-directories` hands the guest the grant's
        // handle itself (see `preopen`).
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        let cancel = options.cancel.unwrap_or_default();
        // A caller (the model's `timeout`) may shorten the operator's limit,
        // never lengthen it.
        // The tool's policy sets its own (a tenant's quota still caps it).
        let (operator_deadline, operator_memory) = (
            policy.and_then(|p| p.deadline).unwrap_or(inner.limits.deadline),
            policy.and_then(|p| p.memory).unwrap_or(inner.limits.memory),
        );
        let limit = limits.map_or(operator_deadline, |l| l.deadline.min(operator_deadline));
        let deadline = options.deadline.map_or(limit, |asked| asked.min(limit));
        let memory = limits.map_or(operator_memory, |l| l.memory.min(operator_memory));
        // CPU time in epoch ticks: the callback below runs once per tick
        // in which the guest's own code was running.
        let cpu_ticks = policy.and_then(|p| p.cpu).map(|cpu| cpu.as_nanos().div_ceil(EPOCH_TICK.as_nanos()) as u64);
        let runner = grant.filter(|_| capabilities.processes).and_then(|g| inner.processes.for_grant(g));
        let started = Instant::now();
        let state = CallState {
            wasi: wasi.build(),
            table,
            memory: MemoryGuard::new(memory),
            output: OutputMeter::new(cap, options.on_output),
            cancel,
            tool: tool.to_string(),
            grant: grant.cloned(),
            preopens: None,
            disk: DiskBudget::new(inner.limits.disk_write, tenant_disk),
            changes: options.changes.map(ChangeCapture::new),
            processes: runner.zip(grant).map(|(runner, g)| ProcessGrant {
                runner,
                workspace: g.dir().clone(),
                home: g.guest_path().to_string(),
                writable: g.access() == Access::ReadWrite,
                deadline: started + deadline,
                output_cap: cap,
                file_size: inner.limits.disk_write,
            }),
            http: OutgoingHttp::new(
                tool,
                match capabilities.network {
                    true => inner.network.clone(),
                    false => policy.and_then(|p| p.network.clone()),
                },
            ),
            folders: policy.and_then(|p| p.folders.clone()),
        };
        let mut store = Store::new(&inner.engine, state);
        store.limiter(|state| &mut state.memory);

        store.set_epoch_deadline(1);
        let mut ticks_run = 0u64;
        store.epoch_deadline_callback(move |store| {
            ticks_run += 1;
            if store.data().cancel.is_cancelled() {
                Err(wasmtime::Error::new(Interrupted::Cancelled))
            } else if cpu_ticks.is_some_and(|most| ticks_run > most) {
                Err(wasmtime::Error::new(Interrupted::Cpu))
            } else if let Some(Err(exceeded)) = quota.as_ref().map(|q| q.tick()) {
                Err(wasmtime::Error::new(Interrupted::Quota(exceeded)))
            } else if started.elapsed() >= deadline {
                Err(wasmtime::Error::new(Interrupted::Deadline))
            } else {
                // Yield to the executor each tick, so a busy guest never
                // starves the other tasks on its thread (an abort request,
                // the event stream) even on a single-threaded runtime.
                Ok(UpdateDeadline::Yield(1))
            }
        });
        let cpu = cpu_ticks.map(|ticks| EPOCH_TICK * ticks as u32);
        Ok(Call { store, stdout, stderr, cap, deadline, cpu, started, _permit: permit, admitted })
    }

    /// The most output the call may produce.
    pub(super) fn output_cap(&self) -> usize {
        self.cap
    }

    /// What stops the call while its guest waits in the host, where the
    /// epoch callback cannot reach it (see [`Watchdog`]).
    pub(super) fn watchdog(&self) -> Watchdog {
        Watchdog { until: self.started + self.deadline, cancel: self.store.data().cancel.clone() }
    }

    /// Whether the call shares the machine with other tenants' calls: then
    /// it runs on the call threads (see `call_threads`).
    pub(super) fn shared(&self) -> bool {
        self.admitted.as_ref().is_some_and(|admitted| admitted.shared)
    }

    /// Why one of the call's writes was refused, if one was.
    pub(super) fn disk_refusal(&self) -> Option<Refusal> {
        self.store.data().disk.refusal().cloned()
    }

    /// Turns a wasmtime outcome into the call's result, naming the limit a
    /// trap came from when one did.
    pub(super) fn finish<T>(self, outcome: wasmtime::Result<Result<T, GuestError>>) -> Result<T, CallError> {
        let error = match outcome {
            Ok(result) => {
                let refusal = self.disk_refusal();
                return result.map_err(|error| {
                    let error = CallError::from(error);
                    match refusal {
                        Some(Refusal::Quota(why)) => CallError::QuotaExceeded(format!("{error}: {why}")),
                        Some(Refusal::Call(why)) => CallError::Failed(format!("{error}: {why}")),
                        None => error,
                    }
                });
            }
            Err(error) => error,
        };
        let state = self.store.data();
        if let Some(interrupted) = error.downcast_ref::<Interrupted>() {
            return Err(match interrupted {
                Interrupted::Deadline => CallError::Timeout(self.deadline),
                Interrupted::Cpu => CallError::CpuLimit(self.cpu.unwrap_or_default()),
                Interrupted::Cancelled => CallError::Cancelled,
                Interrupted::Quota(QuotaExceeded(message)) => CallError::QuotaExceeded(message.clone()),
            });
        }
        if state.memory.exceeded {
            return Err(CallError::MemoryLimit(state.memory.cap()));
        }
        if state.output.exceeded
            || error.is::<OutputCapReached>()
            || self.stdout.contents().len() >= self.cap
            || self.stderr.contents().len() >= self.cap
        {
            return Err(CallError::OutputLimit(self.cap));
        }
        Err(CallError::Crashed(crash_report(&error, &self.stderr)))
    }
}

/// What to say about a guest that trapped: the trap, and the last lines the
/// guest wrote to stderr (a Rust guest's panic message: where, then what).
fn crash_report(error: &wasmtime::Error, stderr: &MemoryOutputPipe) -> String {
    let trap = match error.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{error}").lines().next().unwrap_or("trap").to_string(),
    };
    let stderr = stderr.contents();
    let stderr = String::from_utf8_lossy(&stderr);
    let said: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
        .collect();
    match said.len() {
        0 => trap,
        n => {
            let tail = said[n.saturating_sub(2)..].join(" ");
            format!("{trap}; the tool said: {}", tail.chars().take(500).collect::<String>())
        }
    }
}
