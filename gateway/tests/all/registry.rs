//! The tool registry: a component that fails to load is reported and the
//! rest serve; tools a name already taken never shadow it; host processes
//! are the built-in shell's alone; and the operator's tools folder can be
//! swapped while calls run on the old set.

use crate::served::Served;
use crate::util::{Fixture, HOSTILE, TEST_LIMITS, cache_dir, wasmgate};
use serde_json::json;
use wasmgate::sandbox::{CallError, CompileCache, Processes, Sandbox};

async fn with_tools_dir(dir: &std::path::Path, host_processes: bool) -> Sandbox {
    Sandbox::builder()
        .limits(TEST_LIMITS)
        .cache(CompileCache::at(cache_dir()))
        .processes(if host_processes { Processes::Trusted } else { Processes::Off })
        .tools_dir(dir)
        .unwrap()
        .build()
        .await
        .expect("a broken added component does not stop the sandbox")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_or_colliding_component_is_reported_and_the_rest_serve() {
    let fx = Fixture::new();
    let tools = tempfile::tempdir().unwrap();
    std::fs::write(tools.path().join("broken.wasm"), b"\0asm but not really").unwrap();
    std::fs::copy(HOSTILE, tools.path().join("hostile.wasm")).unwrap();
    // The same tools again: the first to claim a name keeps it.
    std::fs::copy(HOSTILE, tools.path().join("twin.wasm")).unwrap();
    let sandbox = with_tools_dir(tools.path(), false).await;

    let failures = sandbox.load_failures();
    let failed: Vec<&str> = failures.iter().map(|f| f.component.as_str()).collect();
    assert_eq!(failed, ["broken", "twin"], "{failures:?}");
    assert!(failures[1].error.contains("already offered by hostile"), "{}", failures[1].error);
    let noop = sandbox.call("noop", "{}", &fx.read_write()).await.unwrap();
    assert_eq!(noop.output, "");
    assert!(sandbox.tools().iter().all(|t| t.component != "twin" && t.component != "broken"));
    let read = sandbox.call("read", &json!({ "filePath": "missing.txt" }).to_string(), &fx.read_write()).await;
    assert!(matches!(read, Err(CallError::NotFound(_))), "the built-ins serve: {read:?}");

    // The command line says so, and the server starts with the rest.
    let list = wasmgate(&["tool", "list", "--tools-dir", tools.path().to_str().unwrap()]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success() && text.contains("not loaded: broken"), "{text}");
    let server = Served::start_with(&fx.ws, &["--tools-dir", tools.path().to_str().unwrap()]);
    assert_eq!(server.get("/global/health").await.0, 200);
    // SIGHUP reloads the folder; the server goes on serving.
    std::fs::remove_file(tools.path().join("broken.wasm")).unwrap();
    server.signal(libc::SIGHUP);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(server.get("/global/health").await.0, 200, "a hangup reloads, it does not stop the server");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_built_in_shell_may_run_host_processes() {
    let fx = Fixture::new();
    let tools = tempfile::tempdir().unwrap();
    std::fs::copy(HOSTILE, tools.path().join("hostile.wasm")).unwrap();
    let sandbox = with_tools_dir(tools.path(), true).await;
    let shell = sandbox.call("bash", &json!({ "command": "uname -s" }).to_string(), &fx.read_write()).await.unwrap();
    assert_eq!(shell.output, "Linux\n", "the shell has the capability");
    let asked = json!({ "argv": ["uname", "-s"] }).to_string();
    let third_party = sandbox.call("run", &asked, &fx.read_write()).await.unwrap();
    assert_eq!(third_party.output, "disabled", "a third-party component never runs a process");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tools_folder_is_swapped_while_calls_run_on_the_old_set() {
    let fx = Fixture::new();
    let tools = tempfile::tempdir().unwrap();
    std::fs::copy(HOSTILE, tools.path().join("hostile.wasm")).unwrap();
    let sandbox = with_tools_dir(tools.path(), false).await;
    // A call that runs until its deadline, started before the swap.
    let running = {
        let (sandbox, grant) = (sandbox.clone(), fx.read_write());
        tokio::spawn(async move { sandbox.call("spin", "{}", &grant).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    std::fs::remove_file(tools.path().join("hostile.wasm")).unwrap();
    let reload = sandbox.reload_tools_dir().await.unwrap();
    assert_eq!((reload.removed, reload.failures), (vec!["hostile".to_string()], vec![]));
    let gone = sandbox.call("noop", "{}", &fx.read_write()).await;
    assert!(matches!(gone, Err(CallError::UnknownTool(_))), "new calls see the new set: {gone:?}");
    assert!(sandbox.call("read", &json!({ "filePath": "x" }).to_string(), &fx.read_write()).await.is_err());
    assert!(sandbox.tools().iter().any(|t| t.name == "bash"), "the built-ins stay");
    // The call in flight ran on to its own end on the old component.
    assert_eq!(running.await.unwrap(), Err(CallError::Timeout(TEST_LIMITS.deadline)));

    std::fs::copy(HOSTILE, tools.path().join("again.wasm")).unwrap();
    assert_eq!(sandbox.reload_tools_dir().await.unwrap().added, ["again"]);
    assert_eq!(sandbox.call("noop", "{}", &fx.read_write()).await.unwrap().output, "");
    assert!(sandbox.tools().iter().any(|t| t.name == "noop" && t.component == "again"));
}
