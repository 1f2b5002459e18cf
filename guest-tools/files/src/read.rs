//! `read`: a file as numbered lines, the way OpenCode's read tool shows it.
//!
//! Output is bounded whatever the file: at most `limit` lines (2000 by
//! default), each cut at 2000 characters, and at most 50 KiB in all, with a
//! footer that says how to continue. Binary files are refused rather than
//! dumped into the model's context.

use serde::Deserialize;
use serde_json::json;
use std::io::{BufRead, BufReader, Read};
use wasmgate_tool_sdk::JsonSchema;
use wasmgate_tool_sdk::wasmgate::tools::bulk_fs;
use wasmgate_tool_sdk::workspace::{Access, Resolved, Workspace};
use wasmgate_tool_sdk::{ToolError, ToolResult};

const DEFAULT_LIMIT: usize = 2000;
const MAX_LINE_CHARS: usize = 2000;
const TRUNCATED_NOTE: &str = "... (line truncated to 2000 chars)";
/// The most text one read returns, so one call cannot flood a context window.
const MAX_OUTPUT_BYTES: usize = 50 * 1024;
/// How much of a file's start is inspected to decide whether it is text.
const SNIFF_BYTES: usize = 8192;

/// The arguments, and (through `JsonSchema`) the schema the model sees.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Args {
    /// The path to the file: relative to the workspace, or absolute inside it
    file_path: String,
    /// The line number to start reading from (1-based)
    #[schemars(range(min = 1))]
    offset: Option<usize>,
    /// The number of lines to read (default 2000)
    #[schemars(range(min = 1))]
    limit: Option<usize>,
}

pub fn spec() -> wasmgate_tool_sdk::ToolSpec {
    wasmgate_tool_sdk::spec::<Args>(
        "read",
        "Reads a file from the workspace. Returns its lines numbered from 1 (`N: text`), at most \
         2000 lines from `offset` (1-based) unless `limit` says otherwise; lines over 2000 \
         characters are cut. A directory's entries are listed instead. Binary files are refused.",
    )
}

pub fn run(ws: &Workspace, args: Args) -> Result<ToolResult, ToolError> {
    let path = ws.resolve(&args.file_path)?;
    let (offset, limit) = (args.offset.unwrap_or(1).max(1), args.limit.unwrap_or(DEFAULT_LIMIT).max(1));
    // The common case, a small text file, in one host call. Anything else
    // (a folder, a missing file, a large file) takes the WASI path below,
    // which knows how to list, suggest and stream.
    if !path.rel.is_empty()
        && let Ok(bytes) = bulk_fs::read_file(&path.rel, WHOLE_FILE_BYTES)
    {
        if looks_binary(&path.abs, &bytes) {
            return Err(binary(&path));
        }
        let mut page = Page::new(&path, offset, limit, bytes.len());
        for_each_line(&mut &bytes[..], |line| page.line(line)).map_err(|e| ws.io_error(Access::Read, &path, e))?;
        return page.finish(&path);
    }
    let Some(meta) = ws.openable(Access::Read, &path)? else {
        return Err(not_found_with_hints(ws, &path, std::io::ErrorKind::NotFound.into()));
    };
    if meta.is_dir() {
        return directory(ws, &path);
    }
    let file = std::fs::File::open(&path.abs).map_err(|e| not_found_with_hints(ws, &path, e))?;
    let io = |e| ws.io_error(Access::Read, &path, e);
    let mut page = Page::new(&path, offset, limit, meta.len() as usize);
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    if looks_binary(&path.abs, reader.fill_buf().map_err(io)?) {
        return Err(binary(&path));
    }
    for_each_line(&mut reader, |line| page.line(line)).map_err(io)?;
    page.finish(&path)
}

/// Files up to this size are read with one bulk call; larger ones are streamed.
const WHOLE_FILE_BYTES: u64 = 1 << 20;

fn binary(path: &Resolved) -> ToolError {
    ToolError::Failed(format!("Cannot read binary file: {}", path.abs))
}

/// Calls `f` with every line (including its `\n`), copying only lines that
/// straddle two buffer fills.
fn for_each_line(reader: &mut impl BufRead, mut f: impl FnMut(&[u8])) -> std::io::Result<()> {
    let mut carry = Vec::new();
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let mut start = 0;
        while let Some(end) = memchr::memchr(b'\n', &buf[start..]).map(|i| start + i + 1) {
            if carry.is_empty() {
                f(&buf[start..end]);
            } else {
                carry.extend_from_slice(&buf[start..end]);
                f(&carry);
                carry.clear();
            }
            start = end;
        }
        carry.extend_from_slice(&buf[start..]);
        let used = buf.len();
        reader.consume(used);
    }
    if !carry.is_empty() {
        f(&carry);
    }
    Ok(())
}

/// The lines of one read being assembled: which are shown, and the caps.
/// This is the hot loop of the most frequent tool call, so it writes straight
/// into the output string, with no allocation per line.
struct Page {
    offset: usize,
    limit: usize,
    /// The whole output so far, starting with its `<path>` header.
    output: String,
    /// Where the numbered lines start in `output`.
    body_start: usize,
    total: usize,
    last_shown: usize,
    capped: bool,
    /// The first lines shown, for the UI's preview.
    preview: String,
    preview_lines: usize,
}

