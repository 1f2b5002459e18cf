//! FIFOs and device nodes inside the workspace, opened every way a tool can:
//! the shell's redirects and commands, the file tools, the HTTP file routes,
//! and a third-party component's raw WASI calls. Opening a FIFO blocks in the
//! kernel, where no deadline reaches; a device reads or writes forever. Each
//! attempt must be refused at once, for every component.

use crate::router::TestServer as Server;
use crate::util::{Fixture, call, sandbox};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};
use wasmgate::sandbox::{CallError, Grant, ToolOutput};

/// Runs a call on another task, so one that blocks its thread is caught by
/// the timeout instead of hanging the test.
async fn bounded(tool: &str, arguments: serde_json::Value, grant: &Grant) -> Result<ToolOutput, CallError> {
    let (tool, grant) = (tool.to_string(), grant.clone());
    let running = tokio::spawn(async move { call(&tool, arguments, &grant).await });
    match tokio::time::timeout(Duration::from_secs(15), running).await {
        Ok(done) => done.unwrap(),
        Err(_) => panic!("a call blocked on a special file"),
    }
}

fn mkfifo(path: &Path) {
    assert!(std::process::Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// Makes a character device node like `/dev/{name}`; false where this user
/// may not (only root can make device nodes).
fn mknod(path: &Path, major: u32, minor: u32) -> bool {
    let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a plain syscall on a path this test owns.
    unsafe { libc::mknod(name.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(major, minor)) == 0 }
}

/// Shell commands that open `name`, for reading or for writing.
fn openers(name: &str) -> Vec<String> {
    [
        "cat < {}",
        "echo x > {}",
        "echo x >> {}",
        "echo x &> {}",
        "echo x 2> {}",
        "cp {} copy.txt",
        "cp a.txt {}",
        "touch {}",
        "echo x | tee {}",
        "sort {}",
        "xargs echo < {}",
        "head -c 5 {}",
        "wc -l {}",
        "grep x {}",
        "sed -n 1p {}",
        "cat a.txt > {}",
    ]
    .iter()
    .map(|template| template.replace("{}", name))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_tool_blocks_on_a_fifo() {
    let fx = Fixture::new();
    fx.file("a.txt", "plain\n");
    mkfifo(&fx.ws.join("pipe"));
    let grant = fx.read_write();
    let started = Instant::now();
    for command in openers("pipe") {
        let result = bounded("bash", json!({ "command": format!("{command}; echo status=$?") }), &grant).await;
        let output = result.unwrap_or_else(|e| panic!("{command}: {e}"));
        assert!(!output.output.ends_with("status=0\n"), "{command} opened the FIFO: {}", output.output);
    }
    // A third-party component's raw WASI opens, each way.
    for op in ["read", "write", "append"] {
        let result = bounded("fs", json!({ "op": op, "path": "pipe", "content": "x" }), &grant).await;
        assert!(result.is_err(), "{op}: {result:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    // The FIFO is still a FIFO, and the shell goes on working.
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(fx.ws.join("pipe")).unwrap().file_type().is_fifo());
    let ok = bounded("bash", json!({ "command": "cat a.txt" }), &grant).await.unwrap();
    assert_eq!(ok.output, "plain\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_file_routes_refuse_a_fifo_at_once() {
    let fx = Fixture::new();
    fx.file("a.txt", "plain\n");
    mkfifo(&fx.ws.join("pipe"));
    let server = Server::new(&fx.ws, None);
    let started = Instant::now();
    for uri in ["/file/content?path=pipe", "/file?path=pipe", "/file/content?path=pipe", "/find?pattern=x"] {
        let (status, body) = server.get(uri).await;
        assert!(status.is_client_error() || uri.starts_with("/find"), "{uri}: {status} {body}");
    }
    let (status, _) = server.get("/file/content?path=a.txt").await;
    assert!(status.is_success());
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn device_nodes_inside_the_workspace_are_neither_read_nor_written() {
    let fx = Fixture::new();
    fx.file("a.txt", "plain\n");
    if !(mknod(&fx.ws.join("full"), 1, 7) && mknod(&fx.ws.join("urandom"), 1, 9)) {
        eprintln!("not root: device nodes cannot be made here, so this test checks nothing");
        return;
    }
    let grant = fx.read_write();
    for name in ["full", "urandom"] {
        for command in openers(name) {
            let result = bounded("bash", json!({ "command": format!("{command}; echo status=$?") }), &grant).await;
            let output = result.unwrap_or_else(|e| panic!("{command}: {e}"));
            assert!(!output.output.ends_with("status=0\n"), "{command} opened {name}: {}", output.output);
        }
        for op in ["read", "write", "append"] {
            let result = bounded("fs", json!({ "op": op, "path": name, "content": "x" }), &grant).await;
            assert!(result.is_err(), "{op} {name}: {result:?}");
        }
        assert!(bounded("read", json!({ "filePath": name }), &grant).await.is_err());
        assert!(sandbox().read_file(&grant, name).await.is_err());
    }
    assert!(!fx.ws.join("copy.txt").exists(), "nothing was copied out of a device");
}
