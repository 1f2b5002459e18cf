//! A folder that changes between two requests: renamed, swapped for a
//! symlink that leads out, flipped back and forth while requests arrive, or
//! named a thousand ways. The boundary is the served root's handle, so none
//! of it may reach outside, and none of it may exhaust the host.

use crate::router::TestServer as Server;
use crate::served::Served;
use crate::util::{Fixture, SECRET, call, encode};
use axum::http::StatusCode;
use serde_json::json;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Replaces the folder `ws/name` with a symlink to `target`, keeping the
/// folder as `ws/name.old`.
fn swap_for_link(ws: &Path, name: &str, target: &str) {
    std::fs::rename(ws.join(name), ws.join(format!("{name}.old"))).unwrap();
    symlink(target, ws.join(name)).unwrap();
}

#[tokio::test]
async fn a_folder_swapped_for_a_symlink_is_judged_again_at_the_next_request() {
    let fixture = Fixture::new();
    fixture.file("sub/in.txt", "inside");
    fixture.file("sub2/in.txt", "inside");
    let server = Server::new(&fixture.ws, None);
    let sub = fixture.ws.join("sub").display().to_string();
    let content = |directory: &str, path: &str| format!("/file/content?path={path}&directory={}", encode(directory));
    let (status, file) = server.get(&content(&sub, "in.txt")).await;
    assert_eq!((status, file["content"].as_str()), (StatusCode::OK, Some("inside")));

    // Relative and absolute links out, each after the name was served once.
    swap_for_link(&fixture.ws, "sub", "..");
    let parent = fixture.outside.parent().unwrap().display().to_string();
    swap_for_link(&fixture.ws, "sub2", &parent);
    let sub2 = fixture.ws.join("sub2").display().to_string();
    for directory in [&sub, &sub2, &format!("{sub}/."), &format!("{sub2}/")] {
        for uri in [
            content(directory, "outside.txt"),
            content(directory, "in.txt"),
            format!("/file?path=.&directory={}", encode(directory)),
            format!("/find?pattern=SECRET&directory={}", encode(directory)),
        ] {
            let (status, body) = server.get(&uri).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{uri}: {body}");
        }
        let (status, _) = server.post(&format!("/session?directory={}", encode(directory)), "{}").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    // Symlinks in a loop, and a name longer than the system takes: not found.
    symlink("loop2", fixture.ws.join("loop1")).unwrap();
    symlink("loop1", fixture.ws.join("loop2")).unwrap();
    let long = format!("{}/{}", fixture.ws.display(), "x".repeat(5000));
    for directory in [fixture.ws.join("loop1").display().to_string(), long] {
        let (status, body) = server.get(&content(&directory, "in.txt")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
    // A link that stays inside the root is served: it names a folder there.
    symlink("sub.old", fixture.ws.join("inner")).unwrap();
    let (status, file) = server.get(&content(&fixture.ws.join("inner").display().to_string(), "in.txt")).await;
    assert_eq!((status, file["content"].as_str()), (StatusCode::OK, Some("inside")));
    fixture.assert_outside_untouched();
}

#[tokio::test]
async fn a_session_in_a_subfolder_cannot_follow_it_out_when_another_session_swaps_it() {
    let fixture = Fixture::new();
    fixture.file("sub/in.txt", "inside");
    let server = Server::new(&fixture.ws, None);
    let root_session = server.session().await;
    let sub = fixture.ws.join("sub").display().to_string();
    let (_, session) = server.post(&format!("/session?directory={}", encode(&sub)), "{}").await;
    let in_sub = session["id"].as_str().unwrap().to_string();
    let shell = |session: &str, command: &str| {
        (format!("/session/{session}/shell"), json!({ "agent": "build", "command": command }).to_string())
    };
    let (uri, body) = shell(&in_sub, "cat in.txt");
    let (status, reply) = server.post(&uri, &body).await;
    assert_eq!((status, reply["parts"][0]["state"]["output"].as_str()), (StatusCode::OK, Some("inside")));

    // The other session, sandboxed at the root, swaps the folder itself.
    let (uri, body) = shell(&root_session, "mv sub moved && ln -s .. sub && ls -la");
    let (status, reply) = server.post(&uri, &body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert!(fixture.ws.join("sub").is_symlink(), "the guest made the link: {reply}");

    for command in ["cat outside.txt", "ls", "echo leak > planted.txt", "rm outside.txt"] {
        let (uri, body) = shell(&in_sub, command);
        let (status, reply) = server.post(&uri, &body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{command}: {reply}");
    }
    let (status, _) = server.get(&format!("/file/content?path=outside.txt&directory={}", encode(&sub))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    fixture.assert_outside_untouched();

    // Pointed at a folder inside the root, the name serves that folder.
    std::fs::remove_file(fixture.ws.join("sub")).unwrap();
    symlink("moved", fixture.ws.join("sub")).unwrap();
    let (uri, body) = shell(&in_sub, "cat in.txt");
    let (status, reply) = server.post(&uri, &body).await;
    assert_eq!((status, reply["parts"][0]["state"]["output"].as_str()), (StatusCode::OK, Some("inside")));
}

#[tokio::test]
async fn a_grant_keeps_its_folder_when_the_name_is_swapped_during_a_call_sequence() {
    let fixture = Fixture::new();
    fixture.file("sub/in.txt", "inside");
    let grant = wasmgate::sandbox::Grant::read_write(fixture.ws.join("sub")).unwrap();
    swap_for_link(&fixture.ws, "sub", "..");
    // The grant is the folder it opened, now `sub.old`: not what `sub` names.
    let read = call("read", json!({"filePath": "in.txt"}), &grant).await.unwrap();
    assert!(read.output.contains("inside"), "{}", read.output);
    assert!(call("read", json!({"filePath": "outside.txt"}), &grant).await.is_err());
    let listed = call("bash", json!({"command": "ls; cat outside.txt; echo x > new.txt"}), &grant).await.unwrap();
    assert!(!listed.output.contains(SECRET) && !listed.output.contains("ws"), "{}", listed.output);
    assert!(fixture.ws.join("sub.old/new.txt").exists());
    fixture.assert_outside_untouched();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_flipping_between_a_directory_and_a_link_never_leaks() {
    let fixture = Fixture::new();
    fixture.file("flip/in.txt", "inside");
    let server = Server::new(&fixture.ws, None);
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let (ws, stop) = (fixture.ws.clone(), stop.clone());
        std::thread::spawn(move || {
            let (folder, kept, link) = (ws.join("flip"), ws.join("flip.dir"), ws.join("flip.link"));
            symlink("..", &link).unwrap();
            while !stop.load(Ordering::Relaxed) {
                // Atomic swaps: the name is always either the folder or the link.
                std::fs::rename(&folder, &kept).unwrap();
                std::fs::rename(&link, &folder).unwrap();
                std::thread::sleep(std::time::Duration::from_micros(300));
                std::fs::rename(&folder, &link).unwrap();
                std::fs::rename(&kept, &folder).unwrap();
                std::thread::sleep(std::time::Duration::from_micros(300));
            }
        })
    };
    let ws = fixture.ws.display().to_string();
    let mut served = 0;
    for round in 0..600 {
        // A fresh spelling every time, as the attack used.
        let directory = format!("{ws}/{}flip{}", "./".repeat(round % 7), "/.".repeat(round / 7 % 5));
        let path = if round % 2 == 0 { "outside.txt" } else { "in.txt" };
        let (status, body) = server.get(&format!("/file/content?path={path}&directory={}", encode(&directory))).await;
        assert!(!body.to_string().contains(SECRET));
        match status {
            // A missing file reads as empty, as in the reference.
            StatusCode::OK if path == "outside.txt" => assert_eq!(body["content"], "", "{directory}"),
            StatusCode::OK => {
                assert_eq!(body["content"], "inside", "{directory}");
                served += 1;
            }
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {}
            other => panic!("{directory}: {other} {body}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    flipper.join().unwrap();
    assert!(served > 0, "the folder was served while it was a folder");
    fixture.assert_outside_untouched();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_spellings_of_a_folder_cost_one_handle_and_never_the_default_workspace() {
    // The server runs with few descriptors: one handle per spelling would
    // exhaust them within a few hundred requests.
    let fixture = Fixture::new();
    fixture.file("a.txt", "root file");
    fixture.file("sub/b.txt", "sub file");
    let server = Served::start_with_limit(&fixture.ws, 192);
    let sub = fixture.ws.join("sub").display().to_string();
    for round in 1..=1000 {
        let spelling = format!("{sub}{}", "/.".repeat(round));
        let (status, body) = server.get(&format!("/file/content?path=b.txt&directory={}", encode(&spelling))).await;
        assert_eq!((status, body["content"].as_str()), (200, Some("sub file")), "spelling {round}");
    }
    let (status, body) = server.get("/file/content?path=a.txt").await;
    assert_eq!((status, body["content"].as_str()), (200, Some("root file")));
}
