//! The MCP client: servers from opencode.json's `mcp` key, against a real
//! MCP server process written with `rmcp` (`examples/mcp_test_server.rs`),
//! through the real binary and a scripted model. Their tools are offered as
//! `server_tool` and called by the model; a tool error, a server that hangs
//! and a server that dies mid-call each end the call as a failed tool part
//! and the turn goes on; `GET /mcp` reports each server, and connect and
//! disconnect work; prompts are slash commands (`server:prompt`) listed with
//! `source: "mcp"` and run through `/session/{id}/command`; a local server
//! runs only where processes are allowed; a remote server gets its headers;
//! each tenant gets its own jailed copy of a local server in its folder,
//! stopped when idle.

use crate::scripted_model::{Chunk, Reply, ScriptedModel, says};
use crate::served::Served;
use crate::util::Fixture;
use serde_json::{Value, json};
use std::io::BufRead;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The test server, built by `cargo test` with the examples.
fn test_server() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_wasmgate"));
    bin.parent().unwrap().join("examples/mcp_test_server")
}

fn call(id: &'static str, tool: &'static str, arguments: Value) -> Reply {
    Reply::Stream(vec![Chunk::Call(id, tool, arguments)])
}

fn local_server() -> Value {
    json!({ "tester": {
        "type": "local",
        "command": [test_server().to_str().unwrap()],
        "environment": { "MCP_TEST": "from-config" }
    } })
}

