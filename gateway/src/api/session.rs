//! Sessions, their messages, and the runs that fill them: prompts, slash
//! commands, `!` shell commands, abort; plus permission replies.

use super::auth::Caller;
use super::error::{ApiError, ApiResult, Field};
use super::extract::{Found, Instance, JsonBody, Params, checked, checked_field};
use crate::agent::permission::Reply;
use crate::app::App;
use crate::ids::Prefix;
use crate::model::{FileDiff, MessageWithParts, PermissionRequest, Session, SessionStatus};
use crate::session::{CommandRequest, CreateSession, PromptRequest, ShellRequest, SummarizeRequest, UpdateSession};
use crate::store::{SessionKey, SessionQuery};
use crate::tenant::Tenant;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/session", get(list).post(create))
        .route("/session/status", get(status))
        .route("/session/{sessionID}", get(read).patch(update).delete(delete))
        .route("/session/{sessionID}/children", get(children))
        .route("/session/{sessionID}/abort", post(abort))
        .route("/session/{sessionID}/message", get(messages).post(prompt))
        .route("/session/{sessionID}/message/{messageID}", get(message).delete(delete_message))
        .route("/session/{sessionID}/message/{messageID}/part/{partID}", patch(update_part).delete(delete_part))
        .route("/session/{sessionID}/init", post(init))
        .route("/session/{sessionID}/prompt_async", post(prompt_async))
        .route("/session/{sessionID}/command", post(command))
        .route("/session/{sessionID}/shell", post(shell))
        .route("/session/{sessionID}/todo", get(todo))
        .route("/session/{sessionID}/diff", get(diff))
        .route("/session/{sessionID}/revert", post(revert))
        .route("/session/{sessionID}/unrevert", post(unrevert))
        .route("/session/{sessionID}/summarize", post(summarize))
        .route("/session/{sessionID}/fork", post(fork))
        .route("/session/{sessionID}/share", post(share).delete(unshare))
}

/// The permission requests of running calls, and the replies to them.
pub fn permission_routes() -> Router<Arc<App>> {
    Router::new()
        .route("/permission", get(permissions))
        .route("/permission/{requestID}/reply", post(reply_permission))
        .route("/session/{sessionID}/permissions/{permissionID}", post(respond_permission))
}

#[derive(Deserialize)]
struct ListParams {
    path: Option<String>,
    roots: Option<String>,
    start: Option<f64>,
    search: Option<String>,
    limit: Option<usize>,
}

async fn list(
    State(app): State<Arc<App>>,
    Instance(workspace): Instance,
    Params(params): Params<ListParams>,
) -> ApiResult<Json<Vec<Session>>> {
    let roots_only = match params.roots.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(ApiError::bad(Field::Query, format!("roots must be true or false, got {other:?}"))),
    };
    // Outside git every folder is the "global" project; keep them apart.
    let global = workspace.project.id == "global";
    let query = SessionQuery {
        tenant: workspace.tenant.clone(),
        project_id: Some(workspace.project.id.clone()),
        directory: global.then(|| workspace.directory.clone()),
        roots_only,
        updated_since: params.start.map(|s| s as i64),
        search: params.search.filter(|s| !s.is_empty()),
        limit: None,
    };
    let sessions = app.store.sessions(&query).await?;
    let in_path = |s: &Session| match params.path.as_deref() {
        None | Some("") => true,
        Some(path) => s.path == path || s.path.starts_with(&format!("{path}/")),
    };
    Ok(Json(sessions.into_iter().filter(in_path).take(params.limit.unwrap_or(usize::MAX)).collect()))
}

async fn create(
    State(app): State<Arc<App>>,
    Caller(tenant): Caller,
    Instance(workspace): Instance,
    JsonBody(request): JsonBody<CreateSession>,
) -> ApiResult<Json<Session>> {
    if let Some(parent) = &request.parent_id {
        checked(Prefix::Session, parent).map_err(|_| ApiError::bad(Field::Payload, "parentID must start with ses_"))?;
    }
    room_for_a_session(&app, &tenant).await?;
    Ok(Json(app.sessions.create(&workspace, request).await?))
}

