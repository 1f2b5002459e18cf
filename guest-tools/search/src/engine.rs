//! The search engine both `grep` and `find-text` use: walk, match, collect.
//!
//! The walk is `ignore`'s (gitignore rules, hidden files, an include glob,
//! never `.git`, never following symlinks, sorted by name so results are
//! stable). Each file goes through one reused `Searcher`, which stops at the
//! first NUL byte (a binary file) and after the per-file cap.

use crate::exports::wasmgate::tools::tool::ToolError;
use crate::workspace::{Access, Resolved, Workspace};
use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use grep_searcher::{BinaryDetection, MmapChoice, Searcher, SearcherBuilder, Sink, SinkMatch};
use std::ops::ControlFlow;

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
    let meta = std::fs::metadata(&root.abs).map_err(|e| ws.io_error(Access::Read, &root, e))?;
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

    let mut walk = ignore::WalkBuilder::new(&root.abs);
    walk.standard_filters(true)
        .hidden(!query.hidden)
        .require_git(false)
        .follow_links(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(|entry| entry.file_name() != ".git");
    if let Some(include) = query.include {
        let mut overrides = ignore::overrides::OverrideBuilder::new(&root.abs);
        overrides.add(include).map_err(|e| ToolError::InvalidArguments(format!("bad include glob: {e}")))?;
        walk.overrides(overrides.build().map_err(|e| ToolError::InvalidArguments(e.to_string()))?);
    }
    for entry in walk.build() {
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Some(abs) = entry.path().to_str() else { continue };
        let rel = relative(ws, &root, abs);
        if let Some(hits) = search_file(&mut searcher, matcher, abs, rel, query.max_per_file) {
            if each(hits).is_break() {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn relative(ws: &Workspace, root: &Resolved, abs: &str) -> String {
    let inside = abs.strip_prefix(ws.root()).unwrap_or(abs).trim_start_matches('/');
    if inside.is_empty() { root.rel.clone() } else { inside.to_string() }
}

/// The matches in one file, or `None` if there are none (or it cannot be read).
fn search_file(
    searcher: &mut Searcher,
    matcher: &RegexMatcher,
    abs: &str,
    rel: String,
    cap: usize,
) -> Option<FileHits> {
    let mut sink = Collect { hits: Vec::new(), cap, more: false };
    searcher.search_path(matcher, abs, &mut sink).ok()?;
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
