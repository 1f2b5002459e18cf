//! The agent through the HTTP API, against a scripted model on loopback:
//! the event sequence of a turn, streamed text and reasoning, tool calls
//! across steps running in the sandbox, permissions, abort mid-stream and
//! mid-tool, provider failures and retries, both protocols, and sessions
//! prompting at once.

use crate::router::{Events, TestServer};
use crate::scripted_model::{Chunk, Reply, ScriptedModel, TITLE, says};
use crate::util::{Fixture, SECRET};
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A config whose default model is the scripted one, with `extra` keys
/// merged in.
pub(crate) fn config(model: &ScriptedModel, extra: Value) -> String {
    let mut config = json!({
        "model": "mock/m1",
        "provider": {
            "mock": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Mock",
                "options": { "baseURL": model.url, "apiKey": "sk-test" },
                "models": { "m1": { "name": "Mock 1", "cost": { "input": 1, "output": 2 } } },
            },
        },
    });
    for (key, value) in extra.as_object().unwrap() {
        config[key] = value.clone();
    }
    config.to_string()
}

pub(crate) fn prompt_body(text: &str) -> String {
    json!({ "parts": [{ "type": "text", "text": text }] }).to_string()
}

/// A short label per event, for comparing sequences.
fn label(event: &Value) -> String {
    let properties = &event["properties"];
    let kind = event["type"].as_str().unwrap_or_default();
    match kind {
        "message.updated" => {
            let info = &properties["info"];
            let mut label = format!("{kind} {}", info["role"].as_str().unwrap_or_default());
            if let Some(finish) = info["finish"].as_str() {
                label += &format!(" {finish}");
            }
            if info["time"]["completed"].is_number() {
                label += " completed";
            }
            label
        }
        "message.part.updated" => {
            let part = &properties["part"];
            let mut label = format!("{kind} {}", part["type"].as_str().unwrap_or_default());
            if let Some(status) = part["state"]["status"].as_str() {
                label += &format!(" {status}");
            }
            if part["time"]["end"].is_number() {
                label += " ended";
            }
            label
        }
        "message.part.delta" => format!("{kind} {}", properties["delta"].as_str().unwrap_or_default()),
        "session.status" => format!("{kind} {}", properties["status"]["type"].as_str().unwrap_or_default()),
        other => other.to_string(),
    }
}

/// The labels of a session's turn events (session rows left out).
fn sequence(events: &Events, session: &str) -> Vec<String> {
    events
        .of(session)
        .iter()
        .filter(|e| !matches!(e["type"].as_str(), Some("session.created" | "session.updated")))
        .map(label)
        .collect()
}

pub(crate) async fn idle(events: &Events, session: &str) {
    events.wait_for("session.idle", |e| e["type"] == "session.idle" && e["properties"]["sessionID"] == session).await;
}

pub(crate) fn text_of(reply: &Value) -> String {
    reply["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "text")
        .map(|p| p["text"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_plain_turn_streams_in_the_references_event_order() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![Reply::Stream(vec![
        Chunk::Text("Hello"),
        Chunk::Text(" from"),
        Chunk::Text(" mock."),
    ])])
    .await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let events = server.events().await;
    let id = server.session().await;
    let (status, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("Hello there")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["info"]["role"], "assistant");
    assert_eq!(reply["info"]["finish"], "stop");
    assert!(reply["info"]["time"]["completed"].is_number());
    assert_eq!(reply["info"]["tokens"]["input"], 10);
    assert_eq!(reply["info"]["cost"], json!((10.0 * 1.0 + 3.0 * 2.0) / 1e6));
    let kinds: Vec<&str> = reply["parts"].as_array().unwrap().iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["step-start", "text", "step-finish"]);
    assert_eq!(text_of(&reply), "Hello from mock.");
    idle(&events, &id).await;
    assert_eq!(
        sequence(&events, &id),
        [
            "message.updated user",
            "message.part.updated text",
            "session.status busy",
            "message.updated assistant",
            "message.part.updated step-start",
            "message.part.updated text",
            "message.part.delta Hello",
            "message.part.delta  from",
            "message.part.delta  mock.",
            "message.part.updated text ended",
            "message.part.updated step-finish",
            "message.updated assistant stop",
            "message.updated assistant stop completed",
            "message.updated user",
            "session.diff",
            "session.status idle",
            "session.idle",
        ]
    );
    // The model got the conversation, the tools and a stream request.
    let request = &model.requests()[0];
    assert_eq!(request["model"], "m1");
    assert_eq!(request["stream"], true);
    assert_eq!(request["messages"][0]["role"], "system");
    assert_eq!(request["messages"].as_array().unwrap().last().unwrap()["content"], "Hello there");
    let tools: Vec<&str> =
        request["tools"].as_array().unwrap().iter().map(|t| t["function"]["name"].as_str().unwrap()).collect();
    for builtin in ["bash", "edit", "glob", "grep", "list", "read", "todoread", "todowrite", "write"] {
        assert!(tools.contains(&builtin), "{builtin} is offered: {tools:?}");
    }
    // The test sandbox also loads a third-party component: its tools are offered too.
    assert!(tools.contains(&"noop"), "{tools:?}");
    // The new session is named after its first message.
    events.wait_for("the title", |e| e["type"] == "session.updated" && e["properties"]["info"]["title"] == TITLE).await;
    assert_eq!(server.get(&format!("/session/{id}")).await.1["title"], TITLE);
    assert_eq!(model.titles(), 1);
    // What the stream showed is what is stored.
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    assert_eq!(messages[1], reply);
}

#[tokio::test]
async fn reasoning_streams_into_its_own_part_before_the_text() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![Reply::Stream(vec![
        Chunk::Reasoning("Thinking"),
        Chunk::Reasoning(" hard."),
        Chunk::Text("Answer."),
    ])])
    .await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let events = server.events().await;
    let id = server.session().await;
    let (_, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("THINK")).await;
    let parts = reply["parts"].as_array().unwrap();
    assert_eq!(parts[1]["type"], "reasoning");
    assert_eq!(parts[1]["text"], "Thinking hard.");
    assert!(parts[1]["time"]["end"].is_number());
    assert_eq!(parts[2]["text"], "Answer.");
    idle(&events, &id).await;
    let sequence = sequence(&events, &id);
    let at =
        |label: &str| sequence.iter().position(|l| l == label).unwrap_or_else(|| panic!("{label} in {sequence:?}"));
    assert!(at("message.part.updated reasoning") < at("message.part.delta Thinking"));
    assert!(at("message.part.updated reasoning ended") < at("message.part.delta Answer."));
}

