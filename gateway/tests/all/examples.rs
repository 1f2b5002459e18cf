//! The example tools in `examples/`, built from source by `examples/build`
//! with their real toolchains (installed from the registries by
//! `examples/install-toolchains`), loaded from a tools folder and called by
//! the agent through the scripted model, under the same grants and limits as
//! the built-ins.
//!
//! Where a toolchain is not installed the test says so and passes, unless
//! `WASMGATE_EXAMPLES=required` (CI sets it), where it fails.

use crate::scripted_model::{Chunk, Reply, ScriptedModel, says};
use crate::served::Served;
use crate::util::{Fixture, SECRET, wasmgate};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The folder the examples were built into, once per test run; `None`
/// where no example could be built here.
fn built() -> Option<&'static Path> {
    static BUILT: OnceLock<Option<(tempfile::TempDir, Vec<PathBuf>)>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let out = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/build");
        let run = std::process::Command::new(script).arg(out.path()).output().expect("running examples/build");
        let said = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "examples/build failed: {said}");
        eprint!("{said}");
        let components: Vec<PathBuf> = String::from_utf8_lossy(&run.stdout).lines().map(PathBuf::from).collect();
        (!components.is_empty()).then_some((out, components))
    });
    built.as_ref().map(|(dir, _)| dir.path())
}

/// The tools folder holding the example `file`, or `None` (the test passes
/// with a notice) where its toolchain is not installed.
fn example(file: &str) -> Option<&'static Path> {
    let dir = built().filter(|dir| dir.join(file).exists());
    if dir.is_none() {
        assert!(
            std::env::var("WASMGATE_EXAMPLES").as_deref() != Ok("required"),
            "{file} was not built, and WASMGATE_EXAMPLES=required"
        );
        eprintln!("skipped: {file} not built here (run examples/install-toolchains)");
    }
    dir
}

/// `wasmgate tool call TOOL ARGUMENTS` over the fixture's workspace with the
/// examples' tools folder: whether it succeeded, and all it printed (which
/// never holds the secret beside the workspace).
fn tool_call(tool: &str, arguments: Value, fx: &Fixture, tools: &Path) -> (bool, String) {
    let (ws, dir) = (fx.ws.to_str().unwrap(), tools.to_str().unwrap());
    let output = wasmgate(&["tool", "call", tool, &arguments.to_string(), "--root", ws, "--tools-dir", dir]);
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(!text.contains(SECRET), "{text}");
    (output.status.success(), text)
}

const CARGO_TOML: &str = "[package]\nname = \"demo\"\nversion = \"1.2.3\"\n\n[dependencies]\n\
serde = { version = \"1\", features = [\"derive\"] }\n";

