//! The state of one call's `Store`: its WASI context, resource table, memory
//! guard, output meter and cancellation flag, and the `host` imports over it.
//!
//! A `CallState` is built fresh for every call and dropped with its store, so
//! nothing a tool does survives into another call, session or tenant.

use super::bindings::{Host, LogLevel, TypesHost};
use super::limits::MemoryGuard;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Resources (files, streams, directory iterators) one call may hold at once.
/// A guest that leaks handles hits this instead of growing the host's table.
pub(crate) const MAX_RESOURCES: usize = 10_000;

/// A receiver for output a tool streams while it runs.
pub type OutputSink = Box<dyn FnMut(&str) + Send>;

/// Counts and forwards streamed output, refusing what passes the cap.
pub(crate) struct OutputMeter {
    cap: usize,
    used: usize,
    pub(crate) exceeded: bool,
    sink: Option<OutputSink>,
}

impl OutputMeter {
    pub(crate) fn new(cap: usize, sink: Option<OutputSink>) -> Self {
        OutputMeter { cap, used: 0, exceeded: false, sink }
    }
}

/// Marker error raised inside the guest when its streamed output passes the cap.
#[derive(Debug)]
pub(crate) struct OutputCapReached;

impl std::fmt::Display for OutputCapReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("output cap reached")
    }
}

impl std::error::Error for OutputCapReached {}

/// Everything a call's store holds.
pub(crate) struct CallState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) memory: MemoryGuard,
    pub(crate) output: OutputMeter,
    /// The caller's abort (a token nobody fires when it gave none).
    pub(crate) cancel: super::CancelToken,
    pub(crate) tool: String,
    /// The granted workspace, for WASI's preopen and `bulk-fs`.
    pub(crate) grant: Option<super::Grant>,
    /// The guest's directories once it asked for them, with their names
    /// (see `preopen`).
    pub(crate) preopens: Option<Vec<(wasmtime_wasi::filesystem::Dir, String)>>,
    /// What the call may still add to files (and its tenant's disk meter).
    pub(crate) disk: Arc<super::disk_quota::DiskBudget>,
    /// Where the paths the call changes are told first (see `change_capture`).
    pub(crate) changes: Option<super::change_capture::ChangeCapture>,
    /// Set only where host processes are allowed, for `host-process`.
    pub(crate) processes: Option<super::host_process::ProcessGrant>,
    /// Where `wasi:http` requests may go (nowhere without the grant).
    pub(crate) http: super::outgoing_http::OutgoingHttp,
    /// The folders of the grant the tool's policy narrows it to (`None`:
    /// the whole grant).
    pub(crate) folders: Option<Vec<super::FolderRule>>,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// The `types` interface has no functions; the bindings still ask for it.
impl TypesHost for CallState {}

impl Host for CallState {
    fn emit_output(&mut self, chunk: String) -> wasmtime::Result<()> {
        let meter = &mut self.output;
        if meter.used + chunk.len() > meter.cap {
            meter.exceeded = true;
            return Err(wasmtime::Error::new(OutputCapReached));
        }
        meter.used += chunk.len();
        if let Some(sink) = meter.sink.as_mut() {
            sink(&chunk);
        }
        Ok(())
    }

    fn is_cancelled(&mut self) -> bool {
        self.cancel.is_cancelled()
    }

    fn log(&mut self, level: LogLevel, message: String) {
        // Guest text goes to the log as data, cut short so it cannot flood it.
        let message: String = message.chars().take(1000).collect();
        let tool = &self.tool;
        match level {
            LogLevel::Debug => tracing::debug!(tool, "{message}"),
            LogLevel::Info => tracing::info!(tool, "{message}"),
            LogLevel::Warn => tracing::warn!(tool, "{message}"),
            LogLevel::Error => tracing::error!(tool, "{message}"),
        }
    }
}