#[tokio::test]
async fn tool_calls_run_in_the_sandbox_across_steps() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![
            Chunk::Text("Writing."),
            Chunk::Call("call_1", "write", json!({ "filePath": "notes/hello.txt", "content": "hi there\n" })),
        ]),
        Reply::Stream(vec![Chunk::Call(
            "call_2",
            "bash",
            json!({ "command": "cat notes/hello.txt", "description": "Show the note" }),
        )]),
        says("Done."),
    ])
    .await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let events = server.events().await;
    let id = server.session().await;
    let (status, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("write a note")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(text_of(&reply), "Done.");
    assert_eq!(std::fs::read_to_string(fixture.ws.join("notes/hello.txt")).unwrap(), "hi there\n");

    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let messages = messages.as_array().unwrap();
    assert_eq!(messages.len(), 4, "the user message and one assistant message per step");
    let user = messages[0]["info"]["id"].as_str().unwrap();
    let finishes: Vec<&str> = messages[1..].iter().map(|m| m["info"]["finish"].as_str().unwrap()).collect();
    assert_eq!(finishes, ["tool-calls", "tool-calls", "stop"]);
    assert!(messages[1..].iter().all(|m| m["info"]["parentID"] == user && m["info"]["time"]["completed"].is_number()));
    let tool =
        |message: &Value| message["parts"].as_array().unwrap().iter().find(|p| p["type"] == "tool").unwrap().clone();
    let write = tool(&messages[1]);
    assert_eq!((write["tool"].as_str(), write["callID"].as_str()), (Some("write"), Some("call_1")));
    assert_eq!(write["state"]["status"], "completed");
    // The TUI draws its "Wrote" block from this metadata.
    assert!(write["state"]["metadata"]["diagnostics"].is_object(), "{write}");
    assert_eq!(write["state"]["metadata"]["exists"], false);
    let bash = tool(&messages[2]);
    assert_eq!(bash["state"]["status"], "completed");
    assert_eq!(bash["state"]["output"], "hi there\n");
    assert_eq!(bash["state"]["title"], "cat notes/hello.txt");
    assert_eq!(bash["state"]["metadata"]["output"], "hi there\n");
    assert_eq!(bash["state"]["metadata"]["exit"], 0);
    assert_eq!(bash["state"]["metadata"]["description"], "Show the note");

    // The model saw each call's result in the next request.
    let requests = model.requests();
    let second = requests[1]["messages"].as_array().unwrap();
    let asked = second.iter().find(|m| m["role"] == "assistant").unwrap();
    assert_eq!(asked["tool_calls"][0]["id"], "call_1");
    assert_eq!(asked["tool_calls"][0]["function"]["name"], "write");
    assert!(second.iter().any(|m| m["role"] == "tool" && m["tool_call_id"] == "call_1"));
    let third = requests[2]["messages"].as_array().unwrap();
    assert!(third.iter().any(|m| m["role"] == "tool" && m["tool_call_id"] == "call_2" && m["content"] == "hi there\n"));

    // Each tool part went pending -> running -> completed on the stream.
    idle(&events, &id).await;
    let states: Vec<String> = events
        .of(&id)
        .iter()
        .filter(|e| e["type"] == "message.part.updated" && e["properties"]["part"]["callID"] == "call_2")
        .map(|e| e["properties"]["part"]["state"]["status"].as_str().unwrap().to_string())
        .collect();
    let mut distinct = states.clone();
    distinct.dedup();
    assert_eq!(distinct, ["pending", "running", "completed"], "{states:?}");
    assert!(events.all().iter().any(|e| e["type"] == "file.edited"));
    fixture.assert_outside_untouched();
}

#[tokio::test]
async fn an_edit_reports_its_diff_for_the_tui() {
    let fixture = Fixture::new();
    fixture.file("src/lib.rs", "fn old() {}\n");
    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![Chunk::Call(
            "call_1",
            "edit",
            json!({ "filePath": "src/lib.rs", "oldString": "fn old() {}", "newString": "fn new() {}" }),
        )]),
        says("Renamed."),
    ])
    .await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let id = server.session().await;
    let (_, _) = server.post(&format!("/session/{id}/message"), &prompt_body("rename")).await;
    assert_eq!(std::fs::read_to_string(fixture.ws.join("src/lib.rs")).unwrap(), "fn new() {}\n");
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let edit = messages[1]["parts"].as_array().unwrap().iter().find(|p| p["type"] == "tool").unwrap().clone();
    let diff = edit["state"]["metadata"]["diff"].as_str().unwrap();
    assert!(diff.contains("-fn old() {}") && diff.contains("+fn new() {}"), "{diff}");
    assert!(edit["state"]["metadata"]["diagnostics"].is_object(), "{edit}");
}

#[tokio::test]
async fn the_plan_agent_cannot_write_even_when_the_model_tries() {
    let fixture = Fixture::new();
    fixture.file("a.txt", "original\n");
    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![Chunk::Call("call_1", "bash", json!({ "command": "echo changed > a.txt; rm a.txt" }))]),
        Reply::Stream(vec![Chunk::Call("call_2", "write", json!({ "filePath": "b.txt", "content": "x" }))]),
        says("I could not change anything."),
    ])
    .await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let id = server.session().await;
    let body = json!({ "agent": "plan", "parts": [{ "type": "text", "text": "change a.txt" }] }).to_string();
    let (status, reply) = server.post(&format!("/session/{id}/message"), &body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["info"]["agent"], "plan");
    assert_eq!(std::fs::read_to_string(fixture.ws.join("a.txt")).unwrap(), "original\n");
    assert!(!fixture.ws.join("b.txt").exists());
    let offered: Vec<String> = model.requests()[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(!offered.contains(&"write".into()) && !offered.contains(&"edit".into()), "{offered:?}");
    assert!(offered.contains(&"bash".into()) && offered.contains(&"read".into()));
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let tool = |index: usize| {
        messages[index]["parts"].as_array().unwrap().iter().find(|p| p["type"] == "tool").unwrap().clone()
    };
    assert_ne!(tool(1)["state"]["metadata"]["exit"], 0, "the shell's write failed: {}", tool(1));
    assert_eq!(tool(2)["state"]["status"], "error");
    assert!(tool(2)["state"]["error"].as_str().unwrap().contains("Unknown tool"), "{}", tool(2));
}

