//! Undo and redo through the HTTP API: `POST /session/{id}/revert` puts back
//! every path the reverted turns changed (through the built-in tools and the
//! shell: writes, edits, moves, deletions, links, new folders), unrevert
//! brings the turns' work back, a new prompt makes the revert final, and the
//! session's diffs say what changed. The model and the host both try to
//! turn a revert into a write outside the workspace.

use crate::agent::{config, idle, prompt_body};
use crate::router::TestServer;
use crate::scripted_model::{Chunk, Reply, ScriptedModel, says};
use crate::util::Fixture;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// Every file, link and folder under `root` but git's own: path -> content,
/// `-> target` or `/`, plus `+x` on executables.
pub(crate) fn tree(root: &Path) -> BTreeMap<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let name = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if name == ".git" {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let shown = if meta.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                pending.push(path);
                "/".into()
            } else {
                let exec = if meta.permissions().mode() & 0o111 != 0 { " +x" } else { "" };
                format!("{}{exec}", std::fs::read_to_string(&path).unwrap())
            };
            found.insert(name, shown);
        }
    }
    found
}

fn user_ids(messages: &Value) -> Vec<String> {
    let messages = messages.as_array().unwrap();
    messages.iter().filter(|m| m["info"]["role"] == "user").map(|m| m["info"]["id"].as_str().unwrap().into()).collect()
}

/// A turn that calls `tool` with `input`, then says done.
fn calls(id: &'static str, tool: &'static str, input: Value) -> [Reply; 2] {
    [Reply::Stream(vec![Chunk::Call(id, tool, input)]), says("Done.")]
}

