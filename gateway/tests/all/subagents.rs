//! Subagents through the HTTP API: the model's `task` call runs a subagent
//! in a child session with its own narrower rules, its answer comes back in
//! the parent's tool part, the `task` permission applies, and aborting the
//! parent aborts the child.

use crate::agent::{config, prompt_body};
use crate::router::TestServer;
use crate::scripted_model::{Chunk, Reply, ScriptedModel, says};
use crate::util::Fixture;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

fn task(agent: &str, prompt: &str) -> Reply {
    Reply::Stream(vec![Chunk::Call(
        "call_task",
        "task",
        json!({ "description": "Look around", "prompt": prompt, "subagent_type": agent }),
    )])
}

fn tool_part(messages: &Value, call: &str) -> Value {
    messages
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["parts"].as_array().unwrap().clone())
        .find(|p| p["callID"] == call)
        .unwrap_or_else(|| panic!("no part for {call}: {messages}"))
}

fn offered(model: &ScriptedModel, n: usize) -> Vec<String> {
    model.requests()[n]["tools"]
        .as_array()
        .map(|tools| tools.iter().map(|t| t["function"]["name"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_task_runs_in_a_child_session_under_the_subagents_rules() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![
        task("explore", "Find where the answer is."),
        Reply::Stream(vec![Chunk::Call("call_write", "bash", json!({ "command": "echo x > written-by-explore.txt" }))]),
        says("The answer is in src."),
        says("The subagent says: src."),
    ])
    .await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({ "permission": { "*": "allow" } })));
    let parent = server.session().await;
    let (status, reply) = server.post(&format!("/session/{parent}/message"), &prompt_body("where?")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    assert!(offered(&model, 0).contains(&"task".to_string()), "{:?}", offered(&model, 0));
    let child_tools = offered(&model, 1);
    assert!(!child_tools.contains(&"task".to_string()) && !child_tools.contains(&"todowrite".to_string()));
    let child_prompt = model.requests()[1]["messages"].as_array().unwrap().last().unwrap()["content"].clone();
    assert_eq!(child_prompt, "Find where the answer is.");
    assert!(!fixture.ws.join("written-by-explore.txt").exists(), "explore reads only");

    let (_, children) = server.get(&format!("/session/{parent}/children")).await;
    let children = children.as_array().unwrap();
    assert_eq!(children.len(), 1);
    let child = children[0]["id"].as_str().unwrap();
    assert_eq!(children[0]["parentID"], parent);
    assert_eq!(children[0]["title"], "Look around (@explore subagent)");
    let (_, child_messages) = server.get(&format!("/session/{child}/message")).await;
    assert_eq!(child_messages[0]["info"]["agent"], "explore");
    let write = tool_part(&child_messages, "call_write");
    assert_eq!(write["state"]["status"], "completed");
    assert_ne!(write["state"]["metadata"]["exit"], 0, "the write failed in the sandbox: {write}");

    let (_, messages) = server.get(&format!("/session/{parent}/message")).await;
    let part = tool_part(&messages, "call_task");
    assert_eq!(part["state"]["status"], "completed", "{part}");
    assert_eq!(part["state"]["metadata"]["sessionId"], child);
    assert_eq!(part["state"]["metadata"]["summary"][0]["tool"], "bash");
    let output = part["state"]["output"].as_str().unwrap();
    assert!(
        output.contains("<task_result>\nThe answer is in src.\n</task_result>") && output.contains(child),
        "{output}"
    );
}

#[tokio::test]
async fn an_unknown_or_primary_subagent_and_a_denied_task_are_refused() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![
        task("nobody", "x"),
        says("Hm."),
        task("build", "x"),
        says("Hm."),
        task("general", "x"),
        says("Denied."),
    ])
    .await;
    let rules = json!({ "permission": { "task": { "*": "allow", "general": "deny" } } });
    let server = TestServer::configured(&fixture.ws, &config(&model, rules));
    let id = server.session().await;
    for _ in 0..3 {
        server.post(&format!("/session/{id}/message"), &prompt_body("go")).await;
    }
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let errors: Vec<String> = messages
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["parts"].as_array().unwrap().clone())
        .filter(|p| p["callID"] == "call_task")
        .map(|p| p["state"]["error"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].contains("no subagent named \"nobody\"") && errors[0].contains("explore"), "{}", errors[0]);
    assert!(errors[1].contains("no subagent named \"build\""), "{}", errors[1]);
    assert!(errors[2].contains("permission rule forbids"), "{}", errors[2]);
    let (_, children) = server.get(&format!("/session/{id}/children")).await;
    assert_eq!(children, json!([]), "no child session was made");
    let task =
        model.requests()[0]["tools"].as_array().unwrap().iter().find(|t| t["function"]["name"] == "task").cloned();
    let described = task.unwrap()["function"]["description"].as_str().unwrap().to_string();
    assert!(described.contains("- explore:") && !described.contains("- general:"), "a denied subagent is not offered");
}

