//! The example tools in `examples/` (Rust, Python, JavaScript), built from
//! source by `examples/build`
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
        skipped(file);
    }
    dir
}

/// Says that `what` could not be tried here for want of its toolchain;
/// fails where toolchains are required (CI).
pub fn skipped(what: &str) {
    assert!(
        std::env::var("WASMGATE_EXAMPLES").as_deref() != Ok("required"),
        "{what}: its toolchain is not installed, and WASMGATE_EXAMPLES=required"
    );
    eprintln!("skipped: {what}: its toolchain is not installed here (run examples/install-toolchains)");
}

/// Where `examples/install-toolchains` put the toolchains.
pub fn toolchains() -> PathBuf {
    std::env::var_os("WASMGATE_EXAMPLE_TOOLCHAINS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/example-toolchains"))
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

#[test]
fn the_rust_example_runs_from_the_command_line() {
    let Some(tools) = example("date_calc.wasm") else { return };
    let fx = Fixture::new();
    let call = |arguments: Value| tool_call("date_calc", arguments, &fx, tools);
    let (ok, said) = call(json!({ "date": "2026-12-03", "add": "3 weeks", "until": "2027-01-01" }));
    assert!(ok, "{said}");
    assert_eq!(
        said,
        "2026-12-03 + 3w = 2026-12-24\nThursday, ISO week 52 of 2026 (2026-W52-4), day 358 of 365\n\
         until 2027-01-01 (Friday): 8 days (1 week 1 day), 8d, 6 business days\n"
    );
    // A Friday plus one business day is the Monday; a Saturday minus one the Friday.
    assert!(
        call(json!({ "date": "2026-12-04", "add_business_days": 1 }))
            .1
            .starts_with("2026-12-04 + 1 business day = 2026-12-07\nMonday")
    );
    assert!(call(json!({ "date": "2026-12-05", "add_business_days": -1 })).1.contains("= 2026-12-04\nFriday"));
    // Time zones from the compiled-in database, daylight saving included.
    let (ok, said) =
        call(json!({ "date": "2026-07-01T14:30", "time_zone": "Europe/Paris", "in_time_zone": "America/New_York" }));
    assert!(ok, "{said}");
    assert!(said.starts_with("2026-07-01T14:30:00+02:00[Europe/Paris]\n"), "{said}");
    assert!(said.ends_with("in America/New_York: 2026-07-01T08:30:00-04:00[America/New_York] (Wednesday)\n"), "{said}");
    // Leap years, and a clock time that a change to summer time skips.
    assert!(call(json!({ "date": "2028-02-28", "add": "1 day" })).1.contains("= 2028-02-29\nTuesday"));
    assert!(
        call(json!({ "date": "2024-03-31T02:30", "time_zone": "Europe/Paris" }))
            .1
            .starts_with("2024-03-31T03:30:00+02:00")
    );
    // What it cannot read is named, with what it can.
    for (arguments, expected) in [
        (json!({ "date": "next tuesday" }), "is not a date: write 2026-12-03"),
        (json!({ "date": "2026-12-03", "add": "3 fortnights" }), "add: \"3 fortnights\" is not a span"),
        (json!({ "date": "2026-12-03", "time_zone": "Mars/Olympus" }), "Mars/Olympus"),
        (json!({ "date": "2026-12-03", "add_business_days": 10_000_000 }), "more than 100000 business days"),
        (json!({ "date": "9999-01-01", "add": "2 years" }), "add:"),
        (json!({ "day": "2026-12-03" }), "unknown field `day`"),
    ] {
        let (ok, said) = call(arguments.clone());
        assert!(!ok && said.contains(expected), "{arguments}: {said}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_calls_the_rust_example() {
    let Some(tools) = example("date_calc.wasm") else { return };
    let fx = Fixture::new();
    let calls = |id, arguments: Value| Reply::Stream(vec![Chunk::Call(id, "date_calc", arguments)]);
    let model = ScriptedModel::start(vec![
        calls("c1", json!({ "date": "2026-12-03", "until": "2026-12-25" })),
        says("22 days"),
        calls("c2", json!({ "date": "the day after tomorrow" })),
        says("it cannot"),
    ])
    .await;
    let config = crate::agent::config(&model, json!({}));
    let served = Served::start_with_config(&fx.ws, &config, &["--tools-dir", tools.to_str().unwrap()]);
    let id = served.new_session().await;
    let mut states = Vec::new();
    for prompt in ["how long until Christmas?", "and the day after tomorrow?"] {
        states.push(served.prompt_for_tool_state(&id, prompt).await);
    }
    assert_eq!(states[0]["status"], "completed", "{}", states[0]);
    assert_eq!(states[0]["title"], "2026-12-03 until 2026-12-25");
    assert!(
        states[0]["output"].as_str().unwrap().ends_with("22 days (3 weeks 1 day), 22d, 16 business days"),
        "{}",
        states[0]
    );
    assert_eq!(states[0]["metadata"]["until"]["business_days"], 16, "{}", states[0]);
    assert_eq!(states[1]["status"], "error", "{}", states[1]);
    assert!(states[1]["error"].as_str().unwrap().contains("is not a date"), "{}", states[1]);
    let offered = model.requests().iter().any(|r| {
        r["tools"].as_array().is_some_and(|tools| {
            tools.iter().any(|t| {
                t["function"]["name"] == "date_calc" && t["function"]["parameters"]["required"] == json!(["date"])
            })
        })
    });
    assert!(offered, "the model is offered the Rust tool with the schema its argument type gives");
}
