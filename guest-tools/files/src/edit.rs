//! `edit`: replaces text in a file, tolerant of how models quote code.
//!
//! Matching lives in the `edit-match` crate (exact first, then whitespace- and
//! indentation-tolerant, ambiguity refused); this module does the file work
//! and reports a unified diff in the metadata, as OpenCode's UI expects.

use serde::Deserialize;
use serde_json::json;
use wasmgate_tool_sdk::JsonSchema;
use wasmgate_tool_sdk::workspace::Workspace;
use wasmgate_tool_sdk::{ToolError, ToolResult};

/// The largest file `edit` will load: edits are for source, not data dumps.
const MAX_EDIT_BYTES: u64 = 16 * 1024 * 1024;
/// Whole before/after texts go into the metadata only below this size, so a
/// large file's edit does not carry megabytes of JSON back to the host.
const MAX_METADATA_TEXT: usize = 256 * 1024;

/// The arguments, and (through `JsonSchema`) the schema the model sees.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Args {
    /// The path to the file: relative to the workspace, or absolute inside it
    file_path: String,
    /// The text to replace
    old_string: String,
    /// The text to replace it with (must differ from oldString)
    new_string: String,
    /// Replace every occurrence of oldString (default false)
    #[serde(default)]
    replace_all: bool,
}

pub fn spec() -> wasmgate_tool_sdk::ToolSpec {
    wasmgate_tool_sdk::spec::<Args>(
        "edit",
        "Replaces `oldString` with `newString` in a file. `oldString` must identify one place: \
         it is matched exactly first, then line by line ignoring differences in whitespace and \
         indentation; if it matches several places, include more surrounding lines or set \
         `replaceAll`. An empty `oldString` creates the file with `newString` as its content.",
    )
}

pub fn run(ws: &Workspace, args: Args) -> Result<ToolResult, ToolError> {
    ws.require_writable("edit files")?;
    let path = ws.resolve(&args.file_path)?;

    let (before, after, note) = if args.old_string.is_empty() {
        let before = match std::fs::metadata(&path.abs) {
            Ok(_) => text_of(ws, &path)?,
            Err(_) => String::new(),
        };
        (before, args.new_string.clone(), String::new())
    } else {
        let before = text_of(ws, &path)?;
        let crlf = before.contains("\r\n");
        let fit = |s: &str| if crlf && !s.contains('\r') { s.replace('\n', "\r\n") } else { s.to_string() };
        let edited = edit_match::replace(&before, &fit(&args.old_string), &fit(&args.new_string), args.replace_all)
            .map_err(|e| ToolError::Failed(e.to_string()))?;
        let note = if edited.replacements > 1 {
            format!(" Replaced {} occurrences.", edited.replacements)
        } else {
            String::new()
        };
        (before, edited.content, note)
    };

    crate::write::store(ws, &path, after.as_bytes())?;
    let diff = similar::TextDiff::from_lines(&before, &after);
    let (mut additions, mut deletions) = (0, 0);
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => additions += 1,
            similar::ChangeTag::Delete => deletions += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    let unified = diff.unified_diff().context_radius(3).header(&path.abs, &path.abs).to_string();
    let mut filediff = json!({"file": path.abs, "additions": additions, "deletions": deletions});
    if before.len() + after.len() <= MAX_METADATA_TEXT {
        filediff["before"] = before.into();
        filediff["after"] = after.into();
    }
    wasmgate_tool_sdk::result(
        path.display().to_string(),
        format!("Edit applied successfully.{note}"),
        json!({"diff": unified, "filediff": filediff, "diagnostics": {}}),
    )
}

fn text_of(ws: &Workspace, path: &wasmgate_tool_sdk::workspace::Resolved) -> Result<String, ToolError> {
    let bytes = crate::read::read_capped(ws, path, MAX_EDIT_BYTES)?;
    String::from_utf8(bytes).map_err(|_| ToolError::Failed(format!("{} is not UTF-8 text; edit refuses it", path.abs)))
}
