//! Process-wide routes: health, the two event streams, the API document.

use super::OPENAPI;
use super::extract::Instance;
use crate::app::{App, VERSION};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::Stream;
use serde_json::{Value, json};
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/global/health", get(health))
        .route("/global/event", get(global_events))
        .route("/global/config", get(config))
        .route("/event", get(instance_events))
        .route("/doc", get(doc))
}

async fn health() -> Json<Value> {
    Json(json!({ "healthy": true, "version": VERSION }))
}

async fn config(State(app): State<Arc<App>>) -> Json<Value> {
    Json(crate::catalog::opencode_config(&app.config))
}

async fn global_events(State(app): State<Arc<App>>) -> Response {
    event_stream(app.bus.global_stream())
}

async fn instance_events(State(app): State<Arc<App>>, Instance(workspace): Instance) -> Response {
    event_stream(app.bus.instance_stream(workspace.directory.clone()))
}

fn event_stream<S>(frames: S) -> Response
where
    S: Stream<Item = Result<bytes::Bytes, std::convert::Infallible>> + Send + 'static,
{
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
