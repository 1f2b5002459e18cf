//! The one error type of a tool call.
//!
//! It merges the two channels of the WIT boundary: errors the tool itself
//! returned (its `tool-error` variant) and what the host did to the call
//! (deadline, memory, output, cancellation, a trap). Each variant has a stable
//! [`CallError::kind`] code for JSON and a message a model or person can act on.

use super::bindings::GuestError;
use std::time::Duration;

/// Why a tool call did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No loaded component offers a tool by this name.
    #[error("unknown tool {0:?}; `wasmgate tool list` shows the tools there are")]
    UnknownTool(String),
    /// The tool rejected its arguments.
    #[error("{0}")]
    InvalidArguments(String),
    /// A path named something outside the workspace.
    #[error("{0}")]
    OutsideWorkspace(String),
    /// A file or directory does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The grant does not allow the operation.
    #[error("{0}")]
    PermissionDenied(String),
    /// The tool ran and reported a failure.
    #[error("{0}")]
    Failed(String),
    /// The call ran past its deadline and was stopped.
    #[error("the tool ran longer than its {}s deadline and was stopped", .0.as_secs_f64())]
    Timeout(Duration),
    /// The call's code used more CPU time than its policy allows.
    #[error("the tool used more than {}s of CPU time and was stopped", .0.as_secs_f64())]
    CpuLimit(Duration),
    /// The call tried to grow its memory past the cap and was stopped.
    #[error("the tool tried to use more than {} MiB of memory and was stopped", .0 >> 20)]
    MemoryLimit(usize),
    /// The call produced more output than the cap and was stopped.
    #[error("the tool produced more than {0} bytes of output and was stopped")]
    OutputLimit(usize),
    /// The tenant's quota does not allow the call (or stopped it).
    #[error("{0}")]
    QuotaExceeded(String),
    /// The caller cancelled the call.
    #[error("the call was cancelled")]
    Cancelled,
    /// The guest trapped (a panic, an invalid operation).
    #[error("the tool crashed: {0}")]
    Crashed(String),
    /// The host could not set the call up (a missing workspace, a broken component).
    #[error("sandbox error: {0}")]
    Host(String),
}

impl CallError {
    /// A stable, kebab-case code for the error's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::UnknownTool(_) => "unknown-tool",
            CallError::InvalidArguments(_) => "invalid-arguments",
            CallError::OutsideWorkspace(_) => "outside-workspace",
            CallError::NotFound(_) => "not-found",
            CallError::PermissionDenied(_) => "permission-denied",
            CallError::QuotaExceeded(_) => "quota-exceeded",
            CallError::Failed(_) => "failed",
            CallError::Timeout(_) => "timeout",
            CallError::CpuLimit(_) => "cpu-limit",
            CallError::MemoryLimit(_) => "memory-limit",
            CallError::OutputLimit(_) => "output-limit",
            CallError::Cancelled => "cancelled",
            CallError::Crashed(_) => "crashed",
            CallError::Host(_) => "host",
        }
    }

    /// Whether the host stopped the call for crossing a limit.
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            CallError::Timeout(_) | CallError::CpuLimit(_) | CallError::MemoryLimit(_) | CallError::OutputLimit(_)
        )
    }
}

impl From<GuestError> for CallError {
    fn from(error: GuestError) -> Self {
        match error {
            GuestError::InvalidArguments(m) => CallError::InvalidArguments(m),
            GuestError::OutsideWorkspace(m) => CallError::OutsideWorkspace(m),
            GuestError::NotFound(m) => CallError::NotFound(m),
            GuestError::PermissionDenied(m) => CallError::PermissionDenied(m),
            GuestError::UnknownTool(m) => CallError::UnknownTool(m),
            GuestError::Failed(m) => CallError::Failed(m),
        }
    }
}
