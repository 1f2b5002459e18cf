//! `GET /wasmgate/tools`: the tool components the server has loaded now
//! (built-in, then the tools folder's, with each one's digest and tools),
//! and the ones in the folder that did not load and why. A server follows
//! its tools folder while serving, so this is how an operator sees that a
//! component just installed is serving, or that a broken one was refused
//! and its previous version still serves.

use crate::app::App;
use crate::sandbox::{ComponentInfo, LoadFailure};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/wasmgate/tools", get(components))
}

#[derive(serde::Serialize)]
struct Components {
    components: Vec<ComponentInfo>,
    failures: Vec<LoadFailure>,
}

async fn components(State(app): State<Arc<App>>) -> Json<Components> {
    Json(Components { components: app.sandbox.components(), failures: app.sandbox.load_failures() })
}
