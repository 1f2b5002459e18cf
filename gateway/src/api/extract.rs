//! Typed extractors whose rejections speak OpenCode's error shapes.
//!
//! axum's own `Json` and `Query` answer a bad request with plain text; these
//! wrap them so a client always gets `{"name":"BadRequest",...}`. [`Instance`]
//! picks the directory a request works in, in the reference's order: a
//! session's own directory, then `?directory=`, then the
//! `x-opencode-directory` header (percent-encoded), then the served folder,
//! always among the caller's own folders. [`Found`] is the caller's session
//! a `/session/{sessionID}/...` route names, looked up once per request.

use super::auth::Caller;
use super::error::{ApiError, Field};
use crate::app::App;
use crate::ids::Prefix;
use crate::model::Session;
use crate::tenant::Tenant;
use crate::workspace::Workspace;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use std::borrow::Cow;
use std::sync::Arc;

/// A JSON body; an empty body reads as `{}` (the reference accepts both).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Arc<App>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &Arc<App>) -> Result<Self, ApiError> {
        let json = request.headers().get(header::CONTENT_TYPE).is_none_or(|kind| is_json(kind.as_bytes()));
        let bytes = axum::body::Bytes::from_request(request, state).await.map_err(|e| match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(format!("the body is too large: {}", e.body_text())),
            _ => ApiError::bad(Field::Payload, e.body_text()),
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return serde_json::from_slice(b"{}")
                .map(JsonBody)
                .map_err(|e| ApiError::bad(Field::Payload, e.to_string()));
        }
        // A page on another site may post `text/plain` without asking first;
        // only a JSON body is read as one.
        if !json {
            return Err(ApiError::bad(Field::Payload, "the body must be JSON (Content-Type: application/json)"));
        }
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| ApiError::bad(Field::Payload, e.to_string()))
    }
}

/// `application/json`, or another type whose subtype ends in `+json`.
fn is_json(content_type: &[u8]) -> bool {
    let essence = content_type.split(|&b| b == b';').next().unwrap_or_default().trim_ascii().to_ascii_lowercase();
    essence == b"application/json" || (essence.starts_with(b"application/") && essence.ends_with(b"+json"))
}

/// Query parameters.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(query).map(Params).map_err(|e| ApiError::bad(Field::Query, e.to_string()))
    }
}

/// The directory (and project) a request works in: the one it names, else
/// the caller's first folder; never one outside the caller's folders. (A
/// session's routes work in the session's directory: see
/// [`Found::workspace`].)
pub struct Instance(pub Arc<Workspace>);

impl<S: Send + Sync> FromRequestParts<S> for Instance {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Caller(tenant) = Caller::from_request_parts(parts, state).await?;
        let workspaces = tenant.workspaces()?;
        if let Some(directory) = requested_directory(parts) {
            return Ok(Instance(workspaces.resolve(&directory)?));
        }
        Ok(Instance(workspaces.default()))
    }
}

/// The caller's session a route's `{sessionID}` names: a 400 for an id that
/// is not a session's, a 404 for one that does not exist or is another
/// tenant's.
pub struct Found(pub Session, pub Arc<Tenant>);

impl FromRequestParts<Arc<App>> for Found {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let params = RawPathParams::from_request_parts(parts, app)
            .await
            .map_err(|e| ApiError::Internal(format!("a session route without parameters: {e}")))?;
        let id = params
            .iter()
            .find_map(|(key, value)| (key == "sessionID").then_some(value))
            .ok_or_else(|| ApiError::Internal("a session route without {sessionID}".into()))?;
        checked(Prefix::Session, id)?;
        let Caller(tenant) = Caller::from_request_parts(parts, app).await?;
        Ok(Found(app.sessions.get(tenant.name(), id).await?, tenant))
    }
}

impl Found {
    /// The directory the session works in, resolved now among its tenant's
    /// folders (it may have moved or been replaced since the session was
    /// made).
    pub fn workspace(&self) -> Result<Arc<Workspace>, ApiError> {
        Ok(self.1.workspaces()?.resolve(&self.0.directory)?)
    }
}

/// Checks an id's prefix, as the reference validates path parameters.
pub fn checked(prefix: Prefix, id: &str) -> Result<&str, ApiError> {
    if prefix.matches(id) {
        Ok(id)
    } else {
        Err(ApiError::bad(Field::Path, format!("Expected an id starting with \"{}_\", got {id:?}", prefix.as_str())))
    }
}

/// [`checked`] for an id a body carries in `field`.
pub fn checked_field<'a>(prefix: Prefix, id: &'a str, field: &str) -> Result<&'a str, ApiError> {
    if prefix.matches(id) {
        Ok(id)
    } else {
        Err(ApiError::bad(Field::Payload, format!("{field} must start with \"{}_\", got {id:?}", prefix.as_str())))
    }
}

pub(super) fn requested_directory(parts: &Parts) -> Option<String> {
    let from_query = parts.uri.query().and_then(|query| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "directory")
            .map(|(_, value)| value.into_owned())
    });
    let named = from_query.or_else(|| {
        let header = parts.headers.get("x-opencode-directory")?.to_str().ok()?;
        Some(header.to_string())
    })?;
    // The reference passes the name through decodeURIComponent, ignoring errors.
    let decoded = percent_encoding::percent_decode_str(&named).decode_utf8().map(Cow::into_owned).unwrap_or(named);
    (!decoded.is_empty()).then_some(decoded)
}
