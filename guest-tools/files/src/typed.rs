//! The typed `files` interface: records for the HTTP API's file endpoints.

use crate::exports::wasmgate::tools::files::{
    CallContext, Content, DirEntry, EntryKind, FileContent, Guest, ToolError,
};
use wasmgate_tool_sdk::workspace::{Access, BulkListing};

/// The largest file `read-file` returns whole; the HTTP API serves source
/// files, and a cap keeps one request from pulling a disk image through.
const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

impl Guest for crate::FileTools {
    fn list_dir(path: String, context: CallContext) -> Result<Vec<DirEntry>, ToolError> {
        let ws = wasmgate_tool_sdk::workspace::of(&context);
        let dir = ws.resolve(&path)?;
        let ignores = workspace_walk::IgnoreStack::for_folder(&BulkListing, ws.root(), &dir.rel);
        let mut entries: Vec<DirEntry> = std::fs::read_dir(&dir.abs)
            .map_err(|e| ws.io_error(Access::Read, &dir, e))?
            .flatten()
            .map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let kind = match entry.file_type() {
                    Ok(t) if t.is_symlink() => EntryKind::Symlink,
                    Ok(t) if t.is_dir() => EntryKind::Directory,
                    Ok(t) if t.is_file() => EntryKind::File,
                    _ => EntryKind::Other,
                };
                let rel = if dir.rel.is_empty() { name.clone() } else { format!("{}/{name}", dir.rel) };
                let is_dir = kind == EntryKind::Directory;
                let ignored = name == ".git" || ignores.ignores(&ws.join(&rel), is_dir);
                DirEntry { name, path: rel, kind, ignored }
            })
            .collect();
        entries.sort_by(|a, b| {
            (b.kind == EntryKind::Directory).cmp(&(a.kind == EntryKind::Directory)).then_with(|| a.name.cmp(&b.name))
        });
        Ok(entries)
    }

    fn read_file(path: String, context: CallContext) -> Result<FileContent, ToolError> {
        let ws = wasmgate_tool_sdk::workspace::of(&context);
        let file = ws.resolve(&path)?;
        let bytes = crate::read::read_capped(&ws, &file, MAX_FILE_BYTES)?;
        let size = bytes.len() as u64;
        let content = if crate::read::looks_binary(&file.abs, &bytes) {
            Content::Binary(bytes)
        } else {
            match String::from_utf8(bytes) {
                Ok(text) => Content::Text(text),
                Err(e) => Content::Binary(e.into_bytes()),
            }
        };
        Ok(FileContent { path: file.rel, size, content })
    }
}
