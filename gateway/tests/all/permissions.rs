//! Permission rules with the model as the attacker: commands hidden in
//! lists, pipes and substitutions, literal stars, rules in the order the
//! user wrote them, and symlinks the model made to walk past a path rule.

use crate::agent::{asked, config, prompt_body, prompt_in_background};
use crate::router::TestServer;
use crate::scripted_model::{Chunk, Reply, ScriptedModel, says};
use crate::util::Fixture;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

/// One scripted step that calls `tool` once per argument object.
fn calls(tool: &'static str, arguments: &[Value]) -> Reply {
    Reply::Stream(
        arguments
            .iter()
            .enumerate()
            .map(|(i, arguments)| Chunk::Call(Box::leak(format!("call_{i}").into_boxed_str()), tool, arguments.clone()))
            .collect(),
    )
}

/// The tool parts of the assistant's reply to the first prompt, in order.
async fn tool_parts(server: &TestServer, session: &str) -> Vec<Value> {
    let (_, messages) = server.get(&format!("/session/{session}/message")).await;
    messages[1]["parts"].as_array().unwrap().iter().filter(|p| p["type"] == "tool").cloned().collect()
}

#[tokio::test]
async fn a_denied_command_is_found_wherever_the_script_hides_it() {
    let fixture = Fixture::new();
    fixture.file("x", "keep");
    fixture.file("list", "x\n");
    let hidden = [
        "ls && rm x",
        "echo hi; rm x",
        "ls | rm x",
        "echo $(rm x)",
        "echo `rm x`",
        "(cd . && rm x)",
        "if true; then rm x; fi",
        "f() { rm x; }; f",
        "\"r\"m x",
        "\\rm x",
        "/bin/rm x",
        "nice -n 5 rm x",
        "rm *.txt",
        "rm * -f",
        "sh -c 'rm x'",
        "eval 'rm x'",
        "xargs rm < list",
        "find . -name x -exec rm {} \\;",
        "cat x && git push",
        "X=$(git push origin) true",
    ];
    let mut arguments: Vec<Value> = hidden.iter().map(|c| json!({ "command": c })).collect();
    arguments.push(json!({ "command": "ls && echo fine" }));
    let model = ScriptedModel::start(vec![calls("bash", &arguments), says("Done.")]).await;
    let rules = json!({ "permission": { "bash": { "*": "allow", "rm *": "deny", "git push *": "deny" } } });
    let server = TestServer::configured(&fixture.ws, &config(&model, rules));
    let events = server.events().await;
    let id = server.session().await;
    let (status, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("clean up")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let parts = tool_parts(&server, &id).await;
    assert_eq!(parts.len(), hidden.len() + 1);
    for (command, part) in hidden.iter().zip(&parts) {
        assert_eq!(part["state"]["status"], "error", "{command} ran: {part}");
        assert!(part["state"]["error"].as_str().unwrap().contains("forbids"), "{command}: {part}");
    }
    assert_eq!(parts.last().unwrap()["state"]["status"], "completed", "an innocent script runs");
    assert_eq!(std::fs::read_to_string(fixture.ws.join("x")).unwrap(), "keep");
    assert!(!events.all().iter().any(|e| e["type"] == "permission.asked"), "deny does not ask");
}

#[tokio::test]
async fn an_ask_rule_asks_about_each_command_as_the_reference_shows_it() {
    let fixture = Fixture::new();
    fixture.file("x", "keep");
    let model = ScriptedModel::start(vec![
        calls("bash", &[json!({ "command": "ls && rm x" })]),
        calls("bash", &[json!({ "command": "$CMD x" })]),
        says("Stopped."),
    ])
    .await;
    let rules = json!({ "permission": { "bash": { "*": "allow", "rm *": "ask" } } });
    let server = Arc::new(TestServer::configured(&fixture.ws, &config(&model, rules)));
    let events = server.events().await;
    let id = server.session().await;
    let running = prompt_in_background(&server, &id, prompt_body("tidy"));
    let request = asked(&events, 1).await;
    assert_eq!(request["properties"]["patterns"], json!(["ls", "rm x"]));
    assert_eq!(request["properties"]["always"], json!(["ls *", "rm *"]));
    let request_id = request["properties"]["id"].as_str().unwrap();
    server.post(&format!("/permission/{request_id}/reply"), r#"{"reply":"reject","message":"no"}"#).await;
    // A command whose name is computed is asked about even under allow-all.
    let request = asked(&events, 2).await;
    assert_eq!(request["properties"]["patterns"], json!(["$CMD x"]));
    let request_id = request["properties"]["id"].as_str().unwrap();
    server.post(&format!("/permission/{request_id}/reply"), r#"{"reply":"reject","message":"no"}"#).await;
    let (status, _) = running.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(std::fs::read_to_string(fixture.ws.join("x")).unwrap(), "keep");
}

#[tokio::test]
async fn rules_keep_the_order_they_were_written_in() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![calls("bash", &[json!({ "command": "ls" })]), says("Listed.")]).await;
    // The last matching rule wins as written: `*` comes last, so `ls` asks.
    let rules = json!({ "permission": { "bash": { "ls *": "allow", "*": "ask" } } });
    let server = Arc::new(TestServer::configured(&fixture.ws, &config(&model, rules)));
    let (_, served) = server.get("/config").await;
    let order: Vec<&String> = served["permission"]["bash"].as_object().unwrap().keys().collect();
    assert_eq!(order, ["ls *", "*"], "GET /config keeps the order");
    let (_, agents) = server.get("/agent").await;
    let build = agents.as_array().unwrap().iter().find(|a| a["name"] == "build").unwrap();
    let patterns: Vec<&str> = build["permission"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["permission"] == "bash")
        .map(|r| r["pattern"].as_str().unwrap())
        .collect();
    assert_eq!(patterns, ["ls *", "*"], "GET /agent keeps the order");
    let events = server.events().await;
    let id = server.session().await;
    let running = prompt_in_background(&server, &id, prompt_body("list"));
    let request = asked(&events, 1).await;
    assert_eq!(request["properties"]["patterns"], json!(["ls"]));
    let request_id = request["properties"]["id"].as_str().unwrap();
    server.post(&format!("/permission/{request_id}/reply"), r#"{"reply":"once"}"#).await;
    assert_eq!(running.await.unwrap().0, StatusCode::OK);
}

#[tokio::test]
async fn allow_all_allows_a_glob_of_stars() {
    let fixture = Fixture::new();
    fixture.file("a/b.txt", "b");
    let model = ScriptedModel::start(vec![calls("glob", &[json!({ "pattern": "**/*" })]), says("Found.")]).await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({ "permission": "allow" })));
    let events = server.events().await;
    let id = server.session().await;
    server.post(&format!("/session/{id}/message"), &prompt_body("find")).await;
    assert_eq!(tool_parts(&server, &id).await[0]["state"]["status"], "completed");
    assert!(!events.all().iter().any(|e| e["type"] == "permission.asked"));
}

