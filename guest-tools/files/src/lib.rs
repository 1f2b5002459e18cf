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

wit_bindgen::generate!({
    world: "file-tools",
    path: "../../wit",
});

mod edit;
mod glob;
mod list;
mod read;
mod typed;
mod workspace;
mod write;

use exports::wasmgate::tools::tool::{CallContext, Guest, ToolError, ToolResult, ToolSpec};
use serde::de::DeserializeOwned;

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

/// Parses a tool's JSON arguments, naming the field that is wrong.
fn parse<T: DeserializeOwned>(arguments: &str) -> Result<T, ToolError> {
    serde_json::from_str(arguments).map_err(|e| ToolError::InvalidArguments(format!("invalid arguments: {e}")))
}

/// Builds a spec from a name, a description and a JSON Schema value.
fn spec(name: &str, description: &str, parameters: serde_json::Value) -> ToolSpec {
    ToolSpec { name: name.into(), description: description.into(), parameters: parameters.to_string() }
}

/// A successful result.
fn result(title: String, output: String, metadata: serde_json::Value) -> Result<ToolResult, ToolError> {
    Ok(ToolResult { title, output, metadata: metadata.to_string() })
}

export!(FileTools);