/// Starts a prompt in the background; returns its eventual response.
pub(crate) fn prompt_in_background(
    server: &Arc<TestServer>,
    session: &str,
    body: String,
) -> tokio::task::JoinHandle<(StatusCode, Value)> {
    let (server, uri) = (server.clone(), format!("/session/{session}/message"));
    tokio::spawn(async move { server.post(&uri, &body).await })
}

pub(crate) async fn asked(events: &Events, count: usize) -> Value {
    for _ in 0..2000 {
        let asked: Vec<Value> = events.all().into_iter().filter(|e| e["type"] == "permission.asked").collect();
        if asked.len() >= count {
            return asked[count - 1].clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("permission request {count} never came");
}

#[tokio::test]
async fn ask_waits_for_a_reply_and_always_covers_the_same_command_later() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![Chunk::Call("call_1", "bash", json!({ "command": "echo one" }))]),
        Reply::Stream(vec![Chunk::Call("call_2", "bash", json!({ "command": "echo two" }))]),
        says("Both ran."),
    ])
    .await;
    let server =
        Arc::new(TestServer::configured(&fixture.ws, &config(&model, json!({ "permission": { "bash": "ask" } }))));
    let events = server.events().await;
    let id = server.session().await;
    let running = prompt_in_background(&server, &id, prompt_body("run them"));
    let request = asked(&events, 1).await;
    let properties = &request["properties"];
    assert_eq!(properties["permission"], "bash");
    assert_eq!(properties["patterns"], json!(["echo one"]));
    assert_eq!(properties["always"], json!(["echo *"]));
    assert_eq!(properties["tool"]["callID"], "call_1");
    let request_id = properties["id"].as_str().unwrap();
    assert!(request_id.starts_with("per_"));
    assert_eq!(server.get("/permission").await.1[0]["id"], request_id);
    // The tool has not run while it waits.
    assert_eq!(model.requests().len(), 1);
    let (status, answer) = server.post(&format!("/permission/{request_id}/reply"), r#"{"reply":"always"}"#).await;
    assert_eq!((status, answer), (StatusCode::OK, json!(true)));
    let (status, reply) = running.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(text_of(&reply), "Both ran.");
    let replied = events.wait_for("permission.replied", |e| e["type"] == "permission.replied").await;
    assert_eq!(replied["properties"]["reply"], "always");
    assert_eq!(
        events.all().iter().filter(|e| e["type"] == "permission.asked").count(),
        1,
        "`always` allowed the second echo without asking"
    );
    assert_eq!(server.get("/permission").await.1, json!([]));
    let (status, _) = server.post(&format!("/permission/{request_id}/reply"), r#"{"reply":"once"}"#).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a request is answered once");
}

#[tokio::test]
async fn the_v1_route_answers_a_permission_of_its_own_session_only() {
    // `POST /session/{id}/permissions/{id}` `{response}`: the route the
    // SDK's default (v1) export answers through.
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![Chunk::Call("call_1", "bash", json!({ "command": "echo one" }))]),
        says("Done."),
    ])
    .await;
    let server =
        Arc::new(TestServer::configured(&fixture.ws, &config(&model, json!({ "permission": { "bash": "ask" } }))));
    let events = server.events().await;
    let (id, other) = (server.session().await, server.session().await);
    let running = prompt_in_background(&server, &id, prompt_body("run it"));
    let request = asked(&events, 1).await;
    let request_id = request["properties"]["id"].as_str().unwrap();
    let respond = |session: &str| format!("/session/{session}/permissions/{request_id}");
    let (status, _) = server.post(&respond(&other), r#"{"response":"once"}"#).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another session's route does not answer it");
    let (status, body) = server.post(&respond(&id), r#"{"response":"maybe"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = server.post(&respond(&id), r#"{"reply":"once"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the v2 body is not the v1 one: {body}");
    assert_eq!(server.get("/permission").await.1[0]["id"], request_id, "still pending after the bad answers");
    let (status, answer) = server.post(&respond(&id), r#"{"response":"once"}"#).await;
    assert_eq!((status, answer), (StatusCode::OK, json!(true)));
    let (status, reply) = running.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(text_of(&reply), "Done.");
    let replied = events.wait_for("permission.replied", |e| e["type"] == "permission.replied").await;
    assert_eq!(replied["properties"]["reply"], "once");
    let (status, _) = server.post(&respond(&id), r#"{"response":"once"}"#).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a request is answered once");
}

#[tokio::test]
async fn a_rejection_fails_the_call_and_ends_the_turn_unless_it_says_why() {
    let fixture = Fixture::new();
    fixture.file("keep.txt", "keep");
    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![Chunk::Call("call_1", "bash", json!({ "command": "rm keep.txt" }))]),
        Reply::Stream(vec![Chunk::Call("call_2", "bash", json!({ "command": "rm -f keep.txt" }))]),
        says("Understood, I will keep it."),
    ])
    .await;
    let server =
        Arc::new(TestServer::configured(&fixture.ws, &config(&model, json!({ "permission": { "bash": "ask" } }))));
    let events = server.events().await;
    let id = server.session().await;

    // A plain rejection: the call fails and the turn stops there.
    let running = prompt_in_background(&server, &id, prompt_body("delete it"));
    let request = asked(&events, 1).await;
    let request_id = request["properties"]["id"].as_str().unwrap();
    server.post(&format!("/permission/{request_id}/reply"), r#"{"reply":"reject"}"#).await;
    let (_, reply) = running.await.unwrap();
    let tool = reply["parts"].as_array().unwrap().iter().find(|p| p["type"] == "tool").unwrap().clone();
    assert_eq!(tool["state"]["status"], "error");
    assert!(tool["state"]["error"].as_str().unwrap().contains("rejected"), "{tool}");
    assert_eq!(model.requests().len(), 1, "the model is not called again after a plain rejection");
    assert_eq!(model.left(), 2);
    assert!(fixture.ws.join("keep.txt").exists());

    // A rejection with feedback: the model reads it and goes on.
    let running = prompt_in_background(&server, &id, prompt_body("delete it, really"));
    let request = asked(&events, 2).await;
    let request_id = request["properties"]["id"].as_str().unwrap();
    server
        .post(&format!("/permission/{request_id}/reply"), r#"{"reply":"reject","message":"no, keep that file"}"#)
        .await;
    let (_, reply) = running.await.unwrap();
    assert_eq!(text_of(&reply), "Understood, I will keep it.");
    let last = model.requests().pop().unwrap();
    let result = last["messages"].as_array().unwrap().iter().rev().find(|m| m["role"] == "tool").unwrap().clone();
    assert!(result["content"].as_str().unwrap().contains("no, keep that file"), "{result}");
    assert!(fixture.ws.join("keep.txt").exists());
}

#[tokio::test]
async fn a_deny_rule_fails_the_call_without_asking() {
    let fixture = Fixture::new();
    fixture.file("keep.txt", "keep");
    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![Chunk::Call("call_1", "bash", json!({ "command": "rm -f keep.txt" }))]),
        says("It is protected."),
    ])
    .await;
    let permission = json!({ "permission": { "bash": { "*": "allow", "rm *": "deny" } } });
    let server = TestServer::configured(&fixture.ws, &config(&model, permission));
    let events = server.events().await;
    let id = server.session().await;
    let (_, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("delete")).await;
    assert_eq!(text_of(&reply), "It is protected.");
    assert!(fixture.ws.join("keep.txt").exists());
    assert!(!events.all().iter().any(|e| e["type"] == "permission.asked"));
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let tool = messages[1]["parts"].as_array().unwrap().iter().find(|p| p["type"] == "tool").unwrap().clone();
    assert!(tool["state"]["error"].as_str().unwrap().contains("forbids"), "{tool}");
}