#[test]
fn the_python_example_runs_from_the_command_line() {
    let Some(tools) = example("data_query.wasm") else { return };
    let fx = Fixture::new();
    fx.file("Cargo.toml", CARGO_TOML);
    fx.file("data.json", r#"{"items":[{"name":"a","n":1},{"name":"b","n":2}]}"#);
    let call = |arguments: Value| tool_call("data_query", arguments, &fx, tools);
    assert_eq!(call(json!({ "path": "Cargo.toml", "query": "package.version" })), (true, "\"1.2.3\"\n".into()));
    assert_eq!(call(json!({ "path": "data.json", "query": "items[*].name" })).1, "[\n  \"a\",\n  \"b\"\n]\n");
    let toml = call(json!({ "path": "data.json", "to": "toml" })).1;
    assert!(toml.starts_with("[[items]]\nname = \"a\"\nn = 1\n"), "{toml}");
    let (ok, said) = call(json!({ "path": "Cargo.toml", "query": "package.nope" }));
    assert!(!ok && said.contains("has no key 'nope' (it has: name, version)"), "{said}");
    // Outside the workspace, by `..` and by absolute path: refused, the secret unread.
    for path in ["../outside.txt", fx.outside.to_str().unwrap()] {
        let (ok, said) = call(json!({ "path": path }));
        assert!(!ok && said.contains("outside the workspace"), "{path}: {said}");
    }
    let (ok, said) = call(json!({ "text": "{not json" }));
    assert!(!ok && said.contains("is not valid JSON"), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_calls_the_python_example() {
    let Some(tools) = example("data_query.wasm") else { return };
    let fx = Fixture::new();
    fx.file("Cargo.toml", CARGO_TOML);
    let calls = |id, arguments: Value| Reply::Stream(vec![Chunk::Call(id, "data_query", arguments)]);
    let model = ScriptedModel::start(vec![
        calls("c1", json!({ "path": "Cargo.toml", "query": "dependencies.serde.features" })),
        says("it derives"),
        calls("c2", json!({ "path": "../outside.txt" })),
        says("refused"),
    ])
    .await;
    let config = crate::agent::config(&model, json!({}));
    let served = Served::start_with_config(&fx.ws, &config, &["--tools-dir", tools.to_str().unwrap()]);
    let id = served.new_session().await;
    let mut states = Vec::new();
    for prompt in ["what does serde derive?", "read the file outside"] {
        states.push(served.prompt_for_tool_state(&id, prompt).await);
    }
    assert_eq!(states[0]["status"], "completed", "{}", states[0]);
    assert_eq!(states[0]["output"], "[\n  \"derive\"\n]");
    assert_eq!(states[0]["title"], "Cargo.toml dependencies.serde.features");
    assert_eq!(states[1]["status"], "error", "{}", states[1]);
    assert!(states[1]["error"].as_str().unwrap().contains("outside the workspace"), "{}", states[1]);
    let offered = model.requests().iter().any(|r| {
        r["tools"].as_array().is_some_and(|tools| tools.iter().any(|t| t["function"]["name"] == "data_query"))
    });
    assert!(offered, "the model is offered the Python tool with the built-ins");
    assert!(!serde_json::to_string(&states).unwrap().contains(SECRET));
}

const README: &str = "# Guide\n\nSee [setup](#setup), [missing](#nowhere), [code](src/lib.rs), [gone](docs/gone.md),\n\
[up](../outside.txt) and [web](https://example.com).\n\n## Setup\n\n```sh\n# not a heading\n```\n\n### Two words\n";

#[test]
fn the_js_example_runs_from_the_command_line() {
    let Some(tools) = example("md_outline.wasm") else { return };
    let fx = Fixture::new();
    fx.file("README.md", README);
    fx.file("src/lib.rs", "");
    let call = |arguments: Value| tool_call("md_outline", arguments, &fx, tools);
    let (ok, outline) = call(json!({ "path": "README.md" }));
    assert!(ok, "{outline}");
    assert_eq!(outline, "README.md: 3 headings\n    1  # Guide\n    6  ## Setup\n   12  ### Two words\n");
    let (ok, checked) = call(json!({ "path": "README.md", "check_links": true }));
    assert!(ok, "{checked}");
    assert!(checked.contains("\n\n3 broken links\n"), "{checked}");
    assert!(checked.contains("#nowhere: no such heading"), "{checked}");
    assert!(checked.contains("docs/gone.md: no such folder"), "{checked}");
    assert!(checked.contains("../outside.txt: outside the workspace"), "{checked}");
    assert!(!checked.contains("#setup:") && !checked.contains("src/lib.rs:"), "{checked}");
    // Reading outside the workspace is the host's refusal, by `..` and by absolute path.
    for path in ["../outside.txt", fx.outside.to_str().unwrap()] {
        let (ok, said) = call(json!({ "path": path }));
        assert!(!ok && said.contains("outside"), "{path}: {said}");
    }
    let (ok, said) = call(json!({ "path": "nope.md" }));
    assert!(!ok && said.contains("nope.md"), "{said}");
    let (ok, said) = call(json!({ "file": "README.md" }));
    assert!(!ok && said.contains("unknown argument: file"), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_calls_the_js_example() {
    let Some(tools) = example("md_outline.wasm") else { return };
    let fx = Fixture::new();
    fx.file("README.md", README);
    let calls = Reply::Stream(vec![Chunk::Call("c1", "md_outline", json!({ "path": "README.md" }))]);
    let model = ScriptedModel::start(vec![calls, says("three headings")]).await;
    let config = crate::agent::config(&model, json!({}));
    let served = Served::start_with_config(&fx.ws, &config, &["--tools-dir", tools.to_str().unwrap()]);
    let id = served.new_session().await;
    let state = served.prompt_for_tool_state(&id, "outline the readme").await;
    assert_eq!(state["status"], "completed", "{state}");
    assert!(state["output"].as_str().unwrap().starts_with("README.md: 3 headings\n    1  # Guide"), "{state}");
    assert_eq!(state["metadata"]["headings"], 3, "{state}");
}
