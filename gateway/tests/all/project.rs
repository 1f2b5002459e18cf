//! How the project of a folder is found: from `.git` entries beneath the
//! served root only, reading small regular files only. The guest can plant
//! anything in `.git`; the host must not follow it anywhere.

use crate::router::TestServer as Server;
use crate::served::Served;
use crate::util::{Fixture, SECRET, encode};
use axum::http::StatusCode;
use std::os::unix::fs::symlink;

fn mkfifo(path: &std::path::Path) {
    assert!(std::process::Command::new("mkfifo").arg(path).status().unwrap().success());
}

#[tokio::test]
async fn symlinks_planted_in_git_metadata_are_not_followed() {
    let fixture = Fixture::new();
    for repo in [".", "sub"] {
        let git = fixture.ws.join(repo).join(".git");
        std::fs::create_dir_all(&git).unwrap();
        symlink(&fixture.outside, git.join("opencode")).unwrap();
        symlink(&fixture.outside, git.join("HEAD")).unwrap();
    }
    // The root's metadata is read at start, the subfolder's on first use.
    let server = Server::new(&fixture.ws, None);
    let sub = fixture.ws.join("sub").display().to_string();
    for uri in ["/project/current".to_string(), format!("/project/current?directory={}", encode(&sub))] {
        let (status, project) = server.get(&uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        let id = project["id"].as_str().unwrap();
        assert!(!id.contains(SECRET) && id.len() == 40, "{uri}: {id}");
        assert_eq!(project["vcs"], "git");
    }
    let (_, session) = server.post("/session", "{}").await;
    assert!(!session.to_string().contains(SECRET));
    fixture.assert_outside_untouched();
}

#[tokio::test]
async fn a_project_id_is_taken_from_a_small_regular_file_only() {
    let fixture = Fixture::new();
    std::fs::create_dir_all(fixture.ws.join(".git")).unwrap();
    std::fs::write(fixture.ws.join(".git/opencode"), "0123abcd\n").unwrap();
    std::fs::write(fixture.ws.join(".git/HEAD"), "ref: refs/heads/trunk\n").unwrap();
    std::fs::create_dir_all(fixture.ws.join("big/.git")).unwrap();
    std::fs::write(fixture.ws.join("big/.git/opencode"), "a".repeat(1 << 20)).unwrap();
    let server = Server::new(&fixture.ws, None);
    let (_, project) = server.get("/project/current").await;
    assert_eq!(project["id"], "0123abcd", "the reference's cached id is reused");
    let (_, vcs) = server.get("/vcs").await;
    assert_eq!(vcs["branch"], "trunk");
    let big = fixture.ws.join("big").display().to_string();
    let (_, project) = server.get(&format!("/project/current?directory={}", encode(&big))).await;
    assert_eq!(project["id"].as_str().unwrap().len(), 40, "an oversized id file is ignored: {project}");
}

#[tokio::test(flavor = "multi_thread")]
async fn devices_and_fifos_in_git_metadata_do_not_stop_the_server() {
    let fixture = Fixture::new();
    std::fs::create_dir_all(fixture.ws.join(".git")).unwrap();
    symlink("/dev/zero", fixture.ws.join(".git/opencode")).unwrap();
    mkfifo(&fixture.ws.join(".git/HEAD"));
    std::fs::create_dir_all(fixture.ws.join("sub/.git")).unwrap();
    mkfifo(&fixture.ws.join("sub/.git/opencode"));
    symlink("/dev/urandom", fixture.ws.join("sub/.git/HEAD")).unwrap();
    let server = Served::try_start(&fixture.ws, None, &[]).expect("serve starts whatever .git holds");
    let (status, project) = server.get("/project/current").await;
    assert_eq!(status, 200, "{project}");
    assert_eq!(project["id"].as_str().unwrap().len(), 40);
    let sub = fixture.ws.join("sub").display().to_string();
    let (status, project) = server.get(&format!("/project/current?directory={}", encode(&sub))).await;
    assert_eq!(status, 200, "{project}");
}

#[tokio::test]
async fn discovery_never_looks_above_the_served_folder() {
    let fixture = Fixture::new();
    let above = fixture.outside.parent().unwrap().join(".git");
    std::fs::create_dir_all(&above).unwrap();
    std::fs::write(above.join("opencode"), "idfromabove").unwrap();
    let server = Server::new(&fixture.ws, None);
    let (_, project) = server.get("/project/current").await;
    assert_eq!(project["id"], "global", "{project}");
    assert_eq!(project["worktree"], fixture.ws.display().to_string());
}
