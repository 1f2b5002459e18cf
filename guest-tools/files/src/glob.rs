//! `glob`: files whose path matches a pattern, newest first.
//!
//! A pattern with a `/` matches the path relative to the searched folder
//! (`src/**/*.rs`); one without matches the file name at any depth (`*.rs`),
//! as ripgrep's `--glob` does, which is what OpenCode's glob tool runs.

use serde::Deserialize;
use serde_json::json;
use wasmgate_tool_sdk::JsonSchema;
use wasmgate_tool_sdk::workspace::{BulkListing, Workspace};
use wasmgate_tool_sdk::{ToolError, ToolResult};

const LIMIT: usize = 100;

/// The arguments, and (through `JsonSchema`) the schema the model sees.
#[derive(Deserialize, JsonSchema)]
pub struct Args {
    /// The glob pattern to match files against
    pattern: String,
    /// The folder to search in (default: the workspace root)
    path: Option<String>,
}

pub fn spec() -> wasmgate_tool_sdk::ToolSpec {
    wasmgate_tool_sdk::spec::<Args>(
        "glob",
        "Finds files by glob pattern (`**/*.rs`, `src/**/*.ts`, `*.md`), honouring .gitignore. \
         Returns absolute paths, most recently modified first, at most 100.",
    )
}

pub fn run(ws: &Workspace, args: Args) -> Result<ToolResult, ToolError> {
    let dir = wasmgate_tool_sdk::workspace::folder(ws, args.path.as_deref())?;
    let pattern = args.pattern.trim_start_matches("./");
    let matcher = globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| ToolError::InvalidArguments(format!("bad glob pattern: {e}")))?
        .compile_matcher();
    let by_name = !pattern.contains('/');

    let mut found: Vec<(std::time::SystemTime, String)> = Vec::new();
    let rules = workspace_walk::Rules { hidden: false, overrides: None };
    let _ = workspace_walk::files(&BulkListing, ws.root(), &dir.rel, &rules, &mut |abs, rel| {
        let inside = rel.strip_prefix(&dir.rel).unwrap_or(rel).trim_start_matches('/');
        let name = inside.rsplit('/').next().unwrap_or(inside);
        if matcher.is_match(if by_name { name } else { inside }) {
            let modified = std::fs::metadata(abs).and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
            found.push((modified, abs.to_string()));
        }
        std::ops::ControlFlow::Continue(())
    });
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let truncated = found.len() > LIMIT;
    found.truncate(LIMIT);

    let mut output = if found.is_empty() {
        "No files found".to_string()
    } else {
        found.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>().join("\n")
    };
    if truncated {
        output.push_str(&format!(
            "\n\n(Results are truncated: showing the first {LIMIT} results. Use a more specific path or pattern.)"
        ));
    }
    wasmgate_tool_sdk::result(dir.display().to_string(), output, json!({"count": found.len(), "truncated": truncated}))
}
