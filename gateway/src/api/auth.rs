//! Who a request is made as, decided once at the edge.
//!
//! The credentials the real clients already send are read here: HTTP Basic
//! (`opencode attach URL -p SECRET` sends `opencode:SECRET`; any user name
//! goes with a tenant's token), `Authorization: Bearer SECRET`, and the
//! `auth_token` query parameter (the reference's `base64(user:password)`,
//! or a token as it is). What they name:
//!
//! - a tenant's token: the request is made as that tenant;
//! - the server's password (`OPENCODE_SERVER_PASSWORD`, with its user
//!   name): the server's own user;
//! - nothing, on a server with neither tenants nor a password: the server's
//!   own user, but only under a host name a web page cannot rebind to this
//!   machine.
//!
//! Anything else is a 401 that does not say whether a tenant or token
//! exists. The tenant then travels with the request as [`Caller`], and its
//! request rate is counted before any handler runs. The admin API has its
//! own guard, [`admin`]: only the admin token opens it. Both write every
//! request, refusal and admin action to the audit log.

use super::error::ApiError;
use crate::app::App;
use crate::store::AuditRecord;
use crate::tenant::Tenant;
use axum::body::HttpBody as _;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, OriginalUri, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use subtle::ConstantTimeEq;

/// The tenant a request is made as (the server's own user included).
#[derive(Clone)]
pub struct Caller(pub Arc<Tenant>);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::Internal("a route outside the authenticated API asked for its caller".into()))
    }
}

/// What a request presented.
struct Presented {
    /// The user name, when the form has one.
    user: Option<String>,
    secret: String,
}

/// Decides who the request is made as, counts it against the tenant's
/// request rate, and hands it on with its [`Caller`].
pub(super) async fn authenticate(State(app): State<Arc<App>>, mut request: Request, next: Next) -> Response {
    let mut entry = Entry::of(&request);
    let tenant = match caller(&app, request.headers(), request.uri().query()) {
        Ok(tenant) => tenant,
        Err(error) => {
            let response = error.into_response();
            entry.kind = if response.status() == StatusCode::UNAUTHORIZED { "auth" } else { "request" };
            app.auditor.record(entry.finish(None, &response)).await;
            return response;
        }
    };
    let response = match tenant.admit_request() {
        Err(refused) => {
            ApiError::RateLimited { message: refused.message, retry_after: refused.retry_after }.into_response()
        }
        Ok(()) => {
            let _turn = tenant.admit().await;
            request.extensions_mut().insert(Caller(tenant.clone()));
            next.run(request).await
        }
    };
    app.auditor.record(entry.finish(Some(&tenant), &response)).await;
    response
}

/// An audit record in the making: what is known before the answer.
struct Entry {
    kind: &'static str,
    time: i64,
    started: Instant,
    remote: Option<String>,
    action: String,
    session: Option<String>,
}

impl Entry {
    fn of(request: &Request) -> Self {
        // The route's template, not the path: no ids or names a client
        // chose fill the log's action column; the session gets its own.
        let route = request.extensions().get::<MatchedPath>().map_or("(no route)", |m| m.as_str());
        let session = request
            .uri()
            .path()
            .strip_prefix("/session/")
            .and_then(|rest| rest.split('/').next())
            .filter(|id| id.starts_with("ses_"))
            .map(str::to_string);
        Entry {
            kind: "request",
            time: crate::ids::now_millis(),
            started: Instant::now(),
            remote: request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.to_string()),
            action: format!("{} {route}", request.method()),
            session,
        }
    }

    fn finish(self, tenant: Option<&Tenant>, response: &Response) -> AuditRecord {
        let record = tenant.and_then(Tenant::record);
        AuditRecord {
            time: self.time,
            kind: self.kind.into(),
            tenant: record.map(|r| r.name.clone()),
            token_id: record.map(|r| r.token_id.clone()),
            remote: self.remote,
            action: self.action,
            session: self.session,
            outcome: response.status().as_u16().to_string(),
            duration_ms: self.started.elapsed().as_millis() as u64,
            bytes: response.body().size_hint().exact().unwrap_or(0),
            ..Default::default()
        }
    }
}