#[tokio::test]
async fn abort_stops_the_model_stream_and_leaves_the_session_usable() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![Reply::Stream(vec![
        Chunk::Text("tick0 "),
        Chunk::Pause(Duration::from_millis(100)),
        Chunk::Text("tick1 "),
        Chunk::Pause(Duration::from_secs(30)),
        Chunk::Text("never"),
    ])])
    .await;
    let server = Arc::new(TestServer::configured(&fixture.ws, &config(&model, json!({}))));
    let events = server.events().await;
    let id = server.session().await;
    let running = prompt_in_background(&server, &id, prompt_body("SLOW"));
    events.wait_for("the second delta", |e| e["properties"]["delta"] == "tick1 ").await;
    let began = Instant::now();
    assert_eq!(server.post(&format!("/session/{id}/abort"), "").await, (StatusCode::OK, json!(true)));
    let (status, reply) = running.await.unwrap();
    assert!(began.elapsed() < Duration::from_secs(5), "the abort took {:?}", began.elapsed());
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["info"]["error"]["name"], "MessageAbortedError");
    assert!(reply["info"]["time"]["completed"].is_number());
    let text = reply["parts"].as_array().unwrap().iter().find(|p| p["type"] == "text").unwrap().clone();
    assert_eq!(text["text"], "tick0 tick1 ");
    assert!(text["time"]["end"].is_number());
    idle(&events, &id).await;
    let error = events.wait_for("session.error", |e| e["type"] == "session.error").await;
    assert_eq!(error["properties"]["error"]["name"], "MessageAbortedError");
    for _ in 0..200 {
        if model.dropped() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(model.dropped(), 1, "the model's stream was closed");
    assert_eq!(server.get("/session/status").await.1, json!({}));
    // The session answers the next prompt.
    model.push([says("Again.")]);
    let (_, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("again")).await;
    assert_eq!(text_of(&reply), "Again.");
}

#[tokio::test]
async fn abort_stops_a_running_tool_call() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![Reply::Stream(vec![Chunk::Call(
        "call_1",
        "bash",
        json!({ "command": "while true; do :; done" }),
    )])])
    .await;
    let server = Arc::new(TestServer::configured(&fixture.ws, &config(&model, json!({}))));
    let events = server.events().await;
    let id = server.session().await;
    let running = prompt_in_background(&server, &id, prompt_body("loop"));
    events
        .wait_for("the running tool", |e| {
            e["properties"]["part"]["callID"] == "call_1" && e["properties"]["part"]["state"]["status"] == "running"
        })
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let began = Instant::now();
    server.post(&format!("/session/{id}/abort"), "").await;
    let (_, reply) = running.await.unwrap();
    assert!(began.elapsed() < Duration::from_secs(5), "the abort took {:?}", began.elapsed());
    assert_eq!(reply["info"]["error"]["name"], "MessageAbortedError");
    let tool = reply["parts"].as_array().unwrap().iter().find(|p| p["type"] == "tool").unwrap().clone();
    assert_eq!(tool["state"]["status"], "error");
    assert_eq!(tool["state"]["error"], "Tool execution aborted");
    assert_eq!(model.requests().len(), 1, "an aborted turn does not call the model again");
}

