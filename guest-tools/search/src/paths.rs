//! `find-paths`: the workspace's files (and folders) ranked for a query.
//!
//! The candidates are what `rg --files --hidden` lists (gitignore honoured,
//! `.git` skipped) plus every folder above those files, written with a
//! trailing `/`; `fuzzy-path` ranks them.

use crate::exports::wasmgate::tools::search::{PathKind, PathQuery};
use crate::exports::wasmgate::tools::tool::ToolError;
use crate::workspace::{Access, Workspace};
use std::collections::BTreeSet;

/// The most results one query returns, whatever it asks for.
const MAX_LIMIT: usize = 1000;

pub fn find(ws: &Workspace, query: PathQuery) -> Result<Vec<String>, ToolError> {
    let root = ws.resolve(".")?;
    std::fs::metadata(&root.abs).map_err(|e| ws.io_error(Access::Read, &root, e))?;
    let mut files = Vec::new();
    let mut folders = BTreeSet::new();
    let walk = ignore::WalkBuilder::new(&root.abs)
        .standard_filters(true)
        .hidden(false)
        .require_git(false)
        .follow_links(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(|entry| entry.file_name() != ".git")
        .build();
    for entry in walk.flatten() {
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Some(abs) = entry.path().to_str() else { continue };
        let rel = abs.strip_prefix(ws.root()).unwrap_or(abs).trim_start_matches('/').to_string();
        let mut end = 0;
        while let Some(slash) = rel[end..].find('/') {
            end += slash + 1;
            folders.insert(rel[..end].to_string());
        }
        files.push(rel);
    }
    let candidates: Vec<&str> = match query.kind {
        PathKind::Files => files.iter().map(String::as_str).collect(),
        PathKind::Directories => folders.iter().map(String::as_str).collect(),
        PathKind::Both => folders.iter().chain(files.iter()).map(String::as_str).collect(),
    };
    let limit = (query.limit as usize).clamp(1, MAX_LIMIT);
    Ok(fuzzy_path::rank(&query.query, candidates, limit).into_iter().map(str::to_string).collect())
}