fn caller(app: &App, headers: &HeaderMap, query: Option<&str>) -> Result<Arc<Tenant>, ApiError> {
    let tenants = app.tenants.as_ref().filter(|tenants| tenants.hosting());
    if tenants.is_none() && app.credentials.is_none() {
        let host = headers.get(header::HOST).map(|h| h.to_str().unwrap_or("\u{0}"));
        if host.is_some_and(|host| !super::trusted_host(host, &app.host_names)) {
            return Err(ApiError::Forbidden(format!("host {:?} is not served without a password", host.unwrap_or(""))));
        }
        return Ok(app.host.clone());
    }
    let presented = presented(headers, query).ok_or(ApiError::Unauthorized)?;
    if let Some(tenant) = tenants.and_then(|tenants| tenants.verify(&presented.secret)) {
        return Ok(tenant);
    }
    if let Some(credentials) = &app.credentials {
        let user = presented.user.as_deref().unwrap_or("");
        let user_ok: bool = user.as_bytes().ct_eq(credentials.username.as_bytes()).into();
        let password_ok: bool = presented.secret.as_bytes().ct_eq(credentials.password.as_bytes()).into();
        if user_ok & password_ok {
            return Ok(app.host.clone());
        }
    }
    Err(ApiError::Unauthorized)
}

/// The credentials of a request, in any of the forms the clients send.
fn presented(headers: &HeaderMap, query: Option<&str>) -> Option<Presented> {
    let from_query = query.and_then(|query| {
        form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == "auth_token").map(|(_, v)| v.into_owned())
    });
    if let Some(value) = from_query {
        // The reference's form is base64("user:password"); a bare token is
        // accepted as it is.
        return Some(basic(&value).unwrap_or(Presented { user: None, secret: value }));
    }
    let header = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, value) = header.trim().split_once(' ')?;
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => basic(value.trim()),
        "bearer" => Some(Presented { user: None, secret: value.trim().to_string() }),
        _ => None,
    }
}

/// `base64(user:password)`.
fn basic(encoded: &str) -> Option<Presented> {
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, secret) = text.split_once(':')?;
    Some(Presented { user: Some(user.to_string()), secret: secret.to_string() })
}

/// Lets a request into the admin API only with the admin token (as a
/// Bearer token, a Basic password or `auth_token`); with no admin token
/// configured, the admin API is closed.
pub(super) async fn admin(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    // The admin's own names (a tenant's) belong in its records; the query,
    // which may carry the token, never does. (Nested, the router sees the
    // path without its prefix: the original is recorded.)
    let path = request.extensions().get::<OriginalUri>().map_or(request.uri().path(), |o| o.0.path());
    let mut entry = Entry { kind: "admin", action: format!("{} {path}", request.method()), ..Entry::of(&request) };
    let Some(expected) = app.admin_token.as_deref() else {
        return ApiError::Forbidden("the admin API is off: set WASMGATE_ADMIN_TOKEN to open it".into()).into_response();
    };
    let presented = presented(request.headers(), request.uri().query());
    let matches = presented.is_some_and(|p| bool::from(p.secret.as_bytes().ct_eq(expected.as_bytes())));
    let response = if matches { next.run(request).await } else { ApiError::Unauthorized.into_response() };
    if !matches {
        entry.kind = "auth";
    }
    if let Some(super::admin::Subject(name)) = response.extensions().get() {
        entry.action = format!("{} ({name})", entry.action);
    }
    app.auditor.record(entry.finish(None, &response)).await;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_the_clients_send() {
        let basic_header = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("opencode:s3cret"));
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, basic_header.parse().unwrap());
        let p = presented(&headers, None).expect("basic");
        assert_eq!((p.user.as_deref(), p.secret.as_str()), (Some("opencode"), "s3cret"));

        headers.insert(header::AUTHORIZATION, "Bearer wgt_x".parse().unwrap());
        let p = presented(&headers, None).expect("bearer");
        assert_eq!((p.user, p.secret.as_str()), (None, "wgt_x"));

        let token = base64::engine::general_purpose::STANDARD.encode("me:pw");
        let p = presented(&HeaderMap::new(), Some(&format!("auth_token={token}"))).expect("query");
        assert_eq!((p.user.as_deref(), p.secret.as_str()), (Some("me"), "pw"));
        let p = presented(&HeaderMap::new(), Some("a=1&auth_token=wgt_raw")).expect("raw token in the query");
        assert_eq!((p.user, p.secret.as_str()), (None, "wgt_raw"));

        headers.insert(header::AUTHORIZATION, "Digest x".parse().unwrap());
        assert!(presented(&headers, None).is_none());
    }
}