/// Refuses a new session past the tenant's quota.
async fn room_for_a_session(app: &App, tenant: &Tenant) -> ApiResult<()> {
    let Some(quotas) = tenant.quotas() else { return Ok(()) };
    if app.store.count_sessions(tenant.name()).await? >= u64::from(quotas.sessions) {
        return Err(ApiError::QuotaExceeded(format!(
            "the session quota ({}) is reached; delete a session to make room",
            quotas.sessions
        )));
    }
    Ok(())
}

async fn status(State(app): State<Arc<App>>, Caller(tenant): Caller) -> Json<HashMap<String, SessionStatus>> {
    Json(app.sessions.runs().statuses(tenant.name()))
}

async fn read(Found(session, _): Found) -> Json<Session> {
    Json(session)
}

async fn update(
    State(app): State<Arc<App>>,
    found: Found,
    JsonBody(request): JsonBody<UpdateSession>,
) -> ApiResult<Json<Session>> {
    let workspace = found.workspace()?;
    Ok(Json(app.sessions.update(&workspace, &found.0, request).await?))
}

async fn delete(State(app): State<Arc<App>>, found: Found) -> ApiResult<Json<bool>> {
    let workspace = found.workspace()?;
    app.sessions.delete(&workspace, &found.0).await?;
    Ok(Json(true))
}

/// Sharing publishes a session on opencode.ai; wasmgate keeps sessions on
/// the server that ran them, so it says so (and `/config` says
/// `"share": "disabled"`, which makes the TUI hide the command).
async fn share(Found(session, _): Found) -> ApiResult<Json<Session>> {
    Err(ApiError::Forbidden(format!(
        "Sharing is disabled: wasmgate keeps session {} on this server and never publishes sessions",
        session.id
    )))
}

/// Nothing is ever shared, so unsharing leaves the session as it is.
async fn unshare(Found(session, _): Found) -> Json<Session> {
    Json(session)
}

async fn children(State(app): State<Arc<App>>, Found(session, _): Found) -> ApiResult<Json<Vec<Session>>> {
    Ok(Json(app.store.children(&session.id).await?))
}

async fn abort(State(app): State<Arc<App>>, Found(session, _): Found) -> Json<bool> {
    app.sessions.runs().abort(&session.id);
    Json(true)
}

#[derive(Deserialize)]
struct MessageParams {
    limit: Option<usize>,
    before: Option<String>,
}

async fn messages(
    State(app): State<Arc<App>>,
    Found(session, _): Found,
    Params(params): Params<MessageParams>,
) -> ApiResult<Json<Vec<MessageWithParts>>> {
    let limit = params.limit.filter(|&l| l > 0);
    Ok(Json(app.store.messages(SessionKey::of(&session), limit, params.before.as_deref()).await?))
}

#[derive(Deserialize)]
struct MessagePath {
    #[serde(rename = "messageID")]
    message_id: String,
}

async fn message(
    State(app): State<Arc<App>>,
    Found(session, _): Found,
    Path(MessagePath { message_id }): Path<MessagePath>,
) -> ApiResult<Json<MessageWithParts>> {
    let message_id = checked(Prefix::Message, &message_id)?;
    let message = app.store.message(SessionKey::of(&session), message_id).await?;
    Ok(Json(message.ok_or_else(|| ApiError::NotFound(format!("Message not found: {message_id}")))?))
}

async fn delete_message(
    State(app): State<Arc<App>>,
    found: Found,
    Path(MessagePath { message_id }): Path<MessagePath>,
) -> ApiResult<Json<bool>> {
    let message_id = checked(Prefix::Message, &message_id)?;
    let workspace = found.workspace()?;
    app.sessions.delete_message(&workspace, &found.0, message_id).await?;
    Ok(Json(true))
}

#[derive(Deserialize)]
struct PartPath {
    #[serde(rename = "messageID")]
    message_id: String,
    #[serde(rename = "partID")]
    part_id: String,
}

