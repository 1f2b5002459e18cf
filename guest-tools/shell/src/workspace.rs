//! The workspace of one call, with path errors turned into `tool-error`.

use crate::exports::wasmgate::tools::tool::{CallContext, ToolError};
pub use workspace_paths::{Resolved, Workspace};

/// The workspace the call context names.
pub fn of(context: &CallContext) -> Workspace {
    Workspace::new(&context.workspace, context.writable)
}

workspace_paths::tool_error_from_path_error!(ToolError);
