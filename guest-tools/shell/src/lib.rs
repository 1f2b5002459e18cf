//! wasmgate's `bash` tool: a shell that runs inside the sandbox.
//!
//! WASI cannot start processes, so this component is the shell: it parses
//! the command with `brush-parser` (a maintained POSIX/bash parser), runs it
//! with its own interpreter ([`interp`]), and provides the commands an agent
//! uses every day as built-ins over WASI files ([`builtins`]). It sees only
//! the workspace the host preopened; `cd ..` out of it, `cat ../x` and
//! redirects outside all fail like any other missing permission.
//!
//! Output is streamed to the host as it is produced (`host.emit-output`) and
//! returned as one text, stdout and stderr interleaved, as a terminal shows
//! them; the exit status is in the metadata, as OpenCode's bash tool has it.

wit_bindgen::generate!({
    world: "tool-provider",
    path: "../../wit",
});

mod builtins;
mod expand;
mod interp;
mod io;
mod workspace;

use exports::wasmgate::tools::tool::{CallContext, Guest, ToolError, ToolResult, ToolSpec};
use serde::Deserialize;
use serde_json::json;

/// The most output the tool returns to the model; the rest is streamed and cut.
const MAX_RETURNED_OUTPUT: usize = 30_000;

struct ShellTool;

#[derive(Deserialize)]
struct Args {
    command: String,
    /// Milliseconds; the host's deadline is the hard limit either way.
    #[allow(dead_code)]
    timeout: Option<u64>,
    description: Option<String>,
}

impl Guest for ShellTool {
    fn describe() -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: "bash".into(),
            description: "Runs a shell command in the workspace: pipes, &&, ||, ;, redirects, quotes, \
                          variables, globs, if/for/while, and built-in commands (echo, printf, cat, ls, \
                          head, tail, wc, grep, find, mkdir, rm, cp, mv, touch, sort, uniq, cut, tr, \
                          seq, tee, test, basename, dirname, env and more). It cannot start other \
                          programs; prefer the read, edit and grep tools for files."
                .into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "The command to run"},
                    "timeout": {"type": "number", "description": "Optional timeout in milliseconds"},
                    "description": {"type": "string", "description": "What the command does, in 5-10 words"}
                },
                "required": ["command"],
                "additionalProperties": false
            })
            .to_string(),
        }]
    }

    fn invoke(name: String, arguments: String, context: CallContext) -> Result<ToolResult, ToolError> {
        if name != "bash" {
            return Err(ToolError::UnknownTool(format!("the shell has no tool named {name:?}")));
        }
        let args: Args = serde_json::from_str(&arguments)
            .map_err(|e| ToolError::InvalidArguments(format!("invalid arguments: {e}")))?;
        let ws = workspace::of(&context);
        let terminal = io::Terminal::new(MAX_RETURNED_OUTPUT);
        let status = interp::Shell::new(ws, terminal.clone()).run_script(&args.command);
        let (output, truncated) = terminal.finish();
        Ok(ToolResult {
            title: args.description.clone().unwrap_or_else(|| args.command.clone()),
            output: output.clone(),
            metadata: json!({
                "output": output,
                "exit": status,
                "description": args.description,
                "truncated": truncated
            })
            .to_string(),
        })
    }
}

export!(ShellTool);
