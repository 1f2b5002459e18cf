//! A tenant's share of the sandbox, checked at every call it causes.
//!
//! The sandbox's [`Limits`](super::Limits) bound one call and all calls
//! together; a [`Quota`] bounds one tenant's calls inside those: how many run
//! at once (admitted here *before* the global permits, so one tenant's flood
//! queues behind its own permits and never holds all of the sandbox's), how
//! much memory and time each may take, how many epoch ticks of guest
//! execution its calls may spend per hour, how many bytes its folders may
//! hold (see `disk_usage`), and whether its shell may start host processes.
//! While other tenants are active, its calls also wait here for its fair
//! share of the server's threads (see `fair_share`). A quota travels on the
//! [`Grant`](super::Grant)s made from the tenant's roots, so no caller (a
//! model's tool call, a file route) can reach the sandbox without it.

use super::disk_usage::DiskUsage;
use super::engine::EPOCH_TICK;
use super::fair_share::{ACTIVE_WINDOW, FairShare};
use cap_std::fs::Dir;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// The window CPU time is counted in.
pub const CPU_WINDOW: Duration = Duration::from_secs(3600);

/// What one tenant's calls may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaLimits {
    /// Calls running at once; more wait their turn.
    pub concurrency: usize,
    /// Bytes of memory one call may grow to (at most the sandbox's cap).
    pub memory: usize,
    /// Wall time one call may run (at most the sandbox's deadline).
    pub deadline: Duration,
    /// Guest execution time all calls may spend per [`CPU_WINDOW`].
    pub cpu_per_window: Duration,
    /// Bytes the tenant's folders may hold; a write past it fails.
    pub disk: u64,
    /// Whether the shell may run jailed processes (the sandbox must run
    /// them jailed: a tenant never gets plain host processes).
    pub processes: bool,
}

/// One tenant's admission and metering. Shared by every grant of the
/// tenant; its counters outlive a change of limits (see [`Quota::with_limits`]).
#[derive(Debug)]
pub struct Quota {
    limits: QuotaLimits,
    permits: Arc<Semaphore>,
    /// Calls past admission and their fair share, running now.
    started: AtomicUsize,
    /// Told when one of them ends.
    ended: Notify,
    meter: Arc<CpuMeter>,
    disk: Arc<DiskUsage>,
}

/// A call's place among its tenant's: given back when dropped.
#[derive(Debug)]
pub(super) struct Admitted {
    quota: Arc<Quota>,
    _permit: OwnedSemaphorePermit,
    /// Whether other tenants were active when it was admitted.
    pub(super) shared: bool,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.quota.started.fetch_sub(1, Ordering::Relaxed);
        self.quota.ended.notify_waiters();
    }
}

/// Epoch ticks spent in the current window.
#[derive(Debug)]
pub struct CpuMeter {
    ticks: AtomicU64,
    window: Mutex<Instant>,
}

impl Default for CpuMeter {
    fn default() -> Self {
        CpuMeter { ticks: AtomicU64::new(0), window: Mutex::new(Instant::now()) }
    }
}

impl CpuMeter {
    /// Guest time spent in the current window.
    pub fn used(&self) -> Duration {
        self.roll();
        EPOCH_TICK * self.ticks.load(Ordering::Relaxed).min(u32::MAX as u64) as u32
    }

    /// Starts a new window once the current one is over.
    fn roll(&self) {
        let mut started = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if started.elapsed() >= CPU_WINDOW {
            *started = Instant::now();
            self.ticks.store(0, Ordering::Relaxed);
        }
    }

    /// When the current window ends.
    fn resets_in(&self) -> Duration {
        let started = *self.window.lock().unwrap_or_else(|p| p.into_inner());
        CPU_WINDOW.saturating_sub(started.elapsed())
    }
}

/// Why a tenant's call was not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QuotaExceeded(pub String);

impl Quota {
    /// A fresh quota: nothing used yet.
    pub fn new(limits: QuotaLimits) -> Arc<Self> {
        Self::with_meters(limits, Arc::default(), Arc::default())
    }

    /// New limits over the same CPU and disk meters (the permits are new:
    /// calls running under the old limits finish under them).
    pub fn with_limits(&self, limits: QuotaLimits) -> Arc<Self> {
        Self::with_meters(limits, self.meter.clone(), self.disk.clone())
    }

    fn with_meters(limits: QuotaLimits, meter: Arc<CpuMeter>, disk: Arc<DiskUsage>) -> Arc<Self> {
        let permits = Arc::new(Semaphore::new(limits.concurrency.max(1)));
        Arc::new(Quota { limits, permits, started: AtomicUsize::new(0), ended: Notify::new(), meter, disk })
    }

    /// Counts what `roots` (the tenant's folders) hold against the disk
    /// quota from now on.
    pub fn watch_roots(&self, roots: Vec<Arc<Dir>>) {
        self.disk.watch(roots);
    }

    /// Bytes the tenant's folders hold: as last counted, or walked now if
    /// they never were (blocks for the walk).
    pub fn disk_used(&self) -> u64 {
        match self.disk.age() {
            Some(_) => self.disk.used(),
            None => self.disk.measure(),
        }
    }

    /// The disk meter and its limit, for a call's writes.
    pub(super) fn disk(&self) -> (Arc<DiskUsage>, u64) {
        (self.disk.clone(), self.limits.disk)
    }

    /// The limits.
    pub fn limits(&self) -> QuotaLimits {
        self.limits
    }

    /// Guest time spent in the current hour.
    pub fn cpu_used(&self) -> Duration {
        self.meter.used()
    }

    /// Calls of this tenant running now (not those waiting their turn).
    pub fn running(&self) -> usize {
        self.started.load(Ordering::Relaxed)
    }

    /// Waits for one of the tenant's call permits, checks its CPU time,
    /// then waits until the tenant runs fewer calls than its fair share of
    /// the threads (see `fair_share`).
    pub(super) async fn admit(
        self: &Arc<Self>,
        tenant: &Arc<str>,
        fair: &FairShare,
    ) -> Result<Admitted, QuotaExceeded> {
        let permit = self.permits.clone().acquire_owned().await.map_err(|_| QuotaExceeded("closed".into()))?;
        self.check_cpu()?;
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            let share = fair.share(tenant);
            let started = self
                .started
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |running| (running < share).then_some(running + 1));
            if started.is_ok() {
                return Ok(Admitted { quota: self.clone(), _permit: permit, shared: share != usize::MAX });
            }
            // The share grows back once the others fall quiet.
            let _ = tokio::time::timeout(ACTIVE_WINDOW, ended).await;
        }
    }

    fn check_cpu(&self) -> Result<(), QuotaExceeded> {
        if self.meter.used() >= self.limits.cpu_per_window {
            return Err(QuotaExceeded(format!(
                "the CPU time quota ({}s per hour) is used up; it resets in {}s",
                self.limits.cpu_per_window.as_secs(),
                self.meter.resets_in().as_secs() + 1
            )));
        }
        Ok(())
    }

    /// Counts one epoch tick of guest execution; an error once the window's
    /// time is used up (the call is stopped).
    pub(super) fn tick(&self) -> Result<(), QuotaExceeded> {
        self.meter.ticks.fetch_add(1, Ordering::Relaxed);
        self.check_cpu()
    }
}
