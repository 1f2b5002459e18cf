//! The HTTP API: OpenCode's routes, grouped as OpenCode groups them.
//!
//! Each submodule is one group with its own `routes()`; this file stacks them
//! with what applies to all: a request id (the client's `x-request-id`, or a
//! new one, echoed in the response) and a tracing span carrying it around
//! every request, where server faults are logged once; CORS (answered before
//! auth, as the reference does, for the reference's local origins and the
//! ones the host lists); who the request is made as (`auth`: a tenant's
//! token, the password, or, with neither configured, only host names that
//! cannot be rebound to this machine by a web page); body limits; and JSON
//! errors for every path no group claims and every wrong method. The admin
//! API (`/wasmgate/admin/...`) sits beside the rest behind its own token;
//! the MCP endpoint (`/wasmgate/mcp`) sits among the rest, behind the same
//! auth (`/mcp` is the reference's route for MCP clients' status), and so
//! does `/wasmgate/tools`, the tool components loaded now.
//! Handlers never touch the file system: they ask the sandbox, the store or
//! the workspace map.

mod admin;
mod auth;
pub mod error;
mod extract;
mod file;
mod global;
mod instance;
mod mcp;
mod mcp_servers;
mod provider_auth;
mod question;
mod session;
mod tools;
mod tui;
mod vcs;

use crate::app::App;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method, request::Parts};
use axum::response::Response;
use error::{ApiError, Fault};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// The OpenAPI document `GET /doc` serves: the reference's own descriptions
/// of exactly the operations wasmgate implements.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The largest body a session route takes: a prompt may carry a pasted log
/// or an image.
pub const PROMPT_BODY_LIMIT: usize = 32 << 20;

/// The largest body any other route takes (their bodies are small JSON).
pub const BODY_LIMIT: usize = 2 << 20;

/// The whole API over `app`.
pub fn router(app: Arc<App>) -> Router {
    let authenticated = Router::new()
        .merge(global::routes().layer(DefaultBodyLimit::max(BODY_LIMIT)))
        .merge(instance::routes().layer(DefaultBodyLimit::max(BODY_LIMIT)))
        .merge(session::routes().layer(DefaultBodyLimit::max(PROMPT_BODY_LIMIT)))
        .merge(session::permission_routes().layer(DefaultBodyLimit::max(BODY_LIMIT)))
        .merge(file::routes().layer(DefaultBodyLimit::max(BODY_LIMIT)))
        .merge(vcs::routes().layer(DefaultBodyLimit::max(BODY_LIMIT)))
        .merge(provider_auth::routes().layer(DefaultBodyLimit::max(BODY_LIMIT)))
        .merge(tui::routes().layer(DefaultBodyLimit::max(BODY_LIMIT)))
        .merge(question::routes().layer(DefaultBodyLimit::max(BODY_LIMIT)))
        .merge(tools::routes())
        .merge(mcp_servers::routes().layer(DefaultBodyLimit::max(BODY_LIMIT)))
        .merge(admin::usage_routes())
        .nest_service(mcp::PATH, mcp::service(&app))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(app.clone(), auth::authenticate));
    let admin = admin::routes()
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(app.clone(), auth::admin));
    Router::new()
        .nest(admin::PREFIX, admin)
        .merge(authenticated)
        .layer(cors(app.cors_origins.clone()))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(NewRequestId))
                .layer(TraceLayer::new_for_http().make_span_with(request_span).on_response(log_response))
                .layer(PropagateRequestIdLayer::x_request_id()),
        )
        .with_state(app)
}

/// Gives a request without an `x-request-id` one of its own.
#[derive(Clone, Copy)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let id = format!("req_{:016x}", rand::random::<u64>());
        Some(RequestId::new(HeaderValue::from_str(&id).expect("the id is ASCII")))
    }
}

/// The span every log line of a request is written in.
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request.headers().get("x-request-id").and_then(|id| id.to_str().ok()).unwrap_or("-");
    tracing::info_span!("request", id, method = %request.method(), path = request.uri().path())
}

/// Logs each response once: its fault, when the server had one.
fn log_response<B>(response: &Response<B>, latency: Duration, _: &tracing::Span) {
    let status = response.status().as_u16();
    match response.extensions().get::<Fault>() {
        Some(Fault { message, reference: Some(reference) }) => {
            tracing::error!(status, ?latency, reference, "{message}")
        }
        Some(Fault { message, reference: None }) => tracing::warn!(status, ?latency, "{message}"),
        None => tracing::debug!(status, ?latency, "answered"),
    }
}

async fn not_found(request: Request) -> ApiError {
    ApiError::NotFound(format!("no route for {} {}", request.method(), request.uri().path()))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} is not allowed on {}", request.method(), request.uri().path()))
}

/// Whether a request's `Host` may reach a server without a password: an IP
/// address, `localhost`, or a name the operator serves under. A web page can
/// point a name of its own at 127.0.0.1 (DNS rebinding) and then call the
/// server as its own origin; it cannot make its name an IP literal.
fn trusted_host(host: &str, configured: &[String]) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => return v6.split_once(']').is_some_and(|(ip, _)| ip.parse::<std::net::Ipv6Addr>().is_ok()),
        None => host
            .rsplit_once(':')
            .map_or(host, |(name, port)| if port.bytes().all(|b| b.is_ascii_digit()) { name } else { host }),
    };
    let name = name.to_ascii_lowercase();
    name.parse::<std::net::Ipv4Addr>().is_ok()
        || name == "localhost"
        || name.ends_with(".localhost")
        || configured.iter().any(|c| c.eq_ignore_ascii_case(&name))
}

/// The origins the reference allows (local pages, its desktop shells and
/// its own web app) and those the host lists (`wasmgate.cors_origins`,
/// exact matches); any other origin gets no CORS headers, so a browser
/// keeps its page from reading the answer.
fn cors(listed: Vec<String>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _: &Parts| {
            origin.to_str().is_ok_and(|origin| allowed_origin(origin) || listed.iter().any(|l| l == origin))
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

    #[test]
    fn hosts_a_web_page_cannot_rebind() {
        let configured = ["devbox.lan".to_string()];
        for host in [
            "127.0.0.1:4096",
            "localhost",
            "LOCALHOST:80",
            "[::1]:4096",
            "10.0.0.5",
            "app.localhost",
            "devbox.lan:4096",
        ] {
            assert!(super::trusted_host(host, &configured), "{host}");
        }
        for host in ["evil.com", "evil.com:4096", "127.0.0.1.evil.com", "localhost.evil.com", "[evil]", ""] {
            assert!(!super::trusted_host(host, &configured), "{host}");
        }
    }
}
