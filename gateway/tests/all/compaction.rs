//! Compaction through the HTTP API: `POST /session/{id}/summarize` writes a
//! summary the next turn reads instead of what came before it; a turn that
//! nears the model's window is compacted before its next step and carries
//! on; a provider's "too long" is answered with a compaction and one more
//! try; old tool outputs are pruned and the model is told so.

use crate::agent::{config, prompt_body, text_of};
use crate::router::TestServer;
use crate::scripted_model::{Chunk, Reply, ScriptedModel, says};
use crate::util::Fixture;
use axum::http::StatusCode;
use serde_json::{Value, json};

/// The texts of the messages of model request `n`, by role.
fn conversation(model: &ScriptedModel, n: usize) -> Vec<(String, String)> {
    model.requests()[n]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] != "system")
        .map(|m| {
            let content = match &m["content"] {
                Value::String(text) => text.clone(),
                Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
                _ => String::new(),
            };
            (m["role"].as_str().unwrap().to_string(), content)
        })
        .collect()
}

/// A config whose one model has a window of `context` tokens and answers in
/// at most `output`.
fn small_window(model: &ScriptedModel, context: u64, output: u64) -> String {
    let mut config: Value = serde_json::from_str(&config(model, json!({}))).unwrap();
    config["provider"]["mock"]["models"]["m1"]["limit"] = json!({ "context": context, "output": output });
    config.to_string()
}

#[tokio::test]
async fn summarize_writes_a_summary_the_next_turn_reads_instead_of_the_history() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![says("One."), says("SUMMARY: the user said first."), says("Two.")]).await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let events = server.events().await;
    let id = server.session().await;
    server.post(&format!("/session/{id}/message"), &prompt_body("first")).await;

    let (status, answer) =
        server.post(&format!("/session/{id}/summarize"), r#"{"providerID":"mock","modelID":"m1"}"#).await;
    assert_eq!((status, &answer), (StatusCode::OK, &json!(true)));
    let asked = conversation(&model, 1);
    assert_eq!(asked[..2], [("user".into(), "first".into()), ("assistant".into(), "One.".into())]);
    assert!(asked[2].1.starts_with("Write a summary of the conversation"), "{asked:?}");
    assert!(model.requests()[1].get("tools").is_none_or(|t| t.as_array().is_some_and(Vec::is_empty)));
    events.wait_for("session.compacted", |e| e["type"] == "session.compacted").await;

    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let messages = messages.as_array().unwrap();
    let request = &messages[2];
    assert_eq!(request["info"]["role"], "user");
    assert_eq!(request["parts"][0]["type"], "compaction");
    assert_eq!(request["parts"][0]["auto"], false);
    let summary = &messages[3];
    assert_eq!(summary["info"]["summary"], true);
    assert_eq!(summary["info"]["agent"], "compaction");
    assert_eq!(summary["info"]["mode"], "compaction");
    assert_eq!(text_of(summary), "SUMMARY: the user said first.");

    let (_, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("second")).await;
    assert_eq!(text_of(&reply), "Two.");
    let read = conversation(&model, 2);
    assert_eq!(
        read,
        [
            ("user".into(), "What did we do so far?".into()),
            ("assistant".into(), "SUMMARY: the user said first.".into()),
            ("user".into(), "second".into()),
        ],
        "the model reads the summary, not what it replaced"
    );
}