#[tokio::test]
async fn undo_puts_back_what_a_turn_changed_and_redo_brings_it_back() {
    let fixture = Fixture::new();
    fixture.file("keep.txt", "keep\n");
    fixture.file("src/lib.rs", "fn old() {}\n");
    fixture.file("old/a.txt", "A\n");
    fixture.file("old/deeper/b.txt", "B\n");
    fixture.file("doomed.txt", "bye\n");
    let tool = fixture.file("bin/tool.sh", "#!/bin/sh\n");
    std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut script = Vec::new();
    script.extend(calls("c1", "write", json!({ "filePath": "notes.md", "content": "first\n" })));
    script.push(Reply::Stream(vec![Chunk::Call(
        "c2",
        "edit",
        json!({ "filePath": "src/lib.rs", "oldString": "fn old() {}", "newString": "fn new() {}" }),
    )]));
    script.push(Reply::Stream(vec![Chunk::Call(
        "c3",
        "bash",
        json!({ "command": "mkdir -p gen/sub && echo made > gen/sub/new.txt && mv old moved && rm doomed.txt \
                  && ln -s keep.txt link && printf 'echo hi\\n' > run.sh && rm bin/tool.sh \
                  && echo second >> notes.md" }),
    )]));
    script.push(says("Second done."));
    let model = ScriptedModel::start(script).await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let events = server.events().await;
    let id = server.session().await;

    let (status, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("first")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let after_first = tree(&fixture.ws);
    let (status, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("second")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let after_second = tree(&fixture.ws);
    assert_eq!(after_second["moved/deeper/b.txt"], "B\n");
    assert_eq!(after_second["run.sh"], "echo hi\n");
    assert!(!after_second.contains_key("bin/tool.sh"));
    assert_eq!(after_first["bin/tool.sh"], "#!/bin/sh\n +x");
    assert_eq!(after_second["link"], "-> keep.txt");

    // The session's diff and the second turn's summary name what changed.
    let (_, diff) = server.get(&format!("/session/{id}/diff")).await;
    let files: Vec<&str> = diff.as_array().unwrap().iter().map(|d| d["file"].as_str().unwrap()).collect();
    for file in ["notes.md", "src/lib.rs", "gen/sub/new.txt", "old/a.txt", "moved/a.txt", "doomed.txt", "run.sh"] {
        assert!(files.contains(&file), "{file} missing from the session diff {files:?}");
    }
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let users = user_ids(&messages);
    let (_, turn) = server.get(&format!("/session/{id}/diff?messageID={}", users[1])).await;
    let lib = turn.as_array().unwrap().iter().find(|d| d["file"] == "src/lib.rs").expect("the edit is in the turn");
    assert_eq!(
        (lib["additions"].as_u64(), lib["deletions"].as_u64(), lib["status"].as_str()),
        (Some(1), Some(1), Some("modified"))
    );
    assert!(lib["patch"].as_str().unwrap().contains("+fn new() {}"));
    assert!(!turn.as_array().unwrap().iter().any(|d| d["file"] == "notes.md" && d["status"] == "added"));

    // Undo the second turn: every path is back as the first turn left it.
    let body = json!({ "messageID": users[1] }).to_string();
    let (status, session) = server.post(&format!("/session/{id}/revert"), &body).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["revert"]["messageID"], users[1]);
    assert!(session["revert"]["diff"].as_str().unwrap().contains("-fn new() {}"));
    assert_eq!(tree(&fixture.ws), after_first);
    assert!(
        events
            .all()
            .iter()
            .any(|e| e["type"] == "session.diff" && !e["properties"]["diff"].as_array().unwrap().is_empty())
    );
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    assert_eq!(user_ids(&messages).len(), 2, "reverted messages stay until the next prompt");

    // Redo, then undo again: exact both ways.
    let (status, session) = server.post(&format!("/session/{id}/unrevert"), "{}").await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert!(session["revert"].is_null());
    assert_eq!(tree(&fixture.ws), after_second);
    let (status, _) = server.post(&format!("/session/{id}/revert"), &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tree(&fixture.ws), after_first);

    // A new prompt makes it final: the second turn's messages go, the
    // files stay as reverted, and there is nothing left to redo.
    model.push([says("Third.")]);
    let (status, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("third")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    idle(&events, &id).await;
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let users_now = user_ids(&messages);
    assert_eq!(users_now.len(), 2);
    assert_eq!(users_now[0], users[0]);
    assert!(!users_now.contains(&users[1]));
    assert!(events.all().iter().any(|e| e["type"] == "message.removed" && e["properties"]["messageID"] == users[1]));
    let (_, session) = server.get(&format!("/session/{id}")).await;
    assert!(session["revert"].is_null());
    assert_eq!(tree(&fixture.ws), after_first);
    let (_, session) = server.post(&format!("/session/{id}/unrevert"), "{}").await;
    assert!(session["revert"].is_null());
    assert_eq!(tree(&fixture.ws), after_first);
    fixture.assert_outside_untouched();
}

#[tokio::test]
async fn a_revert_names_what_it_reverts_and_waits_for_the_session() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![Reply::Stream(vec![
        Chunk::Call("c1", "write", json!({ "filePath": "a.txt", "content": "a\n" })),
        Chunk::Pause(std::time::Duration::from_millis(1500)),
    ])])
    .await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let id = server.session().await;
    let (status, _) = server.post(&format!("/session/{id}/revert"), r#"{"messageID":"nope"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let unknown = r#"{"messageID":"msg_ffffffffffffAAAAAAAAAAAAAA"}"#;
    let (status, session) = server.post(&format!("/session/{id}/revert"), unknown).await;
    assert_eq!(status, StatusCode::OK, "a message the session lacks changes nothing, as in the reference");
    assert!(session["revert"].is_null(), "{session}");
    let (status, _) = server.post(&format!("/session/{id}/revert"), "{").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, _) = server.post(&format!("/session/{id}/prompt_async"), &prompt_body("go")).await;
    assert!(status.is_success());
    let mut user = None;
    for _ in 0..100 {
        let (_, messages) = server.get(&format!("/session/{id}/message")).await;
        if let Some(first) = user_ids(&messages).first() {
            user = Some(first.clone());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let body = json!({ "messageID": user.unwrap() }).to_string();
    let (status, error) = server.post(&format!("/session/{id}/revert"), &body).await;
    assert_eq!(status, StatusCode::CONFLICT, "a busy session is not reverted: {error}");
}

#[tokio::test]
async fn a_revert_never_follows_a_link_planted_out_of_the_workspace() {
    let fixture = Fixture::new();
    fixture.file("src/lib.rs", "fn old() {}\n");
    let mut script = Vec::new();
    // The model writes a new file in a new folder, edits one, then (in the
    // same turn) swaps the edited file's folder for a link to what lies
    // beside the workspace.
    script.push(Reply::Stream(vec![Chunk::Call(
        "c1",
        "write",
        json!({ "filePath": "deep/outside.txt", "content": "mine\n" }),
    )]));
    script.push(Reply::Stream(vec![Chunk::Call(
        "c2",
        "edit",
        json!({ "filePath": "src/lib.rs", "oldString": "old", "newString": "new" }),
    )]));
    script.push(Reply::Stream(vec![Chunk::Call("c3", "bash", json!({ "command": "rm -r src && ln -s .. src" }))]));
    script.push(says("Done."));
    let model = ScriptedModel::start(script).await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let events = server.events().await;
    let id = server.session().await;
    let (status, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("go")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    // Between the turn and the revert, something the journal never saw (a
    // host process, the user) swaps the new folder for a link out too.
    std::fs::remove_dir_all(fixture.ws.join("deep")).unwrap();
    std::os::unix::fs::symlink(fixture.ws.parent().unwrap(), fixture.ws.join("deep")).unwrap();

    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let body = json!({ "messageID": user_ids(&messages)[0] }).to_string();
    let (status, session) = server.post(&format!("/session/{id}/revert"), &body).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    // The model's link is gone and the folder it replaced is back; the
    // planted link was removed as a link, and nothing outside was deleted
    // or written through it.
    let now = tree(&fixture.ws);
    assert_eq!(now.get("src"), Some(&"/".to_string()), "{now:?}");
    assert_eq!(now.get("src/lib.rs"), Some(&"fn old() {}\n".to_string()));
    assert!(!now.contains_key("deep"), "{now:?}");
    fixture.assert_outside_untouched();
    // The file that now lay behind the planted link was refused, and said so.
    let toast = events.wait_for("a toast", |e| e["type"] == "tui.toast.show").await;
    assert!(toast["properties"]["message"].as_str().unwrap().contains("deep/outside.txt"), "{toast}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_step_that_runs_a_host_program_says_undo_cannot_see_it() {
    use std::sync::Arc;
    use wasmgate::conversation::changes::StepRecorder;
    use wasmgate::sandbox::{CallOptions, ChangeSink, CompileCache, Processes, Sandbox};
    use wasmgate::store::Kept;
    let fixture = Fixture::new();
    let sandbox = Sandbox::builder()
        .limits(crate::util::TEST_LIMITS)
        .cache(CompileCache::at(crate::util::cache_dir()))
        .processes(Processes::Trusted)
        .build()
        .await
        .unwrap();
    let recorder = Arc::new(StepRecorder::new("msg_1", "prt_1"));
    let options = CallOptions { changes: Some(recorder.clone() as Arc<dyn ChangeSink>), ..Default::default() };
    let script = json!({ "command": "echo a > seen.txt; sh -c 'echo b > unseen.txt'; /bin/sh -c true" });
    let output = sandbox.call_with("bash", &script.to_string(), &fixture.read_write(), options).await.unwrap();
    assert_eq!(output.metadata["exit"], 0, "{}", output.output);
    let (changes, _) = recorder.take();
    let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
    assert!(paths.contains(&"seen.txt"), "{paths:?}");
    assert!(!paths.contains(&"unseen.txt"), "a host program's writes are not seen: {paths:?}");
    let notes: Vec<&Kept> = changes.iter().filter(|c| c.path.is_empty()).map(|c| &c.kept).collect();
    assert_eq!(notes.len(), 1, "one note per program: {notes:?}");
    assert!(
        matches!(notes[0], Kept::Unkept { reason } if reason.contains("`sh` ran outside the sandbox")),
        "{notes:?}"
    );
}
