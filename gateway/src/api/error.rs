//! The one error type of the HTTP API, and how each becomes a response.
//!
//! Every failure a client can cause gets OpenCode's JSON error shape and a
//! 4xx; only a fault of the server itself is a 500, with a reference the
//! body repeats. Responses carry their fault as a [`Fault`] extension, and
//! the request-tracing layer logs it once, in the request's span (with its
//! request id); nothing logs here. Nothing here ever answers with HTML: the
//! SDK reads an HTML response as "not an OpenCode server".

use crate::conversation::Busy;
use crate::sandbox::CallError;
use crate::session::SessionError;
use crate::store::StoreError;
use crate::workspace::WorkspaceError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Which part of a request failed validation (the reference's `kind`).
#[derive(Debug, Clone, Copy)]
pub enum Field {
    Payload,
    Query,
    Path,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A session, message, part or file does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed (400).
    #[error("{message}")]
    BadRequest { message: String, field: Field },
    /// The request names something the server will not serve (403).
    #[error("{0}")]
    Forbidden(String),
    /// The session is running something else (409).
    #[error("Session is busy: {0}")]
    Busy(String),
    /// The request collides with what is stored (409).
    #[error("{0}")]
    Conflict(String),
    /// Credentials are missing or wrong (401).
    #[error("Authentication required")]
    Unauthorized,
    /// The tenant sends requests (or opens streams) faster than its quota
    /// allows (429, with `retry-after`).
    #[error("{message}")]
    RateLimited { message: String, retry_after: std::time::Duration },
    /// The tenant's quota does not allow this (403).
    #[error("{0}")]
    QuotaExceeded(String),
    /// A tool call failed.
    #[error(transparent)]
    Tool(#[from] CallError),
    /// The body is larger than the route takes (413).
    #[error("{0}")]
    TooLarge(String),
    /// The route exists, but not with this method (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The server is out of a resource for now (503); retrying may work.
    #[error("{0}")]
    Unavailable(String),
    /// A fault of the server (500).
    #[error("{0}")]
    Internal(String),
    /// The prompt names a model no provider has (400, the reference's
    /// `ProviderModelNotFoundError`, which `opencode run` prints).
    #[error("{message}")]
    ModelNotFound { provider_id: String, model_id: String, suggestions: Vec<String>, message: String },
}

impl ApiError {
    /// A 400 for a bad body, query or path.
    pub fn bad(field: Field, message: impl Into<String>) -> Self {
        ApiError::BadRequest { message: message.into(), field }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(message) => ApiError::NotFound(message),
            StoreError::Conflict(message) => ApiError::Conflict(message),
            StoreError::Failed(_) => ApiError::Internal(error.to_string()),
        }
    }
}

impl From<Busy> for ApiError {
    fn from(Busy(session): Busy) -> Self {
        ApiError::Busy(session)
    }
}

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::NotFound(message) => ApiError::NotFound(message),
            SessionError::Invalid(message) => ApiError::bad(Field::Payload, message),
            SessionError::Busy(busy) => busy.into(),
            SessionError::Store(error) => error.into(),
            SessionError::Failed(message) => ApiError::Internal(message),
            SessionError::ModelNotFound { provider_id, model_id, suggestions, message } => {
                ApiError::ModelNotFound { provider_id, model_id, suggestions, message }
            }
        }
    }
}

impl From<WorkspaceError> for ApiError {
    fn from(error: WorkspaceError) -> Self {
        match error {
            WorkspaceError::Outside(_) => ApiError::Forbidden(error.to_string()),
            WorkspaceError::NotFound(_) => ApiError::NotFound(error.to_string()),
            WorkspaceError::Exhausted(..) => ApiError::Unavailable(error.to_string()),
            WorkspaceError::Unreadable(..) => ApiError::Internal(error.to_string()),
        }
    }
}

/// What went wrong on the server's side of a response: logged by the
/// tracing layer (`error` for a fault of the server, `warn` for a resource
/// that ran out).
#[derive(Debug, Clone)]
pub struct Fault {
    pub message: String,
    /// The reference the response body gives the client, when it has one.
    pub reference: Option<String>,
}

