//! The routes that change what a session stored (deleting a message or a
//! part, replacing a part), the older `/session/{id}/init`, and the
//! directory's housekeeping routes (`/log`, `/instance/dispose`,
//! `/global/dispose`, `/experimental/tool`), as the SDK calls them.

use crate::agent::{config, idle, prompt_body};
use crate::router::TestServer;
use crate::scripted_model::{Chunk, Reply, ScriptedModel, says};
use crate::util::Fixture;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use std::time::Duration;

async fn send(server: &TestServer, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.map_or_else(Body::empty, |b| b.to_string().into()))
        .unwrap();
    server.send(request).await
}

#[tokio::test]
async fn a_part_is_replaced_or_deleted_and_a_message_deleted_but_not_while_the_session_runs() {
    let fixture = Fixture::new();
    let slow = Reply::Stream(vec![Chunk::Text("thinking"), Chunk::Pause(Duration::from_secs(20)), Chunk::Text(".")]);
    let model = ScriptedModel::start(vec![says("First answer."), slow]).await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let events = server.events().await;
    let id = server.session().await;
    server.post(&format!("/session/{id}/message"), &prompt_body("first question")).await;
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let (user, answer) = (messages[0].clone(), messages[1].clone());
    let (uid, aid) = (user["info"]["id"].as_str().unwrap(), answer["info"]["id"].as_str().unwrap());
    let text = user["parts"][0].clone();
    let pid = text["id"].as_str().unwrap();
    let part_uri = format!("/session/{id}/message/{uid}/part/{pid}");

    let mut edited = text.clone();
    edited["text"] = json!("the question, reworded");
    let (status, part) = send(&server, "PATCH", &part_uri, Some(edited.clone())).await;
    assert_eq!(status, StatusCode::OK, "{part}");
    assert_eq!(part, edited);
    let (_, stored) = server.get(&format!("/session/{id}/message/{uid}")).await;
    assert_eq!(stored["parts"][0]["text"], "the question, reworded");
    events.wait_for("the update", |e| e["type"] == "message.part.updated" && e["properties"]["part"] == edited).await;

    let mut elsewhere = edited.clone();
    elsewhere["messageID"] = json!(aid);
    let mut unknown = edited.clone();
    unknown["type"] = json!("nonsense");
    let mut broken_tool = edited.clone();
    broken_tool["type"] = json!("tool");
    for (body, expected) in [
        (elsewhere, StatusCode::BAD_REQUEST),
        (unknown, StatusCode::BAD_REQUEST),
        (broken_tool, StatusCode::BAD_REQUEST),
        (json!("not a part"), StatusCode::BAD_REQUEST),
    ] {
        let (status, error) = send(&server, "PATCH", &part_uri, Some(body)).await;
        assert_eq!(status, expected, "{error}");
    }
    let missing = format!("/session/{id}/message/{uid}/part/prt_ffffffffffffAAAAAAAAAAAAAA");
    let mut for_missing = edited.clone();
    for_missing["id"] = json!("prt_ffffffffffffAAAAAAAAAAAAAA");
    assert_eq!(send(&server, "PATCH", &missing, Some(for_missing)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        send(&server, "DELETE", &format!("/session/{id}/message/{uid}/part/nope"), None).await.0,
        StatusCode::BAD_REQUEST
    );

    let (status, ok) = send(&server, "DELETE", &part_uri, None).await;
    assert_eq!((status, ok), (StatusCode::OK, json!(true)));
    let (_, stored) = server.get(&format!("/session/{id}/message/{uid}")).await;
    assert!(stored["parts"].as_array().unwrap().is_empty(), "{stored}");
    events.wait_for("the removal", |e| e["type"] == "message.part.removed" && e["properties"]["partID"] == pid).await;
    assert_eq!(send(&server, "DELETE", &part_uri, None).await.0, StatusCode::NOT_FOUND);

    let message_uri = format!("/session/{id}/message/{aid}");
    let (status, ok) = send(&server, "DELETE", &message_uri, None).await;
    assert_eq!((status, ok), (StatusCode::OK, json!(true)));
    assert_eq!(server.get(&message_uri).await.0, StatusCode::NOT_FOUND);
    events.wait_for("message.removed", |e| e["type"] == "message.removed" && e["properties"]["messageID"] == aid).await;
    assert_eq!(send(&server, "DELETE", &message_uri, None).await.0, StatusCode::NOT_FOUND);

    // While a turn runs, its session's messages stay as they are.
    server.post(&format!("/session/{id}/prompt_async"), &prompt_body("second question")).await;
    events.wait_for("streaming", |e| e["type"] == "message.part.delta").await;
    let (status, error) = send(&server, "DELETE", &format!("/session/{id}/message/{uid}"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    server.post(&format!("/session/{id}/abort"), "").await;
    idle(&events, &id).await;
    let mut status = StatusCode::CONFLICT;
    for _ in 0..100 {
        status = send(&server, "DELETE", &format!("/session/{id}/message/{uid}"), None).await.0;
        if status != StatusCode::CONFLICT {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, StatusCode::OK, "once the run has ended");
}

#[tokio::test]
async fn init_runs_the_init_command_with_the_message_id_given() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![says("Wrote AGENTS.md.")]).await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let id = server.session().await;
    // An id made by a clock two days ahead is refused: the answer would
    // sort before the question.
    let now = wasmgate::ids::new(wasmgate::ids::Prefix::Message);
    let value = u64::from_str_radix(&now[4..16], 16).unwrap();
    let ahead = format!("msg_{:012x}AAAAAAAAAAAAAA", (value + 2 * 86_400_000 * 4096) & 0xffff_ffff_ffff);
    let body = json!({ "providerID": "mock", "modelID": "m1", "messageID": ahead });
    let (status, error) = server.post(&format!("/session/{id}/init"), &body.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(error.to_string().contains("ahead"), "{error}");

    let chosen = wasmgate::ids::new(wasmgate::ids::Prefix::Message);
    let body = json!({ "providerID": "mock", "modelID": "m1", "messageID": chosen });
    let (status, ok) = server.post(&format!("/session/{id}/init"), &body.to_string()).await;
    assert_eq!((status, ok), (StatusCode::OK, json!(true)));
    let asked = model.requests()[0]["messages"].as_array().unwrap().last().unwrap()["content"].clone();
    assert!(asked.as_str().unwrap().contains("AGENTS.md"), "{asked}");
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    assert_eq!(messages[0]["info"]["id"], chosen.as_str());
    let (status, _) = server.post(&format!("/session/{id}/init"), &json!({ "modelID": "m1" }).to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn log_dispose_and_the_tool_list_answer_as_the_reference() {
    let fixture = Fixture::new();
    let model = ScriptedModel::start(vec![]).await;
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({ "permission": { "bash": "deny" } })));
    let events = server.events().await;

    let entry = json!({ "service": "tui", "level": "warn", "message": "x".repeat(20_000), "extra": { "a": 1 } });
    assert_eq!(server.post("/log", &entry.to_string()).await, (StatusCode::OK, json!(true)));
    for bad in [
        json!({ "service": "tui", "level": "loud", "message": "m" }),
        json!({ "service": "tui", "level": "info" }),
        json!({ "service": "tui", "level": "info", "message": "m", "color": "red" }),
    ] {
        assert_eq!(server.post("/log", &bad.to_string()).await.0, StatusCode::BAD_REQUEST, "{bad}");
    }

    assert_eq!(server.post("/instance/dispose", "").await, (StatusCode::OK, json!(true)));
    let disposed = events.wait_for("server.instance.disposed", |e| e["type"] == "server.instance.disposed").await;
    assert_eq!(disposed["properties"]["directory"], fixture.ws.display().to_string());
    assert_eq!(server.post("/global/dispose", "").await, (StatusCode::OK, json!(true)));
    events.wait_for("global.disposed", |e| e["type"] == "global.disposed").await;

    let (status, ids) = server.get("/experimental/tool/ids").await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = ids.as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
    for tool in ["read", "write", "edit", "webfetch", "question", "todowrite", "task"] {
        assert!(ids.contains(&tool), "{tool} in {ids:?}");
    }
    assert!(!ids.contains(&"bash"), "a tool the rules deny everywhere is not offered: {ids:?}");
    assert_eq!(server.get("/experimental/tool").await.0, StatusCode::BAD_REQUEST, "provider and model are required");
    let (status, tools) = server.get("/experimental/tool?provider=mock&model=m1").await;
    assert_eq!(status, StatusCode::OK);
    let read = tools.as_array().unwrap().iter().find(|t| t["id"] == "read").unwrap();
    assert_eq!(read["parameters"]["required"], json!(["filePath"]));
    assert!(!read["description"].as_str().unwrap().is_empty());
}
