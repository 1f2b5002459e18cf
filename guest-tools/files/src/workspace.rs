//! The workspace of one call, with path errors turned into `tool-error`.

use crate::exports::wasmgate::tools::tool::{CallContext, ToolError};
pub use workspace_paths::{Access, Resolved, Workspace};

/// The workspace the call context names.
pub fn of(context: &CallContext) -> Workspace {
    Workspace::new(&context.workspace, context.writable)
}

workspace_paths::tool_error_from_path_error!(ToolError);

workspace_walk::bulk_listing!(crate::wasmgate::tools::bulk_fs);

/// The folder a tree-shaped tool works on (default: the root), which must exist.
pub fn folder(ws: &Workspace, path: Option<&str>) -> Result<Resolved, ToolError> {
    let dir = ws.resolve(path.unwrap_or("."))?;
    let meta = std::fs::metadata(&dir.abs).map_err(|e| ws.io_error(Access::Read, &dir, e))?;
    if !meta.is_dir() {
        return Err(ToolError::InvalidArguments(format!("{} is not a directory", dir.abs)));
    }
    Ok(dir)
}
