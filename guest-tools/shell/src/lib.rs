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

mod arith;
mod builtins;
mod compound;
mod cond;
mod expand;
mod interp;
mod io;
mod pattern;
mod variables;

use serde::Deserialize;
use serde_json::json;
use wasmgate_tool_sdk::{CallContext, Guest, JsonSchema, ToolError, ToolResult, ToolSpec, parse, workspace};

/// The most output the tool returns to the model; the rest is streamed and cut.
const MAX_RETURNED_OUTPUT: usize = 30_000;

struct ShellTool;

/// The arguments, and (through `JsonSchema`) the schema the model sees.
#[derive(Deserialize, JsonSchema)]
struct Args {
    /// The command to run
    command: String,
    /// Optional timeout in milliseconds
    // The host reads it (and its deadline is the hard limit either way).
    #[allow(dead_code)]
    timeout: Option<f64>,
    /// What the command does, in 5-10 words
    description: Option<String>,
}

impl Guest for ShellTool {
    fn describe() -> Vec<ToolSpec> {
        vec![wasmgate_tool_sdk::spec::<Args>(
            "bash",
            "Runs a bash command in the workspace: pipes, &&, ||, ;, redirects, quotes, variables, globs, \
             if/for/while/case, functions, $((...)), [[ ]], arrays, ${var#pattern} and the like, set -e, and \
             built-in commands (echo, printf, cat, ls, head, tail, wc, grep, find, sed, mkdir, rm, cp, mv, \
             touch, sort, uniq, cut, tr, seq, tee, test, basename, dirname, env and more). It cannot start \
             other programs; prefer the read, edit and grep tools for files.",
        )]
    }

    fn invoke(name: String, arguments: String, context: CallContext) -> Result<ToolResult, ToolError> {
        if name != "bash" {
            return Err(ToolError::UnknownTool(format!("the shell has no tool named {name:?}")));
        }
        let args: Args = parse(&arguments)?;
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

wasmgate_tool_sdk::export!(ShellTool with_types_in wasmgate_tool_sdk);
