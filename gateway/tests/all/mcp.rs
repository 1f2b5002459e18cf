//! The sandboxed tools to MCP clients, driven by the official Rust SDK's
//! client (`rmcp`): `wasmgate mcp` on stdio, and `/wasmgate/mcp` on `serve` with a
//! tenant's token. Each tries the boundaries: a path out of the root, a
//! write under a read-only grant, another tenant's folder, no token.

use crate::served::Served;
use crate::tenants::two_tenants;
use crate::util::{Fixture, assert_no_secret};
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::service::RunningService;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

/// The text of a tool result, and whether it is an error.
fn said(result: &CallToolResult) -> (String, bool) {
    let text = result
        .content
        .iter()
        .filter_map(|block| match block {
            ContentBlock::Text(text) => Some(text.text.clone()),
            _ => None,
        })
        .collect();
    (text, result.is_error == Some(true))
}

async fn call(client: &RunningService<RoleClient, ()>, tool: &'static str, arguments: Value) -> (String, bool) {
    let Value::Object(arguments) = arguments else { panic!("arguments are an object") };
    let result = client.call_tool(CallToolRequestParams::new(tool).with_arguments(arguments)).await;
    said(&result.unwrap_or_else(|e| panic!("{tool}: {e}")))
}

/// `wasmgate mcp` over `root`, as an MCP client starts it.
async fn stdio_client(root: &std::path::Path, flags: &[&str]) -> RunningService<RoleClient, ()> {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_wasmgate"));
    command.arg("mcp").arg("--root").arg(root).args(flags);
    command.env("WASMGATE_CACHE_DIR", crate::util::cache_dir());
    ().serve(TokioChildProcess::new(command).unwrap()).await.expect("wasmgate mcp starts")
}

#[tokio::test]
async fn the_stdio_server_runs_tools_inside_the_root_only() {
    let fx = Fixture::new();
    fx.file("notes.md", "# Notes\nalpha\n");
    let client = stdio_client(&fx.ws, &[]).await;
    let info = client.peer_info().expect("the server introduced itself");
    assert_eq!(info.server_info.as_ref().map(|s| s.name.as_str()), Some("wasmgate"));

    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for tool in ["read", "write", "edit", "grep", "glob", "bash"] {
        assert!(names.contains(&tool), "{tool} missing from {names:?}");
    }
    let read = tools.iter().find(|t| t.name == "read").unwrap();
    assert!(read.input_schema["properties"]["filePath"].is_object(), "{:?}", read.input_schema);

    let (text, error) = call(&client, "read", json!({ "filePath": "notes.md" })).await;
    assert!(!error && text.contains("alpha"), "{text}");
    let (text, error) = call(&client, "write", json!({ "filePath": "new.txt", "content": "made\n" })).await;
    assert!(!error, "{text}");
    assert_eq!(std::fs::read_to_string(fx.ws.join("new.txt")).unwrap(), "made\n");

    // Out of the root, by every road: a tool error the client's model reads.
    let outside = fx.outside.display().to_string();
    for attempt in [
        call(&client, "read", json!({ "filePath": "../outside.txt" })).await,
        call(&client, "read", json!({ "filePath": outside })).await,
        call(&client, "write", json!({ "filePath": "../pwned.txt", "content": "x" })).await,
        call(&client, "bash", json!({ "command": "cat ../outside.txt" })).await,
    ] {
        let (text, error) = attempt;
        assert!(error || text.contains("outside") || text.contains("denied"), "{text}");
        assert_no_secret(&text);
    }
    // An unknown tool and bad arguments are protocol errors; the server goes on.
    let unknown = client.call_tool(CallToolRequestParams::new("nope")).await;
    assert!(unknown.is_err(), "{unknown:?}");
    let (text, _) = call(&client, "read", json!({ "filePath": "notes.md" })).await;
    assert!(text.contains("alpha"), "{text}");
    client.cancel().await.unwrap();
    fx.assert_outside_untouched();
}