#[tokio::test]
async fn summarize_refuses_a_busy_session_and_an_unknown_model() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![Reply::Stream(vec![Chunk::Pause(std::time::Duration::from_secs(2))])]).await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let id = server.session().await;
    let (status, error) =
        server.post(&format!("/session/{id}/summarize"), r#"{"providerID":"mock","modelID":"nope"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["name"], "ProviderModelNotFoundError");
    let (status, _) = server.post(&format!("/session/{id}/summarize"), r#"{"modelID":"m1"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "providerID is required");
    server.post(&format!("/session/{id}/prompt_async"), &prompt_body("slow")).await;
    let (status, error) =
        server.post(&format!("/session/{id}/summarize"), r#"{"providerID":"mock","modelID":"m1"}"#).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    let (status, _) =
        server.post("/session/ses_doesnotexist000000000000/summarize", r#"{"providerID":"mock","modelID":"m1"}"#).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_turn_that_nears_the_window_is_compacted_first_and_carries_on() {
    let fixture = Fixture::new();
    let big = |text| Reply::Stream(vec![Chunk::Text(text), Chunk::Usage(95_000)]);
    let model = ScriptedModel::start(vec![big("One."), says("SUMMARY."), says("Carried on.")]).await;
    // 95,003 tokens used of a window of 100,000 less 8,000 for the answer.
    let server = TestServer::configured(&fixture.ws, &small_window(&model, 100_000, 8_000));
    let id = server.session().await;
    server.post(&format!("/session/{id}/message"), &prompt_body("first")).await;
    let (status, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("second")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(text_of(&reply), "Carried on.");
    let summarized = conversation(&model, 1);
    assert_eq!(summarized[2], ("user".into(), "second".into()), "the summary covers the new prompt: {summarized:?}");
    assert!(summarized[3].1.starts_with("Write a summary"));
    assert_eq!(
        conversation(&model, 2),
        [
            ("user".into(), "What did we do so far?".into()),
            ("assistant".into(), "SUMMARY.".into()),
            (
                "user".into(),
                "Continue if you have next steps, or stop and ask for clarification if you are unsure how to proceed."
                    .into()
            ),
        ]
    );
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let kinds: Vec<String> = messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| format!("{} {}", m["info"]["role"].as_str().unwrap(), m["parts"][0]["type"].as_str().unwrap_or("-")))
        .collect();
    assert_eq!(
        kinds,
        [
            "user text",
            "assistant step-start",
            "user text",
            "user compaction",
            "assistant step-start",
            "user text",
            "assistant step-start"
        ]
    );
    assert_eq!(messages[3]["parts"][0]["auto"], true);
    assert_eq!(messages[5]["parts"][0]["synthetic"], true);

    // With compaction.auto off, nothing is compacted.
    let model = ScriptedModel::start(vec![big("One."), says("Two.")]).await;
    let mut off: Value = serde_json::from_str(&small_window(&model, 100_000, 8_000)).unwrap();
    off["compaction"] = json!({ "auto": false });
    let server = TestServer::configured(&fixture.ws, &off.to_string());
    let id = server.session().await;
    server.post(&format!("/session/{id}/message"), &prompt_body("first")).await;
    let (_, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("second")).await;
    assert_eq!(text_of(&reply), "Two.");
    assert_eq!(model.requests().len(), 2);
}

#[tokio::test]
async fn a_request_the_provider_finds_too_long_is_compacted_and_tried_once_more() {
    let fixture = Fixture::new();
    let too_long = r#"{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}"#;
    let model = ScriptedModel::start(vec![
        says("One."),
        Reply::Status(400, vec![], too_long),
        says("SUMMARY."),
        says("Answered after all."),
    ])
    .await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let id = server.session().await;
    server.post(&format!("/session/{id}/message"), &prompt_body("first")).await;
    let (status, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("second")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(text_of(&reply), "Answered after all.");
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let refused = messages.as_array().unwrap().iter().find(|m| m["info"]["error"].is_object()).unwrap();
    assert_eq!(refused["info"]["error"]["name"], "ContextOverflowError");
    let compaction = messages.as_array().unwrap().iter().find(|m| m["parts"][0]["type"] == "compaction").unwrap();
    assert_eq!(compaction["parts"][0]["overflow"], true);

    // A provider that refuses every request as too long: the run ends
    // instead of compacting forever.
    let model = ScriptedModel::start(vec![Reply::Status(400, vec![], too_long); 20]).await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let id = server.session().await;
    let (status, reply) = server.post(&format!("/session/{id}/message"), &prompt_body("first")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert!(reply["info"]["error"].is_object(), "{reply}");
    assert!(model.requests().len() <= 8, "{} requests", model.requests().len());
}

#[tokio::test]
async fn old_tool_outputs_are_pruned_and_the_model_is_told() {
    let fixture = Fixture::new();
    fixture.file("big.txt", &"a line of text that takes up room in the context\n".repeat(2_500));
    let read = |id: &'static str| Chunk::Call(id, "read", json!({ "filePath": "big.txt" }));
    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![read("c1"), read("c2"), read("c3"), read("c4"), read("c5")]),
        says("Read five times."),
        Reply::Stream(vec![read("c6")]),
        says("Read once more."),
        says("Three."),
        says("Four."),
    ])
    .await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let id = server.session().await;
    for prompt in ["one", "two", "three", "four"] {
        server.post(&format!("/session/{id}/message"), &prompt_body(prompt)).await;
    }
    let last = model.requests().len() - 1;
    let tool_outputs: Vec<String> = model.requests()[last]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap().chars().take(40).collect())
        .collect();
    // Newest first: c6 (in the last two turns then) and the first 40,000
    // tokens of the rest stay; the oldest beyond them are cleared.
    let cleared = |s: &String| s == "[Old tool result content cleared]";
    assert_eq!(tool_outputs.len(), 6);
    assert!(cleared(&tool_outputs[0]) && cleared(&tool_outputs[1]), "{tool_outputs:?}");
    assert!(!cleared(&tool_outputs[4]) && !cleared(&tool_outputs[5]), "recent outputs stay: {tool_outputs:?}");
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let first = messages.as_array().unwrap()[1]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "tool")
        .unwrap()
        .clone();
    assert!(first["state"]["time"]["compacted"].is_number(), "{first}");
    assert!(first["state"]["output"].as_str().unwrap().len() > 1000, "the stored output is kept for the person");
}
