//! `/tui/*`: each route publishes the `tui.*` event an attached TUI acts on,
//! in the reference's shapes, and refuses what the reference refuses.

use crate::router::TestServer;
use crate::util::Fixture;
use axum::http::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn each_route_publishes_the_event_an_attached_tui_acts_on() {
    let fixture = Fixture::new();
    let server = TestServer::new(&fixture.ws, None);
    let events = server.events().await;
    let session = server.session().await;
    let calls: Vec<(&str, Value, &str, Value)> = vec![
        ("/tui/append-prompt", json!({ "text": "hello" }), "tui.prompt.append", json!({ "text": "hello" })),
        ("/tui/open-help", json!({}), "tui.command.execute", json!({ "command": "help.show" })),
        ("/tui/open-sessions", json!({}), "tui.command.execute", json!({ "command": "session.list" })),
        ("/tui/open-themes", json!({}), "tui.command.execute", json!({ "command": "theme.switch" })),
        ("/tui/open-models", json!({}), "tui.command.execute", json!({ "command": "model.list" })),
        ("/tui/submit-prompt", json!({}), "tui.command.execute", json!({ "command": "prompt.submit" })),
        ("/tui/clear-prompt", json!({}), "tui.command.execute", json!({ "command": "prompt.clear" })),
        (
            "/tui/execute-command",
            json!({ "command": "session_new" }),
            "tui.command.execute",
            json!({ "command": "session.new" }),
        ),
        (
            "/tui/execute-command",
            json!({ "command": "agent.cycle" }),
            "tui.command.execute",
            json!({ "command": "agent.cycle" }),
        ),
        (
            "/tui/show-toast",
            json!({ "title": "Hi", "message": "from a script", "variant": "success", "duration": 3000 }),
            "tui.toast.show",
            json!({ "title": "Hi", "message": "from a script", "variant": "success", "duration": 3000 }),
        ),
        ("/tui/select-session", json!({ "sessionID": session }), "tui.session.select", json!({ "sessionID": session })),
        (
            "/tui/publish",
            json!({ "type": "tui.prompt.append", "properties": { "text": "published" } }),
            "tui.prompt.append",
            json!({ "text": "published" }),
        ),
    ];
    for (route, body, kind, properties) in calls {
        let (status, answer) = server.post(route, &body.to_string()).await;
        assert_eq!((status, &answer), (StatusCode::OK, &json!(true)), "{route}");
        let seen = events.wait_for(kind, |e| e["type"] == kind && e["properties"] == properties).await;
        assert_eq!(seen["properties"], properties, "{route}");
    }
}

#[tokio::test]
async fn bad_requests_are_refused_and_publish_nothing() {
    let fixture = Fixture::new();
    let server = TestServer::new(&fixture.ws, None);
    let events = server.events().await;
    let refused: Vec<(&str, Value, StatusCode)> = vec![
        ("/tui/append-prompt", json!({}), StatusCode::BAD_REQUEST),
        ("/tui/append-prompt", json!({ "text": "x", "extra": 1 }), StatusCode::BAD_REQUEST),
        ("/tui/show-toast", json!({ "message": "x", "variant": "loud" }), StatusCode::BAD_REQUEST),
        ("/tui/show-toast", json!({ "message": "x", "variant": "info", "duration": 0 }), StatusCode::BAD_REQUEST),
        ("/tui/publish", json!({ "type": "session.deleted", "properties": {} }), StatusCode::BAD_REQUEST),
        ("/tui/publish", json!({ "type": "tui.toast.show", "properties": { "message": 3 } }), StatusCode::BAD_REQUEST),
        ("/tui/select-session", json!({ "sessionID": "nope" }), StatusCode::BAD_REQUEST),
        ("/tui/select-session", json!({ "sessionID": "ses_ffffffffffffAAAAAAAAAAAAAA" }), StatusCode::NOT_FOUND),
        (
            "/tui/publish",
            json!({ "type": "tui.session.select", "properties": { "sessionID": "ses_ffffffffffffAAAAAAAAAAAAAA" } }),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (route, body, expected) in refused {
        let (status, answer) = server.post(route, &body.to_string()).await;
        assert_eq!(status, expected, "{route} {body}: {answer}");
        assert!(answer["name"].is_string(), "OpenCode's error shape: {answer}");
    }
    let (status, _) = server.post("/tui/append-prompt", "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(events.all().iter().all(|e| !e["type"].as_str().unwrap().starts_with("tui.")), "nothing was published");
}
