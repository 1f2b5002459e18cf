//! {{name}}: a wasmgate tool, made by `wasmgate tool new`.
//!
//! It counts the lines, words and bytes of a file in the workspace. Make it
//! yours by changing `describe` (its name, description and the JSON Schema
//! of its arguments) and `invoke`. The contract is `wit/tools.wit`, world
//! `tool-provider`; `./test.sh` builds it and runs it as a server will.

wit_bindgen::generate!({ world: "tool-provider", path: "wit" });

use exports::wasmgate::tools::tool::Guest;
use serde_json::{Value, json};
use std::path::{Component, Path, PathBuf};
use wasmgate::tools::types::{CallContext, ToolError, ToolResult, ToolSpec};

const NAME: &str = "{{name}}";

struct Tool;

impl Guest for Tool {
    fn describe() -> Vec<ToolSpec> {
        let parameters = json!({
            "type": "object",
            "properties": {
                "path": { "type": "string", "description": "The file, relative to the workspace." }
            },
            "required": ["path"],
            "additionalProperties": false,
        });
        vec![ToolSpec {
            name: NAME.into(),
            description: "Counts the lines, words and bytes of a file in the workspace.".into(),
            parameters: parameters.to_string(),
        }]
    }

    fn invoke(
        name: String,
        arguments: String,
        context: CallContext,
    ) -> Result<ToolResult, ToolError> {
        if name != NAME {
            return Err(ToolError::UnknownTool(name));
        }
        let arguments: Value = serde_json::from_str(&arguments)
            .map_err(|e| ToolError::InvalidArguments(format!("the arguments are not JSON: {e}")))?;
        let Some(path) = arguments["path"].as_str() else {
            return Err(ToolError::InvalidArguments(
                "path (a file in the workspace) is required".into(),
            ));
        };
        let bytes =
            std::fs::read(resolve(path, &context.workspace)?).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    ToolError::NotFound(format!("{path}: no such file"))
                }
                _ => ToolError::Failed(format!("{path}: {e}")),
            })?;
        let text = String::from_utf8_lossy(&bytes);
        let (lines, words) = (text.lines().count(), text.split_whitespace().count());
        Ok(ToolResult {
            title: path.into(),
            output: format!(
                "{path}: {lines} lines, {words} words, {} bytes",
                bytes.len()
            ),
            metadata: json!({ "lines": lines, "words": words, "bytes": bytes.len() }).to_string(),
        })
    }
}

/// Where `path` is, refused when it leaves the workspace. (The sandbox
/// refuses it anyway: it holds the workspace and nothing else. Saying so
/// here gives the model a clearer error.)
fn resolve(path: &str, workspace: &str) -> Result<PathBuf, ToolError> {
    let mut full = PathBuf::new();
    for part in Path::new(workspace).join(path).components() {
        match part {
            Component::ParentDir => {
                full.pop();
            }
            Component::CurDir => {}
            part => full.push(part),
        }
    }
    if !full.starts_with(workspace) {
        return Err(ToolError::OutsideWorkspace(format!(
            "{path} is outside the workspace {workspace}"
        )));
    }
    Ok(full)
}

export!(Tool);
