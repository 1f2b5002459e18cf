//! Per-directory metadata: project, path, VCS, configuration, providers,
//! agents, commands, and the status panels (MCP, LSP, formatters) that
//! wasmgate has nothing to report in yet.

use super::auth::Caller;
use super::extract::Instance;
use crate::agent::providers::{Provider, Providers};
use crate::app::App;
use crate::catalog;
use crate::tenant::Tenant;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
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
        .route("/mcp", get(empty_object))
        .route("/experimental/resource", get(empty_object))
        .route("/lsp", get(empty_list))
        .route("/formatter", get(empty_list))
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