#[tokio::test]
async fn sessions_prompting_at_once_run_side_by_side() {
    let fixture = Fixture::new();
    let slow = |text: &'static str| Reply::Stream(vec![Chunk::Pause(Duration::from_millis(400)), Chunk::Text(text)]);
    let model = ScriptedModel::start(vec![slow("same answer"), slow("same answer")]).await;
    let server = Arc::new(TestServer::configured(&fixture.ws, &config(&model, json!({}))));
    let (first, second) = (server.session().await, server.session().await);
    let a = prompt_in_background(&server, &first, prompt_body("one"));
    let b = prompt_in_background(&server, &second, prompt_body("two"));
    let mut both_busy = false;
    for _ in 0..200 {
        let (_, status) = server.get("/session/status").await;
        if status.get(&first).is_some() && status.get(&second).is_some() {
            both_busy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(both_busy, "both sessions were busy at the same time");
    let (a, b) = (a.await.unwrap().1, b.await.unwrap().1);
    assert_eq!(a["info"]["sessionID"], first);
    assert_eq!(b["info"]["sessionID"], second);
    assert_eq!((text_of(&a), text_of(&b)), ("same answer".into(), "same answer".into()));
    // Each session's conversation holds only its own prompt.
    let texts: Vec<String> = model
        .requests()
        .iter()
        .map(|r| r["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_string())
        .collect();
    assert!(texts.contains(&"one".into()) && texts.contains(&"two".into()), "{texts:?}");
}

#[tokio::test]
async fn a_second_prompt_to_a_busy_session_is_answered_by_the_same_run() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![Chunk::Text("first "), Chunk::Pause(Duration::from_millis(400)), Chunk::Text("answer")]),
        says("second answer"),
    ])
    .await;
    let server = Arc::new(TestServer::configured(&fixture.ws, &config(&model, json!({}))));
    let events = server.events().await;
    let id = server.session().await;
    let a = prompt_in_background(&server, &id, prompt_body("first question"));
    events.wait_for("the first delta", |e| e["properties"]["delta"] == "first ").await;
    let b = prompt_in_background(&server, &id, prompt_body("second question"));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!((a.0, b.0), (StatusCode::OK, StatusCode::OK));
    assert_eq!(a.1["info"]["id"], b.1["info"]["id"], "both callers get the run's last message");
    assert_eq!(text_of(&b.1), "second answer");
    let requests = model.requests();
    assert_eq!(requests.len(), 2);
    let users: Vec<&str> = requests[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["first question", "second question"]);
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let roles: Vec<&str> = messages.as_array().unwrap().iter().map(|m| m["info"]["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    // The second assistant message answers the second prompt.
    assert_eq!(messages[3]["info"]["parentID"], messages[2]["info"]["id"]);
}

#[tokio::test]
async fn provider_failures_end_the_turn_with_the_providers_message() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![Reply::Status(
        401,
        vec![("content-type", "application/json")],
        r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#,
    )])
    .await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let events = server.events().await;
    let id = server.session().await;
    let (status, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("hi")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["info"]["error"]["name"], "ProviderAuthError");
    assert_eq!(reply["info"]["error"]["data"]["message"], "Incorrect API key provided");
    assert_eq!(reply["info"]["error"]["data"]["providerID"], "mock");
    let error = events.wait_for("session.error", |e| e["type"] == "session.error").await;
    assert_eq!(error["properties"]["error"]["name"], "ProviderAuthError");
    idle(&events, &id).await;
    assert_eq!(model.requests().len(), 1, "a 401 is not retried");

    // A server fault past the retries: an APIError with the status.
    model.push((0..6).map(|_| Reply::Status(503, vec![("retry-after-ms", "5")], "upstream overloaded")));
    let (_, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("again")).await;
    assert_eq!(reply["info"]["error"]["name"], "APIError");
    assert_eq!(reply["info"]["error"]["data"]["statusCode"], 503);
    assert_eq!(reply["info"]["error"]["data"]["isRetryable"], true);
    assert_eq!(model.requests().len(), 1 + 6, "tried once and retried five times");

    // A malformed stream and a stream cut short.
    model.push([Reply::Stream(vec![Chunk::Raw("{not json")])]);
    let (_, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("garbage")).await;
    assert_eq!(reply["info"]["error"]["name"], "APIError");
    assert!(reply["info"]["error"]["data"]["message"].as_str().unwrap().contains("not JSON"), "{reply}");
    model.push([Reply::Cut(vec![Chunk::Text("partial")])]);
    let (_, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("cut")).await;
    assert_eq!(reply["info"]["error"]["name"], "APIError");
    assert_eq!(text_of(&reply), "partial", "what arrived is kept");
    // The server and the session go on.
    model.push([says("Fine now.")]);
    let (_, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("ok?")).await;
    assert_eq!(text_of(&reply), "Fine now.");
}

#[tokio::test]
async fn rate_limits_are_retried_after_the_time_the_provider_asks() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![
        Reply::Status(429, vec![("retry-after-ms", "50")], r#"{"error":{"message":"Rate limit reached"}}"#),
        says("After the wait."),
    ])
    .await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let events = server.events().await;
    let id = server.session().await;
    let (_, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("hi")).await;
    assert_eq!(text_of(&reply), "After the wait.");
    assert!(reply["info"].get("error").is_none());
    let retry = events.wait_for("the retry status", |e| e["properties"]["status"]["type"] == "retry").await;
    assert_eq!(retry["properties"]["status"]["attempt"], 1);
    assert_eq!(retry["properties"]["status"]["message"], "Rate limit reached");
    assert!(retry["properties"]["status"]["next"].is_number());
}

#[tokio::test]
async fn anthropics_protocol_streams_thinking_text_and_tool_use() {
    let fixture = Fixture::new();
    fixture.file("a.txt", "hi from a file\n");
    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![
            Chunk::Reasoning("Let me look."),
            Chunk::Text("Reading."),
            Chunk::Call("toolu_1", "read", json!({ "filePath": "a.txt" })),
        ]),
        says("It says hi."),
    ])
    .await;
    let config = json!({
        "model": "claude/sonnet",
        "provider": { "claude": {
            "npm": "@ai-sdk/anthropic",
            "options": { "baseURL": model.url, "apiKey": "sk-ant-test" },
            "models": { "sonnet": { "id": "claude-sonnet-test", "limit": { "context": 200000, "output": 1000 } } },
        } },
    });
    let server = TestServer::configured(&fixture.ws, &config.to_string());
    let id = server.session().await;
    let (status, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("what is in a.txt?")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(text_of(&reply), "It says hi.");
    assert_eq!(reply["info"]["providerID"], "claude");
    let requests = model.requests();
    assert_eq!(requests[0]["model"], "claude-sonnet-test");
    assert_eq!(requests[0]["max_tokens"], 1000);
    assert_eq!(requests[0]["tools"][0]["input_schema"]["type"], "object");
    let turns = requests[1]["messages"].as_array().unwrap();
    let blocks = turns[1]["content"].as_array().unwrap();
    let kinds: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["thinking", "text", "tool_use"]);
    assert_eq!(blocks[0]["signature"], "sig-1", "thinking goes back with its signature");
    assert_eq!(blocks[2]["input"], json!({ "filePath": "a.txt" }));
    let result = &turns[2]["content"][0];
    assert_eq!(result["type"], "tool_result");
    assert_eq!(result["tool_use_id"], "toolu_1");
    assert!(result["content"].as_str().unwrap().contains("hi from a file"), "{result}");
}