/// Waits until `GET /mcp` says `name` is `status`: the answer.
async fn wait_for(served: &Served, name: &str, status: &str) -> Value {
    let started = Instant::now();
    loop {
        let (code, answer) = served.get("/mcp").await;
        assert_eq!(code, 200);
        if answer[name]["status"] == status && answer[name]["error"] != "connecting" {
            return answer;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{name} never became {status}: {answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn offered(model: &ScriptedModel, request: usize) -> Vec<String> {
    let requests = model.requests();
    requests[request]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_model_calls_a_local_servers_tools_and_the_turn_survives_its_failures() {
    let fx = Fixture::new();
    let model = ScriptedModel::start(vec![
        call("c1", "tester_echo", json!({ "text": "hello over MCP" })),
        says("echoed"),
        call("c2", "tester_where", json!({})),
        says("there"),
        call("c3", "tester_fail", json!({})),
        says("it failed"),
        call("c4", "tester_hang", json!({})),
        says("it hung"),
        call("c5", "tester_die", json!({})),
        says("it died"),
        says("no tools now"),
    ])
    .await;
    // The permission rules match the tools' names, as every tool's.
    let config = crate::agent::config(&model, json!({ "mcp": local_server(), "permission": { "tester_add": "deny" } }));
    let served = Served::start_with_config(&fx.ws, &config, &["--processes", "trusted", "--timeout", "3"]);
    let status = wait_for(&served, "tester", "connected").await;
    assert_eq!(status, json!({ "tester": { "status": "connected" } }));
    let id = served.new_session().await;

    let echo = served.prompt_for_tool_state(&id, "echo something").await;
    assert_eq!(echo["status"], "completed", "{echo}");
    assert_eq!(echo["output"], "hello over MCP");
    assert_eq!(echo["metadata"]["server"], "tester");
    let tools = offered(&model, 0);
    for tool in ["tester_echo", "tester_hang", "read", "bash"] {
        assert!(tools.contains(&tool.to_string()), "{tool} in {tools:?}");
    }
    assert!(!tools.contains(&"tester_add".to_string()), "denied by the rules: {tools:?}");
    let requests = model.requests();
    let echo_tool = requests[0]["tools"].as_array().unwrap().iter().find(|t| t["function"]["name"] == "tester_echo");
    let schema = &echo_tool.unwrap()["function"]["parameters"];
    assert_eq!(schema["required"], json!(["text"]), "{schema}");

    // It runs in the served folder, with the variables its entry names.
    let place = served.prompt_for_tool_state(&id, "where are you?").await;
    assert_eq!(place["output"], format!("{} from-config", fx.ws.display()), "{place}");

    let failed = served.prompt_for_tool_state(&id, "fail").await;
    assert_eq!(failed["status"], "error");
    assert_eq!(failed["error"], "it failed on purpose");

    // A call that never ends is ended at the deadline; the turn goes on.
    let started = Instant::now();
    let hung = served.prompt_for_tool_state(&id, "hang").await;
    assert_eq!(hung["status"], "error", "{hung}");
    assert!(hung["error"].as_str().unwrap().contains("did not answer hang within 3 s"), "{hung}");
    assert!(started.elapsed() < Duration::from_secs(15));

    // The server exits mid-call: the call fails, the server is reported, its
    // tools are withdrawn.
    let died = served.prompt_for_tool_state(&id, "die").await;
    assert_eq!(died["status"], "error", "{died}");
    assert!(died["error"].as_str().unwrap().contains("the MCP server tester is gone"), "{died}");
    let (_, status) = served.get("/mcp").await;
    assert_eq!(status["tester"]["status"], "failed", "{status}");
    let body = json!({ "parts": [{ "type": "text", "text": "anything left?" }] });
    assert_eq!(served.post(&format!("/session/{id}/message"), body.to_string()).await, 200);
    assert!(!offered(&model, 10).iter().any(|t| t.starts_with("tester_")), "withdrawn after it died");

    // Connected again, it serves again.
    assert_eq!(served.post("/mcp/tester/connect", String::new()).await, 200);
    wait_for(&served, "tester", "connected").await;
    assert_eq!(served.post("/mcp/tester/disconnect", String::new()).await, 200);
    wait_for(&served, "tester", "disabled").await;
    assert_eq!(served.post("/mcp/nope/connect", String::new()).await, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_servers_prompt_is_a_slash_command() {
    let fx = Fixture::new();
    let model = ScriptedModel::start(vec![says("reviewed")]).await;
    let config = crate::agent::config(&model, json!({ "mcp": local_server() }));
    let served = Served::start_with_config(&fx.ws, &config, &["--processes", "trusted"]);
    wait_for(&served, "tester", "connected").await;
    let (_, commands) = served.get("/command").await;
    let review = commands.as_array().unwrap().iter().find(|c| c["name"] == "tester:review").expect("listed").clone();
    assert_eq!(review["source"], "mcp");
    assert_eq!(review["hints"], json!(["$1", "$2"]));
    assert_eq!(review["description"], "Review one file with a focus");
    let id = served.new_session().await;
    let body = json!({ "command": "tester:review", "arguments": "src/lib.rs security" });
    assert_eq!(served.post(&format!("/session/{id}/command"), body.to_string()).await, 200);
    let request = model.requests().last().cloned().unwrap();
    let asked = request["messages"].as_array().unwrap().iter().rev().find(|m| m["role"] == "user").unwrap().clone();
    assert!(asked.to_string().contains("Review src/lib.rs with a focus on security."), "{asked}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_server_needs_processes_and_a_broken_entry_is_reported() {
    let fx = Fixture::new();
    let model = ScriptedModel::start(vec![says("fine")]).await;
    let mut servers = local_server();
    servers["typo"] = json!({ "type": "local", "comand": ["x"] });
    servers["gone"] = json!({ "type": "local", "command": ["/nonexistent/mcp-server"] });
    servers["off"] = json!({ "enabled": false });
    let config = crate::agent::config(&model, json!({ "mcp": servers }));
    let served = Served::start_with_config(&fx.ws, &config, &[]);
    let status = wait_for(&served, "tester", "failed").await;
    assert!(status["tester"]["error"].as_str().unwrap().contains("runs only where processes are allowed"), "{status}");
    assert!(status["typo"]["error"].as_str().unwrap().contains("not an MCP server"), "{status}");
    assert_eq!(status["off"]["status"], "disabled");
    let id = served.new_session().await;
    let body = json!({ "parts": [{ "type": "text", "text": "hi" }] });
    assert_eq!(served.post(&format!("/session/{id}/message"), body.to_string()).await, 200);
    assert!(!offered(&model, 0).iter().any(|t| t.starts_with("tester_")));

    let trusted = Served::start_with_config(&fx.ws, &config, &["--processes", "trusted"]);
    let status = wait_for(&trusted, "gone", "failed").await;
    assert!(status["gone"]["error"].as_str().unwrap().contains("/nonexistent/mcp-server"), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_server_gets_its_headers() {
    let fx = Fixture::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut remote = std::process::Command::new(test_server())
        .args(["--http", &port.to_string(), "--key", "k-123"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(remote.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("listening on"), "{line}");
    let url = format!("http://127.0.0.1:{port}/mcp");
    let model = ScriptedModel::start(vec![call("c1", "docs_add", json!({ "a": 2, "b": 40 })), says("42")]).await;
    let servers = json!({
        "docs": { "type": "remote", "url": url, "headers": { "x-test-key": "k-123" } },
        "nokey": { "type": "remote", "url": url, "timeout": 2000 },
    });
    let config = crate::agent::config(&model, json!({ "mcp": servers }));
    let served = Served::start_with_config(&fx.ws, &config, &[]);
    wait_for(&served, "docs", "connected").await;
    let status = wait_for(&served, "nokey", "failed").await;
    assert!(
        status["nokey"]["error"].as_str().unwrap().contains("401")
            || status["nokey"]["error"].as_str().unwrap().contains("nauthori"),
        "{status}"
    );
    // The credentials stay on the server.
    let (_, config) = served.get("/config").await;
    assert_eq!(config["mcp"]["docs"]["headers"]["x-test-key"], "[redacted]", "{config}");
    assert!(!config.to_string().contains("k-123"));
    let id = served.new_session().await;
    let added = served.prompt_for_tool_state(&id, "add").await;
    assert_eq!(added["status"], "completed", "{added}");
    assert_eq!(added["output"], "42");
    remote.kill().unwrap();
    let _ = remote.wait();
}

/// A configuration with jailed processes (the test server's folder among
/// the toolchains), `opencode` (the model's and the MCP servers') and
/// `wasmgate` settings besides the jail's; its path.
fn jailed_config(dir: &std::path::Path, opencode: Value, wasmgate: Value) -> PathBuf {
    let file = crate::jail::config_file(dir, opencode);
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let examples = test_server().parent().unwrap().to_str().unwrap().to_string();
    config["wasmgate"]["sandbox"]["jail"]["toolchains"].as_array_mut().unwrap().push(json!(examples));
    for (key, value) in wasmgate.as_object().unwrap() {
        config["wasmgate"][key] = value.clone();
    }
    std::fs::write(&file, config.to_string()).unwrap();
    file
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jailed_local_server_reaches_the_served_folder_only() {
    let fx = Fixture::new();
    fx.file("notes.txt", "inside\n");
    let outside = fx.outside.to_str().unwrap();
    let model = ScriptedModel::start(vec![
        call("c1", "tester_read", json!({ "path": "notes.txt" })),
        says("read it"),
        call("c2", "tester_read", json!({ "path": outside })),
        says("refused"),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let opencode: Value =
        serde_json::from_str(&crate::agent::config(&model, json!({ "mcp": local_server() }))).unwrap();
    let file = jailed_config(dir.path(), opencode, json!({}));
    let served = Served::start_with(&fx.ws, &["--config", file.to_str().unwrap()]);
    wait_for(&served, "tester", "connected").await;
    let id = served.new_session().await;
    let inside = served.prompt_for_tool_state(&id, "read the notes").await;
    assert_eq!(inside["output"], "inside\n", "{inside}");
    let refused = served.prompt_for_tool_state(&id, "read outside").await;
    let said = refused["output"].as_str().unwrap();
    assert!(said.starts_with("cannot read it:") && !said.contains(crate::util::SECRET), "{refused}");
}

/// The processes whose command line holds `marker`.
fn running_with(marker: &str) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    entries
        .flatten()
        .filter(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).split('\0').any(|arg| arg == marker)
        })
        .count()
}

/// Waits until `count()` is `want`.
async fn until_count(what: &str, want: usize, count: impl Fn() -> usize) {
    let started = Instant::now();
    while count() != want {
        assert!(started.elapsed() < Duration::from_secs(20), "{what}: {} running, not {want}", count());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_tenant_gets_its_own_jailed_servers_which_stop_when_idle_or_revoked() {
    use crate::tenants::{As, tenant, token_of};
    let (host, alice_root, bob_root, dir) =
        (Fixture::new(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    host.file("notes.txt", "the host's notes\n");
    std::fs::write(alice_root.path().join("notes.txt"), "alice's notes\n").unwrap();
    std::fs::write(bob_root.path().join("notes.txt"), "bob's notes\n").unwrap();
    let (bob_notes, host_notes) = (bob_root.path().join("notes.txt"), host.ws.join("notes.txt"));
    let model = ScriptedModel::start(vec![
        says("bob has no MCP tools"),
        call("c1", "tester_read", json!({ "path": "notes.txt" })),
        says("read"),
        call("c2", "tester_read", json!({ "path": bob_notes.to_str().unwrap() })),
        says("refused"),
        call("c3", "tester_read", json!({ "path": host_notes.to_str().unwrap() })),
        says("refused"),
        call("c4", "tester_echo", json!({ "text": "back again" })),
        says("echoed"),
    ])
    .await;
    let marker = format!("tenant-test-{}", std::process::id());
    let mut servers = local_server();
    servers["tester"]["command"].as_array_mut().unwrap().extend([json!("--marker"), json!(marker)]);
    servers["docs"] = json!({ "type": "remote", "url": "http://127.0.0.1:9/mcp", "headers": { "x-key": "host's" } });
    let opencode: Value = serde_json::from_str(&crate::agent::config(&model, json!({ "mcp": servers }))).unwrap();
    let file = jailed_config(dir.path(), opencode, json!({ "mcp": { "tenant_idle": 3 } }));
    let served = Served::start_with(&host.ws, &["--config", file.to_str().unwrap()]);
    wait_for(&served, "tester", "connected").await;
    let count = || running_with(&marker);
    until_count("the host's server", 1, count).await;
    let data = served.data_dir().to_path_buf();
    let alice = ["add", "alice", "--root", alice_root.path().to_str().unwrap(), "--host-processes", "true"];
    let alice = As::new(&served, &token_of(&tenant(&data, &alice)));
    let bob = As::new(&served, &token_of(&tenant(&data, &["add", "bob", "--root", bob_root.path().to_str().unwrap()])));
    let tool_output = async |user: &As, id: &str| {
        let body = json!({ "parts": [{ "type": "text", "text": "go" }] });
        let (code, reply) = user.post(&format!("/session/{id}/message"), body).await;
        assert_eq!(code, 200, "{reply}");
        let (_, messages) = user.get(&format!("/session/{id}/message")).await;
        let mut parts = messages.as_array().unwrap().iter().flat_map(|m| m["parts"].as_array().unwrap());
        parts.rfind(|p| p["type"] == "tool").map(|tool| tool["state"].clone())
    };

    // Bob may not run programs: his server is reported, nothing offered.
    let (_, status) = bob.get("/mcp").await;
    let error = status["tester"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("this tenant may not run programs"), "{status}");
    let (_, session) = bob.post("/session", json!({})).await;
    assert!(tool_output(&bob, session["id"].as_str().unwrap()).await.is_none());
    assert!(!offered(&model, 0).iter().any(|t| t.starts_with("tester_")), "{:?}", offered(&model, 0));
    assert_eq!(count(), 1);

    // Alice's first use starts her own server, in her folder; remote
    // servers (the operator's credentials) are not hers.
    let (code, status) = alice.get("/mcp").await;
    assert_eq!(code, 200);
    assert_eq!(status, json!({ "tester": { "status": "connected" } }));
    until_count("the host's and alice's", 2, count).await;
    let (_, commands) = alice.get("/command").await;
    assert!(commands.as_array().unwrap().iter().any(|c| c["name"] == "tester:review" && c["source"] == "mcp"));
    let (_, session) = alice.post("/session", json!({})).await;
    let id = session["id"].as_str().unwrap().to_string();
    let read = tool_output(&alice, &id).await.unwrap();
    assert_eq!(read["output"], "alice's notes\n", "her folder: {read}");
    for other in ["bob's", "the host's"] {
        let refused = tool_output(&alice, &id).await.unwrap();
        let said = refused["output"].as_str().unwrap();
        assert!(said.starts_with("cannot read it:") && !said.contains(other), "{other} notes: {refused}");
    }
    // Her server's tools are offered to her sessions.
    assert!(offered(&model, 1).contains(&"tester_read".to_string()));

    // A tenant changes its own servers only: the host's still runs.
    let (code, _) =
        alice.post("/mcp", json!({ "name": "mine", "config": { "type": "local", "command": ["sh"] } })).await;
    assert_eq!(code, 403);
    assert_eq!(alice.post("/mcp/tester/disconnect", json!({})).await.0, 200);
    until_count("the host's only", 1, count).await;
    let (_, status) = alice.get("/mcp").await;
    assert_eq!(status["tester"]["status"], "disabled", "{status}");
    assert_eq!(alice.post("/mcp/tester/connect", json!({})).await.0, 200);
    until_count("alice's again", 2, count).await;
    assert_eq!(alice.post("/mcp/nope/connect", json!({})).await.0, 404);

    // Unused for the idle time, hers stops; her next use starts it again.
    until_count("the host's, once alice's was idle", 1, count).await;
    let echoed = tool_output(&alice, &id).await.unwrap();
    assert_eq!(echoed["output"], "back again", "{echoed}");
    assert_eq!(count(), 2);

    // Her right to run programs taken away, her server stops at her next
    // use, however busy she keeps it.
    tenant(&data, &["set", "alice", "--host-processes", "false"]);
    let (_, status) = alice.get("/mcp").await;
    let error = status["tester"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("this tenant may not run programs"), "{status}");
    until_count("the host's, once alice may not run programs", 1, count).await;
}
