//! `list`: the workspace (or a folder of it) as an indented tree.
//!
//! Like OpenCode's list tool it shows files, grouped under their folders,
//! honours .gitignore, skips the usual dependency and build folders, and stops
//! at 100 files so one call cannot flood the model's context.

use crate::exports::wasmgate::tools::tool::{ToolError, ToolResult};
use crate::workspace::{Access, Workspace};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

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

#[derive(Deserialize)]
pub struct Args {
    path: Option<String>,
    #[serde(default)]
    ignore: Vec<String>,
}

pub fn spec() -> crate::exports::wasmgate::tools::tool::ToolSpec {
    crate::spec(
        "list",
        "Lists the files under a folder of the workspace as a tree (at most 100 files), honouring \
         .gitignore and skipping dependency and build folders. Prefer `glob` or `grep` when you \
         know what you are looking for.",
        json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "The folder to list (default: the workspace root)"},
                "ignore": {"type": "array", "items": {"type": "string"}, "description": "Glob patterns to leave out"}
            },
            "additionalProperties": false
        }),
    )
}

/// A folder in the tree being rendered.
#[derive(Default)]
struct Folder {
    folders: BTreeMap<String, Folder>,
    files: Vec<String>,
}

pub fn run(ws: &Workspace, args: Args) -> Result<ToolResult, ToolError> {
    let dir = ws.resolve(args.path.as_deref().unwrap_or("."))?;
    let meta = std::fs::metadata(&dir.abs).map_err(|e| ws.io_error(Access::Read, &dir, e))?;
    if !meta.is_dir() {
        return Err(ToolError::InvalidArguments(format!("{} is not a directory", dir.abs)));
    }
    let mut excludes: Vec<String> = SKIPPED.iter().map(|s| s.to_string()).collect();
    excludes.extend(args.ignore);
    let walk = crate::walk::walker(&dir.abs, &excludes).map_err(ToolError::InvalidArguments)?;

    let mut tree = Folder::default();
    let mut count = 0;
    let mut truncated = false;
    for entry in walk {
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_some_and(|t| t.is_file() || t.is_symlink()) {
            continue;
        }
        if count == LIMIT {
            truncated = true;
            break;
        }
        count += 1;
        let rel = entry.path().strip_prefix(&dir.abs).unwrap_or(entry.path());
        let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        let Some(name) = parts.pop() else { continue };
        let mut folder = &mut tree;
        for part in parts {
            folder = folder.folders.entry(part).or_default();
        }
        folder.files.push(name);
    }

    let mut output = format!("{}/\n", dir.abs.trim_end_matches('/'));
    render(&tree, 1, &mut output);
    if truncated {
        output.push_str(&format!("\n(Truncated: showing the first {LIMIT} files. List a subfolder to see more.)\n"));
    }
    crate::result(dir.display().to_string(), output, json!({"count": count, "truncated": truncated}))
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
