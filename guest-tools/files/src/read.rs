//! `read`: a file as numbered lines, the way OpenCode's read tool shows it.
//!
//! Output is bounded whatever the file: at most `limit` lines (2000 by
//! default), each cut at 2000 characters, and at most 50 KiB in all, with a
//! footer that says how to continue. Binary files are refused rather than
//! dumped into the model's context.

use crate::exports::wasmgate::tools::tool::{ToolError, ToolResult};
use crate::workspace::{Access, Resolved, Workspace};
use serde::Deserialize;
use serde_json::json;
use std::io::{BufRead, BufReader, Read};

const DEFAULT_LIMIT: usize = 2000;
const MAX_LINE_CHARS: usize = 2000;
/// The most text one read returns, so one call cannot flood a context window.
const MAX_OUTPUT_BYTES: usize = 50 * 1024;
/// How much of a file's start is inspected to decide whether it is text.
const SNIFF_BYTES: usize = 8192;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Args {
    file_path: String,
    offset: Option<usize>,
    limit: Option<usize>,
}

pub fn spec() -> crate::exports::wasmgate::tools::tool::ToolSpec {
    crate::spec(
        "read",
        "Reads a file from the workspace. Returns its lines numbered from 1 (`N: text`), at most \
         2000 lines from `offset` (1-based) unless `limit` says otherwise; lines over 2000 \
         characters are cut. A directory's entries are listed instead. Binary files are refused.",
        json!({
            "type": "object",
            "properties": {
                "filePath": {"type": "string", "description": "The path to the file: relative to the workspace, or absolute inside it"},
                "offset": {"type": "integer", "minimum": 1, "description": "The line number to start reading from (1-based)"},
                "limit": {"type": "integer", "minimum": 1, "description": "The number of lines to read (default 2000)"}
            },
            "required": ["filePath"],
            "additionalProperties": false
        }),
    )
}

pub fn run(ws: &Workspace, args: Args) -> Result<ToolResult, ToolError> {
    let path = ws.resolve(&args.file_path)?;
    let meta = std::fs::metadata(&path.abs).map_err(|e| not_found_with_hints(ws, &path, e))?;
    if meta.is_dir() {
        return directory(ws, &path);
    }
    let file = std::fs::File::open(&path.abs).map_err(|e| ws.io_error(Access::Read, &path, e))?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    if looks_binary(&path.abs, reader.fill_buf().map_err(|e| ws.io_error(Access::Read, &path, e))?) {
        return Err(ToolError::Failed(format!("Cannot read binary file: {}", path.abs)));
    }

    let offset = args.offset.unwrap_or(1).max(1);
    let limit = args.limit.unwrap_or(DEFAULT_LIMIT).max(1);
    let mut body = String::new();
    let mut total = 0usize;
    let mut last_shown = 0usize;
    let mut capped = false;
    let mut preview = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(|e| ws.io_error(Access::Read, &path, e))?;
        if n == 0 {
            break;
        }
        total += 1;
        if total < offset || total >= offset + limit || capped {
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        let shown = match text.char_indices().nth(MAX_LINE_CHARS) {
            Some((cut, _)) => format!("{}... (line truncated to {MAX_LINE_CHARS} chars)", &text[..cut]),
            None => text.to_string(),
        };
        let entry = format!("{total}: {shown}\n");
        if body.len() + entry.len() > MAX_OUTPUT_BYTES {
            capped = true;
            continue;
        }
        if preview.len() < 20 {
            preview.push(shown);
        }
        body.push_str(&entry);
        last_shown = total;
    }
    if offset > total.max(1) {
        return Err(ToolError::InvalidArguments(format!(
            "Offset {offset} is out of range for this file ({total} lines)"
        )));
    }

    let footer = if capped {
        format!(
            "(Output capped at {} KB. Showing lines {offset}-{last_shown}. Use offset={} to continue.)",
            MAX_OUTPUT_BYTES / 1024,
            last_shown + 1
        )
    } else if last_shown < total {
        format!("(Showing lines {offset}-{last_shown} of {total}. Use offset={} to continue.)", last_shown + 1)
    } else {
        format!("(End of file - total {total} lines)")
    };
    let output = format!("<path>{}</path>\n<type>file</type>\n<content>\n{body}\n{footer}\n</content>", path.abs);
    crate::result(
        path.display().to_string(),
        output,
        json!({"preview": preview.join("\n"), "truncated": capped || last_shown < total, "lines": total}),
    )
}

