//! The HTTP API: OpenCode's routes, grouped as OpenCode groups them.
//!
//! Each submodule is one group with its own `routes()`; this file stacks them
//! with what applies to all: CORS (answered before auth, as the reference
//! does), Basic auth when a password is set, and a JSON 404 for every path
//! no group claims. Handlers never touch the file system: they ask the
//! sandbox, the store or the workspace map.

pub mod error;
mod extract;
mod file;
mod global;
mod instance;
mod session;

use crate::app::App;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use error::ApiError;
use std::sync::Arc;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

/// The OpenAPI document `GET /doc` serves: the reference's own descriptions
/// of exactly the operations wasmgate implements.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The whole API over `app`.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .merge(global::routes())
        .merge(instance::routes())
        .merge(session::routes())
        .merge(file::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(app.clone(), authenticate))
        .layer(cors())
        .with_state(app)
}

async fn not_found(request: Request) -> ApiError {
    ApiError::NotFound(format!("no route for {} {}", request.method(), request.uri().path()))
}

/// Basic auth, or `?auth_token=base64(user:password)`, when a password is set.
async fn authenticate(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let Some(credentials) = &app.credentials else { return next.run(request).await };
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", credentials.username, credentials.password));
    let from_query = request.uri().query().and_then(|query| {
        form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == "auth_token").map(|(_, v)| v.into_owned())
    });
    let presented = from_query.or_else(|| {
        let header = request.headers().get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
        header.strip_prefix("Basic ").map(|token| token.trim().to_string())
    });
    if presented.is_some_and(|token| constant_time_eq(token.as_bytes(), expected.as_bytes())) {
        next.run(request).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The origins the reference allows: local pages, its desktop shells and
/// its own web app.
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(|origin: &HeaderValue, _: &Parts| {
            origin.to_str().is_ok_and(allowed_origin)
        }))
        .allow_methods([Method::GET, Method::HEAD, Method::PUT, Method::PATCH, Method::POST, Method::DELETE])
        .allow_headers(AllowHeaders::mirror_request())
        .max_age(std::time::Duration::from_secs(86_400))
}

fn allowed_origin(origin: &str) -> bool {
    let local_port = |prefix: &str| {
        origin.strip_prefix(prefix).is_some_and(|rest| {
            rest.is_empty() || rest.strip_prefix(':').is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
        })
    };
    local_port("http://localhost")
        || local_port("http://127.0.0.1")
        || origin.starts_with("oc://renderer")
        || matches!(
            origin,
            "tauri://localhost" | "http://tauri.localhost" | "https://tauri.localhost" | "https://opencode.ai"
        )
        || origin.strip_prefix("https://").is_some_and(|host| host.ends_with(".opencode.ai"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn origins_as_the_reference_allows_them() {
        for origin in ["http://localhost:3000", "http://127.0.0.1:4096", "tauri://localhost", "https://app.opencode.ai"]
        {
            assert!(super::allowed_origin(origin), "{origin}");
        }
        for origin in
            ["http://localhost.evil.com", "https://evil.com", "http://127.0.0.1:80x", "https://opencode.ai.evil"]
        {
            assert!(!super::allowed_origin(origin), "{origin}");
        }
    }
}
