//! `GET /vcs/diff` and `/vcs/status`: the working tree against git, checked
//! against `git` itself (its counts, and its `git apply` taking every patch),
//! and a repository that points out of the workspace read as no repository.

use crate::router::TestServer as Server;
use crate::util::{Fixture, SECRET};
use axum::http::StatusCode;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A repository of a few commits, packed, then changed in every way a
/// working tree changes.
fn changed_repository(fixture: &Fixture) {
    let ws = &fixture.ws;
    git(ws, &["init", "-q"]);
    let long: String = (0..100).map(|i| format!("line {i}\n")).collect();
    fixture.file("src/long.txt", &long);
    fixture.file("gone.txt", "bye\n");
    fixture.file("same.txt", "same\n");
    fixture.file(".gitignore", "*.log\n");
    std::fs::write(ws.join("image.bin"), [0u8, 1, 2, 3]).unwrap();
    git(ws, &["add", "-A"]);
    git(ws, &["commit", "-q", "-m", "one"]);
    fixture.file("src/long.txt", &long.replace("line 50\n", "line fifty\nline 50.5\n"));
    git(ws, &["commit", "-q", "-am", "two"]);
    git(ws, &["gc", "-q", "--aggressive"]);

    fixture.file("src/long.txt", &long.replace("line 10\n", "").replace("line 90\n", "line ninety\n"));
    std::fs::remove_file(ws.join("gone.txt")).unwrap();
    fixture.file("new/untracked.txt", "a\nb\nc\n");
    fixture.file("staged.txt", "staged\n");
    git(ws, &["add", "staged.txt"]);
    fixture.file("noise.log", "ignored\n");
    std::fs::write(ws.join("image.bin"), [0u8, 9, 9]).unwrap();
    fixture.file("no-newline.txt", "no newline");
}

/// What git says changed against `base`: path -> (status, additions, deletions).
fn gits_view(ws: &Path, base: &str) -> BTreeMap<String, (String, u64, u64)> {
    let mut view = BTreeMap::new();
    git(ws, &["add", "-N", "."]);
    for line in git(ws, &["diff", base, "--numstat"]).lines() {
        let parts: Vec<&str> = line.split('\t').collect();
        let count = |s: &str| s.parse().unwrap_or(0);
        view.insert(parts[2].to_string(), (String::new(), count(parts[0]), count(parts[1])));
    }
    for line in git(ws, &["diff", base, "--name-status"]).lines() {
        let (code, path) = line.split_once('\t').unwrap();
        let status = match code {
            "A" => "added",
            "D" => "deleted",
            _ => "modified",
        };
        view.get_mut(path).unwrap().0 = status.to_string();
    }
    git(ws, &["reset", "-q"]);
    git(ws, &["add", "staged.txt"]);
    view
}

