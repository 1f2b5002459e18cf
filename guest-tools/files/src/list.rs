//! `list`: the workspace (or a folder of it) as an indented tree.
//!
//! Like OpenCode's list tool it shows files, grouped under their folders,
//! honours .gitignore, skips the usual dependency and build folders, and stops
//! at 100 files so one call cannot flood the model's context.

use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use wasmgate_tool_sdk::JsonSchema;
use wasmgate_tool_sdk::workspace::{BulkListing, Workspace};
use wasmgate_tool_sdk::{ToolError, ToolResult};

const LIMIT: usize = 100;

/// Folders nobody wants listed: dependencies, build output, caches, VCS data.
const SKIPPED: &[&str] = &[
    "node_modules/",
    "__pycache__/",
    ".git/",
    "dist/",
    "build/",
    "target/",
    "vendor/",
    "bin/",
    "obj/",
    ".idea/",
    ".vscode/",
    ".zig-cache/",
    "zig-out/",
    ".coverage/",
    "coverage/",
    "tmp/",
    "temp/",
    ".cache/",
    "cache/",
    "logs/",
    ".venv/",
    "venv/",
    "env/",
];

/// The arguments, and (through `JsonSchema`) the schema the model sees.
#[derive(Deserialize, JsonSchema)]
pub struct Args {
    /// The folder to list (default: the workspace root)
    path: Option<String>,
    /// Glob patterns to leave out
    #[serde(default)]
    ignore: Vec<String>,
}

pub fn spec() -> wasmgate_tool_sdk::ToolSpec {
    wasmgate_tool_sdk::spec::<Args>(
        "list",
        "Lists the files under a folder of the workspace as a tree (at most 100 files), honouring \
         .gitignore and skipping dependency and build folders. Prefer `glob` or `grep` when you \
         know what you are looking for.",
    )
}

/// A folder in the tree being rendered.
#[derive(Default)]
struct Folder {
    folders: BTreeMap<String, Folder>,
    files: Vec<String>,
}

pub fn run(ws: &Workspace, args: Args) -> Result<ToolResult, ToolError> {
    let dir = wasmgate_tool_sdk::workspace::folder(ws, args.path.as_deref())?;
    let mut excludes = workspace_walk::OverrideBuilder::new(&dir.abs);
    for pattern in SKIPPED.iter().copied().chain(args.ignore.iter().map(String::as_str)) {
        let pattern = pattern.trim_end_matches('/');
        excludes
            .add(&format!("!{pattern}"))
            .map_err(|e| ToolError::InvalidArguments(format!("bad ignore pattern {pattern:?}: {e}")))?;
    }
    let excludes = excludes.build().map_err(|e| ToolError::InvalidArguments(e.to_string()))?;
    let rules = workspace_walk::Rules { hidden: false, overrides: Some(&excludes) };

    let mut tree = Folder::default();
    let mut count = 0;
    let mut truncated = false;
    let _ = workspace_walk::files(&BulkListing, ws.root(), &dir.rel, &rules, &mut |_, rel| {
        if count == LIMIT {
            truncated = true;
            return ControlFlow::Break(());
        }
        count += 1;
        let inside = rel.strip_prefix(&dir.rel).unwrap_or(rel).trim_start_matches('/');
        let mut parts: Vec<&str> = inside.split('/').collect();
        let name = parts.pop().unwrap_or_default();
        let mut folder = &mut tree;
        for part in parts {
            folder = folder.folders.entry(part.to_string()).or_default();
        }
        folder.files.push(name.to_string());
        ControlFlow::Continue(())
    });

    let mut output = format!("{}/\n", dir.abs.trim_end_matches('/'));
    render(&tree, 1, &mut output);
    if truncated {
        output.push_str(&format!("\n(Truncated: showing the first {LIMIT} files. List a subfolder to see more.)\n"));
    }
    wasmgate_tool_sdk::result(dir.display().to_string(), output, json!({"count": count, "truncated": truncated}))
}

fn render(folder: &Folder, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    for (name, child) in &folder.folders {
        out.push_str(&format!("{indent}{name}/\n"));
        render(child, depth + 1, out);
    }
    let mut files = folder.files.clone();
    files.sort();
    for name in files {
        out.push_str(&format!("{indent}{name}\n"));
    }
}