#[tokio::test]
async fn a_call_the_client_cancels_stops() {
    let fx = Fixture::new();
    let client = stdio_client(&fx.ws, &[]).await;
    let spin = json!({ "command": "while true; do echo x >> counter.txt; done" });
    let Value::Object(spin) = spin else { unreachable!() };
    let spinning = client.call_tool_once(CallToolRequestParams::new("bash").with_arguments(spin));
    // Dropping the request sends the client's cancellation.
    assert!(tokio::time::timeout(std::time::Duration::from_millis(800), spinning).await.is_err());
    let counter = || std::fs::metadata(fx.ws.join("counter.txt")).map_or(0, |m| m.len());
    let mut last = counter();
    let mut settled = false;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let now = counter();
        if now == last && now > 0 {
            settled = true;
            break;
        }
        last = now;
    }
    assert!(settled, "the loop still runs: {last} bytes");
    let (text, error) = call(&client, "read", json!({ "filePath": "counter.txt" })).await;
    assert!(!error, "the server goes on: {text}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_read_only_stdio_server_writes_nothing() {
    let fx = Fixture::new();
    fx.file("a.txt", "alpha\n");
    let client = stdio_client(&fx.ws, &["--read-only"]).await;
    let (text, error) = call(&client, "write", json!({ "filePath": "a.txt", "content": "changed" })).await;
    assert!(error, "{text}");
    let (text, _) = call(&client, "bash", json!({ "command": "echo x > b.txt; rm a.txt; echo status=$?" })).await;
    assert!(text.contains("status=1"), "{text}");
    assert_eq!(std::fs::read_to_string(fx.ws.join("a.txt")).unwrap(), "alpha\n");
    assert!(!fx.ws.join("b.txt").exists());
    client.cancel().await.unwrap();
}

/// An MCP client of `served`'s `/wasmgate/mcp` with `token`.
async fn http_client(served: &Served, token: Option<&str>) -> Result<RunningService<RoleClient, ()>, String> {
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let mut config = StreamableHttpClientTransportConfig::with_uri(format!("{}/wasmgate/mcp", served.url));
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    ().serve(StreamableHttpClientTransport::from_config(config)).await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn the_http_endpoint_runs_each_tenants_calls_in_its_own_folders() {
    let two = two_tenants(&[]).await;
    let alice = http_client(&two.served, Some(&two.alice.token)).await.expect("alice connects");
    let bob = http_client(&two.served, Some(&two.bob.token)).await.expect("bob connects");
    assert!(alice.list_all_tools().await.unwrap().iter().any(|t| t.name == "read"));

    let (text, error) = call(&alice, "read", json!({ "filePath": "secret.txt" })).await;
    assert!(!error && text.contains("alice's secret"), "{text}");
    let (text, error) = call(&bob, "read", json!({ "filePath": "notes.txt" })).await;
    assert!(!error && text.contains("bob's notes"), "{text}");
    // Bob's calls never reach alice's folder: not by name, not by path.
    let alice_dir = two.alice_root.path().canonicalize().unwrap();
    let (text, _) = call(&bob, "read", json!({ "filePath": "secret.txt" })).await;
    assert!(!text.contains("alice's secret"), "{text}");
    let (text, _) = call(&bob, "read", json!({ "filePath": alice_dir.join("secret.txt") })).await;
    assert!(!text.contains("alice's secret"), "{text}");
    let (text, _) = call(&bob, "bash", json!({ "command": format!("cat {}/secret.txt", alice_dir.display()) })).await;
    assert!(!text.contains("alice's secret"), "{text}");
    let (text, error) = call(&bob, "write", json!({ "filePath": "made-by-bob.txt", "content": "b" })).await;
    assert!(!error, "{text}");
    assert!(two.bob_root.path().join("made-by-bob.txt").exists() && !alice_dir.join("made-by-bob.txt").exists());

    // Without a token, or with a wrong one, nothing is served.
    for token in [None, Some("wgt_wrong")] {
        let Err(refused) = http_client(&two.served, token).await else { panic!("{token:?} was let in") };
        assert!(refused.contains("401") || refused.to_lowercase().contains("auth"), "{refused}");
    }
}