fn named(status: StatusCode, name: &str, message: String) -> Response {
    (status, axum::Json(json!({ "name": name, "data": { "message": message } }))).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        match self {
            ApiError::NotFound(_) => named(StatusCode::NOT_FOUND, "NotFoundError", message),
            ApiError::BadRequest { field, .. } => (
                StatusCode::BAD_REQUEST,
                axum::Json(
                    json!({ "name": "BadRequest", "data": { "message": message, "kind": format!("{field:?}") } }),
                ),
            )
                .into_response(),
            ApiError::Forbidden(_) => named(StatusCode::FORBIDDEN, "ForbiddenError", message),
            ApiError::TooLarge(_) => named(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLargeError", message),
            ApiError::Conflict(_) => named(StatusCode::CONFLICT, "ConflictError", message),
            ApiError::MethodNotAllowed(_) => named(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowedError", message),
            ApiError::Unavailable(_) => {
                let mut response = named(StatusCode::SERVICE_UNAVAILABLE, "UnavailableError", message.clone());
                response.extensions_mut().insert(Fault { message, reference: None });
                response
            }
            ApiError::Busy(session) => (
                StatusCode::CONFLICT,
                axum::Json(json!({ "_tag": "SessionBusyError", "sessionID": session, "message": message })),
            )
                .into_response(),
            ApiError::RateLimited { retry_after, .. } => {
                let mut response = named(StatusCode::TOO_MANY_REQUESTS, "RateLimitError", message);
                let seconds = retry_after.as_secs().max(1).to_string();
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_str(&seconds).expect("digits"));
                response
            }
            ApiError::QuotaExceeded(_) => named(StatusCode::FORBIDDEN, "QuotaExceededError", message),
            ApiError::Unauthorized => {
                let mut response = named(StatusCode::UNAUTHORIZED, "UnauthorizedError", message);
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Secure Area\""));
                response
            }
            ApiError::Tool(error) => {
                let status = match &error {
                    CallError::OutsideWorkspace(_) | CallError::PermissionDenied(_) => StatusCode::FORBIDDEN,
                    CallError::NotFound(_) => StatusCode::NOT_FOUND,
                    CallError::InvalidArguments(_) | CallError::UnknownTool(_) => StatusCode::BAD_REQUEST,
                    CallError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
                    CallError::CpuLimit(_) | CallError::MemoryLimit(_) | CallError::OutputLimit(_) | CallError::Failed(_) => {
                        StatusCode::UNPROCESSABLE_ENTITY
                    }
                    CallError::Cancelled => StatusCode::CONFLICT,
                    CallError::QuotaExceeded(_) => StatusCode::TOO_MANY_REQUESTS,
                    CallError::Crashed(_) | CallError::Host(_) => return ApiError::Internal(message).into_response(),
                };
                let name = match status {
                    StatusCode::FORBIDDEN => "ForbiddenError",
                    StatusCode::NOT_FOUND => "NotFoundError",
                    StatusCode::BAD_REQUEST => "BadRequest",
                    StatusCode::TOO_MANY_REQUESTS => "QuotaExceededError",
                    _ => "ToolError",
                };
                (status, axum::Json(json!({ "name": name, "data": { "message": message, "kind": error.kind() } })))
                    .into_response()
            }
            ApiError::ModelNotFound { provider_id, model_id, suggestions, .. } => (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({
                    "name": "ProviderModelNotFoundError",
                    "data": { "providerID": provider_id, "modelID": model_id, "suggestions": suggestions, "message": message },
                })),
            )
                .into_response(),
            ApiError::Internal(_) => {
                let reference = format!("err_{:08x}", rand::random::<u32>());
                let mut response = (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(json!({
                        "name": "UnknownError",
                        "data": { "message": "Unexpected server error. Check server logs for details.", "ref": reference },
                    })),
                )
                    .into_response();
                response.extensions_mut().insert(Fault { message, reference: Some(reference) });
                response
            }
        }
    }
}

/// What a handler returns.
pub type ApiResult<T> = Result<T, ApiError>;
