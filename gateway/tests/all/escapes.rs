//! Every way out of the workspace, tried: `..`, absolute paths, symlinks made
//! by the host and by the guest, raw WASI calls, and changes under a
//! read-only grant. Each must fail without revealing or touching anything
//! outside.

use crate::util::{Fixture, SECRET, assert_no_secret, call};
use serde_json::json;
use wasmgate::sandbox::CallError;

fn assert_refused(result: Result<wasmgate::sandbox::ToolOutput, CallError>) -> CallError {
    match result {
        Ok(output) => panic!("escape succeeded: {output:?}"),
        Err(error) => {
            assert_no_secret(&error.to_string());
            error
        }
    }
}

#[tokio::test]
async fn dot_dot_paths_are_outside_the_workspace() {
    let fx = Fixture::new();
    for path in ["../outside.txt", "sub/../../outside.txt", "./../outside.txt", ".."] {
        let error = assert_refused(call("read", json!({"filePath": path}), &fx.read_write()).await);
        assert!(matches!(error, CallError::OutsideWorkspace(_)), "{path}: {error:?}");
        assert!(error.to_string().contains("outside the workspace"), "{error}");
    }
    let error =
        assert_refused(call("write", json!({"filePath": "../outside.txt", "content": "x"}), &fx.read_write()).await);
    assert!(matches!(error, CallError::OutsideWorkspace(_)));
    fx.assert_outside_untouched();
}

#[tokio::test]
async fn absolute_paths_outside_are_refused_and_inside_accepted() {
    let fx = Fixture::new();
    fx.file("inside.txt", "inside\n");
    let outside = fx.outside.to_str().unwrap();
    for path in [outside, "/etc/hostname", "/"] {
        let error = assert_refused(call("read", json!({"filePath": path}), &fx.read_write()).await);
        assert!(matches!(error, CallError::OutsideWorkspace(_)), "{path}: {error:?}");
    }
    // A path that shares the root's prefix but is a sibling folder.
    let sibling = format!("{}-other/x", fx.ws.display());
    assert_refused(call("read", json!({"filePath": sibling}), &fx.read_write()).await);
    let inside = fx.ws.join("inside.txt");
    let read = call("read", json!({"filePath": inside.to_str().unwrap()}), &fx.read_write()).await.unwrap();
    assert!(read.output.contains("1: inside"), "{}", read.output);
}

#[tokio::test]
async fn a_host_symlink_to_a_file_outside_is_not_followed() {
    let fx = Fixture::new();
    std::os::unix::fs::symlink(&fx.outside, fx.ws.join("link.txt")).unwrap();
    let grant = fx.read_write();
    let error = assert_refused(call("read", json!({"filePath": "link.txt"}), &grant).await);
    assert!(matches!(error, CallError::OutsideWorkspace(_)), "{error:?}");
    assert_refused(call("write", json!({"filePath": "link.txt", "content": "pwned"}), &grant).await);
    assert_refused(
        call("edit", json!({"filePath": "link.txt", "oldString": SECRET, "newString": "pwned"}), &grant).await,
    );
    assert_refused(call("fs", json!({"op": "read", "path": "link.txt"}), &grant).await);
    assert_refused(call("fs", json!({"op": "append", "path": "link.txt"}), &grant).await);
    let typed = wasmgate_read_file(&grant, "link.txt").await;
    assert!(typed.is_err(), "read-file followed the link: {typed:?}");
    fx.assert_outside_untouched();
}

#[tokio::test]
async fn a_host_symlink_to_a_folder_outside_is_not_followed() {
    let fx = Fixture::new();
    std::os::unix::fs::symlink(fx.outside.parent().unwrap(), fx.ws.join("escape")).unwrap();
    let grant = fx.read_write();
    assert_refused(call("read", json!({"filePath": "escape/outside.txt"}), &grant).await);
    assert_refused(call("write", json!({"filePath": "escape/new.txt", "content": "x"}), &grant).await);
    assert_refused(call("list", json!({"path": "escape"}), &grant).await);
    assert_refused(call("fs", json!({"op": "list", "path": "escape"}), &grant).await);
    assert_refused(call("fs", json!({"op": "mkdir", "path": "escape/made"}), &grant).await);
    // Walks do not follow it either.
    let glob = call("glob", json!({"pattern": "**/*.txt"}), &grant).await.unwrap();
    assert_eq!(glob.output, "No files found");
    let list = call("list", json!({}), &grant).await.unwrap();
    assert!(!list.output.contains("outside.txt"), "{}", list.output);
    fx.assert_outside_untouched();
}