async fn delete_part(
    State(app): State<Arc<App>>,
    found: Found,
    Path(PartPath { message_id, part_id }): Path<PartPath>,
) -> ApiResult<Json<bool>> {
    let (message_id, part_id) = (checked(Prefix::Message, &message_id)?, checked(Prefix::Part, &part_id)?);
    let workspace = found.workspace()?;
    app.sessions.delete_part(&workspace, &found.0, message_id, part_id).await?;
    Ok(Json(true))
}

async fn update_part(
    State(app): State<Arc<App>>,
    found: Found,
    Path(PartPath { message_id, part_id }): Path<PartPath>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<crate::model::Part>> {
    let (message_id, part_id) = (checked(Prefix::Message, &message_id)?, checked(Prefix::Part, &part_id)?);
    let workspace = found.workspace()?;
    Ok(Json(app.sessions.update_part(&workspace, &found.0, message_id, part_id, body).await?))
}

/// `POST /session/{id}/init`: the older way to run `/init`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InitRequest {
    #[serde(rename = "providerID")]
    provider_id: String,
    #[serde(rename = "modelID")]
    model_id: String,
    #[serde(rename = "messageID")]
    message_id: String,
}

async fn init(
    State(app): State<Arc<App>>,
    found: Found,
    JsonBody(request): JsonBody<InitRequest>,
) -> ApiResult<Json<bool>> {
    let message_id = checked_field(Prefix::Message, &request.message_id, "messageID")?.to_string();
    let workspace = found.workspace()?;
    let command = CommandRequest {
        message_id: Some(message_id),
        agent: None,
        model: Some(format!("{}/{}", request.provider_id, request.model_id)),
        command: "init".into(),
        arguments: String::new(),
        variant: None,
        parts: Vec::new(),
    };
    app.sessions.command(workspace, found.0, command).await?;
    Ok(Json(true))
}

async fn prompt(
    State(app): State<Arc<App>>,
    found: Found,
    JsonBody(request): JsonBody<PromptRequest>,
) -> ApiResult<Json<MessageWithParts>> {
    let workspace = found.workspace()?;
    Ok(Json(app.sessions.prompt(workspace, found.0, request).await?))
}

