//! Hosting: the admin API (`/wasmgate/admin/...`, behind the admin token)
//! that manages tenants as `wasmgate tenant ...` does and reads the audit
//! log as `wasmgate audit` does, and the route a
//! tenant reads its own usage from (`GET /wasmgate/usage`).

use super::auth::Caller;
use super::error::{ApiError, ApiResult, Field};
use super::extract::{JsonBody, Params};
use crate::app::App;
use crate::store::{AuditQuery, AuditRecord};
use crate::tenant::{QuotaSettings, RecordError, Tenant, TenantError, Tenants};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

/// Where the admin API is mounted.
pub const PREFIX: &str = "/wasmgate/admin";

/// The admin API, relative to [`PREFIX`].
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/tenants", get(list).post(add))
        .route("/tenants/{name}", get(read).patch(set).delete(remove))
        .route("/tenants/{name}/rotate", post(rotate))
        .route("/usage", get(all_usage))
        .route("/audit", get(audit))
}

/// What a tenant may ask about itself.
pub fn usage_routes() -> Router<Arc<App>> {
    Router::new().route("/wasmgate/usage", get(own_usage))
}

fn tenants(app: &App) -> ApiResult<Arc<Tenants>> {
    app.tenants.clone().ok_or_else(|| ApiError::Forbidden("this server keeps no tenants (no data folder)".into()))
}

impl From<TenantError> for ApiError {
    fn from(error: TenantError) -> Self {
        match error {
            TenantError::Invalid(message) => ApiError::bad(Field::Payload, message),
            TenantError::Record(RecordError::Exists(_)) => ApiError::Conflict(error.to_string()),
            TenantError::Record(RecordError::Unknown(_)) => ApiError::NotFound(error.to_string()),
            TenantError::Record(RecordError::Failed { .. }) | TenantError::Keyring(_) => {
                ApiError::Internal(error.to_string())
            }
        }
    }
}

/// Runs a tenant-database operation on the blocking pool.
async fn blocking<T: Send + 'static>(
    tenants: Arc<Tenants>,
    work: impl FnOnce(&Tenants) -> Result<T, TenantError> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(move || work(&tenants))
        .await
        .map_err(|e| ApiError::Internal(format!("a tenant operation failed: {e}")))?
        .map_err(ApiError::from)
}

/// A tenant as the admin API shows it (never its token).
async fn describe(app: &App, tenant: &Tenant) -> ApiResult<Value> {
    let mut described = tenant.to_json().expect("listed tenants have records");
    described["usage"] = usage(app, tenant).await?;
    Ok(described)
}

/// What a tenant uses now against its quotas.
async fn usage(app: &App, tenant: &Tenant) -> ApiResult<Value> {
    let sessions = app.store.count_sessions(tenant.name()).await?;
    let tokens_today = match (&app.tenants, tenant.name()) {
        (Some(tenants), Some(name)) => {
            let (tenants, name) = (tenants.clone(), name.to_string());
            tokio::task::spawn_blocking(move || tenants.tokens_today(&name)).await.unwrap_or(0)
        }
        _ => 0,
    };
    let quota = tenant.quota();
    let disk = match quota.cloned() {
        Some(quota) => tokio::task::spawn_blocking(move || quota.disk_used()).await.unwrap_or(0),
        None => 0,
    };
    Ok(json!({
        "sessions": sessions,
        "toolCallsRunning": quota.map_or(0, |q| q.running()),
        "cpuSecondsThisHour": quota.map_or(0.0, |q| q.cpu_used().as_secs_f64()),
        "diskBytes": disk,
        "eventStreams": tenant.usage().streams(),
        "requests": tenant.usage().requests(),
        "requestsRefused": tenant.usage().refused(),
        "tokensToday": tokens_today,
    }))
}

async fn own_usage(State(app): State<Arc<App>>, Caller(tenant): Caller) -> ApiResult<Json<Value>> {
    Ok(Json(json!({
        "tenant": tenant.name(),
        "quotas": tenant.quotas(),
        "usage": usage(&app, &tenant).await?,
    })))
}

async fn list(State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    let mut all = Vec::new();
    for tenant in tenants(&app)?.list() {
        all.push(describe(&app, &tenant).await?);
    }
    Ok(Json(Value::Array(all)))
}

async fn all_usage(State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    let mut all = serde_json::Map::new();
    for tenant in tenants(&app)?.list() {
        let name = tenant.name().unwrap_or_default().to_string();
        all.insert(name, json!({ "quotas": tenant.quotas(), "usage": usage(&app, &tenant).await? }));
    }
    Ok(Json(Value::Object(all)))
}

fn found(app: &App, name: &str) -> ApiResult<Arc<Tenant>> {
    tenants(app)?.get(name).ok_or_else(|| ApiError::NotFound(format!("no tenant named {name:?}")))
}

async fn read(State(app): State<Arc<App>>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let tenant = found(&app, &name)?;
    Ok(Json(describe(&app, &tenant).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTenant {
    name: String,
    roots: Vec<PathBuf>,
    #[serde(default)]
    quotas: QuotaSettings,
}

/// The tenant an admin action was about, when the path does not name it:
/// the audit record of the action says it.
#[derive(Debug, Clone)]
pub(super) struct Subject(pub String);

async fn add(
    State(app): State<Arc<App>>,
    JsonBody(request): JsonBody<NewTenant>,
) -> ApiResult<(StatusCode, Extension<Subject>, Json<Value>)> {
    let name = request.name.clone();
    let token =
        blocking(tenants(&app)?, move |tenants| tenants.add(&request.name, &request.roots, request.quotas)).await?;
    let tenant = found(&app, &name)?;
    let mut body = describe(&app, &tenant).await?;
    body["token"] = json!(token);
    Ok((StatusCode::CREATED, Extension(Subject(name)), Json(body)))
}

async fn set(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    JsonBody(settings): JsonBody<QuotaSettings>,
) -> ApiResult<Json<Value>> {
    let changing = name.clone();
    blocking(tenants(&app)?, move |tenants| tenants.set(&changing, &settings)).await?;
    let tenant = found(&app, &name)?;
    Ok(Json(describe(&app, &tenant).await?))
}

async fn remove(State(app): State<Arc<App>>, Path(name): Path<String>) -> ApiResult<Json<bool>> {
    blocking(tenants(&app)?, move |tenants| tenants.remove(&name)).await?;
    Ok(Json(true))
}

#[derive(Deserialize)]
struct AuditParams {
    tenant: Option<String>,
    /// Milliseconds since the epoch.
    since: Option<i64>,
    limit: Option<usize>,
}

/// The audit log, oldest first (the newest `limit`, 1000 unless asked),
/// up to the requests answered before this one.
async fn audit(State(app): State<Arc<App>>, Params(params): Params<AuditParams>) -> ApiResult<Json<Vec<AuditRecord>>> {
    app.auditor.flush().await;
    let query = AuditQuery { tenant: params.tenant, since: params.since, limit: Some(params.limit.unwrap_or(1000)) };
    Ok(Json(app.store.audit(&query).await?))
}

async fn rotate(State(app): State<Arc<App>>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let token = blocking(tenants(&app)?, move |tenants| tenants.rotate(&name)).await?;
    Ok(Json(json!({ "token": token })))
}
