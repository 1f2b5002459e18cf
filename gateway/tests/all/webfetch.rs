//! The `webfetch` tool and the network policy it runs under: pages come
//! back as Markdown, text or HTML; only what the host's allow list names is
//! reached (each redirect checked again), loopback and private addresses
//! are refused unless an entry names them, the deny list wins, and no
//! component but the built-in web fetch reaches the network at all. The
//! pages are served on loopback by the test itself, which counts what the
//! forbidden server was asked.

use crate::agent::{config, prompt_body};
use crate::router::TestServer;
use crate::scripted_model::{Chunk, Reply, ScriptedModel, says};
use crate::util::{Fixture, HOSTILE, SECRET, TEST_LIMITS, cache_dir};
use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use wasmgate::egress::EgressPolicy;
use wasmgate::sandbox::{CallError, CompileCache, Sandbox};

const PAGE: &str = "<html><head><title>Docs</title><script>steal()</script><style>p{}</style></head>\
<body><h1>Install</h1><p>Run <code>cargo add</code> and read <a href=\"/guide\">the guide</a>.</p>\
<ul><li>fast</li><li>safe</li></ul></body></html>";

/// The pages the allowed server serves, and a server the policy never
/// names, which counts the requests that reach it.
struct Web {
    allowed: u16,
    forbidden: u16,
    forbidden_hits: Arc<AtomicUsize>,
}

async fn serve(router: Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    port
}

impl Web {
    async fn start() -> Web {
        let forbidden_hits = Arc::new(AtomicUsize::new(0));
        let hits = forbidden_hits.clone();
        let forbidden = serve(Router::new().fallback(move || {
            hits.fetch_add(1, Ordering::SeqCst);
            async { SECRET }
        }))
        .await;
        let out = format!("http://127.0.0.1:{forbidden}/secret");
        let router = Router::new()
            .route("/page", get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE) }))
            .route("/data.json", get(|| async { axum::Json(json!({"answer": 42})) }))
            .route("/moved", get(|| async { Redirect::permanent("/page") }))
            .route("/out", get(move || async move { Redirect::temporary(&out) }))
            .route("/file", get(|| async { Redirect::temporary("file:///etc/passwd") }))
            .route("/loop", get(|| async { Redirect::temporary("/loop") }))
            .route("/missing", get(|| async { (axum::http::StatusCode::NOT_FOUND, "no") }))
            .route("/big", get(|| async { "x".repeat(6 << 20) }))
            .route(
                "/big-chunked",
                get(|| async {
                    let chunks = (0..7).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'y'; 1 << 20])));
                    axum::body::Body::from_stream(futures_util::stream::iter(chunks)).into_response()
                }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    "late"
                }),
            )
            .route(
                "/binary",
                get(|| async { ([(header::CONTENT_TYPE, "application/octet-stream")], vec![0u8, 159, 146, 150]) }),
            );
        let allowed = serve(router).await;
        Web { allowed, forbidden, forbidden_hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.allowed)
    }

    /// A policy naming the allowed server only.
    fn policy(&self) -> EgressPolicy {
        EgressPolicy { allow: vec![format!("127.0.0.1:{}", self.allowed)], ..EgressPolicy::public_web() }
    }
}

async fn sandbox_with(policy: EgressPolicy) -> Sandbox {
    Sandbox::builder()
        .limits(TEST_LIMITS)
        .cache(CompileCache::at(cache_dir()))
        .component("test-hostile", std::fs::read(HOSTILE).unwrap())
        .network(policy)
        .build()
        .await
        .unwrap()
}

async fn fetch(
    sandbox: &Sandbox,
    fixture: &Fixture,
    arguments: Value,
) -> Result<wasmgate::sandbox::ToolOutput, CallError> {
    sandbox.call("webfetch", &arguments.to_string(), &fixture.read_only()).await
}

fn refusal(result: Result<wasmgate::sandbox::ToolOutput, CallError>) -> String {
    match result {
        Ok(output) => panic!("fetched what the policy forbids: {output:?}"),
        Err(error) => error.to_string(),
    }
}

