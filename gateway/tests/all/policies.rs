//! Per-tool policy (`wasmgate.tools.<name>`), every boundary tried through
//! the real binary with the hostile test component as the tool: folders
//! narrow the caller's grant and never widen it (not by `..`, not by a
//! folder swapped for a symlink between two calls, not past a read-only
//! grant); only the variables listed reach the guest; only the hosts and
//! methods listed are reached, loopback only where an entry names it, with a
//! secret header the server receives and the guest never sees; CPU time,
//! wall-clock time, memory and output are each stopped at the tool's own
//! limit; and what cannot be honoured is refused at start with its reason.

use crate::scripted_model::{Chunk, Reply, ScriptedModel, says};
use crate::served::Served;
use crate::util::{Fixture, HOSTILE, SECRET, cache_dir};
use axum::Router;
use axum::http::{HeaderMap, Method};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The server's secret the policy injects, which the guest must never see.
const TOKEN: &str = "policy-token-5f0c1e";

/// A workspace, the hostile component in a tools folder of its own, and a
/// configuration holding `wasmgate.tools`.
struct Policied {
    fx: Fixture,
    _dir: tempfile::TempDir,
    tools: PathBuf,
    config: PathBuf,
}

impl Policied {
    fn new(tools: Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("tools");
        std::fs::create_dir(&folder).unwrap();
        std::fs::copy(HOSTILE, folder.join("test-hostile.wasm")).unwrap();
        let config = dir.path().join("wasmgate.json");
        std::fs::write(&config, json!({ "wasmgate": { "tools": tools } }).to_string()).unwrap();
        Policied { fx: Fixture::new(), _dir: dir, tools: folder, config }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wasmgate"));
        command
            .args(args)
            .args(["--config", self.config.to_str().unwrap(), "--tools-dir", self.tools.to_str().unwrap()])
            .env("WASMGATE_CACHE_DIR", cache_dir())
            .env("WG_POLICY_TOKEN", TOKEN)
            .env("WG_POLICY_PASSED", "passed-value")
            .env("WG_POLICY_HIDDEN", "hidden-value")
            .env_remove("RUST_LOG");
        command
    }

    /// `tool call TOOL ARGUMENTS` (with `flags`): whether it succeeded and
    /// all it printed, which never holds the secret outside the workspace.
    fn call_with(&self, tool: &str, arguments: Value, flags: &[&str]) -> (bool, String) {
        let ws = self.fx.ws.to_str().unwrap();
        let mut args = vec!["tool", "call", tool];
        let arguments = arguments.to_string();
        args.extend([arguments.as_str(), "--root", ws]);
        args.extend(flags);
        let output = self.command(&args).output().unwrap();
        let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(!said.contains(SECRET), "{said}");
        (output.status.success(), said)
    }

    fn call(&self, tool: &str, arguments: Value) -> (bool, String) {
        self.call_with(tool, arguments, &[])
    }

    fn fs(&self, op: &str, path: &str) -> (bool, String) {
        self.call("fs", json!({ "op": op, "path": path, "content": "written by the tool" }))
    }
}

#[test]
fn folders_narrow_the_grant_and_never_widen_it() {
    let p = Policied::new(json!({ "fs": { "folders": ["docs", { "path": "out", "access": "read-write" }] } }));
    p.fx.file("docs/guide.md", "the guide");
    p.fx.file("src/main.rs", "fn main() {}");
    std::fs::create_dir(p.fx.ws.join("out")).unwrap();
    assert_eq!(p.fs("read", "docs/guide.md"), (true, "the guide\n".into()));
    assert_eq!(p.fs("bulk-read", "docs/guide.md"), (true, "the guide\n".into()));
    assert_eq!(p.fs("bulk-list", "docs"), (true, "guide.md\n".into()));
    assert!(p.fs("write", "out/made.txt").0);
    assert_eq!(std::fs::read_to_string(p.fx.ws.join("out/made.txt")).unwrap(), "written by the tool");
    // Beside the folders, in a read-only folder, above the workspace.
    for (op, path) in [("read", "src/main.rs"), ("list", "."), ("write", "docs/new.md"), ("write", "made.txt")] {
        let (ok, said) = p.fs(op, path);
        assert!(!ok, "{op} {path}: {said}");
    }
    for path in ["src/main.rs", "", "docs/../src/main.rs", "../outside.txt", p.fx.outside.to_str().unwrap()] {
        let (ok, said) = p.fs("bulk-read", path);
        assert!(!ok && said.contains("outside the folders this tool's policy allows (docs, out)"), "{path}: {said}");
    }
    assert!(!p.fs("read", "../outside.txt").0);
    assert!(!p.fx.ws.join("docs/new.md").exists() && !p.fx.ws.join("made.txt").exists());
    // A read-only grant keeps the read-write folder read-only.
    let (ok, said) = p.call_with("fs", json!({ "op": "write", "path": "out/again.txt" }), &["--read-only"]);
    assert!(!ok && !p.fx.ws.join("out/again.txt").exists(), "{said}");
    // Between two calls the folder becomes a symlink leading out: the next
    // call gets nothing for it.
    std::fs::remove_dir_all(p.fx.ws.join("docs")).unwrap();
    std::os::unix::fs::symlink(p.fx.outside.parent().unwrap(), p.fx.ws.join("docs")).unwrap();
    for op in ["read", "bulk-read"] {
        let (ok, said) = p.fs(op, "docs/outside.txt");
        assert!(!ok, "{op}: {said}");
    }
    assert!(p.fs("write", "out/still.txt").0, "the other folder still serves");
    p.fx.assert_outside_untouched();
}