fn directory(ws: &Workspace, path: &Resolved) -> Result<ToolResult, ToolError> {
    let mut entries: Vec<String> = std::fs::read_dir(&path.abs)
        .map_err(|e| ws.io_error(Access::Read, path, e))?
        .flatten()
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir { format!("{name}/") } else { name }
        })
        .collect();
    entries.sort();
    let output = format!(
        "<path>{}</path>\n<type>directory</type>\n<entries>\n{}\n({} entries)\n</entries>",
        path.abs,
        entries.join("\n"),
        entries.len()
    );
    crate::result(path.display().to_string(), output, json!({"truncated": false, "entries": entries.len()}))
}

/// A not-found error that suggests similarly named files in the same folder.
fn not_found_with_hints(ws: &Workspace, path: &Resolved, error: std::io::Error) -> ToolError {
    let err = ws.io_error(Access::Read, path, error);
    let ToolError::NotFound(message) = &err else { return err };
    let (dir, name) = match path.rel.rsplit_once('/') {
        Some((dir, name)) => (ws.join(dir), name),
        None => (ws.root().to_string(), path.rel.as_str()),
    };
    let wanted = name.to_lowercase();
    let Ok(entries) = std::fs::read_dir(&dir) else { return err };
    let mut hints: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            let n = n.to_lowercase();
            !wanted.is_empty() && (n.contains(&wanted) || wanted.contains(&n))
        })
        .map(|n| format!("{dir}/{n}"))
        .collect();
    if hints.is_empty() {
        return err;
    }
    hints.sort();
    hints.truncate(3);
    ToolError::NotFound(format!("{message}\n\nDid you mean one of these?\n{}", hints.join("\n")))
}

/// Whether a file should be refused as binary: a known binary extension, or
/// a NUL byte or mostly non-text bytes in its first block.
pub fn looks_binary(path: &str, head: &[u8]) -> bool {
    const BINARY_EXTENSIONS: &[&str] = &[
        "zip", "tar", "gz", "tgz", "bz2", "xz", "zst", "7z", "rar", "exe", "dll", "so", "dylib", "a", "o",
        "obj", "lib", "class", "jar", "war", "wasm", "pyc", "pyo", "bin", "dat", "png", "jpg", "jpeg", "gif",
        "bmp", "ico", "webp", "pdf", "mp3", "mp4", "avi", "mov", "woff", "woff2", "ttf", "otf", "eot", "sqlite",
        "db",
    ];
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    if BINARY_EXTENSIONS.contains(&ext.as_str()) {
        return true;
    }
    let head = &head[..head.len().min(SNIFF_BYTES)];
    if head.contains(&0) {
        return true;
    }
    if head.is_empty() {
        return false;
    }
    // Count control bytes that text does not use; valid UTF-8 multibyte
    // sequences are text, so only look at bytes below 0x20.
    let odd = head.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c | 0x1b)).count();
    odd * 10 > head.len() * 3
}

/// Reads a whole file, refusing files larger than `cap` bytes.
pub fn read_capped(ws: &Workspace, path: &Resolved, cap: u64) -> Result<Vec<u8>, ToolError> {
    let file = std::fs::File::open(&path.abs).map_err(|e| ws.io_error(Access::Read, path, e))?;
    let size = file.metadata().map_err(|e| ws.io_error(Access::Read, path, e))?.len();
    if size > cap {
        return Err(ToolError::Failed(format!("{} is {size} bytes, over the {cap}-byte limit", path.abs)));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(cap + 1).read_to_end(&mut bytes).map_err(|e| ws.io_error(Access::Read, path, e))?;
    if bytes.len() as u64 > cap {
        return Err(ToolError::Failed(format!("{} grew past the {cap}-byte limit while it was read", path.abs)));
    }
    Ok(bytes)
}
