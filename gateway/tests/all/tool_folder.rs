//! The tools folder from the outside: `wasmgate tool inspect` tells what a
//! component is, `tool add` installs only what loads beside the tools
//! already there (never a half file, never outside the folder, never over a
//! built-in), `tool remove` takes it out, and a serving server follows the
//! folder: a tool added, changed, broken and removed while a session runs
//! is offered to the model, keeps serving its previous version when broken,
//! and is gone when removed.

use crate::scripted_model::{Chunk, Reply, ScriptedModel, says};
use crate::served::Served;
use crate::util::{Fixture, HOSTILE, cache_dir, wasmgate};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// `wasmgate ARGS` with `data` as the data folder.
fn with_data(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasmgate"))
        .args(args)
        .env("WASMGATE_DATA_DIR", data)
        .env("WASMGATE_CACHE_DIR", cache_dir())
        .env_remove("WASMGATE_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("running wasmgate")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The test component with a custom section appended: a different file
/// (another digest) that is still a valid component.
fn changed_hostile() -> Vec<u8> {
    let mut bytes = std::fs::read(HOSTILE).unwrap();
    let (name, payload) = (b"wasmgate-test", b"version 2");
    bytes.push(0); // a custom section
    bytes.push((1 + name.len() + payload.len()) as u8);
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    bytes
}

#[test]
fn inspect_tells_what_a_component_is_before_it_runs() {
    let report = wasmgate(&["tool", "inspect", HOSTILE]);
    let said = text(&report);
    assert!(report.status.success(), "{said}");
    for expected in [
        "export wasmgate:tools/tool@0.1.0;",
        "import wasi:filesystem/types@",
        "import wasmgate:tools/host@0.1.0;",
        "compiles in",
        "noop\n    Returns at once",
    ] {
        assert!(said.contains(expected), "{expected:?} in {said}");
    }
    let json = wasmgate(&["tool", "inspect", HOSTILE, "--json"]);
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    let bytes = std::fs::read(HOSTILE).unwrap();
    assert_eq!(json["size"], bytes.len());
    assert_eq!(json["digest"], hex_digest(&bytes));
    assert!(json["exports"].as_array().unwrap().iter().any(|e| e == "wasmgate:tools/tool@0.1.0"), "{json}");
    let tools = json["tools"].as_array().unwrap();
    let spin = tools.iter().find(|t| t["name"] == "spin").expect("the tools it describes");
    assert_eq!(spin["parameters"]["type"], "object");
    assert!(json["compile_ms"].as_f64().unwrap() > 0.0 && json["error"].is_null(), "{json}");

    // What is not a component is named as such, and nothing runs.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, "#!/bin/sh\necho hi\n").unwrap();
    let refused = wasmgate(&["tool", "inspect", junk.to_str().unwrap()]);
    assert!(!refused.status.success() && text(&refused).contains("not a WebAssembly component"), "{}", text(&refused));
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let refused = wasmgate(&["tool", "inspect", core.to_str().unwrap()]);
    assert!(text(&refused).contains("a core WebAssembly module, not a component"), "{}", text(&refused));
}

#[test]
fn add_installs_only_what_loads_and_remove_takes_it_out() {
    let data = tempfile::tempdir().unwrap();
    let (data, tools) = (data.path(), data.path().join("tools"));
    let installed = || {
        let mut names: Vec<String> =
            std::fs::read_dir(&tools).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    };
    let added = with_data(data, &["tool", "add", HOSTILE, "--name", "hostile"]);
    assert!(added.status.success(), "{}", text(&added));
    assert!(text(&added).starts_with("added hostile in ") && text(&added).contains("noop, spin"), "{}", text(&added));
    assert_eq!(installed(), ["hostile.wasm"]);
    let list = text(&with_data(data, &["tool", "list"]));
    assert!(list.contains("noop  [hostile]"), "tool list loads the data folder's tools: {list}");
    let fx = Fixture::new();
    let called = with_data(data, &["tool", "call", "noop", "--root", fx.ws.to_str().unwrap()]);
    assert!(called.status.success(), "{}", text(&called));

    // Refused, each with its reason, and nothing written.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm\x0d\0\x01\0 and then nonsense").unwrap();
    for (args, reason) in [
        (vec!["tool", "add", HOSTILE, "--name", "twin"], "already offered by hostile"),
        (vec!["tool", "add", junk.to_str().unwrap()], "component junk"),
        (vec!["tool", "add", HOSTILE, "--name", "files"], "built-in component"),
        (vec!["tool", "add", HOSTILE, "--name", "../escaped"], "not a component name"),
        (vec!["tool", "add", HOSTILE, "--name", ".hidden"], "not a component name"),
        (vec!["tool", "add", dir.path().join("missing.wasm").to_str().unwrap()], "No such file"),
    ] {
        let refused = with_data(data, &args);
        assert!(!refused.status.success() && text(&refused).contains(reason), "{args:?}: {}", text(&refused));
    }
    assert_eq!(installed(), ["hostile.wasm"], "nothing else was written");
    assert!(!data.join("escaped.wasm").exists());

    // Adding it again replaces it; a folder adds each component in it.
    let replaced = with_data(data, &["tool", "add", HOSTILE, "--name", "hostile"]);
    assert!(text(&replaced).starts_with("replaced hostile"), "{}", text(&replaced));
    let empty = with_data(data, &["tool", "add", dir.path().join("nothing").to_str().unwrap()]);
    assert!(!empty.status.success());
    std::fs::remove_file(&junk).unwrap();
    let folder = dir.path().join("built");
    std::fs::create_dir(&folder).unwrap();
    std::fs::copy(HOSTILE, folder.join("other.wasm")).unwrap();
    let collides = with_data(data, &["tool", "add", folder.to_str().unwrap()]);
    assert!(text(&collides).contains("already offered by hostile"), "{}", text(&collides));

    // Removed by its name; a built-in or an unknown name is refused.
    let unknown = with_data(data, &["tool", "remove", "nope"]);
    assert!(!unknown.status.success() && text(&unknown).contains("installed: hostile"), "{}", text(&unknown));
    let builtin = with_data(data, &["tool", "remove", "shell"]);
    assert!(!builtin.status.success() && text(&builtin).contains("built-in"), "{}", text(&builtin));
    let removed = with_data(data, &["tool", "remove", "hostile"]);
    assert!(removed.status.success(), "{}", text(&removed));
    assert!(installed().is_empty());
    assert!(!text(&with_data(data, &["tool", "list"])).contains("[hostile]"));
    let added = with_data(data, &["tool", "add", folder.to_str().unwrap()]);
    assert!(text(&added).starts_with("added other"), "{}", text(&added));

    // `--tools-dir` names another folder, and the data folder's is left alone.
    let elsewhere = tempfile::tempdir().unwrap();
    let flag = ["--tools-dir", elsewhere.path().to_str().unwrap()];
    let added = with_data(data, &[&["tool", "add", HOSTILE, "--name", "hostile"][..], &flag].concat());
    assert!(added.status.success(), "{}", text(&added));
    assert!(elsewhere.path().join("hostile.wasm").exists() && !tools.join("hostile.wasm").exists());
}

/// The components a server has loaded, by name and digest, and its failures.
async fn loaded(served: &Served) -> (Vec<(String, String)>, Vec<Value>) {
    let (status, body) = served.get("/wasmgate/tools").await;
    assert_eq!(status, 200, "{body}");
    let components = body["components"].as_array().unwrap().iter();
    let components =
        components.map(|c| (c["name"].as_str().unwrap().into(), c["digest"].as_str().unwrap().into())).collect();
    (components, body["failures"].as_array().unwrap().clone())
}

/// Waits until the server's components satisfy `done`.
async fn until(served: &Served, what: &str, done: impl Fn(&[(String, String)], &[Value]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (components, failures) = loaded(served).await;
        if done(&components, &failures) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {components:?} {failures:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_serving_server_follows_its_tools_folder() {
    let fx = Fixture::new();
    let calls_noop = |id| Reply::Stream(vec![Chunk::Call(id, "noop", json!({}))]);
    let script = vec![calls_noop("c1"), says("1"), calls_noop("c2"), says("2"), calls_noop("c3"), says("3")];
    let model = ScriptedModel::start([script.clone(), vec![calls_noop("c4"), says("4")]].concat()).await;
    let served = Served::start_with_config(&fx.ws, &crate::agent::config(&model, json!({})), &[]);
    let data = served.data_dir().to_path_buf();
    let tools = data.join("tools");
    assert!(tools.is_dir(), "a server makes its tools folder to follow it");
    let session = served.new_session().await;
    let has = |name: &'static str| move |c: &[(String, String)], _: &[Value]| c.iter().any(|(n, _)| n == name);

    // Added while serving: offered to the model and run.
    let added = with_data(&data, &["tool", "add", HOSTILE, "--name", "hostile"]);
    assert!(added.status.success(), "{}", text(&added));
    until(&served, "the added component serves", has("hostile")).await;
    let state = served.prompt_for_tool_state(&session, "call it").await;
    assert_eq!(state["status"], "completed", "{state}");
    let offered =
        |request: &Value| request["tools"].as_array().unwrap().iter().any(|t| t["function"]["name"] == "noop");
    assert!(model.requests().iter().any(offered), "the model is offered the new tool");

    // Broken by a bad deploy (written over by hand): reported, and the
    // previous version keeps serving.
    let original = hex_digest(&std::fs::read(HOSTILE).unwrap());
    std::fs::write(tools.join("hostile.wasm"), b"\0asm\x0d\0\x01\0 half a file").unwrap();
    until(&served, "the broken file is reported", |_, failures| {
        failures.iter().any(|f| f["component"] == "hostile" && f["previous_serving"] == true)
    })
    .await;
    assert!(loaded(&served).await.0.contains(&("hostile".into(), original.clone())));
    let state = served.prompt_for_tool_state(&session, "call it").await;
    assert_eq!(state["status"], "completed", "the previous version serves: {state}");

    // Changed to a version that loads: it serves, and the failure is gone.
    let changed = changed_hostile();
    std::fs::write(tools.join("hostile.wasm"), &changed).unwrap();
    let new_digest = hex_digest(&changed);
    until(&served, "the changed component serves", |components, failures| {
        failures.is_empty() && components.contains(&("hostile".into(), new_digest.clone()))
    })
    .await;
    let state = served.prompt_for_tool_state(&session, "call it").await;
    assert_eq!(state["status"], "completed", "{state}");

    // Removed: no longer offered, and a model that calls it anyway is told.
    let removed = with_data(&data, &["tool", "remove", "hostile"]);
    assert!(removed.status.success(), "{}", text(&removed));
    until(&served, "the removed component is gone", |c, _| !c.iter().any(|(n, _)| n == "hostile")).await;
    let state = served.prompt_for_tool_state(&session, "call it").await;
    assert_eq!(state["status"], "error", "{state}");
    let requests = model.requests();
    assert!(!offered(requests.last().unwrap()), "no longer offered");
    assert_eq!(served.get("/global/health").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tools_folder_the_model_can_write_to_is_not_followed() {
    // The folder lies inside the served one: a model's write there must not
    // install a tool. It is read at start and when the operator says so.
    let fx = Fixture::new();
    let tools = fx.ws.join("tools");
    std::fs::create_dir(&tools).unwrap();
    let served = Served::start_with(&fx.ws, &["--tools-dir", tools.to_str().unwrap()]);
    std::fs::copy(HOSTILE, tools.join("planted.wasm")).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !loaded(&served).await.0.iter().any(|(n, _)| n == "planted"),
        "a write inside the workspace installs nothing"
    );
    served.signal(libc::SIGHUP);
    until(&served, "the operator's reload reads it", |c, _| c.iter().any(|(n, _)| n == "planted")).await;
}
