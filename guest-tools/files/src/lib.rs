//! wasmgate's file tools, one WebAssembly component.
//!
//! `read`, `write`, `edit`, `list` and `glob` carry OpenCode's names, argument
//! names and output shapes, so a model prompted for OpenCode uses them
//! unchanged. The `files` interface offers typed versions of the operations
//! the HTTP API needs (list a directory, read a file).
//!
//! The component sees exactly one directory: the workspace the host preopened
//! for this call. Paths are checked lexically here so that a mistake gets a
//! clear message, but the boundary itself is WASI's: a path that escapes,
//! through `..` or a symlink, fails inside the host whatever this code does.

// Only this component's exports are generated here; the shared interfaces
// are the SDK's (see `wasmgate_tool_sdk`).
wit_bindgen::generate!({
    world: "file-tools",
    path: "../../wit",
    with: {
        "wasmgate:tools/types@0.1.0": wasmgate_tool_sdk::wasmgate::tools::types,
        "wasmgate:tools/host@0.1.0": wasmgate_tool_sdk::wasmgate::tools::host,
        "wasmgate:tools/bulk-fs@0.1.0": wasmgate_tool_sdk::wasmgate::tools::bulk_fs,
        "wasmgate:tools/host-process@0.1.0": wasmgate_tool_sdk::wasmgate::tools::host_process,
    },
});

mod edit;
mod glob;
mod list;
mod read;
mod typed;
mod write;

use exports::wasmgate::tools::tool::Guest;
use wasmgate_tool_sdk::{CallContext, ToolError, ToolResult, ToolSpec, parse, workspace};

/// The component's one export type.
struct FileTools;

impl Guest for FileTools {
    fn describe() -> Vec<ToolSpec> {
        vec![read::spec(), write::spec(), edit::spec(), list::spec(), glob::spec()]
    }

    fn invoke(name: String, arguments: String, context: CallContext) -> Result<ToolResult, ToolError> {
        let ws = workspace::of(&context);
        match name.as_str() {
            "read" => read::run(&ws, parse(&arguments)?),
            "write" => write::run(&ws, parse(&arguments)?),
            "edit" => edit::run(&ws, parse(&arguments)?),
            "list" => list::run(&ws, parse(&arguments)?),
            "glob" => glob::run(&ws, parse(&arguments)?),
            other => Err(ToolError::UnknownTool(format!("the file tools have no tool named {other:?}"))),
        }
    }
}

export!(FileTools);
