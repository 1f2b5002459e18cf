//! The `question` tool and the `/question` routes: the model asks, the
//! person answers (or dismisses) through the API as the TUI's question
//! dialog does, and an abort withdraws what is pending.

use crate::agent::{config, idle, prompt_body};
use crate::router::{Events, TestServer};
use crate::scripted_model::{Chunk, Reply, ScriptedModel, says};
use crate::util::Fixture;
use axum::http::StatusCode;
use serde_json::{Value, json};

fn asks() -> Reply {
    Reply::Stream(vec![Chunk::Call(
        "call_q",
        "question",
        json!({ "questions": [
            { "question": "Which database?", "header": "Database", "options": [
                { "label": "SQLite", "description": "embedded" },
                { "label": "PostgreSQL", "description": "a server" },
            ] },
            { "question": "Which features?", "header": "Features", "multiple": true, "options": [
                { "label": "auth", "description": "logins" },
                { "label": "search", "description": "full text" },
            ] },
        ] }),
    )])
}

/// Waits for the question the model asked; returns its request.
async fn asked(server: &TestServer, events: &Events) -> Value {
    let event = events.wait_for("question.asked", |e| e["type"] == "question.asked").await;
    let (status, listed) = server.get("/question").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed[0], event["properties"], "GET /question lists what was announced");
    event["properties"].clone()
}

fn tool_part(messages: &Value) -> Value {
    let mut parts = messages.as_array().unwrap().iter().flat_map(|m| m["parts"].as_array().unwrap().clone());
    parts.rfind(|p| p["tool"] == "question").unwrap()
}

#[tokio::test]
async fn the_model_asks_and_the_answer_comes_back_as_the_tools_result() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![asks(), says("Thanks.")]).await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let events = server.events().await;
    let id = server.session().await;
    let (status, _) = server.post(&format!("/session/{id}/prompt_async"), &prompt_body("set it up")).await;
    assert!(status.is_success());
    let request = asked(&server, &events).await;
    assert_eq!(request["sessionID"], id);
    assert_eq!(request["questions"][1]["multiple"], true);
    assert_eq!(request["tool"]["callID"], "call_q");
    let rid = request["id"].as_str().unwrap();
    assert!(rid.starts_with("que_"));

    // Answers that do not fit are refused and leave the question pending.
    let reply = |answers: Value| json!({ "answers": answers }).to_string();
    let (status, _) = server.post(&format!("/question/{rid}/reply"), &reply(json!([["SQLite"]]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "one answer list per question");
    let (status, _) =
        server.post(&format!("/question/{rid}/reply"), &reply(json!([["SQLite", "PostgreSQL"], []]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the first question takes one answer");
    let (status, _) = server.post("/question/que_ffffffffffffAAAAAAAAAAAAAA/reply", &reply(json!([[], []]))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.post("/question/nope/reply", &reply(json!([[], []]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(server.get("/question").await.1.as_array().unwrap().len(), 1);

    let answers = json!([["PostgreSQL"], ["auth", "my own: billing"]]);
    let (status, ok) = server.post(&format!("/question/{rid}/reply"), &reply(answers.clone())).await;
    assert_eq!((status, ok), (StatusCode::OK, json!(true)));
    idle(&events, &id).await;
    let replied = events.wait_for("question.replied", |e| e["type"] == "question.replied").await;
    assert_eq!(replied["properties"]["answers"], answers);
    assert!(server.get("/question").await.1.as_array().unwrap().is_empty());

    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let part = tool_part(&messages);
    assert_eq!(part["state"]["status"], "completed");
    assert_eq!(part["state"]["metadata"]["answers"], answers);
    let output = part["state"]["output"].as_str().unwrap();
    assert!(
        output.contains(r#""Which database?"="PostgreSQL""#) && output.contains("auth, my own: billing"),
        "{output}"
    );
    let second = model.requests()[1].to_string();
    assert!(second.contains("Which database?") && second.contains("PostgreSQL"), "the model saw the answer");
}

#[tokio::test]
async fn a_dismissed_question_ends_the_turn_and_an_abort_withdraws_one() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![asks(), asks()]).await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let events = server.events().await;
    let id = server.session().await;

    server.post(&format!("/session/{id}/prompt_async"), &prompt_body("first")).await;
    let rid = asked(&server, &events).await["id"].as_str().unwrap().to_string();
    let (status, ok) = server.post(&format!("/question/{rid}/reject"), "").await;
    assert_eq!((status, ok), (StatusCode::OK, json!(true)));
    idle(&events, &id).await;
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let part = tool_part(&messages);
    assert_eq!(part["state"]["status"], "error");
    assert_eq!(part["state"]["error"], "The user dismissed this question");
    assert_eq!(model.requests().len(), 1, "the turn ended with the dismissal");
    let (status, _) = server.post(&format!("/question/{rid}/reject"), "").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a question answered once is gone");

    server.post(&format!("/session/{id}/prompt_async"), &prompt_body("second")).await;
    events
        .wait_for("a second question", |e| e["type"] == "question.asked" && e["properties"]["id"] != rid.as_str())
        .await;
    let (status, _) = server.post(&format!("/session/{id}/abort"), "").await;
    assert_eq!(status, StatusCode::OK);
    events
        .wait_for("question.rejected", |e| {
            e["type"] == "question.rejected" && e["properties"]["requestID"] != rid.as_str()
        })
        .await;
    assert!(server.get("/question").await.1.as_array().unwrap().is_empty(), "the abort withdrew it");
}
