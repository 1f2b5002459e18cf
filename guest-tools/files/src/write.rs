//! `write`: creates or replaces a file, creating its parent folders.

use serde::Deserialize;
use serde_json::json;
use wasmgate_tool_sdk::JsonSchema;
use wasmgate_tool_sdk::workspace::{Access, Resolved, Workspace};
use wasmgate_tool_sdk::{ToolError, ToolResult};

/// The arguments, and (through `JsonSchema`) the schema the model sees.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Args {
    /// The path to the file: relative to the workspace, or absolute inside it
    file_path: String,
    /// The content to write
    content: String,
}

pub fn spec() -> wasmgate_tool_sdk::ToolSpec {
    wasmgate_tool_sdk::spec::<Args>(
        "write",
        "Writes a file in the workspace, replacing it if it exists and creating missing parent \
         folders. Prefer `edit` for changes to an existing file.",
    )
}

pub fn run(ws: &Workspace, args: Args) -> Result<ToolResult, ToolError> {
    ws.require_writable("write files")?;
    let path = ws.resolve(&args.file_path)?;
    let exists = store(ws, &path, args.content.as_bytes())?;
    wasmgate_tool_sdk::result(
        path.display().to_string(),
        "Wrote file successfully.".into(),
        // `diagnostics`: no language server runs here, so none (the TUI
        // draws its "Wrote" block from this metadata).
        json!({"filepath": path.abs, "exists": exists, "diagnostics": {}}),
    )
}

/// Writes `bytes` to `path`, creating parent folders; says whether the file
/// existed before.
pub fn store(ws: &Workspace, path: &Resolved, bytes: &[u8]) -> Result<bool, ToolError> {
    if path.rel.is_empty() {
        return Err(ToolError::InvalidArguments("the workspace root is a directory, not a file".into()));
    }
    // Never a FIFO or device: opening one to write blocks or does harm.
    let existing = ws.openable(Access::Write, path)?;
    if existing.as_ref().is_some_and(|m| m.is_dir()) {
        return Err(ToolError::InvalidArguments(format!("{} is a directory", path.abs)));
    }
    if let Some((parent, _)) = path.abs.rsplit_once('/')
        && !parent.is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| ws.io_error(Access::Write, path, e))?;
    }
    workspace_paths::replace_contents(&path.abs, bytes).map_err(|e| ws.io_error(Access::Write, path, e))?;
    Ok(existing.is_some())
}