#[tokio::test]
async fn aborting_the_parent_aborts_the_subagent() {
    let fixture = Fixture::new();
    let slow = Reply::Stream(vec![Chunk::Text("working"), Chunk::Pause(Duration::from_secs(30)), Chunk::Text("done")]);
    let model = ScriptedModel::start(vec![task("general", "Take your time."), slow]).await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let events = server.events().await;
    let parent = server.session().await;
    server.post(&format!("/session/{parent}/prompt_async"), &prompt_body("go")).await;
    let child = events
        .wait_for("the child's session", |e| {
            e["type"] == "session.created" && e["properties"]["info"]["parentID"] == parent
        })
        .await["properties"]["info"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    events
        .wait_for("the child streaming", |e| e["type"] == "message.part.delta" && e["properties"]["sessionID"] == child)
        .await;
    let (status, _) = server.post(&format!("/session/{parent}/abort"), "").await;
    assert_eq!(status, StatusCode::OK);
    for session in [&parent, &child] {
        events.wait_for("idle", |e| e["type"] == "session.idle" && e["properties"]["sessionID"] == *session).await;
    }
    let (_, status) = server.get("/session/status").await;
    assert_eq!(status, json!({}), "nothing runs any more");
    let (_, messages) = server.get(&format!("/session/{child}/message")).await;
    assert_eq!(messages.as_array().unwrap().last().unwrap()["info"]["error"]["name"], "MessageAbortedError");
}

#[tokio::test]
async fn a_subagents_permission_request_is_its_child_sessions_and_its_answer_reaches_it() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![
        task("general", "Write the file."),
        Reply::Stream(vec![Chunk::Call("call_sh", "bash", json!({ "command": "echo child > by-child.txt" }))]),
        says("Written."),
        says("The subagent wrote it."),
    ])
    .await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({ "permission": { "bash": "ask" } })));
    let events = server.events().await;
    let parent = server.session().await;
    server.post(&format!("/session/{parent}/prompt_async"), &prompt_body("go")).await;
    let asked = events.wait_for("the child's permission request", |e| e["type"] == "permission.asked").await;
    let request = &asked["properties"];
    let child = request["sessionID"].as_str().unwrap().to_string();
    assert_ne!(child, parent, "the request names the child session, where the call runs");
    let (_, session) = server.get(&format!("/session/{child}")).await;
    assert_eq!(session["parentID"], parent.as_str());
    assert_eq!(request["patterns"], json!(["echo child"]));
    let (_, pending) = server.get("/permission").await;
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
    assert!(!fixture.ws.join("by-child.txt").exists(), "nothing runs before the answer");

    let id = request["id"].as_str().unwrap();
    let (status, _) = server.post(&format!("/permission/{id}/reply"), &json!({ "reply": "once" }).to_string()).await;
    assert_eq!(status, StatusCode::OK);
    for session in [&child, &parent] {
        events.wait_for("idle", |e| e["type"] == "session.idle" && e["properties"]["sessionID"] == *session).await;
    }
    assert_eq!(std::fs::read_to_string(fixture.ws.join("by-child.txt")).unwrap(), "child\n");
    let (_, messages) = server.get(&format!("/session/{parent}/message")).await;
    let part = tool_part(&messages, "call_task");
    assert_eq!(part["state"]["status"], "completed", "{part}");
    assert!(part["state"]["output"].as_str().unwrap().contains("Written."), "{part}");
}

#[tokio::test]
async fn a_command_whose_agent_is_a_subagent_runs_as_a_subtask_in_a_child_session() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![Chunk::Call("call_w", "bash", json!({ "command": "echo x > by-explore.txt" }))]),
        says("The config is in src."),
        says("Explore says the config is in src."),
    ])
    .await;
    let commands = json!({ "command": { "look": { "template": "Find $ARGUMENTS", "agent": "explore", "description": "look around" } } });
    let server = TestServer::configured(&fixture.ws, &config(&model, commands));
    let parent = server.session().await;
    let body = json!({ "command": "look", "arguments": "the config", "agent": "build" }).to_string();
    let (status, reply) = server.post(&format!("/session/{parent}/command"), &body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    let (_, messages) = server.get(&format!("/session/{parent}/message")).await;
    let first = &messages[0];
    assert_eq!(first["info"]["agent"], "build", "the person's message keeps the person's agent");
    assert_eq!(first["parts"][0]["type"], "subtask");
    assert_eq!(first["parts"][0]["prompt"], "Find the config");
    assert_eq!(first["parts"][0]["description"], "look around");
    assert_eq!(messages[1]["info"]["agent"], "explore");
    let task = tool_part(&messages, messages[1]["parts"][0]["callID"].as_str().unwrap());
    assert_eq!(task["tool"], "task");
    assert_eq!(task["state"]["status"], "completed", "{task}");
    let child = task["state"]["metadata"]["sessionId"].as_str().unwrap().to_string();
    let (_, child_messages) = server.get(&format!("/session/{child}/message")).await;
    let write = tool_part(&child_messages, "call_w");
    assert_eq!(write["state"]["status"], "completed");
    assert!(!fixture.ws.join("by-explore.txt").exists(), "explore's grant is read-only, as a subtask too");
    assert_eq!(messages[2]["parts"][0]["synthetic"], true);
    assert_eq!(
        reply["parts"].as_array().unwrap().iter().find(|p| p["type"] == "text").unwrap()["text"],
        "Explore says the config is in src."
    );
}