/// Lines kept for the metadata's preview.
const PREVIEW_LINES: usize = 20;

impl Page {
    fn new(path: &Resolved, offset: usize, limit: usize, size_hint: usize) -> Self {
        let mut output = String::with_capacity(size_hint.min(MAX_OUTPUT_BYTES) + size_hint / 8 + 256);
        output.push_str("<path>");
        output.push_str(&path.abs);
        output.push_str("</path>\n<type>file</type>\n<content>\n");
        let body_start = output.len();
        Page {
            offset,
            limit,
            output,
            body_start,
            total: 0,
            last_shown: 0,
            capped: false,
            preview: String::new(),
            preview_lines: 0,
        }
    }

    fn line(&mut self, line: &[u8]) {
        self.total += 1;
        if self.total < self.offset || self.total >= self.offset + self.limit || self.capped {
            return;
        }
        let lossy;
        let text = match std::str::from_utf8(line) {
            Ok(text) => text,
            Err(_) => {
                lossy = String::from_utf8_lossy(line);
                &lossy
            }
        };
        let text = text.trim_end_matches(['\n', '\r']);
        // A line of at most MAX_LINE_CHARS bytes has at most as many chars.
        let cut =
            if text.len() <= MAX_LINE_CHARS { None } else { text.char_indices().nth(MAX_LINE_CHARS).map(|(i, _)| i) };
        let shown = match cut {
            Some(cut) => &text[..cut],
            None => text,
        };
        let mut digits = [0u8; 20];
        let number = decimal(self.total, &mut digits);
        let entry_len = number.len() + 2 + shown.len() + 1 + if cut.is_some() { TRUNCATED_NOTE.len() } else { 0 };
        if self.output.len() - self.body_start + entry_len > MAX_OUTPUT_BYTES {
            self.capped = true;
            return;
        }
        self.output.push_str(number);
        self.output.push_str(": ");
        self.output.push_str(shown);
        if cut.is_some() {
            self.output.push_str(TRUNCATED_NOTE);
        }
        self.output.push('\n');
        if self.preview_lines < PREVIEW_LINES {
            if self.preview_lines > 0 {
                self.preview.push('\n');
            }
            self.preview.push_str(shown);
            self.preview_lines += 1;
        }
        self.last_shown = self.total;
    }

    fn finish(self, path: &Resolved) -> Result<ToolResult, ToolError> {
        let Page { offset, mut output, total, last_shown, capped, preview, .. } = self;
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
        output.push('\n');
        output.push_str(&footer);
        output.push_str("\n</content>");
        #[derive(serde::Serialize)]
        struct Metadata<'a> {
            preview: &'a str,
            truncated: bool,
            lines: usize,
        }
        let metadata = Metadata { preview: &preview, truncated: capped || last_shown < total, lines: total };
        Ok(ToolResult {
            title: path.display().to_string(),
            output,
            metadata: serde_json::to_string(&metadata).expect("metadata serializes"),
        })
    }
}

/// `n` in decimal, written into `buf`, without allocating.
fn decimal(mut n: usize, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).expect("digits are ASCII")
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
    wasmgate_tool_sdk::result(path.display().to_string(), output, json!({"truncated": false, "entries": entries.len()}))
}

/// A not-found error that suggests similarly named files in the same folder.
fn not_found_with_hints(ws: &Workspace, path: &Resolved, error: std::io::Error) -> ToolError {
    let err: ToolError = ws.io_error(Access::Read, path, error).into();
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
        "zip", "tar", "gz", "tgz", "bz2", "xz", "zst", "7z", "rar", "exe", "dll", "so", "dylib", "a", "o", "obj",
        "lib", "class", "jar", "war", "wasm", "pyc", "pyo", "bin", "dat", "png", "jpg", "jpeg", "gif", "bmp", "ico",
        "webp", "pdf", "mp3", "mp4", "avi", "mov", "woff", "woff2", "ttf", "otf", "eot", "sqlite", "db",
    ];
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    if BINARY_EXTENSIONS.contains(&ext.as_str()) {
        return true;
    }
    let head = &head[..head.len().min(SNIFF_BYTES)];
    if memchr::memchr(0, head).is_some() {
        return true;
    }
    // Control bytes that text does not use (UTF-8 multibyte sequences are all
    // >= 0x80, so they count as text). Both counts vectorize.
    // Count in u8 lanes (chunks of 255 cannot overflow) so the loop vectorizes.
    let control: usize =
        head.chunks(255).map(|chunk| usize::from(chunk.iter().fold(0u8, |n, &b| n + u8::from(b < 0x20)))).sum();
    let whitespace = memchr::memchr3_iter(b'\n', b'\r', b'\t', head).count();
    (control - whitespace) * 10 > head.len() * 3
}

/// Reads a whole file, refusing files larger than `cap` bytes.
pub fn read_capped(ws: &Workspace, path: &Resolved, cap: u64) -> Result<Vec<u8>, ToolError> {
    match ws.openable(Access::Read, path)? {
        None => return Err(ToolError::NotFound(format!("File not found: {}", path.abs))),
        Some(meta) if meta.is_dir() => return Err(ToolError::InvalidArguments(format!("{} is a directory", path.abs))),
        Some(_) => {}
    }
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