#[tokio::test]
async fn a_symlink_the_guest_creates_cannot_lead_out() {
    let fx = Fixture::new();
    let grant = fx.read_write();
    let absolute = fx.outside.to_str().unwrap().to_string();
    let mut created_any = false;
    for (link, target) in [("up", "../outside.txt"), ("abs", absolute.as_str()), ("deep", "a/../../../outside.txt")] {
        // WASI may refuse to create the link (it does for absolute targets);
        // where it allows it, following the link must fail.
        let created = call("fs", json!({"op": "symlink", "path": link, "to": target}), &grant).await.is_ok();
        created_any |= created;
        assert_refused(call("read", json!({"filePath": link}), &grant).await);
        assert_refused(call("fs", json!({"op": "read", "path": link}), &grant).await);
        let written = call("fs", json!({"op": "write", "path": link}), &grant).await;
        if created {
            assert_refused(written);
        } else {
            // No link: the write made an ordinary file inside the workspace.
            assert!(fx.ws.join(link).symlink_metadata().unwrap().is_file());
        }
    }
    assert!(created_any, "no link was created, so following one was never tried");
    fx.assert_outside_untouched();
}

#[tokio::test]
async fn raw_wasi_calls_cannot_leave_the_preopen() {
    let fx = Fixture::new();
    let grant = fx.read_write();
    let ws = fx.ws.to_str().unwrap();
    for path in [format!("{ws}/../outside.txt"), fx.outside.to_str().unwrap().into(), "/etc/passwd".into()] {
        assert_refused(call("fs", json!({"op": "read", "path": path}), &grant).await);
        assert_refused(call("fs", json!({"op": "write", "path": path}), &grant).await);
    }
    assert_refused(call("fs", json!({"op": "rename", "path": "x", "to": "../moved"}), &grant).await);
    assert_refused(call("fs", json!({"op": "list", "path": "/"}), &grant).await);
    assert_refused(call("fs", json!({"op": "remove-dir", "path": format!("{ws}/..")}), &grant).await);
    fx.assert_outside_untouched();
}

#[tokio::test]
async fn a_read_only_grant_refuses_every_change() {
    let fx = Fixture::new();
    fx.file("keep.txt", "original\n");
    fx.file("dir/inner.txt", "inner\n");
    let grant = fx.read_only();
    let refused = [
        call("write", json!({"filePath": "new.txt", "content": "x"}), &grant).await,
        call("write", json!({"filePath": "keep.txt", "content": "x"}), &grant).await,
        call("edit", json!({"filePath": "keep.txt", "oldString": "original", "newString": "changed"}), &grant).await,
        call("fs", json!({"op": "write", "path": "keep.txt"}), &grant).await,
        call("fs", json!({"op": "append", "path": "keep.txt"}), &grant).await,
        call("fs", json!({"op": "write", "path": "created.txt"}), &grant).await,
        call("fs", json!({"op": "rename", "path": "keep.txt", "to": "renamed.txt"}), &grant).await,
        call("fs", json!({"op": "remove", "path": "keep.txt"}), &grant).await,
        call("fs", json!({"op": "remove-dir", "path": "dir"}), &grant).await,
        call("fs", json!({"op": "mkdir", "path": "newdir"}), &grant).await,
        call("fs", json!({"op": "symlink", "path": "newlink", "to": "keep.txt"}), &grant).await,
    ];
    for (i, result) in refused.into_iter().enumerate() {
        assert!(result.is_err(), "change {i} succeeded under a read-only grant: {result:?}");
    }
    let error = call("write", json!({"filePath": "new.txt", "content": "x"}), &grant).await.unwrap_err();
    assert!(matches!(error, CallError::PermissionDenied(_)), "{error:?}");
    assert!(error.to_string().contains("read-only"), "{error}");
    let mut names: Vec<_> =
        std::fs::read_dir(&fx.ws).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["dir", "keep.txt"]);
    assert_eq!(std::fs::read_to_string(fx.ws.join("keep.txt")).unwrap(), "original\n");
    assert_eq!(std::fs::read_to_string(fx.ws.join("dir/inner.txt")).unwrap(), "inner\n");
    // Reads still work.
    let read = call("read", json!({"filePath": "keep.txt"}), &grant).await.unwrap();
    assert!(read.output.contains("1: original"));
}