fn ours(list: &Value) -> BTreeMap<String, (String, u64, u64)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let key = c["file"].as_str().unwrap().to_string();
            (
                key,
                (
                    c["status"].as_str().unwrap().into(),
                    c["additions"].as_u64().unwrap(),
                    c["deletions"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

/// Applies every text patch of `list` to a fresh clone of `HEAD` and
/// checks the clone then holds what the workspace holds.
fn patches_apply(ws: &Path, list: &Value) {
    let clone = tempfile::tempdir().unwrap();
    git(clone.path(), &["clone", "-q", ws.to_str().unwrap(), "c"]);
    let clone = clone.path().join("c");
    for change in list.as_array().unwrap() {
        let (file, patch) = (change["file"].as_str().unwrap(), change["patch"].as_str().unwrap());
        assert!(patch.starts_with(&format!("diff --git a/{file} b/{file}\n")), "{patch}");
        if patch.contains("Binary files") {
            continue;
        }
        std::fs::write(clone.join("p.diff"), patch).unwrap();
        git(&clone, &["apply", "p.diff"]);
        std::fs::remove_file(clone.join("p.diff")).unwrap();
        let expected = std::fs::read(ws.join(file)).ok();
        assert_eq!(std::fs::read(clone.join(file)).ok(), expected, "{file} after its patch:\n{patch}");
    }
}

#[tokio::test]
async fn the_working_tree_against_head_is_what_git_reports() {
    let fixture = Fixture::new();
    changed_repository(&fixture);
    let server = Server::new(&fixture.ws, None);
    let (status, list) = server.get("/vcs/diff?mode=git").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(ours(&list), gits_view(&fixture.ws, "HEAD"), "{list:#}");
    let files: Vec<&str> = list.as_array().unwrap().iter().map(|c| c["file"].as_str().unwrap()).collect();
    assert!(files.is_sorted(), "{files:?}");
    assert!(!files.contains(&"noise.log") && !files.contains(&"same.txt"));
    patches_apply(&fixture.ws, &list);
    let long = list.as_array().unwrap().iter().find(|c| c["file"] == "src/long.txt").unwrap();
    assert!(long["patch"].as_str().unwrap().contains(" line 0\n"), "the whole file is context by default");

    let (_, narrow) = server.get("/vcs/diff?mode=git&context=1").await;
    let narrow_long = narrow.as_array().unwrap().iter().find(|c| c["file"] == "src/long.txt").unwrap();
    assert!(!narrow_long["patch"].as_str().unwrap().contains(" line 0\n"));
    patches_apply(&fixture.ws, &narrow);

    let (status, statuses) = server.get("/vcs/status").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ours(&statuses), ours(&list));
    assert!(statuses[0].get("patch").is_none(), "{statuses}");

    // The raw patch: every text change with git's context, in one piece
    // `git apply` takes (the binary file's change is named, not carried).
    let (status, raw) = server.get("/vcs/diff/raw").await;
    assert_eq!(status, StatusCode::OK);
    let raw = raw.as_str().expect("a text/x-diff body").to_string();
    assert!(raw.contains("Binary files a/image.bin and b/image.bin differ"), "{raw}");
    assert!(!raw.contains(" line 0\n"), "three lines of context, not the whole file");
    let clone = tempfile::tempdir().unwrap();
    git(clone.path(), &["clone", "-q", fixture.ws.to_str().unwrap(), "c"]);
    let clone = clone.path().join("c");
    std::fs::write(clone.join("../raw.diff"), &raw).unwrap();
    git(&clone, &["apply", "--exclude=image.bin", "../raw.diff"]);
    for file in ["src/long.txt", "new/untracked.txt", "staged.txt", "no-newline.txt"] {
        assert_eq!(std::fs::read(clone.join(file)).ok(), std::fs::read(fixture.ws.join(file)).ok(), "{file}");
    }
    assert!(!clone.join("gone.txt").exists());
}

#[tokio::test]
async fn branch_mode_diffs_against_where_the_branch_left_the_default() {
    let fixture = Fixture::new();
    changed_repository(&fixture);
    let server = Server::new(&fixture.ws, None);
    let (_, on_main) = server.get("/vcs/diff?mode=branch").await;
    assert_eq!(on_main, serde_json::json!([]), "nothing while the default branch is checked out");

    git(&fixture.ws, &["stash", "-u", "-q"]);
    git(&fixture.ws, &["checkout", "-q", "-b", "feature", "HEAD~1"]);
    git(&fixture.ws, &["stash", "pop", "-q"]);
    fixture.file("feature.txt", "feature\n");
    git(&fixture.ws, &["add", "feature.txt"]);
    git(&fixture.ws, &["commit", "-q", "-m", "feature"]);
    let base = git(&fixture.ws, &["merge-base", "main", "feature"]);
    let (status, list) = server.get("/vcs/diff?mode=branch").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(ours(&list), gits_view(&fixture.ws, base.trim()), "{list:#}");
    assert!(list.as_array().unwrap().iter().any(|c| c["file"] == "feature.txt"));
}

#[tokio::test]
async fn a_folder_that_is_no_repository_has_no_changes_and_a_bad_mode_is_refused() {
    let fixture = Fixture::new();
    fixture.file("a.txt", "a\n");
    let server = Server::new(&fixture.ws, None);
    assert_eq!(server.get("/vcs/diff?mode=git").await, (StatusCode::OK, serde_json::json!([])));
    let (status, error) = server.get("/vcs/diff?mode=sideways").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let (status, _) = server.get("/vcs/diff").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// A repository beside the workspace whose only commit holds the secret.
fn outside_repository(fixture: &Fixture) -> std::path::PathBuf {
    let other = fixture.outside.parent().unwrap().join("other");
    std::fs::create_dir(&other).unwrap();
    git(&other, &["init", "-q"]);
    std::fs::write(other.join("secret.txt"), SECRET).unwrap();
    git(&other, &["add", "-A"]);
    git(&other, &["commit", "-q", "-m", "secret"]);
    other
}

#[tokio::test]
async fn a_repository_that_points_out_of_the_workspace_is_not_read() {
    let fixture = Fixture::new();
    let other = outside_repository(&fixture);
    let server = Server::new(&fixture.ws, None);
    // A `.git` file naming the other repository, by relative and absolute path.
    for gitdir in ["../other/.git".to_string(), other.join(".git").display().to_string()] {
        std::fs::write(fixture.ws.join(".git"), format!("gitdir: {gitdir}\n")).unwrap();
        let (status, list) = server.get("/vcs/diff?mode=git").await;
        assert!(!list.to_string().contains(SECRET), "{gitdir}: {list}");
        assert_eq!((status, list), (StatusCode::OK, serde_json::json!([])), "{gitdir}");
    }
    // `.git` itself a link to it.
    std::fs::remove_file(fixture.ws.join(".git")).unwrap();
    std::os::unix::fs::symlink(other.join(".git"), fixture.ws.join(".git")).unwrap();
    let (_, list) = server.get("/vcs/diff?mode=git").await;
    assert_eq!(list, serde_json::json!([]));
    // A repository of its own whose objects live in the other one's store.
    std::fs::remove_file(fixture.ws.join(".git")).unwrap();
    git(&fixture.ws, &["init", "-q"]);
    std::fs::write(
        fixture.ws.join(".git/objects/info/alternates"),
        format!("{}\n", other.join(".git/objects").display()),
    )
    .unwrap();
    let head = git(&other, &["rev-parse", "HEAD"]);
    git(&fixture.ws, &["update-ref", "refs/heads/main", head.trim()]);
    let (status, list) = server.get("/vcs/diff?mode=git").await;
    assert!(!list.to_string().contains(SECRET), "{list}");
    assert_ne!(status, StatusCode::OK, "the commit is out of reach, so the diff fails: {list}");
    assert!(list["data"]["message"].as_str().unwrap().contains("is missing"), "{list}");
}
