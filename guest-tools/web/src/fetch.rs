//! One `GET` through `wasi:http`, following redirects, within a deadline
//! and a size cap.
//!
//! Every request, the first and each redirect's, goes through the host's
//! outgoing handler, which checks it against the host's network policy; a
//! refusal comes back as the host's own words. Redirects are followed here
//! (at most [`MAX_REDIRECTS`], to `http` and `https` only) so the host sees
//! and checks each hop.

use wasip2::clocks::monotonic_clock;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingResponse, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::poll;
use wasip2::io::streams::StreamError;

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 10;

/// The user agent browsers send, as the reference's web fetch sends it
/// (sites answer scripts' agents differently).
const BROWSER_AGENT: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/143.0.0.0 Safari/537.36";
/// The honest agent, for a second try where a site challenged the first.
const OWN_AGENT: &str = "wasmgate";

/// What came back.
pub struct Fetched {
    /// The URL that answered, after redirects.
    pub url: url::Url,
    pub status: u16,
    /// The `content-type` header, as sent.
    pub content_type: String,
    pub body: Vec<u8>,
}

/// Fetches `url` with `accept`, within `timeout_ns` and `cap` bytes of body.
pub fn get(url: url::Url, accept: &str, timeout_ns: u64, cap: usize) -> Result<Fetched, String> {
    let deadline = monotonic_clock::now().saturating_add(timeout_ns);
    let fetched = follow(url.clone(), accept, BROWSER_AGENT, deadline, cap)?;
    // Cloudflare's bot check answers a browser's agent from a script with a
    // challenge; the honest agent may pass.
    if fetched.status == 403 && fetched.challenged {
        return follow(url, accept, OWN_AGENT, deadline, cap).map(|f| f.fetched);
    }
    Ok(fetched.fetched)
}

struct Answer {
    fetched: Fetched,
    challenged: bool,
}

impl std::ops::Deref for Answer {
    type Target = Fetched;
    fn deref(&self) -> &Fetched {
        &self.fetched
    }
}

/// Sends requests until one is not a redirect.
fn follow(mut url: url::Url, accept: &str, agent: &str, deadline: u64, cap: usize) -> Result<Answer, String> {
    for _ in 0..=MAX_REDIRECTS {
        let response = send(&url, accept, agent, deadline)?;
        let status = response.status();
        let headers = response.headers();
        let header =
            |name: &str| headers.get(name).into_iter().next().map(|value| String::from_utf8_lossy(&value).into_owned());
        if matches!(status, 301 | 302 | 303 | 307 | 308)
            && let Some(location) = header("location")
        {
            let next = url.join(&location).map_err(|e| format!("the redirect to {location:?} is not a URL: {e}"))?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(format!("{url} redirects to {next}, which is not an http or https URL"));
            }
            url = next;
            continue;
        }
        if let Some(length) = header("content-length").and_then(|l| l.trim().parse::<u64>().ok())
            && length > cap as u64
        {
            return Err(too_large(cap));
        }
        let content_type = header("content-type").unwrap_or_default();
        let challenged = header("cf-mitigated").is_some_and(|v| v == "challenge");
        drop(headers);
        let body = read_body(response, deadline, cap)?;
        return Ok(Answer { fetched: Fetched { url, status, content_type, body }, challenged });
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

fn too_large(cap: usize) -> String {
    format!("Response too large (exceeds {} MB limit)", cap / (1024 * 1024))
}

/// Sends one `GET` and waits for its response head.
fn send(url: &url::Url, accept: &str, agent: &str, deadline: u64) -> Result<IncomingResponse, String> {
    let headers = Fields::from_list(&[
        ("user-agent".to_string(), agent.as_bytes().to_vec()),
        ("accept".to_string(), accept.as_bytes().to_vec()),
        ("accept-language".to_string(), b"en-US,en;q=0.9".to_vec()),
    ])
    .map_err(|e| format!("the request's headers: {e:?}"))?;
    let request = OutgoingRequest::new(headers);
    let scheme = if url.scheme() == "https" { Scheme::Https } else { Scheme::Http };
    let authority = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        (None, _) => return Err(format!("{url} names no host")),
    };
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    let set = request
        .set_method(&Method::Get)
        .and_then(|()| request.set_scheme(Some(&scheme)))
        .and_then(|()| request.set_authority(Some(&authority)))
        .and_then(|()| request.set_path_with_query(Some(&path)));
    set.map_err(|()| format!("{url} cannot be requested"))?;
    let body = request.body().map_err(|()| "the request's body".to_string())?;
    let options = RequestOptions::new();
    let remaining = remaining(deadline)?;
    let _ = options.set_connect_timeout(Some(remaining));
    let _ = options.set_first_byte_timeout(Some(remaining));
    let future = outgoing_handler::handle(request, Some(options)).map_err(|e| describe(&e))?;
    OutgoingBody::finish(body, None).map_err(|e| describe(&e))?;
    let ready = future.subscribe();
    wait(&ready, deadline)?;
    match future.get() {
        Some(Ok(Ok(response))) => Ok(response),
        Some(Ok(Err(error))) => Err(describe(&error)),
        Some(Err(())) | None => Err("the response was lost".into()),
    }
}

/// Reads the body whole, refusing one past `cap`.
fn read_body(response: IncomingResponse, deadline: u64, cap: usize) -> Result<Vec<u8>, String> {
    let body = response.consume().map_err(|()| "the response's body".to_string())?;
    let stream = body.stream().map_err(|()| "the response's body".to_string())?;
    let ready = stream.subscribe();
    let mut bytes = Vec::new();
    loop {
        match stream.read(64 * 1024) {
            Ok(chunk) if chunk.is_empty() => wait(&ready, deadline)?,
            Ok(chunk) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > cap {
                    return Err(too_large(cap));
                }
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(error)) => {
                return Err(format!("reading the response: {}", error.to_debug_string()));
            }
        }
    }
    drop(ready);
    drop(stream);
    drop(body);
    Ok(bytes)
}

/// Nanoseconds left before `deadline`, or the timeout's error.
fn remaining(deadline: u64) -> Result<u64, String> {
    match deadline.saturating_sub(monotonic_clock::now()) {
        0 => Err("The request timed out".into()),
        left => Ok(left),
    }
}

/// Waits for `pollable` until `deadline`.
fn wait(pollable: &poll::Pollable, deadline: u64) -> Result<(), String> {
    let timer = monotonic_clock::subscribe_instant(deadline);
    let ready = poll::poll(&[pollable, &timer]);
    if ready.contains(&0) { Ok(()) } else { Err("The request timed out".into()) }
}

/// A `wasi:http` error in words; the host's refusals carry their own.
fn describe(error: &ErrorCode) -> String {
    match error {
        ErrorCode::InternalError(Some(message)) => message.clone(),
        ErrorCode::DnsError(payload) => {
            format!("the name does not resolve ({})", payload.rcode.clone().unwrap_or_default())
        }
        ErrorCode::ConnectionRefused => "the connection was refused".into(),
        ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            "The request timed out".into()
        }
        ErrorCode::TlsCertificateError => "the site's TLS certificate is not valid".into(),
        other => format!("the request failed: {other:?}"),
    }
}
