//! Files and search: `/file`, `/file/content`, `/file/status`, `/find`,
//! `/find/file`, `/find/symbol`, and the 1.18 TUI's `@`-mention lookup
//! `/api/fs/find`.
//!
//! All of it runs in the file and search components under a read-only grant
//! on the request's directory; a path that leaves it is the component's
//! `outside-workspace` error, answered as a 403.

use super::error::{ApiError, ApiResult};
use super::extract::{Instance, Params};
use crate::app::App;
use crate::sandbox::{CallError, Content, EntryKind, PathKind, PathQuery, TextQuery};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/file", get(list))
        .route("/file/content", get(content))
        .route("/file/status", get(status))
        .route("/find", get(find_text))
        .route("/find/file", get(find_files))
        .route("/find/symbol", get(find_symbols))
        .route("/api/fs/find", get(fs_find))
}

#[derive(Deserialize)]
struct PathParams {
    path: String,
}

async fn list(
    State(app): State<Arc<App>>,
    Instance(workspace): Instance,
    Params(params): Params<PathParams>,
) -> ApiResult<Json<Vec<Value>>> {
    let entries = app.sandbox.list_dir(&workspace.read_only, &params.path).await?;
    let root = Path::new(&workspace.directory);
    Ok(Json(
        entries
            .into_iter()
            .map(|entry| {
                let directory = entry.kind == EntryKind::Directory;
                let path = if directory { format!("{}/", entry.path) } else { entry.path.clone() };
                json!({
                    "name": entry.name,
                    "path": path,
                    "absolute": root.join(&entry.path),
                    "type": if directory { "directory" } else { "file" },
                    "ignored": entry.ignored,
                })
            })
            .collect(),
    ))
}

async fn content(
    State(app): State<Arc<App>>,
    Instance(workspace): Instance,
    Params(params): Params<PathParams>,
) -> ApiResult<Json<Value>> {
    let file = match app.sandbox.read_file(&workspace.read_only, &params.path).await {
        Ok(file) => file,
        // The reference answers a missing file with empty text.
        Err(CallError::NotFound(_)) => return Ok(Json(json!({ "type": "text", "content": "" }))),
        Err(error) => return Err(error.into()),
    };
    Ok(Json(match file.content {
        Content::Text(text) => json!({ "type": "text", "content": text.trim() }),
        Content::Binary(bytes) => json!({
            "type": "binary",
            "content": base64::engine::general_purpose::STANDARD.encode(bytes),
            "encoding": "base64",
            "mimeType": mime_type(&file.path),
        }),
    }))
}

/// The MIME type of a binary file, from its extension.
fn mime_type(path: &str) -> &'static str {
    let extension = Path::new(path).extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "ico" => "image/x-icon",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// Git status is not tracked yet; 1.18's own handler also answers `[]`.
async fn status() -> Json<Value> {
    Json(json!([]))
}

#[derive(Deserialize)]
struct FindTextParams {
    pattern: String,
}

async fn find_text(
    State(app): State<Arc<App>>,
    Instance(workspace): Instance,
    Params(params): Params<FindTextParams>,
) -> ApiResult<Json<Vec<Value>>> {
    let query = TextQuery {
        pattern: params.pattern,
        path: None,
        include_glob: None,
        case_insensitive: false,
        hidden: true,
        max_per_file: 10,
        limit: 1000,
    };
    let matches = app.sandbox.find_text(&workspace.read_only, &query).await.map_err(bad_pattern)?;
    Ok(Json(
        matches
            .into_iter()
            .map(|m| {
                let submatches: Vec<Value> = m
                    .submatches
                    .into_iter()
                    .map(|s| json!({ "match": { "text": s.text }, "start": s.start, "end": s.end }))
                    .collect();
                json!({
                    "path": { "text": m.path },
                    "lines": { "text": m.line },
                    "line_number": m.line_number,
                    "absolute_offset": m.absolute_offset,
                    "submatches": submatches,
                })
            })
            .collect(),
    ))
}

/// An invalid regular expression is the client's mistake, not the tool's.
fn bad_pattern(error: CallError) -> ApiError {
    match error {
        CallError::InvalidArguments(message) => ApiError::bad(super::error::Field::Query, message),
        other => other.into(),
    }
}

#[derive(Deserialize)]
struct FindFilesParams {
    #[serde(default)]
    query: String,
    dirs: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    limit: Option<u32>,
}

async fn find_files(
    State(app): State<Arc<App>>,
    Instance(workspace): Instance,
    Params(params): Params<FindFilesParams>,
) -> ApiResult<Json<Vec<String>>> {
    let kind = match (params.kind.as_deref(), params.dirs.as_deref()) {
        (Some("file"), _) => PathKind::Files,
        (Some("directory"), _) => PathKind::Directories,
        (Some(other), _) => {
            return Err(ApiError::bad(
                super::error::Field::Query,
                format!("type must be file or directory, got {other:?}"),
            ));
        }
        (None, Some("false")) => PathKind::Files,
        (None, _) => PathKind::Both,
    };
    let query = PathQuery { query: params.query, kind, limit: params.limit.unwrap_or(10).clamp(1, 200) };
    Ok(Json(app.sandbox.find_paths(&workspace.read_only, &query).await?))
}

/// Symbol search needs a language server; the reference's handler also
/// answers `[]`.
async fn find_symbols() -> Json<Value> {
    Json(json!([]))
}

#[derive(Deserialize)]
struct FsFindParams {
    #[serde(default)]
    query: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    limit: Option<u32>,
}

async fn fs_find(
    State(app): State<Arc<App>>,
    Instance(workspace): Instance,
    Params(params): Params<FsFindParams>,
) -> ApiResult<Json<Value>> {
    let kind = match params.kind.as_deref() {
        Some("file") => PathKind::Files,
        Some("directory") => PathKind::Directories,
        _ => PathKind::Both,
    };
    let query = PathQuery { query: params.query, kind, limit: params.limit.unwrap_or(20).clamp(1, 200) };
    let data: Vec<Value> = app
        .sandbox
        .find_paths(&workspace.read_only, &query)
        .await?
        .into_iter()
        .map(|path| match path.strip_suffix('/') {
            Some(directory) => json!({ "path": directory, "type": "directory" }),
            None => json!({ "path": path, "type": "file" }),
        })
        .collect();
    let location = json!({
        "directory": workspace.directory,
        "project": { "id": workspace.project.id, "directory": workspace.project.worktree },
    });
    Ok(Json(json!({ "location": location, "data": data })))
}