async fn prompt_async(
    State(app): State<Arc<App>>,
    found: Found,
    JsonBody(request): JsonBody<PromptRequest>,
) -> ApiResult<StatusCode> {
    // The message is stored now; the turn goes on after the 204, and its
    // failures arrive as `session.error`.
    let workspace = found.workspace()?;
    app.sessions.submit(workspace, found.0, request).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn command(
    State(app): State<Arc<App>>,
    found: Found,
    JsonBody(request): JsonBody<CommandRequest>,
) -> ApiResult<Json<MessageWithParts>> {
    let workspace = found.workspace()?;
    Ok(Json(app.sessions.command(workspace, found.0, request).await?))
}

async fn shell(
    State(app): State<Arc<App>>,
    found: Found,
    JsonBody(request): JsonBody<ShellRequest>,
) -> ApiResult<Json<MessageWithParts>> {
    let workspace = found.workspace()?;
    Ok(Json(app.sessions.shell(workspace, found.0, request).await?))
}

async fn todo(State(app): State<Arc<App>>, Found(session, _): Found) -> ApiResult<Json<Value>> {
    Ok(Json(serde_json::to_value(app.store.todos(SessionKey::of(&session)).await?).expect("todos serialize")))
}

#[derive(Deserialize)]
struct DiffParams {
    #[serde(rename = "messageID")]
    message_id: Option<String>,
}

async fn diff(
    State(app): State<Arc<App>>,
    found: Found,
    Params(params): Params<DiffParams>,
) -> ApiResult<Json<Vec<FileDiff>>> {
    let workspace = found.workspace()?;
    Ok(Json(app.sessions.diff(&workspace, &found.0, params.message_id.as_deref()).await?))
}

#[derive(Deserialize)]
struct RevertRequest {
    #[serde(rename = "messageID")]
    message_id: String,
    #[serde(rename = "partID")]
    part_id: Option<String>,
}

async fn revert(
    State(app): State<Arc<App>>,
    found: Found,
    JsonBody(request): JsonBody<RevertRequest>,
) -> ApiResult<Json<Session>> {
    checked_field(Prefix::Message, &request.message_id, "messageID")?;
    if let Some(part) = &request.part_id {
        checked_field(Prefix::Part, part, "partID")?;
    }
    let workspace = found.workspace()?;
    let session = app.sessions.revert(&workspace, &found.0, &request.message_id, request.part_id.as_deref()).await?;
    Ok(Json(session))
}

async fn unrevert(State(app): State<Arc<App>>, found: Found) -> ApiResult<Json<Session>> {
    let workspace = found.workspace()?;
    Ok(Json(app.sessions.unrevert(&workspace, &found.0).await?))
}

/// `POST /session/{id}/summarize`: answers `true` once the summary is written.
async fn summarize(
    State(app): State<Arc<App>>,
    found: Found,
    JsonBody(request): JsonBody<SummarizeRequest>,
) -> ApiResult<Json<bool>> {
    let workspace = found.workspace()?;
    Ok(Json(app.sessions.compact(workspace, found.0, request).await?))
}

#[derive(Deserialize, Default)]
struct ForkRequest {
    #[serde(rename = "messageID")]
    message_id: Option<String>,
}

async fn fork(
    State(app): State<Arc<App>>,
    found: Found,
    JsonBody(request): JsonBody<ForkRequest>,
) -> ApiResult<Json<Session>> {
    let workspace = found.workspace()?;
    room_for_a_session(&app, &found.1).await?;
    Ok(Json(app.sessions.fork(&workspace, &found.0, request.message_id.as_deref()).await?))
}

async fn permissions(State(app): State<Arc<App>>, Caller(tenant): Caller) -> Json<Vec<PermissionRequest>> {
    Json(app.assistant.permissions.list(tenant.name()))
}

fn parse_reply(reply: &str, field: &str) -> ApiResult<Reply> {
    match reply {
        "once" => Ok(Reply::Once),
        "always" => Ok(Reply::Always),
        "reject" => Ok(Reply::Reject),
        _ => Err(ApiError::bad(Field::Payload, format!("{field} must be \"once\", \"always\" or \"reject\""))),
    }
}

/// The v1 SDK's answer: `{response}` for one session's request. The
/// reference marks the route deprecated, but the SDK's default export
/// answers permissions through it alone.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PermissionResponse {
    response: String,
}

async fn respond_permission(
    State(app): State<Arc<App>>,
    Caller(tenant): Caller,
    Path((session, id)): Path<(String, String)>,
    JsonBody(request): JsonBody<PermissionResponse>,
) -> ApiResult<Json<bool>> {
    checked(Prefix::Session, &session)?;
    checked(Prefix::Permission, &id)?;
    let reply = parse_reply(&request.response, "response")?;
    let permissions = &app.assistant.permissions;
    // A request of another session is not found, exactly as a missing one.
    if permissions.session_of(tenant.name(), &id).as_deref() != Some(session.as_str()) {
        return Err(ApiError::NotFound(format!("Permission request not found: {id}")));
    }
    permissions.reply(&app.bus, tenant.name(), &id, reply, None).map_err(|e| ApiError::NotFound(e.to_string()))?;
    Ok(Json(true))
}

#[derive(Deserialize)]
struct PermissionReply {
    reply: String,
    message: Option<String>,
}

async fn reply_permission(
    State(app): State<Arc<App>>,
    Caller(tenant): Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<PermissionReply>,
) -> ApiResult<Json<bool>> {
    checked(Prefix::Permission, &id)?;
    let reply = parse_reply(&request.reply, "reply")?;
    let message = request.message.filter(|m| !m.trim().is_empty());
    app.assistant
        .permissions
        .reply(&app.bus, tenant.name(), &id, reply, message)
        .map_err(|e| ApiError::NotFound(e.to_string()))?;
    Ok(Json(true))
}
