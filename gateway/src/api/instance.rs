//! Per-directory metadata: project, path, VCS, configuration, providers,
//! agents, commands, the tools the default agent is offered, and the status
//! panels (LSP, formatters) that wasmgate has nothing to report in yet; a
//! client's log lines and `/instance/dispose`. (`/mcp` is `mcp_servers`.)

use super::auth::Caller;
use super::error::{ApiError, ApiResult, Field};
use super::extract::Instance;
use super::extract::{JsonBody, Params};
use crate::agent::provider::ToolDefinition;
use crate::agent::providers::{Provider, Providers};
use crate::agent::tools;
use crate::app::App;
use crate::catalog;
use crate::events::Event;
use crate::tenant::Tenant;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/project", get(projects))
        .route("/project/current", get(current_project))
        .route("/path", get(path))
        .route("/config", get(config))
        .route("/config/providers", get(config_providers))
        .route("/provider", get(providers))
        .route("/provider/auth", get(empty_object))
        .route("/agent", get(agents))
        .route("/command", get(commands))
        .route("/skill", get(skills))
        .route("/experimental/resource", get(empty_object))
        .route("/lsp", get(empty_list))
        .route("/formatter", get(empty_list))
        .route("/experimental/tool/ids", get(tool_ids))
        .route("/experimental/tool", get(tool_list))
        .route("/instance/dispose", post(dispose))
        .route("/log", post(log))
}

async fn projects(Instance(workspace): Instance) -> Json<Value> {
    Json(json!([workspace.project.to_json()]))
}

async fn current_project(Instance(workspace): Instance) -> Json<Value> {
    Json(workspace.project.to_json())
}

async fn path(State(app): State<Arc<App>>, Caller(tenant): Caller, Instance(workspace): Instance) -> Json<Value> {
    // A tenant is not told where the host keeps its files: its own first
    // folder stands for all three.
    let (home, state, config) = match tenant.record() {
        None => (app.paths.home.clone(), app.paths.data.clone(), app.paths.config.clone()),
        Some(record) => (record.roots[0].clone(), record.roots[0].clone(), record.roots[0].clone()),
    };
    Json(json!({
        "home": home,
        "state": state,
        "config": config,
        "worktree": workspace.project.worktree,
        "directory": workspace.directory,
    }))
}

async fn config(State(app): State<Arc<App>>) -> Json<Value> {
    Json(catalog::opencode_config(&app.config))
}

async fn config_providers(State(app): State<Arc<App>>, Caller(tenant): Caller) -> Json<Value> {
    let providers: Vec<Value> = seen_by(&app, &tenant).iter().map(|p| p.to_json()).collect();
    Json(json!({ "providers": providers, "default": app.providers.defaults() }))
}

/// `GET /provider`: the providers the caller reaches (`connected`), then the
/// rest of the catalogue it may connect with a key (the TUI's `/connect`).
async fn providers(State(app): State<Arc<App>>, Caller(tenant): Caller) -> Json<Value> {
    let seen = seen_by(&app, &tenant);
    let connected: Vec<&str> = seen.iter().map(|p| p.id.as_str()).collect();
    let mut catalogue = Providers::connectable_besides(&seen);
    catalogue.retain(|p| tenant.allows_provider(&p.id));
    let all: Vec<Value> = seen.iter().chain(&catalogue).map(|p| p.to_json()).collect();
    Json(json!({ "all": all, "default": app.providers.defaults(), "connected": connected }))
}

/// The providers `tenant` reaches: the server's, and those it connected
/// with a key of its own.
fn seen_by(app: &App, tenant: &Tenant) -> Vec<Provider> {
    let keyed = app.keyring().map(|keyring| keyring.providers(tenant.name())).unwrap_or_default();
    let mut providers = app.providers.seen_with(&keyed);
    // A tenant the host pinned to some models sees only those.
    providers.retain_mut(|provider| {
        provider.models.retain(|model| tenant.allows_model(&provider.id, &model.id));
        tenant.allows_provider(&provider.id)
    });
    providers
}

async fn agents(State(app): State<Arc<App>>, Caller(tenant): Caller) -> Json<Value> {
    let profile = app.assistant.profile(tenant.name());
    Json(Value::Array(profile.agents.iter().map(|a| a.to_json()).collect()))
}

