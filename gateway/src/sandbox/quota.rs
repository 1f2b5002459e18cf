//! A tenant's share of the sandbox, checked at every call it causes.
//!
//! The sandbox's [`Limits`](super::Limits) bound one call and all calls
//! together; a [`Quota`] bounds one tenant's calls inside those: how many run
//! at once (admitted here *before* the global permits, so one tenant's flood
//! queues behind its own permits and never holds all of the sandbox's), how
//! much memory and time each may take, how many epoch ticks of guest
//! execution its calls may spend per hour, and whether its shell may start
//! host processes. A quota travels on the [`Grant`](super::Grant)s made
//! from the tenant's roots, so no caller (a model's tool call, a file route)
//! can reach the sandbox without it.

use super::engine::EPOCH_TICK;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
    /// Whether the shell may run host processes (the sandbox must allow
    /// them too).
    pub host_processes: bool,
}

/// One tenant's admission and metering. Shared by every grant of the
/// tenant; its counters outlive a change of limits (see [`Quota::with_limits`]).
#[derive(Debug)]
pub struct Quota {
    limits: QuotaLimits,
    permits: Arc<Semaphore>,
    meter: Arc<CpuMeter>,
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
        Self::with_meter(limits, Arc::default())
    }

    /// New limits over the same CPU meter (the permits are new: calls
    /// running under the old limits finish under them).
    pub fn with_limits(&self, limits: QuotaLimits) -> Arc<Self> {
        Self::with_meter(limits, self.meter.clone())
    }

    fn with_meter(limits: QuotaLimits, meter: Arc<CpuMeter>) -> Arc<Self> {
        Arc::new(Quota { limits, permits: Arc::new(Semaphore::new(limits.concurrency.max(1))), meter })
    }

    /// The limits.
    pub fn limits(&self) -> QuotaLimits {
        self.limits
    }

    /// Guest time spent in the current hour.
    pub fn cpu_used(&self) -> Duration {
        self.meter.used()
    }

    /// Calls of this tenant running now.
    pub fn running(&self) -> usize {
        self.limits.concurrency.max(1) - self.permits.available_permits()
    }

    /// Waits for one of the tenant's call permits, then checks its CPU time.
    pub(super) async fn admit(&self) -> Result<OwnedSemaphorePermit, QuotaExceeded> {
        let permit = self.permits.clone().acquire_owned().await.map_err(|_| QuotaExceeded("closed".into()))?;
        self.check_cpu()?;
        Ok(permit)
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
