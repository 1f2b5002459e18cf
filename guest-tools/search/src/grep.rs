//! `grep` for the model, and `find-text` for the HTTP API: one engine, two
//! shapes of answer.
//!
//! `grep` answers the way OpenCode's grep tool does: the files with matches,
//! most recently modified first, each with its matching lines numbered,
//! capped at 100 matches in all and 20 per file, with a note when cut.

use crate::engine::{self, FileHits, Query};
use crate::exports::wasmgate::tools::search::{Submatch, TextMatch, TextQuery};
use grep_matcher::Matcher;
use serde::Deserialize;
use serde_json::json;
use std::ops::ControlFlow;
use wasmgate_tool_sdk::JsonSchema;
use wasmgate_tool_sdk::workspace::Workspace;
use wasmgate_tool_sdk::{ToolError, ToolResult};

/// Matching lines `grep` returns in all.
const TOOL_LIMIT: usize = 100;
/// Matching lines `grep` returns from one file.
const TOOL_PER_FILE: usize = 20;
/// Characters of a matching line `grep` shows.
const MAX_LINE_CHARS: usize = 2000;

/// The arguments, and (through `JsonSchema`) the schema the model sees.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Args {
    /// The regular expression to search for
    pattern: String,
    /// The folder or file to search (default: the workspace root)
    path: Option<String>,
    /// Only search files matching this glob, e.g. "*.js" or "*.{ts,tsx}"
    include: Option<String>,
    /// Match letters of either case (default false)
    #[serde(default)]
    case_insensitive: bool,
}

pub fn spec() -> wasmgate_tool_sdk::ToolSpec {
    wasmgate_tool_sdk::spec::<Args>(
        "grep",
        "Searches file contents with a regular expression (ripgrep syntax, e.g. \
                      `fn\\s+main`, `log.*Error`). Honours .gitignore and skips hidden and binary \
                      files. Returns matching lines grouped by file, most recently modified files \
                      first, at most 100 lines. Use `include` to search only some files \
                      (`*.rs`, `*.{ts,tsx}`).",
    )
}

pub fn run(ws: &Workspace, args: Args) -> Result<ToolResult, ToolError> {
    if args.pattern.is_empty() {
        return Err(ToolError::InvalidArguments("pattern must not be empty".into()));
    }
    let query = Query {
        pattern: &args.pattern,
        path: args.path.as_deref(),
        include: args.include.as_deref(),
        case_insensitive: args.case_insensitive,
        hidden: false,
        max_per_file: TOOL_PER_FILE,
    };
    let matcher = engine::matcher(&query)?;
    let mut files: Vec<(std::time::SystemTime, FileHits)> = Vec::new();
    let mut count = 0;
    let truncated = engine::search(ws, &query, &matcher, |hits| {
        count += hits.hits.len();
        let modified = std::fs::metadata(&hits.abs).and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
        files.push((modified, hits));
        if count >= TOOL_LIMIT { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    })?;
    let title = args.pattern.clone();
    if files.is_empty() {
        return Ok(ToolResult {
            title,
            output: "No files found".into(),
            metadata: json!({"matches": 0, "truncated": false}).to_string(),
        });
    }
    files.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.rel.cmp(&b.1.rel)));

    let mut shown = 0;
    let mut output = String::new();
    for (_, file) in &files {
        output.push_str(if output.is_empty() { "" } else { "\n" });
        output.push_str(&file.abs);
        output.push_str(":\n");
        for hit in file.hits.iter().take(TOOL_LIMIT - shown) {
            let text = String::from_utf8_lossy(&hit.line);
            let text = text.trim_end_matches(['\n', '\r']);
            let text: String = text.chars().take(MAX_LINE_CHARS).collect();
            output.push_str(&format!("  Line {}: {text}\n", hit.line_number));
            shown += 1;
        }
        if file.more {
            output.push_str("  (more matches in this file not shown)\n");
        }
    }
    let cut = truncated || files.iter().any(|(_, f)| f.more);
    let header = format!("Found {shown} matches\n");
    if truncated {
        output.push_str("\n(Results are truncated. Consider using a more specific path or pattern.)\n");
    }
    Ok(ToolResult {
        title,
        output: header + &output,
        metadata: json!({"matches": shown, "files": files.len(), "truncated": cut}).to_string(),
    })
}

/// The typed search: records shaped like ripgrep's JSON `match` messages.
pub fn find_text(ws: &Workspace, query: TextQuery) -> Result<Vec<TextMatch>, ToolError> {
    let engine_query = Query {
        pattern: &query.pattern,
        path: query.path.as_deref(),
        include: query.include_glob.as_deref(),
        case_insensitive: query.case_insensitive,
        hidden: query.hidden,
        max_per_file: query.max_per_file.max(1) as usize,
    };
    let matcher = engine::matcher(&engine_query)?;
    let limit = query.limit.max(1) as usize;
    let mut out = Vec::new();
    engine::search(ws, &engine_query, &matcher, |file| {
        for hit in file.hits {
            if out.len() == limit {
                return ControlFlow::Break(());
            }
            let mut submatches = Vec::new();
            let _ = matcher.find_iter(&hit.line, |m| {
                submatches.push(Submatch {
                    text: String::from_utf8_lossy(&hit.line[m.start()..m.end()]).into_owned(),
                    start: m.start() as u32,
                    end: m.end() as u32,
                });
                true
            });
            out.push(TextMatch {
                path: file.rel.clone(),
                line: String::from_utf8_lossy(&hit.line).into_owned(),
                line_number: hit.line_number,
                absolute_offset: hit.offset,
                submatches,
            });
        }
        if out.len() == limit { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    })?;
    Ok(out)
}
