//! `/mcp`: the MCP servers the agent uses (opencode.json's `mcp` key), as
//! the reference has the routes: their status, adding one while serving,
//! connecting and disconnecting one, each in the request's folder. A
//! tenant sees, connects and disconnects its own servers there (see
//! `mcp::client`); only the server's own user adds one. OAuth sign-in is
//! not offered: a remote server's credentials go in its `headers`.

use super::auth::Caller;
use super::error::{ApiError, ApiResult, Field};
use super::extract::{Instance, JsonBody};
use crate::app::App;
use crate::tenant::Tenant;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/mcp", get(status).post(add))
        .route("/mcp/{name}/connect", post(connect))
        .route("/mcp/{name}/disconnect", post(disconnect))
        .route("/mcp/{name}/auth", post(no_oauth).delete(no_oauth))
        .route("/mcp/{name}/auth/callback", post(no_oauth))
        .route("/mcp/{name}/auth/authenticate", post(no_oauth))
}

/// Refuses a tenant: the configuration is the host's.
fn host_only(tenant: &Tenant) -> ApiResult<()> {
    match tenant.name() {
        Some(_) => Err(ApiError::Forbidden("MCP servers are configured by the server's own user, not a tenant".into())),
        None => Ok(()),
    }
}

/// `GET /mcp`: each server's `MCPStatus`, by name.
async fn status(State(app): State<Arc<App>>, Instance(workspace): Instance) -> Json<Value> {
    Json(json!(app.assistant.mcp.status(&workspace).await))
}

#[derive(Deserialize)]
struct AddServer {
    name: String,
    config: Value,
}

/// `POST /mcp`: adds (or replaces) a server and connects it.
async fn add(
    State(app): State<Arc<App>>,
    Caller(tenant): Caller,
    JsonBody(body): JsonBody<AddServer>,
) -> ApiResult<Json<Value>> {
    host_only(&tenant)?;
    if body.name.is_empty() {
        return Err(ApiError::bad(Field::Payload, "name: an MCP server needs a name"));
    }
    Ok(Json(json!(app.assistant.mcp.add(&body.name, &body.config).await)))
}

/// `POST /mcp/{name}/connect`: connects it (again), waiting for the outcome.
async fn connect(
    State(app): State<Arc<App>>,
    Instance(workspace): Instance,
    Path(name): Path<String>,
) -> ApiResult<Json<bool>> {
    named(&name, app.assistant.mcp.connect(&workspace, &name).await)
}

/// `POST /mcp/{name}/disconnect`: closes it (a local server's program ends).
async fn disconnect(
    State(app): State<Arc<App>>,
    Instance(workspace): Instance,
    Path(name): Path<String>,
) -> ApiResult<Json<bool>> {
    named(&name, app.assistant.mcp.disconnect(&workspace, &name).await)
}

/// `true`, or a 404 where the configuration names no server `name`.
fn named(name: &str, found: bool) -> ApiResult<Json<bool>> {
    match found {
        true => Ok(Json(true)),
        false => Err(ApiError::NotFound(format!("MCP server not found: {name}"))),
    }
}

async fn no_oauth(Path(name): Path<String>) -> ApiError {
    ApiError::bad(
        Field::Path,
        format!(
            "{name}: MCP OAuth is not offered by wasmgate: give a remote server its credentials in its \"headers\""
        ),
    )
}
