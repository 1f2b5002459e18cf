//! The search engine both `grep` and `find-text` use: walk, match, collect.
//!
//! The walk is `workspace-walk`'s (ripgrep's rules over bulk listings). Each
//! file is read with one bulk read and goes through one reused `Searcher`,
//! which stops at the first NUL byte (a binary file) and after the per-file
//! cap.

use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use grep_searcher::{BinaryDetection, MmapChoice, Searcher, SearcherBuilder, Sink, SinkMatch};
use std::ops::ControlFlow;
use wasmgate_tool_sdk::ToolError;
use wasmgate_tool_sdk::workspace::{Access, BulkListing, Workspace};

/// What to search for and where.
pub struct Query<'a> {
    pub pattern: &'a str,
    pub path: Option<&'a str>,
    pub include: Option<&'a str>,
    pub case_insensitive: bool,
    pub hidden: bool,
    pub max_per_file: usize,
}

/// One matching line.
pub struct Hit {
    pub line_number: u64,
    pub offset: u64,
    pub line: Vec<u8>,
}

/// The matches in one file.
pub struct FileHits {
    /// The absolute guest path.
    pub abs: String,
    /// The path relative to the workspace root.
    pub rel: String,
    pub hits: Vec<Hit>,
    /// Whether the file has more matches than the per-file cap let through.
    pub more: bool,
}

/// Compiles the pattern; a bad one is the caller's mistake, said plainly.
pub fn matcher(query: &Query) -> Result<RegexMatcher, ToolError> {
    RegexMatcherBuilder::new()
        .case_insensitive(query.case_insensitive)
        .build(query.pattern)
        .map_err(|e| ToolError::InvalidArguments(format!("invalid regular expression: {e}")))
}

/// Searches the workspace, handing each file with matches to `each` until it
/// says stop. Returns whether it was stopped early.
pub fn search(
    ws: &Workspace,
    query: &Query,
    matcher: &RegexMatcher,
    mut each: impl FnMut(FileHits) -> ControlFlow<()>,
) -> Result<bool, ToolError> {
    let root = ws.resolve(query.path.unwrap_or("."))?;
    let meta = ws
        .openable(Access::Read, &root)?
        .ok_or_else(|| ToolError::NotFound(format!("File not found: {}", root.abs)))?;
    let mut searcher = SearcherBuilder::new()
        .line_number(true)
        .binary_detection(BinaryDetection::quit(0))
        .memory_map(MmapChoice::never())
        .build();
    if !meta.is_dir() {
        if let Some(hits) = search_file(&mut searcher, matcher, &root.abs, root.rel.clone(), query.max_per_file) {
            return Ok(each(hits).is_break());
        }
        return Ok(false);
    }

    let overrides = match query.include {
        Some(include) => {
            let mut overrides = ignore::overrides::OverrideBuilder::new(&root.abs);
            overrides.add(include).map_err(|e| ToolError::InvalidArguments(format!("bad include glob: {e}")))?;
            Some(overrides.build().map_err(|e| ToolError::InvalidArguments(e.to_string()))?)
        }
        None => None,
    };
    let rules = workspace_walk::Rules { hidden: query.hidden, overrides: overrides.as_ref() };
    let flow = workspace_walk::files(&BulkListing, ws.root(), &root.rel, &rules, &mut |abs, rel| match search_file(
        &mut searcher,
        matcher,
        abs,
        rel.to_string(),
        query.max_per_file,
    ) {
        Some(hits) => each(hits),
        None => ControlFlow::Continue(()),
    });
    Ok(flow.is_break())
}

/// Files up to this size are read whole with one bulk read; larger ones are
/// streamed through the searcher's buffer.
const WHOLE_FILE_BYTES: u64 = 4 << 20;

/// The matches in one file, or `None` if there are none (or it cannot be read).
fn search_file(
    searcher: &mut Searcher,
    matcher: &RegexMatcher,
    abs: &str,
    rel: String,
    cap: usize,
) -> Option<FileHits> {
    let mut sink = Collect { hits: Vec::new(), cap, more: false };
    // Small files (nearly all of them) in one host call; anything else, such
    // as a file over the size limit, streams through WASI.
    match wasmgate_tool_sdk::wasmgate::tools::bulk_fs::read_file(&rel, WHOLE_FILE_BYTES) {
        Ok(bytes) => searcher.search_slice(matcher, &bytes, &mut sink).ok()?,
        Err(_) => searcher.search_path(matcher, abs, &mut sink).ok()?,
    }
    (!sink.hits.is_empty()).then(|| FileHits { abs: abs.to_string(), rel, hits: sink.hits, more: sink.more })
}

/// Keeps up to `cap` matching lines, then notes that there were more.
struct Collect {
    hits: Vec<Hit>,
    cap: usize,
    more: bool,
}

impl Sink for Collect {
    type Error = std::io::Error;

    fn matched(&mut self, _searcher: &Searcher, mat: &SinkMatch<'_>) -> Result<bool, Self::Error> {
        if self.hits.len() == self.cap {
            self.more = true;
            return Ok(false);
        }
        self.hits.push(Hit {
            line_number: mat.line_number().unwrap_or(0),
            offset: mat.absolute_byte_offset(),
            line: mat.bytes().to_vec(),
        });
        Ok(true)
    }
}