#[tokio::test]
async fn pages_come_back_as_markdown_text_or_html() {
    let (web, fixture) = (Web::start().await, Fixture::new());
    let sandbox = sandbox_with(web.policy()).await;

    let markdown = fetch(&sandbox, &fixture, json!({ "url": web.url("/page") })).await.unwrap();
    assert!(markdown.output.contains("# Install"), "{}", markdown.output);
    assert!(markdown.output.contains("Run `cargo add` and read [the guide](/guide)."), "{}", markdown.output);
    assert!(markdown.output.contains("- fast\n- safe"), "{}", markdown.output);
    assert!(!markdown.output.contains("steal()") && !markdown.output.contains("p{}"), "{}", markdown.output);
    assert_eq!(markdown.title, format!("{} (text/html; charset=utf-8)", web.url("/page")));
    assert_eq!(markdown.metadata["statusCode"], 200);
    assert_eq!(markdown.metadata["responseSize"], PAGE.len());

    let text = fetch(&sandbox, &fixture, json!({ "url": web.url("/page"), "format": "text" })).await.unwrap();
    assert!(text.output.contains("Install\n\nRun cargo add and read the guide.\n\nfast\nsafe"), "{}", text.output);
    assert!(!text.output.contains("steal()"), "{}", text.output);

    let html = fetch(&sandbox, &fixture, json!({ "url": web.url("/page"), "format": "html" })).await.unwrap();
    assert_eq!(html.output, PAGE);

    let data = fetch(&sandbox, &fixture, json!({ "url": web.url("/data.json") })).await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&data.output).unwrap(), json!({"answer": 42}), "other text as it is");

    let moved = fetch(&sandbox, &fixture, json!({ "url": web.url("/moved") })).await.unwrap();
    assert!(moved.output.contains("# Install"), "a redirect the policy allows is followed");
    assert_eq!(moved.metadata["url"], web.url("/page"));

    let binary = fetch(&sandbox, &fixture, json!({ "url": web.url("/binary") })).await.unwrap();
    assert!(binary.output.starts_with("Binary content (application/octet-stream, 4 bytes)"), "{}", binary.output);

    for (arguments, expected) in [
        (json!({ "url": "ftp://example.com/x" }), "URL must start with http:// or https://"),
        (json!({ "url": "/etc/passwd" }), "URL must start with http:// or https://"),
        (json!({ "url": web.url("/page"), "format": "pdf" }), "invalid arguments"),
    ] {
        let error = refusal(fetch(&sandbox, &fixture, arguments).await);
        assert!(error.contains(expected), "{error}");
    }
    assert_eq!(web.forbidden_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn only_what_the_policy_names_is_reached_and_each_redirect_is_checked() {
    let (web, fixture) = (Web::start().await, Fixture::new());
    let sandbox = sandbox_with(web.policy()).await;
    let forbidden = format!("http://127.0.0.1:{}/secret", web.forbidden);

    let error = refusal(fetch(&sandbox, &fixture, json!({ "url": forbidden })).await);
    assert!(error.contains(&format!("127.0.0.1:{} is not in the host's allow list", web.forbidden)), "{error}");
    let error = refusal(fetch(&sandbox, &fixture, json!({ "url": web.url("/out") })).await);
    assert!(error.contains("not in the host's allow list"), "a redirect out is checked: {error}");
    let error = refusal(fetch(&sandbox, &fixture, json!({ "url": web.url("/file") })).await);
    assert!(error.contains("not an http or https URL"), "{error}");
    let by_name = format!("http://localhost:{}/page", web.allowed);
    let error = refusal(fetch(&sandbox, &fixture, json!({ "url": by_name })).await);
    assert!(error.contains("not in the host's allow list"), "another name for an allowed address: {error}");
    let with_user = format!("http://127.0.0.1:{}@127.0.0.1:{}/secret", web.allowed, web.forbidden);
    assert!(refusal(fetch(&sandbox, &fixture, json!({ "url": with_user })).await).contains("allow list"));

    // The public web (the default): loopback, private and link-local
    // addresses by any spelling are refused.
    let public = crate::util::sandbox();
    for url in [
        web.url("/page"),
        format!("http://localhost:{}/page", web.allowed),
        format!("http://[::1]:{}/page", web.allowed),
        format!("http://2130706433:{}/page", web.allowed),
        format!("http://0x7f.1:{}/page", web.allowed),
        "http://169.254.169.254/latest/meta-data/".into(),
        "http://10.0.0.1/".into(),
    ] {
        let error = refusal(fetch(&public, &fixture, json!({ "url": url, "timeout": 1 })).await);
        assert!(
            error.contains("loopback, private or reserved") || error.contains("not in the host's allow list"),
            "{url}: {error}"
        );
    }

    // The deny list wins over an allow entry, by name and by address.
    let denied = sandbox_with(EgressPolicy { deny: vec!["127.0.0.1".into()], ..web.policy() }).await;
    let error = refusal(fetch(&denied, &fixture, json!({ "url": web.url("/page") })).await);
    assert!(error.contains("deny list"), "{error}");
    let off = sandbox_with(EgressPolicy::nothing()).await;
    let error = refusal(fetch(&off, &fixture, json!({ "url": web.url("/page") })).await);
    assert!(error.contains("not granted the network"), "an empty allow list switches the network off: {error}");

    assert_eq!(web.forbidden_hits.load(Ordering::SeqCst), 0, "the forbidden server was never asked");
}

#[tokio::test]
async fn no_other_component_reaches_the_network() {
    let (web, fixture) = (Web::start().await, Fixture::new());
    let sandbox = sandbox_with(EgressPolicy { allow: vec!["*".into()], ..EgressPolicy::public_web() }).await;
    for authority in [format!("127.0.0.1:{}", web.forbidden), format!("127.0.0.1:{}", web.allowed)] {
        let arguments = json!({ "authority": authority, "path": "/page" }).to_string();
        let output = sandbox.call("http-get", &arguments, &fixture.read_write()).await.unwrap();
        assert!(output.output.contains("refused") && output.output.contains("not granted the network"), "{output:?}");
    }
    assert_eq!(web.forbidden_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn size_time_status_and_redirect_loops_are_bounded() {
    let (web, fixture) = (Web::start().await, Fixture::new());
    let sandbox = sandbox_with(web.policy()).await;
    for path in ["/big", "/big-chunked"] {
        let error = refusal(fetch(&sandbox, &fixture, json!({ "url": web.url(path) })).await);
        assert!(error.contains("Response too large (exceeds 5 MB limit)"), "{path}: {error}");
    }
    let started = Instant::now();
    let error = refusal(fetch(&sandbox, &fixture, json!({ "url": web.url("/slow"), "timeout": 1 })).await);
    assert!(error.contains("timed out"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let error = refusal(fetch(&sandbox, &fixture, json!({ "url": web.url("/missing") })).await);
    assert!(error.contains("Request failed with status code: 404"), "{error}");
    let error = refusal(fetch(&sandbox, &fixture, json!({ "url": web.url("/loop") })).await);
    assert!(error.contains("more than 10 redirects"), "{error}");
    // The sandbox still serves.
    assert!(fetch(&sandbox, &fixture, json!({ "url": web.url("/page") })).await.is_ok());
}

#[tokio::test]
async fn the_model_fetches_under_the_webfetch_permission() {
    let (web, fixture) = (Web::start().await, Fixture::new());
    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![Chunk::Call("c1", "webfetch", json!({ "url": web.url("/page") }))]),
        says("Read it."),
        Reply::Stream(vec![Chunk::Call("c2", "webfetch", json!({ "url": web.url("/data.json") }))]),
        says("Not allowed."),
    ])
    .await;
    let rules = json!({ "permission": { "webfetch": { "*": "allow", "*.json": "deny" } } });
    let server = TestServer::with_sandbox(&fixture.ws, &config(&model, rules), sandbox_with(web.policy()).await);
    let id = server.session().await;
    server.post(&format!("/session/{id}/message"), &prompt_body("read the docs")).await;
    let tools = model.requests()[0]["tools"].as_array().unwrap().clone();
    let offered = tools.iter().find(|t| t["function"]["name"] == "webfetch").expect("webfetch is offered");
    assert_eq!(offered["function"]["parameters"]["required"], json!(["url"]));

    server.post(&format!("/session/{id}/message"), &prompt_body("read the data")).await;
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let parts: Vec<Value> = messages
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["parts"].as_array().unwrap().clone())
        .filter(|p| p["type"] == "tool")
        .collect();
    assert_eq!(parts[0]["tool"], "webfetch");
    assert_eq!(parts[0]["state"]["status"], "completed", "{}", parts[0]);
    assert!(parts[0]["state"]["output"].as_str().unwrap().contains("# Install"));
    assert_eq!(parts[1]["state"]["status"], "error", "{}", parts[1]);
    assert!(parts[1]["state"]["error"].as_str().unwrap().contains("rule"), "{}", parts[1]);
    let second = model.requests()[3].to_string();
    assert!(!second.contains("\"answer\":42") && !second.contains("answer\\\":42"), "the denied fetch never ran");
}
