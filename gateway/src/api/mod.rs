//! The HTTP API: OpenCode's routes, grouped as OpenCode groups them.
//!
//! Each submodule is one group with its own `routes()`; this file stacks them
//! with what applies to all: a request id (the client's `x-request-id`, or a
//! new one, echoed in the response) and a tracing span carrying it around
//! every request, where server faults are logged once; CORS (answered before
//! auth, as the reference does); Basic auth when a password is set (and,
//! when none is, only host names that cannot be rebound to this machine by a
//! web page); body limits; and JSON errors for every path no group claims and
//! every wrong method.
//! Handlers never touch the file system: they ask the sandbox, the store or
//! the workspace map.

pub mod error;
mod extract;
mod file;
mod global;
mod instance;
mod session;

use crate::app::App;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
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
    Router::new()
        .merge(global::routes().layer(DefaultBodyLimit::max(BODY_LIMIT)))
        .merge(instance::routes().layer(DefaultBodyLimit::max(BODY_LIMIT)))
        .merge(session::routes().layer(DefaultBodyLimit::max(PROMPT_BODY_LIMIT)))
        .merge(session::permission_routes().layer(DefaultBodyLimit::max(BODY_LIMIT)))
        .merge(file::routes().layer(DefaultBodyLimit::max(BODY_LIMIT)))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(app.clone(), authenticate))
        .layer(cors())
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

/// Basic auth, or `?auth_token=base64(user:password)`, when a password is
/// set; otherwise only the host names [`trusted_host`] accepts.
async fn authenticate(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let Some(credentials) = &app.credentials else {
        let host = request.headers().get(axum::http::header::HOST).map(|h| h.to_str().unwrap_or("\u{0}"));
        if host.is_some_and(|host| !trusted_host(host, &app.host_names)) {
            return ApiError::Forbidden(format!("host {:?} is not served without a password", host.unwrap_or("")))
                .into_response();
        }
        return next.run(request).await;
    };
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
