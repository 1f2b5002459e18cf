//! The `wasmgate` binary, run as a user would run it.

use crate::util::{Fixture, HOSTILE, assert_no_secret, wasmgate};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn tool_call_reads_inside_and_refuses_outside() {
    let fx = Fixture::new();
    fx.file("hello.txt", "hello from inside\n");
    let root = fx.ws.to_str().unwrap();
    let ok = wasmgate(&["tool", "call", "read", r#"{"filePath":"hello.txt"}"#, "--root", root]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("1: hello from inside"));

    let out = wasmgate(&["tool", "call", "read", r#"{"filePath":"../outside.txt"}"#, "--root", root]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("outside the workspace"), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    assert_no_secret(&text(&out.stderr));
}

#[test]
fn tool_call_honours_read_only_and_reports_json_errors() {
    let fx = Fixture::new();
    let root = fx.ws.to_str().unwrap();
    let out = wasmgate(&[
        "tool",
        "call",
        "write",
        r#"{"filePath":"x.txt","content":"x"}"#,
        "--root",
        root,
        "--read-only",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["error"]["kind"], "permission-denied");
    assert!(!fx.ws.join("x.txt").exists());

    let ok = wasmgate(&["tool", "call", "write", r#"{"filePath":"x.txt","content":"x"}"#, "--root", root, "--json"]);
    assert!(ok.status.success());
    let body: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(body["output"], "Wrote file successfully.");
    assert_eq!(body["metadata"]["exists"], false);
}

#[test]
fn tool_list_shows_every_built_in_tool_with_its_schema() {
    let out = wasmgate(&["tool", "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tools: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<_> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["read", "write", "edit", "list", "glob", "grep", "bash", "webfetch"]);
    for tool in &tools {
        assert_eq!(tool["parameters"]["type"], "object", "{tool}");
        assert!(!tool["description"].as_str().unwrap().is_empty());
    }
    let read = &tools[0];
    assert_eq!(read["parameters"]["required"], serde_json::json!(["filePath"]));

    let human = wasmgate(&["tool", "list"]);
    assert!(text(&human.stdout).contains("edit  [files]"));
}

#[test]
fn components_in_a_tools_dir_become_tools_with_the_same_limits() {
    let fx = Fixture::new();
    let tools = tempfile::tempdir().unwrap();
    std::fs::copy(HOSTILE, tools.path().join("hostile.wasm")).unwrap();
    let dir = tools.path().to_str().unwrap();
    let list = wasmgate(&["tool", "list", "--tools-dir", dir]);
    assert!(text(&list.stdout).contains("spin  [hostile]"), "{}", text(&list.stdout));

    let root = fx.ws.to_str().unwrap();
    let started = std::time::Instant::now();
    let spin = wasmgate(&["tool", "call", "spin", "--root", root, "--tools-dir", dir, "--timeout", "0.3"]);
    assert_eq!(spin.status.code(), Some(1));
    assert!(text(&spin.stderr).contains("deadline"), "{}", text(&spin.stderr));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    let hog = wasmgate(&["tool", "call", "hog", "--root", root, "--tools-dir", dir, "--memory", "32"]);
    assert!(text(&hog.stderr).contains("more than 32 MiB of memory"), "{}", text(&hog.stderr));
}

#[test]
fn bad_input_is_a_usage_error() {
    let fx = Fixture::new();
    let root = fx.ws.to_str().unwrap();
    let not_json = wasmgate(&["tool", "call", "read", "{filePath:", "--root", root]);
    assert_eq!(not_json.status.code(), Some(2));
    assert!(text(&not_json.stderr).contains("not valid JSON"), "{}", text(&not_json.stderr));
    let not_object = wasmgate(&["tool", "call", "read", "[1]", "--root", root]);
    assert_eq!(not_object.status.code(), Some(2));
    let no_root = wasmgate(&["tool", "call", "read", "{}", "--root", "/definitely/not/here"]);
    assert_eq!(no_root.status.code(), Some(2));
    assert!(text(&no_root.stderr).contains("--root"), "{}", text(&no_root.stderr));
    let unknown = wasmgate(&["tool", "call", "frobnicate", "{}", "--root", root]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("unknown tool \"frobnicate\""), "{}", text(&unknown.stderr));
}

#[test]
fn arguments_can_come_from_stdin() {
    use std::io::Write;
    let fx = Fixture::new();
    fx.file("a.txt", "via stdin\n");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wasmgate"))
        .args(["tool", "call", "read", "-", "--root", fx.ws.to_str().unwrap()])
        .env("WASMGATE_CACHE_DIR", crate::util::cache_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(br#"{"filePath":"a.txt"}"#).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(text(&out.stdout).contains("1: via stdin"));
}

#[test]
fn a_small_address_space_falls_back_to_on_demand_allocation() {
    // The pool reserves hundreds of GiB of address space up front; under a
    // 6 GiB limit it cannot, and the sandbox must still work (and still cap).
    let fx = Fixture::new();
    fx.file("a.txt", "fits\n");
    let binary = env!("CARGO_BIN_EXE_wasmgate");
    let script = format!(
        "ulimit -v 6291456; exec {binary} tool call read '{{\"filePath\":\"a.txt\"}}' --root {root}",
        root = fx.ws.display()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .env("WASMGATE_CACHE_DIR", crate::util::cache_dir())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "stdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("1: fits"));
    assert!(text(&out.stderr).contains("falling back to on-demand allocation"), "{}", text(&out.stderr));
}