#[tokio::test]
async fn todos_are_written_by_the_model_and_read_by_clients() {
    let fixture = Fixture::new();
    let todos = json!([{ "content": "write tests", "status": "in_progress", "priority": "high" }]);
    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![Chunk::Call("call_1", "todowrite", json!({ "todos": todos }))]),
        says("Planned."),
    ])
    .await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let events = server.events().await;
    let id = server.session().await;
    server.post(&format!("/session/{id}/message"), &prompt_body("plan")).await;
    let updated = events.wait_for("todo.updated", |e| e["type"] == "todo.updated").await;
    assert_eq!(updated["properties"]["todos"], todos);
    assert_eq!(server.get(&format!("/session/{id}/todo")).await.1, todos);
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let tool = messages[1]["parts"].as_array().unwrap().iter().find(|p| p["type"] == "tool").unwrap().clone();
    assert_eq!(tool["state"]["title"], "1 todos");
    assert_eq!(tool["state"]["metadata"]["todos"], todos);
}

#[tokio::test]
async fn a_todo_list_past_its_size_is_refused_and_the_old_one_kept() {
    let fixture = Fixture::new();
    let kept = json!([{ "content": "keep me", "status": "pending", "priority": "low" }]);
    let long: Vec<Value> = (0..5000)
        .map(|i| json!({ "content": format!("item {i} {}", "x".repeat(100)), "status": "pending", "priority": "low" }))
        .collect();
    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![Chunk::Call("call_1", "todowrite", json!({ "todos": kept }))]),
        Reply::Stream(vec![Chunk::Call("call_2", "todowrite", json!({ "todos": long }))]),
        says("Done."),
    ])
    .await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let id = server.session().await;
    server.post(&format!("/session/{id}/message"), &prompt_body("plan")).await;
    assert_eq!(server.get(&format!("/session/{id}/todo")).await.1, kept);
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let refused = messages.as_array().unwrap()[1..]
        .iter()
        .flat_map(|m| m["parts"].as_array().unwrap().iter())
        .find(|p| p["callID"] == "call_2")
        .unwrap()
        .clone();
    assert_eq!(refused["state"]["status"], "error", "{refused}");
    assert!(refused["state"]["error"].as_str().unwrap().contains("too long"));
}

#[tokio::test]
async fn a_slash_command_expands_its_template_and_says_it_ran() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![says("Hello, world!")]).await;
    let commands = json!({ "command": { "hello": { "template": "Say hello to $ARGUMENTS", "description": "greet" } } });
    let server = TestServer::configured(&fixture.ws, &config(&model, commands));
    let events = server.events().await;
    let id = server.session().await;
    let (status, reply) = server
        .post(
            &format!("/session/{id}/command"),
            r#"{"command":"hello","arguments":"world","model":"mock/m1","parts":[]}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(text_of(&reply), "Hello, world!");
    let last = model.requests()[0]["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["content"], "Say hello to world");
    let executed = events.wait_for("command.executed", |e| e["type"] == "command.executed").await;
    assert_eq!(executed["properties"]["name"], "hello");
    assert_eq!(executed["properties"]["arguments"], "world");
    assert_eq!(executed["properties"]["messageID"], reply["info"]["id"]);
    let (status, _) = server.post(&format!("/session/{id}/command"), r#"{"command":"nope"}"#).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn init_and_review_are_built_in_and_review_sees_the_uncommitted_changes() {
    let fixture = Fixture::new();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(&fixture.ws)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    fixture.file("src/lib.rs", "pub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n");
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "one"]);
    fixture.file("src/lib.rs", "pub fn add(a: u32, b: u32) -> u32 {\n    a - b\n}\n");
    let model = ScriptedModel::start(vec![
        says("Written."),
        says("Found one bug: add subtracts."),
        says("The review found one bug."),
        says("Mine."),
    ])
    .await;
    let mine = json!({ "command": { "init": { "template": "My own init: $ARGUMENTS" } } });
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));

    let (_, listed) = server.get("/command").await;
    let listed: Vec<&Value> = listed.as_array().unwrap().iter().collect();
    let init = listed.iter().find(|c| c["name"] == "init").expect("init is listed");
    let review = listed.iter().find(|c| c["name"] == "review").expect("review is listed");
    assert_eq!(init["hints"], json!(["$ARGUMENTS"]));
    assert!(review["description"].as_str().unwrap().contains("uncommitted"));

    let id = server.session().await;
    let run = |command: &str, arguments: &str| {
        json!({ "command": command, "arguments": arguments, "model": "mock/m1", "parts": [] }).to_string()
    };
    let (status, reply) = server.post(&format!("/session/{id}/command"), &run("init", "mention the CI")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let asked = |n: usize| model.requests()[n]["messages"].as_array().unwrap().last().unwrap()["content"].clone();
    let init_text = asked(0).as_str().unwrap().to_string();
    assert!(init_text.contains("AGENTS.md") && init_text.ends_with("mention the CI\n"), "{init_text}");

    let (status, reply) = server.post(&format!("/session/{id}/command"), &run("review", "")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text_of(&reply), "The review found one bug.");
    // The review runs as a subtask: a child session works on it, and the
    // conversation gets the task call and its findings, then sums them up.
    let review_text = asked(1).as_str().unwrap().to_string();
    assert!(review_text.contains("diff --git a/src/lib.rs b/src/lib.rs"), "{review_text}");
    assert!(review_text.contains("-    a + b\n+    a - b\n"), "{review_text}");
    let parent_request = model.requests()[2].to_string();
    assert!(parent_request.contains("Found one bug: add subtracts."), "{parent_request}");
    assert!(parent_request.contains("The following tool was executed by the user"), "{parent_request}");
    assert_eq!(asked(2), "Summarize the task tool output above and continue with your task.");
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let messages = messages.as_array().unwrap();
    let asked_for = messages.iter().find(|m| m["parts"][0]["type"] == "subtask").expect("a subtask part");
    assert_eq!(asked_for["parts"][0]["command"], "review");
    assert_eq!(asked_for["parts"][0]["agent"], "build");
    let task = messages.iter().flat_map(|m| m["parts"].as_array().unwrap()).find(|p| p["tool"] == "task").unwrap();
    assert_eq!(task["state"]["status"], "completed", "{task}");
    let child = task["state"]["metadata"]["sessionId"].as_str().unwrap();
    let (_, child) = server.get(&format!("/session/{child}")).await;
    assert_eq!(child["parentID"], id.as_str());

    // A configured command of the same name replaces the built-in one.
    let server = TestServer::configured(&fixture.ws, &config(&model, mine));
    let (_, listed) = server.get("/command").await;
    assert_eq!(listed.as_array().unwrap().iter().filter(|c| c["name"] == "init").count(), 1);
    let id = server.session().await;
    server.post(&format!("/session/{id}/command"), &run("init", "x")).await;
    assert_eq!(asked(3), "My own init: x");
}

