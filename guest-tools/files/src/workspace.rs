//! The workspace of one call, as the `workspace-paths` crate resolves it,
//! with its errors turned into this component's `tool-error`.

use crate::exports::wasmgate::tools::tool::{CallContext, ToolError};
pub use workspace_paths::{Access, PathError, Resolved, Workspace};

/// The workspace the call context names.
pub fn of(context: &CallContext) -> Workspace {
    Workspace::new(&context.workspace, context.writable)
}

impl From<PathError> for ToolError {
    fn from(error: PathError) -> Self {
        match error {
            PathError::Outside(m) => ToolError::OutsideWorkspace(m),
            PathError::NotFound(m) => ToolError::NotFound(m),
            PathError::PermissionDenied(m) => ToolError::PermissionDenied(m),
            PathError::Failed(m) => ToolError::Failed(m),
        }
    }
}
