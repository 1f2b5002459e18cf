//! `find-paths`: the workspace's files (and folders) ranked for a query.
//!
//! The candidates are what `rg --files --hidden` lists (gitignore honoured,
//! `.git` skipped), walked by `workspace-walk`, plus every folder above those
//! files, written with a trailing `/`; `fuzzy-path` ranks them.

use crate::exports::wasmgate::tools::search::{PathKind, PathQuery};
use std::collections::BTreeSet;
use wasmgate_tool_sdk::ToolError;
use wasmgate_tool_sdk::workspace::{Access, BulkListing, Workspace};

/// The most results one query returns, whatever it asks for.
const MAX_LIMIT: usize = 1000;

pub fn find(ws: &Workspace, query: PathQuery) -> Result<Vec<String>, ToolError> {
    let root = ws.resolve(".")?;
    std::fs::metadata(&root.abs).map_err(|e| ws.io_error(Access::Read, &root, e))?;
    let mut files = Vec::new();
    let mut folders = BTreeSet::new();
    let rules = workspace_walk::Rules { hidden: true, overrides: None };
    let _ = workspace_walk::files(&BulkListing, ws.root(), "", &rules, &mut |_, rel| {
        let mut end = 0;
        while let Some(slash) = rel[end..].find('/') {
            end += slash + 1;
            folders.insert(rel[..end].to_string());
        }
        files.push(rel.to_string());
        std::ops::ControlFlow::Continue(())
    });
    let candidates: Vec<&str> = match query.kind {
        PathKind::Files => files.iter().map(String::as_str).collect(),
        PathKind::Directories => folders.iter().map(String::as_str).collect(),
        PathKind::Both => folders.iter().chain(files.iter()).map(String::as_str).collect(),
    };
    let limit = (query.limit as usize).clamp(1, MAX_LIMIT);
    Ok(fuzzy_path::rank(&query.query, candidates, limit).into_iter().map(str::to_string).collect())
}
