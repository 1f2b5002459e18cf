//! `wasi:http`'s outgoing handler, as a capability: linked for every
//! component, granted per component when it is loaded (the built-in web
//! fetch) or per tool by the operator's policy, checked at each request.
//!
//! A tool without the grant gets an error for every request it makes. A
//! granted one reaches what its [`EgressPolicy`] allows, with the methods
//! its policy allows (any for the web fetch): each request's host and
//! port are checked by name, resolved once, every address screened
//! (loopback, private and the other special ranges need an entry naming the
//! host), and the connection goes to a checked address, never to the name
//! again. Redirects are new requests the guest makes, so each one is checked
//! as the first was. No proxy from the host's environment is used: it would
//! see the name, not the address checked.
//!
//! The headers a policy names for a host (`secrets`) are set by the host on
//! each request to that host, replacing any the guest set: the guest never
//! holds their values, and a redirect elsewhere is a new request without
//! them.
//!
//! The request itself is sent by `reqwest` (TLS with the web's roots, HTTP/1
//! and HTTP/2) with the addresses pinned; its body, if any, is read whole
//! first (bounded by the guest's own memory, which built it).

use super::policy::NetworkGrant;
use super::state::CallState;
use crate::egress::EgressPolicy;
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// How long a connection may take to open when the guest sets no limit.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// One call's `wasi:http` state: where its requests may go, if anywhere.
pub(crate) struct OutgoingHttp {
    ctx: WasiHttpCtx,
    hooks: EgressHooks,
}

impl OutgoingHttp {
    /// A call's state: `grant` when the tool holds the network.
    pub(crate) fn new(tool: &str, grant: Option<Arc<NetworkGrant>>) -> Self {
        OutgoingHttp { ctx: WasiHttpCtx::new(), hooks: EgressHooks { tool: tool.to_string(), grant } }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http.ctx, table: &mut self.table, hooks: &mut self.http.hooks }
    }
}

struct EgressHooks {
    tool: String,
    grant: Option<Arc<NetworkGrant>>,
}

type Sent = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = Result<(), Error>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for EgressHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Sent {
        let (tool, grant) = (self.tool.clone(), self.grant.clone());
        Box::new(async move {
            let Some(grant) = grant else {
                return Err(refused(format!("the tool {tool} is not granted the network")));
            };
            grant.check_method(request.method()).map_err(refused)?;
            let response = send(&grant, request, options).await?;
            Ok((response, Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

/// An error the guest reads as the host's words.
fn refused(why: String) -> Error {
    Error::InternalError(Some(format!("refused by the host's network policy: {why}")))
}

/// Sends `request` to an address `grant` allows for its host, with the
/// grant's secret headers for that host.
async fn send(
    grant: &NetworkGrant,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<http::Response<WasiBody>, Error> {
    let policy: &EgressPolicy = &grant.egress;
    let uri = request.uri().clone();
    let host = uri.host().ok_or(Error::HttpRequestUriInvalid)?.to_string();
    let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let addresses = policy.check_async(&host, port).await.map_err(refused)?;
    for (name, value) in grant.secrets_for(&host) {
        request.headers_mut().insert(name.clone(), value.clone());
    }
    let connect = options.and_then(|o| o.connect_timeout).unwrap_or(CONNECT_TIMEOUT);
    let mut client =
        reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).connect_timeout(connect);
    // A name is pinned to the addresses checked; an address is one already.
    if host.parse::<std::net::IpAddr>().is_err() && !host.starts_with('[') {
        client = client.resolve_to_addrs(&host, &addresses);
    }
    let client = client.build().map_err(|e| Error::InternalError(Some(format!("an HTTP client: {e}"))))?;
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let request = reqwest::Request::try_from(http::Request::from_parts(parts, body))
        .map_err(|e| Error::InternalError(Some(format!("the request: {e}"))))?;
    let first_byte = options.and_then(|o| o.first_byte_timeout);
    let sending = client.execute(request);
    let response = match first_byte {
        Some(limit) => tokio::time::timeout(limit, sending).await.map_err(|_| Error::ConnectionReadTimeout)?,
        None => sending.await,
    }
    .map_err(from_reqwest)?;
    let response: http::Response<reqwest::Body> = response.into();
    Ok(response.map(|body| body.map_err(from_reqwest).boxed_unsync()))
}

/// A `reqwest` error as `wasi:http`'s error codes have it.
fn from_reqwest(error: reqwest::Error) -> Error {
    if error.is_timeout() {
        return Error::ConnectionTimeout;
    }
    let mut why = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        why.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    if error.is_connect() {
        return Error::InternalError(Some(format!("could not connect: {why}")));
    }
    Error::InternalError(Some(why))
}