#[tokio::test]
async fn a_symlink_does_not_walk_past_a_path_rule() {
    let fixture = Fixture::new();
    fixture.file("secrets/key.txt", "KEY");
    fixture.file("notes.txt", "notes");
    let model = ScriptedModel::start(vec![
        // The model makes its own way in first.
        calls("bash", &[json!({ "command": "ln -s secrets s2 && ln -s secrets/key.txt k" })]),
        calls(
            "read",
            &[json!({ "filePath": "s2/key.txt" }), json!({ "filePath": "k" }), json!({ "filePath": "notes.txt" })],
        ),
        calls(
            "write",
            &[json!({ "filePath": "s2/new.txt", "content": "x" }), json!({ "filePath": "k", "content": "x" })],
        ),
        calls("edit", &[json!({ "filePath": "s2/key.txt", "oldString": "KEY", "newString": "OWNED" })]),
        says("Done."),
    ])
    .await;
    let rules = json!({ "permission": {
        "read": { "*": "allow", "secrets/*": "deny" },
        "edit": { "*": "allow", "secrets/*": "deny" },
        "bash": "allow",
    } });
    let server = TestServer::configured(&fixture.ws, &config(&model, rules));
    let id = server.session().await;
    server.post(&format!("/session/{id}/message"), &prompt_body("read the key")).await;
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    // Each step is an assistant message of its own.
    let statuses: Vec<(String, String)> = messages.as_array().unwrap()[1..]
        .iter()
        .flat_map(|m| m["parts"].as_array().unwrap().iter())
        .filter(|p| p["type"] == "tool")
        .map(|p| (p["tool"].as_str().unwrap().to_string(), p["state"]["status"].as_str().unwrap().to_string()))
        .collect();
    let expected = [
        ("bash", "completed"),
        ("read", "error"),
        ("read", "error"),
        ("read", "completed"),
        ("write", "error"),
        ("write", "error"),
        ("edit", "error"),
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(t, s)| (t.to_string(), s.to_string())).collect();
    assert_eq!(statuses, expected);
    assert_eq!(std::fs::read_to_string(fixture.ws.join("secrets/key.txt")).unwrap(), "KEY");
    assert!(!fixture.ws.join("secrets/new.txt").exists());
}
