//! Process-wide routes: health, the two event streams, the API document.

use super::OPENAPI;
use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::extract::Instance;
use crate::app::{App, VERSION};
use crate::tenant::{Refused, StreamTicket};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/global/health", get(health))
        .route("/global/event", get(global_events))
        .route("/global/config", get(config))
        .route("/event", get(instance_events))
        .route("/doc", get(doc))
        .route("/global/dispose", axum::routing::post(dispose))
}

async fn health() -> Json<Value> {
    Json(json!({ "healthy": true, "version": VERSION }))
}

async fn config(State(app): State<Arc<App>>) -> Json<Value> {
    Json(crate::catalog::opencode_config(&app.config))
}

async fn global_events(State(app): State<Arc<App>>, Caller(tenant): Caller) -> ApiResult<Response> {
    let ticket = tenant.open_stream().map_err(rate_limited)?;
    Ok(event_stream(app.bus.global_stream(tenant.name()), ticket))
}

async fn instance_events(
    State(app): State<Arc<App>>,
    Caller(tenant): Caller,
    Instance(workspace): Instance,
) -> ApiResult<Response> {
    let ticket = tenant.open_stream().map_err(rate_limited)?;
    Ok(event_stream(app.bus.instance_stream(tenant.name(), workspace.directory.clone()), ticket))
}

fn rate_limited(refused: Refused) -> ApiError {
    ApiError::RateLimited { message: refused.message, retry_after: refused.retry_after }
}

/// A stream response holding its tenant's stream ticket until it ends.
fn event_stream<S>(frames: S, ticket: StreamTicket) -> Response
where
    S: Stream<Item = Result<bytes::Bytes, std::convert::Infallible>> + Send + 'static,
{
    let frames = frames.map(move |frame| {
        let _held = &ticket;
        frame
    });
    let mut response = Body::from_stream(frames).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-transform"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

async fn doc() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// `POST /global/dispose`: tells the caller's clients to load everything
/// anew (`global.disposed`), as the reference does; nothing is cached here
/// that needs dropping.
async fn dispose(State(app): State<Arc<App>>, Caller(tenant): Caller) -> Json<bool> {
    let scope = crate::events::Scope::Global { tenant: tenant.name().map(str::to_string) };
    app.bus.publish(&scope, crate::events::Event::GlobalDisposed {});
    Json(true)
}
