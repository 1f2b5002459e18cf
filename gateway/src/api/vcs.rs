//! Version control: `/vcs` (the branch), `/vcs/diff` (the TUI's `/diff`
//! viewer: the working tree against `HEAD` or against where the branch left
//! the default branch), `/vcs/diff/raw` (the uncommitted changes as one
//! patch) and `/vcs/status` (the same, without patches).
//!
//! The diff runs in the version-control component under a read-only grant
//! on the request's directory: the repository is read from the workspace's
//! own `.git`, never by running `git`.

use super::error::ApiResult;
use super::extract::{Instance, Params};
use crate::app::App;
use crate::sandbox::{ChangeKind, DiffBase, DiffQuery, FileChange};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/vcs", get(info))
        .route("/vcs/diff", get(diff))
        .route("/vcs/diff/raw", get(raw_diff))
        .route("/vcs/status", get(status))
}

async fn info(Instance(workspace): Instance) -> Json<Value> {
    match &workspace.project.branch {
        Some(branch) => Json(json!({ "branch": branch, "default_branch": branch })),
        None => Json(json!({ "branch": null, "default_branch": null })),
    }
}

/// `mode`: `git` (against `HEAD`) or `branch` (against the branch point).
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Git,
    Branch,
}

#[derive(Deserialize)]
struct DiffParams {
    mode: Mode,
    context: Option<u32>,
}

async fn diff(
    State(app): State<Arc<App>>,
    Instance(workspace): Instance,
    Params(params): Params<DiffParams>,
) -> ApiResult<Json<Vec<Value>>> {
    let base = match params.mode {
        Mode::Git => DiffBase::Head,
        Mode::Branch => DiffBase::BranchPoint,
    };
    let query = DiffQuery { base, context: params.context, patches: true };
    let changes = app.sandbox.vcs_diff(&workspace.read_only, &query).await?;
    Ok(Json(changes.into_iter().map(|change| shape(change, true)).collect()))
}

/// `GET /vcs/diff/raw`: the uncommitted changes as one patch, with git's
/// three lines of context, that `git apply` takes.
async fn raw_diff(State(app): State<Arc<App>>, Instance(workspace): Instance) -> ApiResult<Response> {
    let query = DiffQuery { base: DiffBase::Head, context: Some(3), patches: true };
    let changes = app.sandbox.vcs_diff(&workspace.read_only, &query).await?;
    let patch: String = changes.into_iter().map(|change| change.patch).collect();
    Ok(([(header::CONTENT_TYPE, "text/x-diff; charset=utf-8")], patch).into_response())
}

async fn status(State(app): State<Arc<App>>, Instance(workspace): Instance) -> ApiResult<Json<Vec<Value>>> {
    let query = DiffQuery { base: DiffBase::Head, context: Some(0), patches: false };
    let changes = app.sandbox.vcs_diff(&workspace.read_only, &query).await?;
    Ok(Json(changes.into_iter().map(|change| shape(change, false)).collect()))
}

/// `VcsFileDiff` (with the patch) or `VcsFileStatus` (without).
fn shape(change: FileChange, patch: bool) -> Value {
    let status = match change.status {
        ChangeKind::Added => "added",
        ChangeKind::Deleted => "deleted",
        ChangeKind::Modified => "modified",
    };
    let mut out = json!({
        "file": change.path,
        "additions": change.additions,
        "deletions": change.deletions,
        "status": status,
    });
    if patch {
        out["patch"] = Value::String(change.patch);
    }
    out
}