#[test]
fn only_the_variables_listed_reach_the_guest() {
    let p = Policied::new(json!({
        "env": { "env": ["WG_POLICY_PASSED", "WG_POLICY_UNSET"] },
        "test-hostile": { "env": { "FIXED": "a value" } }
    }));
    // The tool's own entry wins over its component's.
    let (ok, said) = p.call("env", json!({}));
    assert!(ok, "{said}");
    assert_eq!(said, "WG_POLICY_PASSED=passed-value\n");
    // Another tool of the component takes the component's.
    let (ok, said) = p.call("http-get", json!({ "authority": "127.0.0.1:9" }));
    assert!(ok && said.contains("not granted the network"), "{said}");
    let fixed = Policied::new(json!({ "test-hostile": { "env": { "FIXED": "a value" } } }));
    assert_eq!(fixed.call("env", json!({})), (true, "FIXED=a value\n".into()));
    // Without a policy, nothing at all.
    let (ok, said) = Policied::new(json!({})).call("env", json!({}));
    assert!(ok && said.trim().is_empty(), "{said}");
}

/// What a loopback server received: each request's method and headers.
type Seen = Arc<Mutex<Vec<(Method, HeaderMap)>>>;

async fn recording_server() -> (u16, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let router = Router::new().fallback(move |method: Method, headers: HeaderMap| {
        log.lock().unwrap().push((method, headers));
        async { "hello from the server" }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (port, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn only_listed_hosts_and_methods_are_reached_and_the_secret_stays_with_the_host() {
    let (port, seen) = recording_server().await;
    let (other, other_seen) = recording_server().await;
    let p = Policied::new(json!({
        "http-get": { "network": {
            "allow": [format!("127.0.0.1:{port}")],
            "methods": ["GET", "PUT"],
            "secrets": [{ "host": "127.0.0.1", "header": "Authorization", "value": "Bearer {env:WG_POLICY_TOKEN}" }]
        } },
        "env": { "env": ["WG_POLICY_PASSED"] }
    }));
    let authority = format!("127.0.0.1:{port}");
    let call = |arguments: Value| {
        let (ok, said) = p.call("http-get", arguments);
        assert!(ok && !said.contains(TOKEN), "the guest saw the secret: {said}");
        said
    };
    // The guest sets its own Authorization: the host's replaces it.
    let said = call(json!({ "authority": authority, "path": "/a", "headers": { "authorization": "Bearer guessed" } }));
    assert!(said.starts_with("status 200\n") && said.ends_with("\nhello from the server\n"), "{said}");
    assert!(call(json!({ "authority": authority, "method": "PUT" })).starts_with("status 200"));
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        for (_, headers) in seen.iter() {
            assert_eq!(headers.get_all("authorization").iter().collect::<Vec<_>>(), [&format!("Bearer {TOKEN}")]);
        }
    }
    // A method, a port, a host not listed; loopback through a wildcard.
    let said = call(json!({ "authority": authority, "method": "DELETE" }));
    assert!(said.contains("the method DELETE is not allowed (the tool's policy allows GET, PUT)"), "{said}");
    let said = call(json!({ "authority": format!("127.0.0.1:{other}") }));
    assert!(said.contains("is not in the host's allow list"), "{said}");
    let said = call(json!({ "authority": format!("localhost:{port}") }));
    assert!(said.contains("refused by the host's network policy"), "{said}");
    assert_eq!(seen.lock().unwrap().len(), 2, "nothing refused reached the server");
    assert!(other_seen.lock().unwrap().is_empty());
    let wildcard = Policied::new(json!({ "http-get": { "network": { "allow": ["*"], "ports": [port] } } }));
    let (_, said) = wildcard.call("http-get", json!({ "authority": authority }));
    assert!(said.contains("a loopback, private or reserved address"), "{said}");
    // The guest's environment does not hold it either.
    let (_, env) = p.call("env", json!({}));
    assert!(!env.contains(TOKEN), "{env}");
    // `tool list` shows the policy: the header's name, never its value.
    let listed = p.command(&["tool", "list", "--json"]).output().unwrap();
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let tool = listed.as_array().unwrap().iter().find(|t| t["name"] == "http-get").unwrap();
    assert_eq!(tool["policy"]["network"]["methods"], json!(["GET", "PUT"]));
    assert_eq!(tool["policy"]["network"]["secrets"], json!([{ "host": "127.0.0.1", "header": "authorization" }]));
    assert!(!listed.to_string().contains(TOKEN));
    let text = p.command(&["tool", "list"]).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("  policy: {\"env\":[\"WG_POLICY_PASSED\"]}"), "{text}");
    assert!(text.contains("policy: none (the caller's workspace only"), "{text}");
    assert!(!text.contains(TOKEN) && !text.contains("passed-value"));
}

#[test]
fn each_limit_stops_the_tool_at_its_own_value() {
    let p = Policied::new(json!({
        "spin": { "limits": { "cpu_seconds": 0.2, "timeout": 30 } },
        "sleep": { "limits": { "cpu_seconds": 0.1, "timeout": 1 } },
        "hog": { "limits": { "memory_mib": 16 } },
        "flood": { "limits": { "output_bytes": 1000 } }
    }));
    let started = Instant::now();
    let (ok, said) = p.call_with("spin", json!({}), &["--json"]);
    assert!(!ok && said.contains("\"kind\": \"cpu-limit\"") && said.contains("more than 0.2s of CPU time"), "{said}");
    assert!(started.elapsed() < Duration::from_secs(10), "stopped by its CPU limit, not its 30 s deadline");
    // Waiting in the host is not CPU: an hour's sleep meets the deadline.
    let started = Instant::now();
    let (ok, said) = p.call_with("sleep", json!({}), &["--json"]);
    assert!(!ok && said.contains("\"kind\": \"timeout\"") && said.contains("its 1s deadline"), "{said}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let (ok, said) = p.call_with("hog", json!({}), &["--json"]);
    assert!(!ok && said.contains("more than 16 MiB of memory"), "{said}");
    let (ok, said) = p.call_with("flood", json!({}), &["--json"]);
    assert!(!ok && said.contains("more than 1000 bytes of output"), "{said}");
    // The sandbox's own limits hold where the policy sets none.
    let (ok, said) = p.call_with("huge-result", json!({ "bytes": 100_000 }), &["--json"]);
    assert!(ok, "{said}");
}

#[test]
fn what_a_policy_cannot_have_is_refused_at_start() {
    for (tools, reason) in [
        (json!({ "read": { "env": ["HOME"] } }), "read is built in: its capabilities are fixed"),
        (json!({ "shell": { "folders": ["src"] } }), "is built in: its capabilities are fixed"),
        (json!({ "fs": { "folders": ["../up"] } }), "folders are within the caller's grant"),
        (json!({ "fs": { "folders": ["/etc"] } }), "folders are within the caller's grant"),
        (json!({ "fs": { "limits": { "memory_mib": 100000 } } }), "raise wasmgate.sandbox.memory_mib"),
        (json!({ "fs": { "limits": { "cpu": 1 } } }), "unknown field `cpu`"),
        (
            json!({ "http-get": { "network": { "allow": ["x"], "secrets": [{ "host": "x", "header": "a", "value": "{env:WG_POLICY_UNSET}" }] } } }),
            "is empty (is its {env:...} variable set?)",
        ),
    ] {
        let p = Policied::new(tools.clone());
        let output = p.command(&["tool", "list"]).output().unwrap();
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && said.contains(reason), "{tools}: {said}");
    }
    // A built-in's limits may be set.
    let p = Policied::new(json!({ "read": { "limits": { "timeout": 5 } } }));
    assert!(p.command(&["tool", "list"]).output().unwrap().status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_served_tool_runs_under_its_policy_and_the_api_shows_it() {
    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![Chunk::Call("c1", "env", json!({}))]),
        says("it sees one variable"),
        Reply::Stream(vec![Chunk::Call("c2", "fs", json!({ "op": "read", "path": "src/main.rs" }))]),
        says("it cannot"),
    ])
    .await;
    let p = Policied::new(json!({}));
    p.fx.file("src/main.rs", "fn main() {}");
    let mut config = crate::agent::config(&model, json!({}));
    let mut parsed: Value = serde_json::from_str(&config).unwrap();
    parsed["wasmgate"]["tools"] = json!({
        "env": { "env": { "MODE": "served" } },
        "fs": { "folders": ["docs"], "limits": { "timeout": 5 } }
    });
    config = parsed.to_string();
    let served = Served::start_with_config(&p.fx.ws, &config, &["--tools-dir", p.tools.to_str().unwrap()]);
    let id = served.new_session().await;
    let env = served.prompt_for_tool_state(&id, "what do you see?").await;
    assert_eq!(env["status"], "completed", "{env}");
    assert_eq!(env["output"], "MODE=served\n");
    let read = served.prompt_for_tool_state(&id, "read main.rs").await;
    assert_eq!(read["status"], "error", "{read}");
    let (status, tools) = served.get("/wasmgate/tools").await;
    assert_eq!(status, 200);
    let hostile = tools["components"].as_array().unwrap().iter().find(|c| c["name"] == "test-hostile").unwrap();
    assert_eq!(hostile["policies"]["env"], json!({ "env": ["MODE"] }));
    assert_eq!(
        hostile["policies"]["fs"],
        json!({ "folders": [{ "path": "docs", "access": "read" }], "limits": { "timeout": 5.0 } })
    );
    assert!(!tools.to_string().contains("served"), "no variable's value is shown: {tools}");
    assert!(Path::new(&p.fx.ws).join("src/main.rs").exists());
}