#[tokio::test]
async fn the_step_limit_ends_a_turn_that_keeps_calling_tools() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![Chunk::Call("call_1", "bash", json!({ "command": "echo 1" }))]),
        says("Out of steps."),
    ])
    .await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({ "agent": { "build": { "steps": 2 } } })));
    let id = server.session().await;
    let (_, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("loop forever")).await;
    assert_eq!(text_of(&reply), "Out of steps.");
    let requests = model.requests();
    assert!(requests[0].get("tools").is_some());
    assert!(requests[1].get("tools").is_none(), "the last step offers no tools");
    assert!(requests[1]["messages"][0]["content"].as_str().unwrap().contains("step limit"));
}

#[tokio::test]
async fn the_model_a_prompt_names_is_the_one_used() {
    let fixture = Fixture::new();
    let one = ScriptedModel::start(vec![]).await;
    let two = ScriptedModel::start(vec![says("from two")]).await;
    let config = json!({
        "model": "one/m",
        "provider": {
            "one": { "options": { "baseURL": one.url }, "models": { "m": {} } },
            "two": { "options": { "baseURL": two.url }, "models": { "m": {} } },
        },
    });
    let server = TestServer::configured(&fixture.ws, &config.to_string());
    let (_, providers) = server.get("/config/providers").await;
    let ids: Vec<&str> = providers["providers"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["one", "two"]);
    assert_eq!(providers["default"]["one"], "m");
    let id = server.session().await;
    let body = json!({ "model": { "providerID": "two", "modelID": "m" }, "parts": [{ "type": "text", "text": "hi" }] });
    let (_, reply) = server.post(&format!("/session/{id}/message"), &body.to_string()).await;
    assert_eq!(text_of(&reply), "from two");
    assert_eq!((one.requests().len(), two.requests().len()), (0, 1));
    let body =
        json!({ "model": { "providerID": "three", "modelID": "m" }, "parts": [{ "type": "text", "text": "hi" }] });
    let (status, reply) = server.post(&format!("/session/{id}/message"), &body.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reply["name"], "ProviderModelNotFoundError");
    assert!(reply["data"]["message"].as_str().unwrap().contains("three"));
}

#[tokio::test]
async fn prompt_async_answers_at_once_and_no_reply_stores_only() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![Reply::Stream(vec![
        Chunk::Pause(Duration::from_millis(300)),
        Chunk::Text("Later."),
    ])])
    .await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let events = server.events().await;
    let id = server.session().await;
    let began = Instant::now();
    let (status, body) = server.post(&format!("/session/{id}/prompt_async"), &prompt_body("hi")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(began.elapsed() < Duration::from_millis(250), "prompt_async waited for the model");
    idle(&events, &id).await;
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    assert_eq!(text_of(&messages[1]), "Later.");
    let body = json!({ "noReply": true, "parts": [{ "type": "text", "text": "just a note" }] });
    let (_, reply) = server.post(&format!("/session/{id}/message"), &body.to_string()).await;
    assert_eq!(reply["info"]["role"], "user");
    assert_eq!(model.requests().len(), 1, "noReply does not call the model");
}

#[tokio::test]
async fn an_attached_file_is_read_through_the_sandbox_and_cannot_leave_it() {
    let fixture = Fixture::new();
    fixture.file("README.md", "the readme says hello\n");
    let model = ScriptedModel::start(vec![says("Seen."), says("Refused.")]).await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let id = server.session().await;
    let attach = |path: String| {
        json!({ "parts": [
            { "type": "text", "text": "look at this" },
            { "type": "file", "mime": "text/plain", "filename": "f", "url": format!("file://{path}") },
        ] })
        .to_string()
    };
    let inside = fixture.ws.join("README.md").display().to_string();
    server.post(&format!("/session/{id}/message"), &attach(inside)).await;
    let request = model.requests()[0].to_string();
    assert!(request.contains("the readme says hello"), "{request}");
    let outside = fixture.outside.display().to_string();
    server.post(&format!("/session/{id}/message"), &attach(outside)).await;
    let request = model.requests()[1].to_string();
    assert!(!request.contains(SECRET), "a file outside the workspace reached the model");
    assert!(request.contains("outside"), "{request}");
    fixture.assert_outside_untouched();
}

#[tokio::test]
async fn a_file_attached_as_a_data_url_reaches_the_model_as_its_text() {
    use base64::Engine;
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![says("Seen.")]).await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let id = server.session().await;
    let encoded = base64::engine::general_purpose::STANDARD.encode("fn attached() {}\n");
    let binary = base64::engine::general_purpose::STANDARD.encode([0u8, 159, 146, 150]);
    let body = json!({ "parts": [
        { "type": "text", "text": "look at this" },
        { "type": "file", "mime": "text/plain", "filename": "notes.rs", "url": format!("data:text/plain;base64,{encoded}") },
        { "type": "file", "mime": "application/octet-stream", "filename": "blob.bin", "url": format!("data:application/octet-stream;base64,{binary}") },
    ] });
    let (status, reply) = server.post(&format!("/session/{id}/message"), &body.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let request = model.requests()[0].to_string();
    assert!(request.contains("fn attached() {}"), "the decoded text reaches the model: {request}");
    assert!(request.contains("notes.rs"), "{request}");
    assert!(request.contains("[Binary content: application/octet-stream"), "{request}");
}

