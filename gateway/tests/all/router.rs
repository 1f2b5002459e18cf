//! The HTTP API under test, driven through its router with no socket, and
//! the events it publishes, read from `GET /global/event` as a client would.

use crate::util::{SECRET, sandbox};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures_util::StreamExt;
use http_body_util::BodyExt;
use serde_json::Value;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;
use wasmgate::app::{App, Credentials, Paths};
use wasmgate::config::Config;
use wasmgate::store::SqliteStore;
use wasmgate::tenant::Tenants;
use wasmgate::workspace::Workspaces;

/// A server over a workspace folder, with its own database.
pub struct TestServer {
    pub app: Arc<App>,
    _data: tempfile::TempDir,
}

impl TestServer {
    /// A server with no configuration.
    pub fn new(workspace: &Path, credentials: Option<Credentials>) -> Self {
        Self::build(workspace, Config::default(), credentials)
    }

    /// A server with a configuration file's text (opencode.json's format).
    pub fn configured(workspace: &Path, config: &str) -> Self {
        Self::build(workspace, Config::parse(config, Path::new("/")).expect("the test config parses"), None)
    }

    /// A server hosting the tenants of `tenants`, with a configuration's text.
    pub fn hosting(workspace: &Path, config: &str, tenants: Arc<Tenants>) -> Self {
        let config = Config::parse(config, Path::new("/")).expect("the test config parses");
        Self::assemble(workspace, config, None, Some(tenants))
    }

    /// A server whose tools run in `sandbox` (one built with other
    /// settings than the shared test sandbox's).
    pub fn with_sandbox(workspace: &Path, config: &str, sandbox: wasmgate::sandbox::Sandbox) -> Self {
        let config = Config::parse(config, Path::new("/")).expect("the test config parses");
        Self::assemble_with(sandbox, workspace, config, None, None, |_| None)
    }

    fn build(workspace: &Path, config: Config, credentials: Option<Credentials>) -> Self {
        Self::assemble(workspace, config, credentials, None)
    }

    /// A server whose environment holds `variables` (and nothing else).
    pub fn with_environment(workspace: &Path, config: &str, variables: &[(&str, &str)]) -> Self {
        let config = Config::parse(config, Path::new("/")).expect("the test config parses");
        let variables: Vec<(String, String)> = variables.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Self::assemble_in(workspace, config, None, None, move |name| {
            variables.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    fn assemble(
        workspace: &Path,
        config: Config,
        credentials: Option<Credentials>,
        tenants: Option<Arc<Tenants>>,
    ) -> Self {
        // The environment is not read: tests name their providers.
        Self::assemble_in(workspace, config, credentials, tenants, |_| None)
    }

    fn assemble_in(
        workspace: &Path,
        config: Config,
        credentials: Option<Credentials>,
        tenants: Option<Arc<Tenants>>,
        environment: impl Fn(&str) -> Option<String> + 'static,
    ) -> Self {
        Self::assemble_with(sandbox(), workspace, config, credentials, tenants, environment)
    }

    fn assemble_with(
        sandbox: wasmgate::sandbox::Sandbox,
        workspace: &Path,
        config: Config,
        credentials: Option<Credentials>,
        tenants: Option<Arc<Tenants>>,
        environment: impl Fn(&str) -> Option<String> + 'static,
    ) -> Self {
        let data = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&data.path().join("wasmgate.db")).unwrap();
        let app = App::builder(sandbox, Arc::new(store), Workspaces::new(workspace, &[]).unwrap(), config)
            .paths(Paths { home: "/home".into(), data: data.path().into(), config: "/config".into() })
            .credentials(credentials)
            .tenants(tenants)
            .environment(environment)
            .build();
        TestServer { app, _data: data }
    }

    pub async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = wasmgate::api::router(self.app.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(SECRET), "a response carried the secret: {text}");
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::String(text.into_owned())))
    }

    pub async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    pub async fn post(&self, uri: &str, body: &str) -> (StatusCode, Value) {
        self.send(
            Request::post(uri).header(header::CONTENT_TYPE, "application/json").body(body.to_string().into()).unwrap(),
        )
        .await
    }

    /// Creates a session; returns its id.
    pub async fn session(&self) -> String {
        let (status, session) = self.post("/session", "{}").await;
        assert_eq!(status, StatusCode::OK, "{session}");
        session["id"].as_str().unwrap().to_string()
    }

    /// Subscribes to `GET /global/event`, as the TUI does.
    pub async fn events(&self) -> Events {
        let request = Request::get("/global/event").body(Body::empty()).unwrap();
        let response = wasmgate::api::router(self.app.clone()).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let mut body = response.into_body().into_data_stream();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let reader = tokio::spawn(async move {
            let mut pending = String::new();
            while let Some(Ok(bytes)) = body.next().await {
                pending.push_str(std::str::from_utf8(&bytes).expect("frames are UTF-8"));
                while let Some(end) = pending.find("\n\n") {
                    let frame: String = pending.drain(..end + 2).collect();
                    let json = frame.strip_prefix("data: ").expect("every frame is one data line");
                    let event: Value = serde_json::from_str(json.trim_end()).expect("every frame is JSON");
                    sink.lock().unwrap().push(event["payload"].clone());
                }
            }
        });
        let events = Events { seen, reader };
        events.wait_for("server.connected", |e| e["type"] == "server.connected").await;
        events
    }
}

/// The payloads a `/global/event` subscriber has received.
pub struct Events {
    seen: Arc<Mutex<Vec<Value>>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Events {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Events {
    /// Every payload so far.
    pub fn all(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }

    /// The payloads of `session` so far, in order.
    pub fn of(&self, session: &str) -> Vec<Value> {
        self.all().into_iter().filter(|e| about(e, session)).collect()
    }

    /// Waits (up to 20 s) for a payload matching `check`; returns it.
    pub async fn wait_for(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..2000 {
            if let Some(found) = self.all().into_iter().find(|e| check(e)) {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let types: Vec<Value> = self.all().iter().map(|e| e["type"].clone()).collect();
        panic!("no {what} event arrived; seen: {types:?}");
    }
}

/// Whether an event concerns `session`.
fn about(event: &Value, session: &str) -> bool {
    let properties = &event["properties"];
    properties["sessionID"] == session
        || properties["info"]["sessionID"] == session
        || properties["part"]["sessionID"] == session
}
