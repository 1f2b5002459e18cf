//! What one tool call may consume, and the guard that enforces memory.
//!
//! Every limit exists because a guest controls the quantity: a tool that loops
//! would hold a worker forever (deadline), one that allocates would take the
//! host's memory (memory cap), one that prints would fill the host's buffers
//! (output cap), one that writes files would fill the host's disk (disk
//! writes), and many at once would exhaust all of it (concurrency).

use std::time::Duration;

/// Limits applied to every call of a [`Sandbox`](super::Sandbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall time one call may run before it is stopped.
    pub deadline: Duration,
    /// Bytes of linear memory one call's instance may grow to.
    pub memory: usize,
    /// Bytes of output one call may produce: its result text, its streamed
    /// chunks and its stdout/stderr, each counted against this cap.
    pub output: usize,
    /// Calls that may run at once; more wait for a turn.
    pub concurrency: usize,
    /// Bytes one call may add to files (growth; rewriting in place is
    /// free); a write past it fails.
    pub disk_write: u64,
}

impl Limits {
    /// A minute of wall time: long enough for a search over a large tree.
    pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);
    /// 256 MiB of memory per call.
    pub const DEFAULT_MEMORY: usize = 256 << 20;
    /// 4 MiB of output per call: far more than a model's context can use.
    pub const DEFAULT_OUTPUT: usize = 4 << 20;
    /// 32 concurrent calls.
    pub const DEFAULT_CONCURRENCY: usize = 32;
    /// 1 GiB written per call: a large checkout copied, not a disk filled.
    pub const DEFAULT_DISK_WRITE: u64 = 1 << 30;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Self::DEFAULT_DEADLINE,
            memory: Self::DEFAULT_MEMORY,
            output: Self::DEFAULT_OUTPUT,
            concurrency: Self::DEFAULT_CONCURRENCY,
            disk_write: Self::DEFAULT_DISK_WRITE,
        }
    }
}

/// Table elements a guest may grow a table to; Rust and C guests use a few
/// hundred, and the cap keeps a hostile guest from growing tables instead of
/// memory.
const MAX_TABLE_ELEMENTS: usize = 1 << 16;

/// The per-store memory guard. It refuses growth past the cap and remembers
/// that it did, so a guest that then aborts is reported as over its memory
/// cap rather than as a crash.
pub(crate) struct MemoryGuard {
    cap: usize,
    pub(crate) exceeded: bool,
}

impl MemoryGuard {
    pub(crate) fn new(cap: usize) -> Self {
        MemoryGuard { cap, exceeded: false }
    }

    pub(crate) fn cap(&self) -> usize {
        self.cap
    }
}

impl wasmtime::ResourceLimiter for MemoryGuard {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.exceeded = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