/// `GET /command`: the owner's commands, then the workspace's skills (a
/// command of the same name wins).
async fn commands(State(app): State<Arc<App>>, Caller(tenant): Caller, Instance(workspace): Instance) -> Json<Value> {
    let profile = app.assistant.profile(tenant.name());
    let mut listed = catalog::commands(&profile.commands);
    let skills = app.assistant.skills(&workspace).await;
    listed.extend(catalog::skill_commands(skills.values().filter(|s| profile.command(&s.name).is_none())));
    listed.extend(catalog::mcp_commands(&app.assistant.mcp.prompts(&workspace).await));
    Json(Value::Array(listed))
}

/// `GET /skill`: the skills prompts in this directory have.
async fn skills(State(app): State<Arc<App>>, Instance(workspace): Instance) -> Json<Value> {
    let skills = app.assistant.skills(&workspace).await;
    Json(Value::Array(skills.values().map(catalog::skill).collect()))
}

async fn empty_object() -> Json<Value> {
    Json(json!({}))
}

async fn empty_list() -> Json<Value> {
    Json(json!([]))
}

/// The tools the caller's default agent is offered in this directory.
async fn offered(app: &App, tenant: &Tenant, workspace: &crate::workspace::Workspace) -> Vec<ToolDefinition> {
    let profile = app.assistant.profile(tenant.name());
    let Some(agent) = profile.agent(&profile.default_agent) else { return Vec::new() };
    let skills = tools::Skills::new();
    tools::offered(&app.assistant, workspace, tenant.name(), agent, &agent.rules, &[], &skills).await
}

/// `GET /experimental/tool/ids`: the names of the tools.
async fn tool_ids(
    State(app): State<Arc<App>>,
    Caller(tenant): Caller,
    Instance(workspace): Instance,
) -> Json<Vec<String>> {
    Json(offered(&app, &tenant, &workspace).await.into_iter().map(|t| t.name).collect())
}

#[derive(Deserialize)]
struct ToolListParams {
    provider: Option<String>,
    model: Option<String>,
}

/// `GET /experimental/tool?provider=&model=`: the tools with their
/// argument schemas (the same for every model here).
async fn tool_list(
    State(app): State<Arc<App>>,
    Caller(tenant): Caller,
    Instance(workspace): Instance,
    Params(params): Params<ToolListParams>,
) -> ApiResult<Json<Vec<Value>>> {
    if params.provider.is_none() || params.model.is_none() {
        return Err(ApiError::bad(Field::Query, "provider and model are required"));
    }
    let tools = offered(&app, &tenant, &workspace).await;
    Ok(Json(
        tools
            .into_iter()
            .map(|t| json!({ "id": t.name, "description": t.description, "parameters": t.parameters }))
            .collect(),
    ))
}

/// `POST /instance/dispose`: nothing here is cached per directory that a
/// client could want dropped, so it tells the directory's clients to load
/// their state anew (the TUI bootstraps again), as the reference does.
async fn dispose(State(app): State<Arc<App>>, Instance(workspace): Instance) -> Json<bool> {
    app.bus.publish(&workspace.scope(), Event::InstanceDisposed { directory: &workspace.directory });
    Json(true)
}

/// The longest log message kept; a longer one is cut.
const MAX_LOG_MESSAGE: usize = 8 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogEntry {
    service: String,
    level: LogLevel,
    message: String,
    #[serde(default)]
    extra: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// `POST /log`: a client's log line, in the server's log under the
/// `client` target with its service, caller and extra fields.
async fn log(Caller(tenant): Caller, JsonBody(entry): JsonBody<LogEntry>) -> Json<bool> {
    let mut message = entry.message;
    if message.len() > MAX_LOG_MESSAGE {
        let cut = (0..=MAX_LOG_MESSAGE).rev().find(|&i| message.is_char_boundary(i)).unwrap_or(0);
        message.truncate(cut);
    }
    let extra = entry.extra.map(Value::Object).unwrap_or(Value::Null).to_string();
    let (service, owner) = (entry.service.as_str(), tenant.name().unwrap_or("-"));
    match entry.level {
        LogLevel::Debug => tracing::debug!(target: "client", service, owner, extra, "{message}"),
        LogLevel::Info => tracing::info!(target: "client", service, owner, extra, "{message}"),
        LogLevel::Warn => tracing::warn!(target: "client", service, owner, extra, "{message}"),
        LogLevel::Error => tracing::error!(target: "client", service, owner, extra, "{message}"),
    }
    Json(true)
}