#[tokio::test]
async fn one_workspace_cannot_reach_another() {
    let a = Fixture::new();
    let b = Fixture::new();
    b.file("b-only.txt", "b\n");
    let b_path = b.ws.join("b-only.txt");
    assert_refused(call("read", json!({"filePath": b_path.to_str().unwrap()}), &a.read_write()).await);
    assert_refused(call("fs", json!({"op": "read", "path": b_path.to_str().unwrap()}), &a.read_write()).await);
}

async fn wasmgate_read_file(
    grant: &wasmgate::sandbox::Grant,
    path: &str,
) -> Result<wasmgate::sandbox::FileContent, CallError> {
    crate::util::sandbox().read_file(grant, path).await
}

#[tokio::test]
async fn the_bulk_file_interface_reaches_no_further_than_the_preopen() {
    let fx = Fixture::new();
    fx.file("inside.txt", "inside\n");
    std::os::unix::fs::symlink(fx.outside.parent().unwrap(), fx.ws.join("escape")).unwrap();
    std::os::unix::fs::symlink(&fx.outside, fx.ws.join("link.txt")).unwrap();
    let grant = fx.read_write();
    let inside = call("fs", json!({"op": "bulk-read", "path": "inside.txt"}), &grant).await.unwrap();
    assert_eq!(inside.output, "inside\n");
    let listed = call("fs", json!({"op": "bulk-list", "path": "."}), &grant).await.unwrap();
    assert_eq!(listed.output.lines().count(), 3, "{}", listed.output);
    let outside = fx.outside.to_str().unwrap().to_string();
    let ws = fx.ws.to_str().unwrap().to_string();
    for path in [
        "../outside.txt",
        outside.as_str(),
        "escape/outside.txt",
        "link.txt",
        "/etc/passwd",
        &format!("{ws}/../outside.txt"),
    ] {
        assert_refused(call("fs", json!({"op": "bulk-read", "path": path}), &grant).await);
    }
    for path in ["..", "escape", "/", "../..", "escape/.."] {
        assert_refused(call("fs", json!({"op": "bulk-list", "path": path}), &grant).await);
    }
    fx.assert_outside_untouched();
}

#[tokio::test(flavor = "multi_thread")]
async fn fifos_and_devices_are_refused_not_waited_on() {
    // Opening a FIFO for reading blocks until a writer appears, in a host
    // syscall no deadline can interrupt: the tools must never open one.
    let fx = Fixture::new();
    fx.file("a.txt", "pipe dream\n");
    let fifo = fx.ws.join("pipe");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    std::os::unix::fs::symlink("/dev/zero", fx.ws.join("zero")).unwrap();
    let grant = fx.read_write();
    let started = std::time::Instant::now();
    for name in ["pipe", "zero"] {
        let read = call("read", json!({"filePath": name}), &grant).await.unwrap_err();
        assert!(
            read.to_string().contains("not a regular file") || matches!(read, CallError::OutsideWorkspace(_)),
            "{read}"
        );
        assert!(call("write", json!({"filePath": name, "content": "x"}), &grant).await.is_err());
        assert!(call("edit", json!({"filePath": name, "oldString": "a", "newString": "b"}), &grant).await.is_err());
        assert!(call("grep", json!({"pattern": "x", "path": name}), &grant).await.is_err());
        assert!(call("fs", json!({"op": "bulk-read", "path": name}), &grant).await.is_err());
        assert!(crate::util::sandbox().read_file(&grant, name).await.is_err());
    }
    let grep = call("grep", json!({"pattern": "dream"}), &grant).await.unwrap();
    assert_eq!(grep.metadata["matches"], 1);
    let list = call("list", json!({}), &grant).await.unwrap();
    assert!(!list.output.contains("pipe"), "{}", list.output);
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "took {:?}", started.elapsed());
}