#[tokio::test]
async fn a_prompt_naming_an_unknown_model_is_refused_as_the_reference_refuses_it() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![says("Fine.")]).await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let id = server.session().await;
    for (provider, model_id, suggestion) in [("nope", "none", "mock"), ("mock", "none", "mock/m1")] {
        let body = json!({ "model": { "providerID": provider, "modelID": model_id }, "parts": [{ "type": "text", "text": "hi" }] });
        let (status, error) = server.post(&format!("/session/{id}/message"), &body.to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert_eq!(error["name"], "ProviderModelNotFoundError");
        assert_eq!(
            (error["data"]["providerID"].as_str(), error["data"]["modelID"].as_str()),
            (Some(provider), Some(model_id))
        );
        assert!(error["data"]["suggestions"].as_array().unwrap().iter().any(|s| s == suggestion), "{error}");
        assert!(error["data"]["message"].as_str().unwrap().contains(&format!("{provider}/{model_id}")), "{error}");
    }
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    assert!(messages.as_array().unwrap().is_empty(), "a refused prompt stores nothing");
    assert!(model.requests().is_empty());
    // The configured model still answers.
    let (status, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("hi")).await;
    assert_eq!((status, text_of(&reply)), (StatusCode::OK, "Fine.".to_string()));
}

#[tokio::test]
async fn without_a_provider_a_prompt_gets_a_clear_error() {
    let fixture = Fixture::new();
    let server = TestServer::new(&fixture.ws, None);
    let id = server.session().await;
    let (status, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("hi")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(reply["info"]["error"]["data"]["message"].as_str().unwrap().contains("No model provider"), "{reply}");
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    assert_eq!(messages[0]["parts"][0]["text"], "hi");
}

#[tokio::test]
async fn a_path_rule_cannot_be_dodged_with_dot_dot_or_an_absolute_path() {
    let fixture = Fixture::new();
    let inside = fixture.ws.join("secrets/key.txt").display().to_string();
    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![
            Chunk::Call("call_1", "write", json!({ "filePath": "notes/../secrets/key.txt", "content": "x" })),
            Chunk::Call("call_2", "write", json!({ "filePath": inside, "content": "x" })),
            Chunk::Call("call_3", "write", json!({ "filePath": "notes/ok.txt", "content": "fine" })),
        ]),
        says("Done."),
    ])
    .await;
    let rules = json!({ "permission": { "edit": { "*": "allow", "secrets/*": "deny" } } });
    let server = TestServer::configured(&fixture.ws, &config(&model, rules));
    let id = server.session().await;
    server.post(&format!("/session/{id}/message"), &prompt_body("write the key")).await;
    assert!(!fixture.ws.join("secrets").exists(), "the denied writes did not happen");
    assert_eq!(std::fs::read_to_string(fixture.ws.join("notes/ok.txt")).unwrap(), "fine");
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let statuses: Vec<String> = messages[1]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "tool")
        .map(|p| p["state"]["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["error", "error", "completed"]);
}

#[tokio::test]
async fn an_unreachable_provider_is_retried_then_reported() {
    let fixture = Fixture::new();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = json!({
        "model": "gone/m",
        "provider": { "gone": { "options": { "baseURL": format!("http://127.0.0.1:{port}/v1") }, "models": { "m": {} } } },
        "wasmgate": { "agent": { "retries": 2, "retry_delay_ms": 10 } },
    });
    let server = TestServer::configured(&fixture.ws, &config.to_string());
    let events = server.events().await;
    let id = server.session().await;
    let (status, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("hi")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["info"]["error"]["name"], "APIError");
    assert_eq!(reply["info"]["error"]["data"]["isRetryable"], true);
    let retries = events.all().iter().filter(|e| e["properties"]["status"]["type"] == "retry").count();
    assert_eq!(retries, 2);
    idle(&events, &id).await;
}

#[tokio::test]
async fn session_status_reports_a_retry_while_it_waits() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![
        Reply::Status(503, vec![("retry-after-ms", "1500")], "busy upstream"),
        says("Recovered."),
    ])
    .await;
    let server = Arc::new(TestServer::configured(&fixture.ws, &config(&model, json!({}))));
    let id = server.session().await;
    let running = prompt_in_background(&server, &id, prompt_body("hi"));
    let mut seen = Value::Null;
    for _ in 0..500 {
        seen = server.get("/session/status").await.1[&id].clone();
        if seen["type"] == "retry" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(seen["type"], "retry", "{seen}");
    assert_eq!(seen["attempt"], 1);
    assert_eq!(seen["message"], "503: busy upstream");
    let (_, reply) = running.await.unwrap();
    assert_eq!(text_of(&reply), "Recovered.");
    assert_eq!(server.get("/session/status").await.1, json!({}));
}

#[tokio::test]
async fn a_sessions_own_rules_apply_after_the_agents() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![Chunk::Call("call_1", "bash", json!({ "command": "echo hi > hi.txt" }))]),
        says("Not allowed here."),
    ])
    .await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    // What `opencode run --attach` does: a session created with its own ruleset.
    let body = json!({ "permission": [{ "permission": "bash", "pattern": "*", "action": "deny" }] });
    let (_, session) = server.post("/session", &body.to_string()).await;
    let id = session["id"].as_str().unwrap();
    let (_, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("write hi")).await;
    assert_eq!(text_of(&reply), "Not allowed here.");
    assert!(!fixture.ws.join("hi.txt").exists());
}

#[tokio::test]
async fn abort_withdraws_a_waiting_permission_request() {
    let fixture = Fixture::new();
    let model =
        ScriptedModel::start(vec![Reply::Stream(vec![Chunk::Call("call_1", "bash", json!({ "command": "echo hi" }))])])
            .await;
    let server =
        Arc::new(TestServer::configured(&fixture.ws, &config(&model, json!({ "permission": { "bash": "ask" } }))));
    let events = server.events().await;
    let id = server.session().await;
    let running = prompt_in_background(&server, &id, prompt_body("run it"));
    let request = asked(&events, 1).await;
    server.post(&format!("/session/{id}/abort"), "").await;
    let (_, reply) = running.await.unwrap();
    assert_eq!(reply["info"]["error"]["name"], "MessageAbortedError");
    let replied = events.wait_for("permission.replied", |e| e["type"] == "permission.replied").await;
    assert_eq!(replied["properties"]["requestID"], request["properties"]["id"]);
    assert_eq!(replied["properties"]["reply"], "reject", "the TUI closes its dialog");
    assert_eq!(server.get("/permission").await.1, json!([]));
}
