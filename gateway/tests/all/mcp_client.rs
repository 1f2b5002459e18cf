//! The MCP client: servers from opencode.json's `mcp` key, against a real
//! MCP server process written with `rmcp` (`examples/mcp_test_server.rs`),
//! through the real binary and a scripted model. Their tools are offered as
//! `server_tool` and called by the model; a tool error, a server that hangs
//! and a server that dies mid-call each end the call as a failed tool part
//! and the turn goes on; `GET /mcp` reports each server, and connect and
//! disconnect work; prompts are slash commands (`server:prompt`) listed with
//! `source: "mcp"` and run through `/session/{id}/command`; a local server
//! runs only where processes are allowed; a remote server gets its headers.

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
    let mut config: Value =
        serde_json::from_str(&crate::agent::config(&model, json!({ "mcp": local_server() }))).unwrap();
    let file = crate::jail::config_file(dir.path(), config.take());
    // The test server's own folder, as a toolchain the jail may run.
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let examples = test_server().parent().unwrap().to_str().unwrap().to_string();
    config["wasmgate"]["sandbox"]["jail"]["toolchains"].as_array_mut().unwrap().push(json!(examples));
    std::fs::write(&file, config.to_string()).unwrap();
    let served = Served::start_with(&fx.ws, &["--config", file.to_str().unwrap()]);
    wait_for(&served, "tester", "connected").await;
    let id = served.new_session().await;
    let inside = served.prompt_for_tool_state(&id, "read the notes").await;
    assert_eq!(inside["output"], "inside\n", "{inside}");
    let refused = served.prompt_for_tool_state(&id, "read outside").await;
    let said = refused["output"].as_str().unwrap();
    assert!(said.starts_with("cannot read it:") && !said.contains(crate::util::SECRET), "{refused}");
}
