//! Tenants on the real binary: `wasmgate tenant ...` against a running
//! `wasmgate serve`, and two tenants trying every way a name can travel to
//! reach each other's sessions, folders, permission requests and events.

use crate::served::Served;
use crate::util::{encode, wasmgate};
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use wasmgate::tenant::{QuotaSettings, Quotas, Tenants};

/// A tenant's client: its token on every request.
pub(crate) struct As {
    url: String,
    pub(crate) token: String,
    client: reqwest::Client,
}

impl As {
    pub(crate) fn new(served: &Served, token: &str) -> Self {
        As { url: served.url.clone(), token: token.into(), client: reqwest::Client::new() }
    }

    async fn send(&self, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{uri}", self.url)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub(crate) async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.send(Method::GET, uri, None).await
    }

    pub(crate) async fn post(&self, uri: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, uri, Some(body)).await
    }
}

/// Runs `wasmgate tenant ARGS --data-dir DATA`; its stdout (exit 0 asserted).
pub(crate) fn tenant(data: &Path, args: &[&str]) -> String {
    let mut all = vec!["tenant"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--data-dir", data.to_str().unwrap()]);
    let output = wasmgate(&all);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "tenant {args:?}: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// The token `tenant add` or `tenant rotate` printed: the last line.
pub(crate) fn token_of(stdout: &str) -> String {
    stdout.lines().last().expect("a token line").trim().to_string()
}

/// A not-found message without the id it names.
fn shape(body: &Value) -> String {
    let message = body["data"]["message"].as_str().unwrap_or_default();
    format!("{}: {}", body["name"], message.split(':').next().unwrap_or_default())
}

/// Reads an event stream for `wait`, returning every frame's text.
async fn frames_for(response: reqwest::Response, wait: Duration) -> String {
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, body.next()).await {
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

pub(crate) struct Two {
    pub(crate) served: Served,
    pub(crate) alice: As,
    pub(crate) bob: As,
    pub(crate) alice_root: tempfile::TempDir,
    pub(crate) bob_root: tempfile::TempDir,
    _host: tempfile::TempDir,
}

/// A server with two tenants added from the command line while it runs.
pub(crate) async fn two_tenants(flags: &[&str]) -> Two {
    let (host, alice_root, bob_root) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(host.path().join("host-secret.txt"), "the host's").unwrap();
    std::fs::write(alice_root.path().join("secret.txt"), "alice's secret").unwrap();
    std::fs::write(bob_root.path().join("notes.txt"), "bob's notes").unwrap();
    let served = Served::start_with(host.path(), flags);
    let data = served.data_dir().to_path_buf();
    let alice = token_of(&tenant(&data, &["add", "alice", "--root", alice_root.path().to_str().unwrap()]));
    let bob = token_of(&tenant(&data, &["add", "bob", "--root", bob_root.path().to_str().unwrap()]));
    let (alice, bob) = (As::new(&served, &alice), As::new(&served, &bob));
    Two { served, alice, bob, alice_root, bob_root, _host: host }
}

#[tokio::test]
async fn a_tenant_cannot_reach_another_tenants_sessions() {
    let two = two_tenants(&[]).await;
    let (alice, bob) = (&two.alice, &two.bob);
    let (status, session) = alice.post("/session", json!({ "title": "alice's work" })).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let id = session["id"].as_str().unwrap().to_string();
    assert!(session.get("tenant").is_none(), "the tenant is not part of the wire shape: {session}");
    let unknown = "ses_0000000000000000000000000";

    // Every route that names a session: another tenant's answers as an unknown one does.
    let routes: [(Method, &str, Option<Value>); 11] = [
        (Method::GET, "/session/{}", None),
        (Method::PATCH, "/session/{}", Some(json!({ "title": "mine now" }))),
        (Method::GET, "/session/{}/message", None),
        (Method::GET, "/session/{}/children", None),
        (Method::GET, "/session/{}/todo", None),
        (Method::POST, "/session/{}/abort", None),
        (Method::POST, "/session/{}/fork", Some(json!({}))),
        (Method::POST, "/session/{}/prompt_async", Some(json!({ "parts": [{ "type": "text", "text": "hi" }] }))),
        (Method::POST, "/session/{}/shell", Some(json!({ "agent": "build", "command": "cat secret.txt" }))),
        (Method::POST, "/session/{}/command", Some(json!({ "command": "x", "arguments": "" }))),
        (Method::DELETE, "/session/{}", None),
    ];
    for (method, route, body) in routes {
        let (theirs, theirs_body) = bob.send(method.clone(), &route.replace("{}", &id), body.clone()).await;
        let (missing, missing_body) = bob.send(method.clone(), &route.replace("{}", unknown), body).await;
        assert_eq!(theirs, StatusCode::NOT_FOUND, "{method} {route}: {theirs_body}");
        assert_eq!((theirs, shape(&theirs_body)), (missing, shape(&missing_body)), "{method} {route} leaks existence");
    }
    // A child of another tenant's session cannot be made either.
    let (status, _) = bob.post("/session", json!({ "parentID": id })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Lists and statuses show only one's own.
    let (_, listed) = bob.get("/session").await;
    assert_eq!(listed, json!([]));
    let (_, listed) = alice.get("/session").await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let (_, statuses) = bob.get("/session/status").await;
    assert_eq!(statuses, json!({}));
    let (_, permissions) = bob.get("/permission").await;
    assert_eq!(permissions, json!([]));
    let (status, _) = bob.post("/permission/per_0000000000000000000000000/reply", json!({ "reply": "once" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Alice's session is intact after all that.
    let (status, still) = alice.get(&format!("/session/{id}")).await;
    assert_eq!((status, still["title"].as_str()), (StatusCode::OK, Some("alice's work")));
}

#[tokio::test]
async fn a_tenant_resolves_only_its_own_folders() {
    let two = two_tenants(&[]).await;
    let bob = &two.bob;
    let alice_dir = two.alice_root.path().canonicalize().unwrap();
    let bob_dir = two.bob_root.path().canonicalize().unwrap();
    // A link in bob's root to alice's.
    std::os::unix::fs::symlink(&alice_dir, bob_dir.join("to-alice")).unwrap();
    std::os::unix::fs::symlink(alice_dir.join("secret.txt"), bob_dir.join("secret-link.txt")).unwrap();

    let (status, own) = bob.get("/file/content?path=notes.txt").await;
    assert_eq!((status, own["content"].as_str()), (StatusCode::OK, Some("bob's notes")));
    let (_, path) = bob.get("/path").await;
    assert_eq!(path["directory"].as_str(), bob_dir.to_str(), "{path}");
    assert_eq!(path["state"].as_str(), bob_dir.to_str(), "the host's data folder is not named: {path}");

    let alice_name = alice_dir.to_str().unwrap();
    let host_name = two._host.path().canonicalize().unwrap();
    let attempts = [
        format!("/file/content?path=secret.txt&directory={}", encode(alice_name)),
        format!("/file/content?path=host-secret.txt&directory={}", encode(host_name.to_str().unwrap())),
        format!(
            "/file/content?path=secret.txt&directory={}",
            encode(&format!("{}/../{}", bob_dir.display(), alice_dir.file_name().unwrap().to_str().unwrap()))
        ),
        format!("/file/content?path=secret.txt&directory={}", encode(&format!("{}/to-alice", bob_dir.display()))),
        format!("/file/content?path={}", encode(&format!("{alice_name}/secret.txt"))),
        "/file/content?path=../".to_string() + alice_dir.file_name().unwrap().to_str().unwrap() + "/secret.txt",
        "/file/content?path=to-alice/secret.txt".to_string(),
        "/file/content?path=secret-link.txt".to_string(),
        format!("/session?directory={}", encode(alice_name)),
        format!("/find?pattern=secret&directory={}", encode(alice_name)),
        format!("/file?path=.&directory={}", encode(alice_name)),
    ];
    for uri in &attempts {
        let (status, body) = bob.get(uri).await;
        let text = body.to_string();
        assert!(!text.contains("alice's secret") && !text.contains("the host's"), "{uri} leaked: {text}");
        assert!(status.is_client_error() || body["content"] == json!(""), "{uri}: {status} {body}");
    }
    // By header, as the TUI names its folder.
    let response = reqwest::Client::new()
        .get(format!("{}/file/content?path=secret.txt", two.served.url))
        .bearer_auth(&bob.token)
        .header("x-opencode-directory", encode(alice_name))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(!response.text().await.unwrap().contains("alice's secret"));
}

#[tokio::test]
async fn a_tenant_sees_only_its_own_events() {
    let two = two_tenants(&[]).await;
    let open =
        |who: &As, uri: &str| reqwest::Client::new().get(format!("{}{uri}", who.url)).bearer_auth(&who.token).send();
    let bob_global = open(&two.bob, "/global/event").await.unwrap();
    let bob_instance = open(&two.bob, "/event").await.unwrap();
    let alice_global = open(&two.alice, "/global/event").await.unwrap();
    assert_eq!(bob_global.status(), StatusCode::OK);
    let (_, session) = two.alice.post("/session", json!({ "title": "private title" })).await;
    let id = session["id"].as_str().unwrap();
    two.alice.send(Method::PATCH, &format!("/session/{id}"), Some(json!({ "title": "still private" }))).await;
    let (alice_seen, bob_seen, bob_instance_seen) = tokio::join!(
        frames_for(alice_global, Duration::from_millis(1500)),
        frames_for(bob_global, Duration::from_millis(1500)),
        frames_for(bob_instance, Duration::from_millis(1500)),
    );
    assert!(alice_seen.contains(id) && alice_seen.contains("still private"), "alice sees her events: {alice_seen}");
    for seen in [&bob_seen, &bob_instance_seen] {
        assert!(seen.contains("server.connected"), "{seen}");
        assert!(!seen.contains(id) && !seen.contains("private"), "bob saw alice's events: {seen}");
    }
}

#[tokio::test]
async fn credentials_are_checked_and_a_rotated_or_removed_token_stops_at_once() {
    let two = two_tenants(&[]).await;
    let url = &two.served.url;
    let client = reqwest::Client::new();
    let data = two.served.data_dir().to_path_buf();

    // No credentials, a made-up token, a well-formed token of nobody: the same 401.
    let answers = [
        client.get(format!("{url}/session")).send().await.unwrap(),
        client.get(format!("{url}/session")).bearer_auth("wgt_0123456789abcdef_nothing").send().await.unwrap(),
        client.get(format!("{url}/session")).bearer_auth("not a token").send().await.unwrap(),
        client.get(format!("{url}/nowhere")).send().await.unwrap(),
    ];
    let mut bodies = Vec::new();
    for answer in answers {
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        assert!(answer.headers().contains_key("www-authenticate"));
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["name"], "UnauthorizedError", "{body}");
        bodies.push(body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "401s differ: {bodies:?}");

    // Every form the clients send: Basic with any user name, Bearer, auth_token.
    let alice = &two.alice.token;
    let basic = client.get(format!("{url}/session")).basic_auth("anyone", Some(alice)).send().await.unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
    let query = client.get(format!("{url}/session?auth_token={}", encode(alice))).send().await.unwrap();
    assert_eq!(query.status(), StatusCode::OK);
    let encoded = base64_of(&format!("opencode:{alice}"));
    let query = client.get(format!("{url}/session?auth_token={}", encode(&encoded))).send().await.unwrap();
    assert_eq!(query.status(), StatusCode::OK);

    // Rotated from the command line while the server runs: the old token fails at the next request.
    let new = token_of(&tenant(&data, &["rotate", "alice"]));
    let (status, _) = two.alice.get("/session").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old token still works");
    let (status, _) = As::new(&two.served, &new).get("/session").await;
    assert_eq!(status, StatusCode::OK);

    // Removed: its token fails at once; bob goes on.
    tenant(&data, &["remove", "alice"]);
    let (status, _) = As::new(&two.served, &new).get("/session").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = two.bob.get("/session").await;
    assert_eq!(status, StatusCode::OK);

    // The database keeps digests, never a token.
    let stored = std::fs::read(data.join("tenants.db")).unwrap();
    let stored = String::from_utf8_lossy(&stored);
    for token in [&new, &two.bob.token] {
        // `wgt_<id>_<secret>`: the secret is base64url, so it may hold `_` too.
        let secret = token.splitn(3, '_').nth(2).unwrap();
        assert!(!stored.contains(secret), "a token's secret is stored");
    }
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn quotas_refuse_clearly_and_the_tenant_goes_on() {
    let two = two_tenants(&[]).await;
    let data = two.served.data_dir().to_path_buf();
    tenant(&data, &["set", "alice", "--sessions", "2", "--event-streams", "1", "--requests-per-minute", "600"]);
    let alice = &two.alice;

    // Sessions.
    for _ in 0..2 {
        assert_eq!(alice.post("/session", json!({})).await.0, StatusCode::OK);
    }
    let (status, body) = alice.post("/session", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["name"], "QuotaExceededError");
    assert!(body["data"]["message"].as_str().unwrap().contains("session quota (2)"), "{body}");
    assert_eq!(two.bob.post("/session", json!({})).await.0, StatusCode::OK, "bob is untouched");

    // Event streams.
    let first = reqwest::Client::new()
        .get(format!("{}/global/event", alice.url))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let (status, body) = alice.get("/global/event").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    drop(first);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again =
        reqwest::Client::new().get(format!("{}/event", alice.url)).bearer_auth(&alice.token).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK, "a closed stream gives its place back");
    drop(again);

    // Request rate: a burst past the bucket gets 429 with retry-after.
    tenant(&data, &["set", "alice", "--requests-per-minute", "5"]);
    let mut limited = None;
    for _ in 0..10 {
        let response = reqwest::Client::new()
            .get(format!("{}/session", alice.url))
            .bearer_auth(&alice.token)
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
    }
    let limited = limited.expect("the sixth request in a burst is refused");
    let retry: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["name"], "RateLimitError");
    assert_eq!(two.bob.get("/session").await.0, StatusCode::OK, "bob is untouched");

    // The usage route reports what was used.
    tenant(&data, &["set", "alice", "--requests-per-minute", "600"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, usage) = alice.get("/wasmgate/usage").await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    assert_eq!(usage["tenant"], "alice");
    assert_eq!(usage["usage"]["sessions"], 2);
    assert!(usage["usage"]["requestsRefused"].as_u64().unwrap() >= 1, "{usage}");
}

#[tokio::test]
async fn a_tenants_tool_calls_run_under_its_quota() {
    let two = two_tenants(&[]).await;
    let data = two.served.data_dir().to_path_buf();
    tenant(&data, &["set", "alice", "--cpu-seconds-per-hour", "0"]);
    let alice = &two.alice;
    // A file route runs a sandboxed call: with no CPU time left, it is refused.
    let (status, body) = alice.get("/file/content?path=secret.txt").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["data"]["kind"], "quota-exceeded", "{body}");
    assert!(body["data"]["message"].as_str().unwrap().contains("CPU time quota"), "{body}");
    // Bob's calls are not affected; alice works again once given time.
    assert_eq!(two.bob.get("/file/content?path=notes.txt").await.0, StatusCode::OK);
    tenant(&data, &["set", "alice", "--cpu-seconds-per-hour", "60"]);
    let (status, body) = alice.get("/file/content?path=secret.txt").await;
    assert_eq!((status, body["content"].as_str()), (StatusCode::OK, Some("alice's secret")));
}

#[tokio::test]
async fn the_admin_api_needs_its_token_and_manages_tenants() {
    let host = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("a.txt"), "carol's").unwrap();
    let admin = "admin-token-for-tests-0123456789";
    let served =
        Served::launch(host.path(), tempfile::tempdir().unwrap(), None, &[], &[("WASMGATE_ADMIN_TOKEN", admin)])
            .unwrap_or_else(|e| panic!("{e}"));
    let client = reqwest::Client::new();
    let base = format!("{}/wasmgate/admin", served.url);
    assert_eq!(client.get(format!("{base}/tenants")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let wrong = client.get(format!("{base}/tenants")).bearer_auth("admin-token-for-tests-012345678x").send().await;
    assert_eq!(wrong.unwrap().status(), StatusCode::UNAUTHORIZED);

    let added = client
        .post(format!("{base}/tenants"))
        .bearer_auth(admin)
        .json(&json!({ "name": "carol", "roots": [root.path()], "quotas": { "sessions": 1 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);
    let added: Value = added.json().await.unwrap();
    let token = added["token"].as_str().unwrap().to_string();
    assert_eq!(added["quotas"]["sessions"], 1);
    // A tenant token does not open the admin API; the admin token is no tenant's.
    assert_eq!(
        client.get(format!("{base}/tenants")).bearer_auth(&token).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        client.get(format!("{}/session", served.url)).bearer_auth(admin).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    let carol = As::new(&served, &token);
    let (status, file) = carol.get("/file/content?path=a.txt").await;
    assert_eq!((status, file["content"].as_str()), (StatusCode::OK, Some("carol's")));
    let listed: Value =
        client.get(format!("{base}/tenants")).bearer_auth(admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["name"], "carol");
    assert!(!listed.to_string().contains(token.rsplit('_').next().unwrap()), "the admin API shows no token");

    let rotated: Value = client
        .post(format!("{base}/tenants/carol/rotate"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(carol.get("/session").await.0, StatusCode::UNAUTHORIZED);
    let carol = As::new(&served, rotated["token"].as_str().unwrap());
    assert_eq!(carol.get("/session").await.0, StatusCode::OK);
    let patched = client
        .patch(format!("{base}/tenants/carol"))
        .bearer_auth(admin)
        .json(&json!({ "sessions": 5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    let duplicate = client
        .post(format!("{base}/tenants"))
        .bearer_auth(admin)
        .json(&json!({ "name": "carol", "roots": [root.path()] }))
        .send()
        .await
        .unwrap();
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
    let outside = client
        .post(format!("{base}/tenants"))
        .bearer_auth(admin)
        .json(&json!({ "name": "dave", "roots": [served.data_dir()] }))
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), StatusCode::BAD_REQUEST, "the data folder is no tenant's root");
    let removed = client.delete(format!("{base}/tenants/carol")).bearer_auth(admin).send().await.unwrap();
    assert_eq!(removed.status(), StatusCode::OK);
    assert_eq!(carol.get("/session").await.0, StatusCode::UNAUTHORIZED);
    // With its last tenant gone the server does not fall open again.
    assert_eq!(client.get(format!("{}/session", served.url)).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // Every admin action is in the audit log, naming its tenant; refused
    // admin tokens too; the token never. The log is read once, at once:
    // it holds every request answered before the read.
    let records: Value =
        client.get(format!("{base}/audit")).bearer_auth(admin).send().await.unwrap().json().await.unwrap();
    let actions: Vec<String> =
        records.as_array().unwrap().iter().map(|r| format!("{} {} {}", r["kind"], r["action"], r["outcome"])).collect();
    for expected in [
        r#""admin" "POST /wasmgate/admin/tenants (carol)" "201""#,
        r#""admin" "POST /wasmgate/admin/tenants/carol/rotate" "200""#,
        r#""admin" "PATCH /wasmgate/admin/tenants/carol" "200""#,
        r#""admin" "DELETE /wasmgate/admin/tenants/carol" "200""#,
        r#""auth" "GET /wasmgate/admin/tenants" "401""#,
    ] {
        assert!(actions.iter().any(|a| a == expected), "{expected} is not in {actions:#?}");
    }
    assert!(!actions.join(" ").contains(admin));
}

#[tokio::test]
async fn audit_records_still_gathering_are_written_when_the_server_stops() {
    let mut two = two_tenants(&[]).await;
    let data = two.served.data_dir().to_path_buf();
    assert_eq!(two.alice.get("/session").await.0, StatusCode::OK);
    assert!(two.served.terminate(), "the server stops cleanly on SIGTERM");
    let output = wasmgate(&["audit", "--json", "--tenant", "alice", "--data-dir", data.to_str().unwrap()]);
    let records = serde_json::from_slice::<Vec<Value>>(&output.stdout).unwrap();
    assert!(records.iter().any(|r| r["action"] == "GET /session"), "{records:#?}");
}

#[tokio::test]
async fn a_public_address_without_auth_is_refused() {
    let folder = tempfile::tempdir().unwrap();
    let refused = Served::try_start(folder.path(), None, &["--hostname", "0.0.0.0"]);
    assert!(refused.is_err(), "a server anyone could use started");
    let output = wasmgate(&[
        "serve",
        folder.path().to_str().unwrap(),
        "--hostname",
        "0.0.0.0",
        "--port",
        "0",
        "--data-dir",
        folder.path().join(".data").to_str().unwrap(),
    ]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(said.contains("refusing to serve") && said.contains("wasmgate tenant add"), "{said}");
    // The explicit override serves it.
    let open = Served::try_start(folder.path(), None, &["--hostname", "0.0.0.0", "--insecure-no-auth"]);
    assert!(open.is_ok());
}

#[tokio::test]
async fn cors_answers_only_listed_origins() {
    let folder = tempfile::tempdir().unwrap();
    let config = folder.path().join("config.json");
    std::fs::write(&config, r#"{ "wasmgate": { "cors_origins": ["https://ide.example.com"] } }"#).unwrap();
    let served = Served::start_with(folder.path(), &["--config", config.to_str().unwrap()]);
    let client = reqwest::Client::new();
    for (origin, allowed) in
        [("https://ide.example.com", true), ("http://localhost:3000", true), ("https://evil.example.com", false)]
    {
        let response = client
            .request(Method::OPTIONS, format!("{}/session", served.url))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        let echoed = response.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_string());
        assert_eq!(echoed.as_deref() == Some(origin), allowed, "{origin}: {echoed:?}");
    }
}

#[tokio::test]
async fn the_audit_log_shows_who_did_what() {
    let two = two_tenants(&[]).await;
    let data = two.served.data_dir().to_path_buf();
    let alice = &two.alice;
    let (_, session) = alice.post("/session", json!({})).await;
    let id = session["id"].as_str().unwrap().to_string();
    let (status, shell) = alice
        .post(&format!("/session/{id}/shell"), json!({ "agent": "build", "command": "echo s3cr3t-arg > out.txt" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{shell}");
    let (status, _) = two.bob.get(&format!("/session/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let refused = reqwest::Client::new()
        .get(format!("{}/session", two.served.url))
        .bearer_auth("wgt_0123456789abcdef_forged")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    tenant(&data, &["rotate", "bob"]);
    assert_eq!(two.bob.get("/session").await.0, StatusCode::UNAUTHORIZED);

    // Records are written in the background: give the writer a moment.
    let mut records = Vec::new();
    for _ in 0..50 {
        let output = wasmgate(&["audit", "--json", "--data-dir", data.to_str().unwrap()]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        records = serde_json::from_slice::<Vec<Value>>(&output.stdout).unwrap();
        if records.iter().filter(|r| r["kind"] == "auth").count() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let find = |predicate: &dyn Fn(&Value) -> bool| records.iter().find(|r| predicate(r)).cloned();
    let created = find(&|r| r["tenant"] == "alice" && r["action"] == "POST /session").expect("alice's create");
    assert_eq!(created["outcome"], "200");
    assert!(created["remote"].as_str().unwrap().starts_with("127.0.0.1:"), "{created}");
    assert!(created["tokenId"].as_str().is_some_and(|t| t.len() == 16), "{created}");
    let tool = find(&|r| r["kind"] == "tool" && r["tenant"] == "alice").expect("alice's shell command");
    assert_eq!(tool["action"], "bash");
    assert_eq!(tool["session"], id.as_str());
    assert_eq!(tool["outcome"], "ok");
    assert!(tool["grant"].as_str().unwrap().ends_with("(read-write)"), "{tool}");
    assert_eq!(tool["digest"].as_str().map(str::len), Some(64));
    let probe = find(&|r| r["tenant"] == "bob" && r["action"] == "GET /session/{sessionID}").expect("bob's probe");
    assert_eq!((probe["outcome"].as_str(), probe["session"].as_str()), (Some("404"), Some(id.as_str())));
    let failures: Vec<&Value> = records.iter().filter(|r| r["kind"] == "auth").collect();
    assert!(failures.len() >= 2, "the forged and the rotated token are recorded: {failures:?}");
    assert!(failures.iter().all(|r| r["tenant"].is_null() && r["outcome"] == "401"));
    // The command line's changes are recorded too.
    for action in ["tenant add alice", "tenant add bob", "tenant rotate bob"] {
        let change = find(&|r| r["action"] == action).unwrap_or_else(|| panic!("{action} is not recorded"));
        assert_eq!((change["kind"].as_str(), change["remote"].as_str()), (Some("admin"), Some("cli")), "{change}");
    }
    let text = serde_json::to_string(&records).unwrap();
    assert!(!text.contains("s3cr3t-arg"), "arguments are kept as a digest only");
    assert!(!text.contains(&two.alice.token), "no token is logged");

    // Filtered by tenant, in text.
    let output = wasmgate(&["audit", "--tenant", "alice", "--since", "1h", "--data-dir", data.to_str().unwrap()]);
    let lines = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(lines.lines().count() >= 3 && lines.lines().all(|l| l.contains(" alice ")), "{lines}");
}

/// A request as a tenant through the in-process router.
async fn send_as(
    server: &crate::router::TestServer,
    token: &str,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (u16, Value) {
    use axum::http::{Request, header};
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(body.map_or_else(axum::body::Body::empty, |b| b.to_string().into()))
        .unwrap();
    let (status, body) = server.send(request).await;
    (status.as_u16(), body)
}

/// A tenant's prompt through the in-process router, with its token.
async fn prompt_as(server: &crate::router::TestServer, token: &str, id: &str, text: &str) -> (u16, Value) {
    let body = serde_json::from_str(&crate::agent::prompt_body(text)).unwrap();
    send_as(server, token, "POST", &format!("/session/{id}/message"), Some(body)).await
}

/// A new session of the tenant's, by id.
async fn session_as(server: &crate::router::TestServer, token: &str) -> String {
    let (status, session) = send_as(server, token, "POST", "/session", Some(json!({}))).await;
    assert_eq!(status, 200, "{session}");
    session["id"].as_str().unwrap().to_string()
}

/// The tool parts of a session, by call id: (status, output or error).
async fn tool_parts(server: &crate::router::TestServer, token: &str, id: &str) -> Vec<(String, String, String)> {
    let (_, messages) = send_as(server, token, "GET", &format!("/session/{id}/message"), None).await;
    messages
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["parts"].as_array().unwrap().clone())
        .filter(|p| p["type"] == "tool")
        .map(|p| {
            let state = &p["state"];
            let said = state["output"].as_str().or(state["error"].as_str()).unwrap_or_default();
            (p["callID"].as_str().unwrap().to_string(), state["status"].as_str().unwrap().to_string(), said.to_string())
        })
        .collect()
}

/// `N` fresh temporary folders.
fn temp_dirs<const N: usize>() -> [tempfile::TempDir; N] {
    std::array::from_fn(|_| tempfile::tempdir().unwrap())
}

#[tokio::test]
async fn the_model_of_one_tenant_cannot_reach_another_tenants_folder() {
    use crate::scripted_model::{Chunk, Reply, ScriptedModel, says};
    let [host, alice_root, bob_root, data] = temp_dirs();
    let bob_dir = bob_root.path().canonicalize().unwrap();
    std::fs::write(bob_dir.join("secret.txt"), "bob-only-secret").unwrap();
    std::os::unix::fs::symlink(&bob_dir, alice_root.path().join("to-bob")).unwrap();
    let bob_file = bob_dir.join("secret.txt").display().to_string();
    let relative_to_bob = format!("../{}/secret.txt", bob_dir.file_name().unwrap().to_str().unwrap());
    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![
            Chunk::Call("c1", "read", json!({ "filePath": bob_file })),
            Chunk::Call("c2", "read", json!({ "filePath": relative_to_bob })),
            Chunk::Call("c3", "read", json!({ "filePath": "to-bob/secret.txt" })),
            Chunk::Call("c4", "bash", json!({ "command": format!("cat {bob_file}; cat to-bob/secret.txt; echo x > {}/pwned.txt", bob_dir.display()), "description": "try" })),
            Chunk::Call("c5", "grep", json!({ "pattern": "bob-only", "path": bob_dir.display().to_string() })),
            Chunk::Call("c6", "write", json!({ "filePath": bob_dir.join("pwned.txt").display().to_string(), "content": "x" })),
        ]),
        says("Tried."),
        says("Again."),
    ])
    .await;
    let tenants = Arc::new(Tenants::open(data.path(), Quotas::default()).unwrap());
    let alice = tenants.add("alice", &[alice_root.path().to_path_buf()], QuotaSettings::default()).unwrap();
    tenants.add("bob", std::slice::from_ref(&bob_dir), QuotaSettings::default()).unwrap();
    let config = crate::agent::config(&model, json!({ "permission": { "*": "allow" } }));
    let server = crate::router::TestServer::hosting(host.path(), &config, tenants.clone());

    let id = session_as(&server, &alice).await;
    let (status, reply) = prompt_as(&server, &alice, &id, "read bob's files").await;
    assert_eq!(status, 200, "{reply}");
    assert!(!reply.to_string().contains("bob-only-secret"), "the model read another tenant's file: {reply}");
    let requests = model.requests();
    assert!(!serde_json::to_string(&requests).unwrap().contains("bob-only-secret"), "the model was shown bob's file");
    assert!(!bob_dir.join("pwned.txt").exists(), "the model wrote into another tenant's folder");
    let tools = tool_parts(&server, &alice, &id).await;
    assert_eq!(tools.len(), 6, "every attempt ran: {tools:?}");
    for (call, status, _) in &tools {
        assert!(call == "c4" || status == "error", "{call} was not refused: {status}");
    }

    // Over its daily token quota, the tenant's next turn ends with a clear error.
    tenants.set("alice", &QuotaSettings { tokens_per_day: Some(1), ..Default::default() }).unwrap();
    let (status, reply) = prompt_as(&server, &alice, &id, "again").await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["info"]["error"]["name"], "QuotaExceededError", "{reply}");
    assert!(reply["info"]["error"]["data"]["message"].as_str().unwrap().contains("daily model token quota"), "{reply}");
    assert_eq!(model.left(), 1, "the model was not called over the quota");
}

#[tokio::test]
async fn a_tenants_writes_stop_at_its_disk_quota_and_lose_nothing() {
    use crate::scripted_model::{Chunk, Reply, ScriptedModel, says};
    let call =
        |id: &'static str, tool: &'static str, arguments: Value| Reply::Stream(vec![Chunk::Call(id, tool, arguments)]);
    let [host, alice_root, bob_root, data] = temp_dirs();
    let kept = "k".repeat(10_000);
    std::fs::write(alice_root.path().join("keep.txt"), &kept).unwrap();
    let model = ScriptedModel::start(vec![
        // 10 kB held, 20 kB more: within 40 kB.
        call("c1", "write", json!({ "filePath": "a.txt", "content": "a".repeat(20_000) })),
        // Replacing the 10 kB file with 50 kB would pass it: refused, kept.
        call("c2", "write", json!({ "filePath": "keep.txt", "content": "b".repeat(50_000) })),
        // A script writing 49 kB: stopped at the quota, and told why.
        call("c3", "bash", json!({ "command": "seq 1 10000 > b.txt; echo status=$?", "description": "fill" })),
        // Deleting makes room at once, in the same script.
        call(
            "c4",
            "bash",
            json!({ "command": "rm a.txt b.txt && seq 1 3000 > c.txt; echo status=$?", "description": "room" }),
        ),
        says("Done."),
        // Another tenant's writes are its own business.
        call("d1", "write", json!({ "filePath": "big.txt", "content": "d".repeat(50_000) })),
        says("Done too."),
    ])
    .await;
    let tenants = Arc::new(Tenants::open(data.path(), Quotas::default()).unwrap());
    let alice = tenants
        .add(
            "alice",
            &[alice_root.path().to_path_buf()],
            QuotaSettings { disk_bytes: Some(40_000), ..Default::default() },
        )
        .unwrap();
    let bob = tenants.add("bob", &[bob_root.path().to_path_buf()], QuotaSettings::default()).unwrap();
    let config = crate::agent::config(&model, json!({ "permission": { "*": "allow" } }));
    let server = crate::router::TestServer::hosting(host.path(), &config, tenants.clone());
    let id = session_as(&server, &alice).await;
    let (status, reply) = prompt_as(&server, &alice, &id, "fill the disk").await;
    assert_eq!(status, 200, "{reply}");
    let parts = tool_parts(&server, &alice, &id).await;
    let part =
        |call: &str| parts.iter().find(|(id, ..)| id == call).cloned().unwrap_or_else(|| panic!("{call}: {parts:?}"));
    assert_eq!(part("c1").1, "completed", "{parts:?}");
    let (_, status, said) = part("c2");
    assert_eq!(status, "error", "{said}");
    assert!(said.contains("disk quota is used up"), "{said}");
    assert_eq!(
        std::fs::read_to_string(alice_root.path().join("keep.txt")).unwrap(),
        kept,
        "the refused write lost the file"
    );
    let (_, _, said) = part("c3");
    assert!(said.contains("(wasmgate: the workspace disk quota is used up"), "{said}");
    assert!(!said.contains("status=0"), "{said}");
    let held: u64 = ["keep.txt", "a.txt", "b.txt"]
        .iter()
        .filter_map(|name| std::fs::metadata(alice_root.path().join(name)).ok())
        .map(|m| m.len())
        .sum();
    assert!(held <= 40_000, "the folder holds {held} bytes past a 40,000-byte quota");
    let (_, status, said) = part("c4");
    assert_eq!(status, "completed", "{said}");
    assert!(said.contains("status=0"), "{said}");
    assert_eq!(std::fs::metadata(alice_root.path().join("c.txt")).unwrap().len(), 13_893);

    // Its usage shows what its folders hold.
    let (_, usage) = send_as(&server, &alice, "GET", "/wasmgate/usage", None).await;
    let disk = usage["usage"]["diskBytes"].as_u64().unwrap();
    assert!((23_000..=40_000).contains(&disk), "{usage}");
    assert_eq!(usage["quotas"]["disk_bytes"], 40_000, "{usage}");

    let id = session_as(&server, &bob).await;
    let (status, reply) = prompt_as(&server, &bob, &id, "write").await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(tool_parts(&server, &bob, &id).await[0].1, "completed");
    assert_eq!(std::fs::metadata(bob_root.path().join("big.txt")).unwrap().len(), 50_000);
}

#[tokio::test]
async fn each_tenant_calls_the_model_with_its_own_key_and_no_key_is_served_back() {
    use crate::scripted_model::{ScriptedModel, says};
    let [host, alice_root, bob_root, data] = temp_dirs();
    let model = ScriptedModel::start(vec![says("alice 1"), says("bob 1"), says("alice 2")]).await;
    let tenants = Arc::new(Tenants::open(data.path(), Quotas::default()).unwrap());
    let alice = tenants.add("alice", &[alice_root.path().to_path_buf()], QuotaSettings::default()).unwrap();
    let bob = tenants.add("bob", &[bob_root.path().to_path_buf()], QuotaSettings::default()).unwrap();
    let server =
        crate::router::TestServer::hosting(host.path(), &crate::agent::config(&model, json!({})), tenants.clone());
    let (alice_session, bob_session) = (session_as(&server, &alice).await, session_as(&server, &bob).await);

    // Alice connects the configured provider with her own key (the TUI's /connect).
    let own = json!({ "type": "api", "key": "sk-alice-own-key" });
    assert_eq!(send_as(&server, &alice, "PUT", "/auth/mock", Some(own)).await, (200, json!(true)));
    prompt_as(&server, &alice, &alice_session, "hello").await;
    prompt_as(&server, &bob, &bob_session, "hello").await;
    assert_eq!(model.keys(), ["sk-alice-own-key", "sk-test"], "each tenant's turn used its own key");

    // No route serves a key back, and none is stored in the clear.
    for token in [&alice, &bob] {
        for uri in ["/provider", "/config/providers", "/config", "/global/config"] {
            let (_, body) = send_as(&server, token, "GET", uri, None).await;
            assert!(!body.to_string().contains("sk-alice-own-key"), "{uri}: {body}");
        }
    }
    let stored = std::fs::read(data.path().join("keys.db")).unwrap();
    assert!(!stored.windows(10).any(|w| w == b"sk-alice-o"), "the key is stored in the clear");

    // A provider the server does not configure, connected by alice alone.
    let anthropic = json!({ "type": "api", "key": "sk-ant-alice" });
    assert_eq!(send_as(&server, &alice, "PUT", "/auth/anthropic", Some(anthropic)).await.0, 200);
    let connected = |body: &Value| -> Vec<String> {
        body["connected"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect()
    };
    let (_, mine) = send_as(&server, &alice, "GET", "/provider", None).await;
    let (_, theirs) = send_as(&server, &bob, "GET", "/provider", None).await;
    assert!(connected(&mine).contains(&"anthropic".to_string()), "{mine}");
    assert!(!connected(&theirs).contains(&"anthropic".to_string()), "{theirs}");
    // Bob still sees it in the catalogue he may connect, with no key.
    let offered = theirs["all"].as_array().unwrap().iter().find(|p| p["id"] == "anthropic").unwrap();
    assert_eq!(offered["source"], "env", "{offered}");

    // What cannot be kept is refused clearly; nothing changes.
    let oauth = json!({ "type": "oauth", "refresh": "r", "access": "a", "expires": 0 });
    let (status, body) = send_as(&server, &alice, "PUT", "/auth/mock", Some(oauth)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("only an API key"), "{body}");
    for (provider, key) in [("a%20b", "k"), ("mock", "line\r\nX-Injected: 1"), ("mock", "")] {
        let (status, body) =
            send_as(&server, &alice, "PUT", &format!("/auth/{provider}"), Some(json!({ "type": "api", "key": key })))
                .await;
        assert_eq!(status, 400, "{provider} {key:?}: {body}");
    }
    let (status, _) = send_as(&server, &alice, "PUT", "/auth/mock", Some(json!("not an object"))).await;
    assert_eq!(status, 400);

    // Removed, the server's key again; a removed tenant's keys go with it.
    assert_eq!(send_as(&server, &alice, "DELETE", "/auth/mock", None).await, (200, json!(true)));
    prompt_as(&server, &alice, &alice_session, "again").await;
    assert_eq!(model.keys().last().map(String::as_str), Some("sk-test"));
    tenants.remove("alice").unwrap();
    assert_eq!(tenants.keyring().key(Some("alice"), "anthropic"), None);
}

#[tokio::test]
async fn a_tenant_pinned_to_some_models_sees_and_calls_only_those() {
    use crate::scripted_model::{ScriptedModel, says};
    let [host, root, data] = temp_dirs();
    let model = ScriptedModel::start(vec![says("allowed now")]).await;
    // Pinned from the command line, as a host would.
    let data_dir = data.path();
    let pinned = ["add", "carol", "--root", root.path().to_str().unwrap(), "--model", "other/*,mock/m2"];
    let carol = token_of(&tenant(data_dir, &pinned));
    let refused = wasmgate(&["tenant", "set", "carol", "--model", "gpt-4", "--data-dir", data_dir.to_str().unwrap()]);
    assert!(!refused.status.success(), "a pattern that is no model was kept");
    let listed: Value = serde_json::from_str(&tenant(data_dir, &["list", "--json"])).unwrap();
    assert_eq!(listed[0]["settings"]["models"], json!(["other/*", "mock/m2"]), "{listed}");

    let tenants = Arc::new(Tenants::open(data_dir, Quotas::default()).unwrap());
    let server =
        crate::router::TestServer::hosting(host.path(), &crate::agent::config(&model, json!({})), tenants.clone());
    let (_, providers) = send_as(&server, &carol, "GET", "/provider", None).await;
    let models: Vec<&str> = providers["all"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["models"].as_object().unwrap().keys().map(String::as_str))
        .collect();
    assert!(models.is_empty(), "carol sees models she may not use: {providers}");

    let id = session_as(&server, &carol).await;
    let (status, reply) = prompt_as(&server, &carol, &id, "use the default model").await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["info"]["error"]["name"], "ModelNotAllowedError", "{reply}");
    let message = reply["info"]["error"]["data"]["message"].as_str().unwrap();
    assert!(message.contains("other/*, mock/m2") && message.contains("mock/m1"), "{message}");
    assert_eq!(model.left(), 1, "the model was called");

    // Pinned to it, the model answers.
    tenants.set("carol", &QuotaSettings { models: Some(vec!["mock/m1".into()]), ..Default::default() }).unwrap();
    let (_, reply) = prompt_as(&server, &carol, &id, "again").await;
    assert!(reply["info"]["error"].is_null(), "{reply}");
    assert_eq!(model.left(), 0);
}

#[tokio::test]
async fn a_tenants_own_agents_rules_and_commands_layer_over_the_hosts_for_it_alone() {
    use crate::scripted_model::{Chunk, Reply, ScriptedModel, says};
    let [host, alice_root, bob_root, data] = temp_dirs();
    let bash = |id: &'static str| {
        Reply::Stream(vec![Chunk::Call(id, "bash", json!({ "command": "echo ran > out.txt", "description": "run" }))])
    };
    let model =
        ScriptedModel::start(vec![bash("a1"), says("alice done"), bash("b1"), says("bob done"), says("tidied")]).await;
    // Set from the command line, as a host would; a file that sets more is refused.
    let own = data.path().join("alice.jsonc");
    std::fs::write(
        &own,
        r#"{
            // alice's own: bash denied, a reviewer agent, a command, plan by default
            "permission": { "bash": "deny" },
            "agent": { "reviewer": { "description": "reviews", "mode": "primary" } },
            "command": { "tidy": { "template": "Tidy up $ARGUMENTS" } },
            "default_agent": "plan",
        }"#,
    )
    .unwrap();
    let wider = data.path().join("wider.json");
    std::fs::write(&wider, r#"{ "provider": { "evil": {} } }"#).unwrap();
    let (alice_dir, bob_dir) = (alice_root.path().to_str().unwrap(), bob_root.path().to_str().unwrap());
    let alice =
        token_of(&tenant(data.path(), &["add", "alice", "--root", alice_dir, "--agent-config", own.to_str().unwrap()]));
    let bob = token_of(&tenant(data.path(), &["add", "bob", "--root", bob_dir]));
    let data_dir = data.path().to_str().unwrap();
    let refused =
        wasmgate(&["tenant", "set", "alice", "--agent-config", wider.to_str().unwrap(), "--data-dir", data_dir]);
    assert!(!refused.status.success(), "settings with a provider were kept");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("\"provider\""), "{refused:?}");

    let tenants = Arc::new(Tenants::open(data.path(), Quotas::default()).unwrap());
    let config = crate::agent::config(&model, json!({ "permission": { "*": "allow" } }));
    let server = crate::router::TestServer::hosting(host.path(), &config, tenants);
    let names = |body: &Value, key: &str| -> Vec<String> {
        body.as_array().unwrap().iter().map(|a| a[key].as_str().unwrap().to_string()).collect()
    };
    let (_, agents) = send_as(&server, &alice, "GET", "/agent", None).await;
    assert!(names(&agents, "name").contains(&"reviewer".into()), "{agents}");
    let (_, agents) = send_as(&server, &bob, "GET", "/agent", None).await;
    assert!(!names(&agents, "name").contains(&"reviewer".into()), "{agents}");
    let (_, commands) = send_as(&server, &alice, "GET", "/command", None).await;
    assert!(names(&commands, "name").contains(&"tidy".into()), "{commands}");
    let (_, commands) = send_as(&server, &bob, "GET", "/command", None).await;
    assert!(!names(&commands, "name").contains(&"tidy".into()), "{commands}");

    // Alice's rule denies the model's bash, and her prompts run as plan;
    // bob's run as build under the host's allow-all.
    for (token, root, denied, agent) in
        [(&alice, alice_root.path(), true, "plan"), (&bob, bob_root.path(), false, "build")]
    {
        let id = session_as(&server, token).await;
        let (status, reply) = prompt_as(&server, token, &id, "run it").await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["info"]["agent"], agent, "{reply}");
        let parts = tool_parts(&server, token, &id).await;
        assert_eq!(parts[0].1, if denied { "error" } else { "completed" }, "{parts:?}");
        assert_eq!(root.join("out.txt").exists(), !denied);
    }

    // Her command runs for her; for bob it does not exist.
    let id = session_as(&server, &alice).await;
    let tidy = json!({ "command": "tidy", "arguments": "the docs" });
    let (status, reply) = send_as(&server, &alice, "POST", &format!("/session/{id}/command"), Some(tidy.clone())).await;
    assert_eq!(status, 200, "{reply}");
    let asked = model.requests().last().unwrap().to_string();
    assert!(asked.contains("Tidy up the docs"), "{asked}");
    let id = session_as(&server, &bob).await;
    let (status, _) = send_as(&server, &bob, "POST", &format!("/session/{id}/command"), Some(tidy)).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_tenant_cannot_see_answer_or_dismiss_another_tenants_question_nor_select_its_session() {
    use crate::scripted_model::{Chunk, Reply, ScriptedModel, says};
    let [host, alice_root, bob_root, data] = temp_dirs();
    let question = json!({ "questions": [{ "question": "Which colour?", "header": "Colour", "options": [
        { "label": "Red", "description": "warm" }, { "label": "Blue", "description": "cool" },
    ] }] });
    let model =
        ScriptedModel::start(vec![Reply::Stream(vec![Chunk::Call("q1", "question", question)]), says("Red it is.")])
            .await;
    let tenants = Arc::new(Tenants::open(data.path(), Quotas::default()).unwrap());
    let alice = tenants.add("alice", &[alice_root.path().to_path_buf()], QuotaSettings::default()).unwrap();
    let bob = tenants.add("bob", &[bob_root.path().to_path_buf()], QuotaSettings::default()).unwrap();
    let server = crate::router::TestServer::hosting(host.path(), &crate::agent::config(&model, json!({})), tenants);

    let id = session_as(&server, &alice).await;
    let body = serde_json::from_str(&crate::agent::prompt_body("pick a colour")).unwrap();
    let (status, _) = send_as(&server, &alice, "POST", &format!("/session/{id}/prompt_async"), Some(body)).await;
    assert!((200..300).contains(&status));
    let mut pending = Value::Null;
    for _ in 0..200 {
        pending = send_as(&server, &alice, "GET", "/question", None).await.1;
        if pending.as_array().is_some_and(|p| !p.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let qid = pending[0]["id"].as_str().expect("alice sees her question").to_string();

    assert_eq!(send_as(&server, &bob, "GET", "/question", None).await, (200, json!([])), "bob sees none");
    let answers = json!({ "answers": [["Blue"]] });
    let (status, _) = send_as(&server, &bob, "POST", &format!("/question/{qid}/reply"), Some(answers)).await;
    assert_eq!(status, 404, "bob cannot answer alice's question");
    let (status, _) = send_as(&server, &bob, "POST", &format!("/question/{qid}/reject"), None).await;
    assert_eq!(status, 404, "bob cannot dismiss it");
    let (status, _) = send_as(&server, &bob, "POST", "/tui/select-session", Some(json!({ "sessionID": id }))).await;
    assert_eq!(status, 404, "bob cannot point a TUI at alice's session");
    let (status, _) = send_as(&server, &alice, "POST", "/tui/select-session", Some(json!({ "sessionID": id }))).await;
    assert_eq!(status, 200);

    let still = send_as(&server, &alice, "GET", "/question", None).await.1;
    assert_eq!(still[0]["id"], qid.as_str(), "the question is still alice's to answer");
    let (status, ok) =
        send_as(&server, &alice, "POST", &format!("/question/{qid}/reply"), Some(json!({ "answers": [["Red"]] })))
            .await;
    assert_eq!((status, ok), (200, json!(true)));
    for _ in 0..200 {
        let parts = tool_parts(&server, &alice, &id).await;
        if parts.iter().any(|(call, status, _)| call == "q1" && status == "completed") {
            assert!(parts[0].2.contains("Red"), "{parts:?}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("alice's answer never reached the turn");
}
