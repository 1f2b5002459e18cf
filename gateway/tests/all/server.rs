//! The HTTP API through its router: directory resolution and its boundary,
//! error shapes, auth, the event streams, and the store across restarts.

use crate::router::TestServer as Server;
use crate::util::{Fixture, encode};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;
use wasmgate::app::Credentials;
use wasmgate::store::{SessionKey, SqliteStore, Store};

#[tokio::test]
async fn a_directory_outside_the_served_folder_is_refused_however_it_is_named() {
    let fixture = Fixture::new();
    fixture.file("README.md", "hello");
    std::os::unix::fs::symlink(fixture.outside.parent().unwrap(), fixture.ws.join("up")).unwrap();
    let server = Server::new(&fixture.ws, None);
    let parent = fixture.outside.parent().unwrap().display().to_string();
    let ws = fixture.ws.display().to_string();
    let attempts = [
        format!("/file/content?path=outside.txt&directory={}", encode(&parent)),
        format!("/file/content?path=outside.txt&directory={}", encode(&format!("{ws}/.."))),
        format!("/file/content?path=outside.txt&directory={}", encode(&format!("{ws}/up"))),
        "/file/content?path=outside.txt&directory=..".to_string(),
        "/file/content?path=passwd&directory=%2Fetc".to_string(),
        format!("/file/content?path=../outside.txt&directory={}", encode(&ws)),
        "/file/content?path=up/outside.txt".to_string(),
        format!("/file/content?path={}", encode(&fixture.outside.display().to_string())),
        format!("/file?path=..&directory={}", encode(&ws)),
        "/find?pattern=SECRET&directory=%2F".to_string(),
    ];
    for uri in &attempts {
        let (status, body) = server.get(uri).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}: {body}");
        assert_eq!(body["name"], "ForbiddenError", "{uri}");
    }
    // The header form, percent-encoded as the SDK sends it.
    let request = Request::get("/path").header("x-opencode-directory", encode(&parent)).body(Body::empty()).unwrap();
    assert_eq!(server.send(request).await.0, StatusCode::FORBIDDEN);
    let request = Request::get("/path").header("x-opencode-directory", encode(&ws)).body(Body::empty()).unwrap();
    let (status, path) = server.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(path["directory"], ws);
    fixture.assert_outside_untouched();
}

#[tokio::test]
async fn a_sessions_own_directory_wins_over_the_one_a_request_names() {
    let fixture = Fixture::new();
    fixture.file("sub/notes.txt", "inside");
    let server = Server::new(&fixture.ws, None);
    let sub = fixture.ws.join("sub").display().to_string();
    let (_, session) = server.post(&format!("/session?directory={}", encode(&sub)), "").await;
    assert_eq!(session["directory"], sub);
    assert_eq!(session["path"], "", "outside git the path is relative to the directory itself");
    let id = session["id"].as_str().unwrap();
    let (status, _) = server.get(&format!("/session/{id}/message?directory=%2Fetc")).await;
    assert_eq!(status, StatusCode::OK, "the session's directory is used, not the one named");
    let (status, reply) = server
        .post(&format!("/session/{id}/shell?directory=%2Fetc"), r#"{"agent":"build","command":"cat notes.txt"}"#)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["parts"][0]["state"]["output"], "inside");
}

#[tokio::test]
async fn sharing_is_disabled_and_says_so() {
    // opencode.json asking for sharing changes nothing: nothing leaves the server.
    let fixture = Fixture::new();
    let server = Server::configured(&fixture.ws, r#"{"share": "auto", "autoshare": true}"#);
    let (_, config) = server.get("/config").await;
    assert_eq!(config["share"], "disabled");
    assert!(config.get("autoshare").is_none(), "{config}");
    let id = server.session().await;
    let (status, body) = server.post(&format!("/session/{id}/share"), "").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["name"], "ForbiddenError");
    assert!(body["data"]["message"].as_str().unwrap().starts_with("Sharing is disabled"), "{body}");
    let request = Request::delete(format!("/session/{id}/share")).body(Body::empty()).unwrap();
    let (status, session) = server.send(request).await;
    assert_eq!((status, session["id"].as_str()), (StatusCode::OK, Some(id.as_str())), "{session}");
    assert!(session.get("share").is_none_or(Value::is_null), "{session}");
    let (status, _) = server.post("/session/ses_00000000000000000000000000/share", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn errors_have_opencodes_shapes() {
    let fixture = Fixture::new();
    let server = Server::new(&fixture.ws, None);
    let (status, body) = server.get("/no/such/route").await;
    assert_eq!((status, body["name"].as_str()), (StatusCode::NOT_FOUND, Some("NotFoundError")));
    let (status, body) = server.get("/session/ses_000000000000aaaaaaaaaaaaaa").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["data"]["message"], "Session not found: ses_000000000000aaaaaaaaaaaaaa");
    let (status, body) = server.get("/session/msg_000000000000aaaaaaaaaaaaaa").await;
    assert_eq!((status, body["data"]["kind"].as_str()), (StatusCode::BAD_REQUEST, Some("Path")));
    let (status, body) = server.post("/session", "{oops").await;
    assert_eq!((status, body["data"]["kind"].as_str()), (StatusCode::BAD_REQUEST, Some("Payload")));
    let (status, body) = server.get("/session?roots=maybe").await;
    assert_eq!((status, body["data"]["kind"].as_str()), (StatusCode::BAD_REQUEST, Some("Query")));
    let (status, body) = server.get("/find?pattern=(").await;
    assert_eq!((status, body["name"].as_str()), (StatusCode::BAD_REQUEST, Some("BadRequest")));
    let (status, _) = server.get("/session").await;
    assert_eq!(status, StatusCode::OK, "the server keeps serving");
}

#[tokio::test]
async fn a_busy_session_refuses_a_second_run_and_abort_stops_the_first() {
    let fixture = Fixture::new();
    let server = Arc::new(Server::new(&fixture.ws, None));
    let (_, session) = server.post("/session", "").await;
    let id = session["id"].as_str().unwrap().to_string();
    let running = {
        let (server, id) = (server.clone(), id.clone());
        tokio::spawn(async move {
            server
                .post(&format!("/session/{id}/shell"), r#"{"agent":"build","command":"while true; do :; done"}"#)
                .await
        })
    };
    for _ in 0..100 {
        if server.get("/session/status").await.1.get(&id).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, body) = server.post(&format!("/session/{id}/shell"), r#"{"agent":"build","command":"echo"}"#).await;
    assert_eq!((status, body["_tag"].as_str()), (StatusCode::CONFLICT, Some("SessionBusyError")));
    assert_eq!(server.post(&format!("/session/{id}/abort"), "").await, (StatusCode::OK, json!(true)));
    let (status, reply) = running.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["info"]["error"]["name"], "MessageAbortedError");
    assert_eq!(reply["parts"][0]["state"]["status"], "error");
    assert_eq!(server.get("/session/status").await.1, json!({}));
}

#[tokio::test]
async fn basic_auth_guards_every_route_but_cors_preflight() {
    let fixture = Fixture::new();
    let credentials = Credentials { username: "opencode".into(), password: "pw".into() };
    let server = Server::new(&fixture.ws, Some(credentials));
    assert_eq!(server.get("/global/health").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(server.get("/global/event").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(server.get("/doc").await.0, StatusCode::UNAUTHORIZED);
    let good = "Basic b3BlbmNvZGU6cHc="; // opencode:pw
    let request = Request::get("/global/health").header(header::AUTHORIZATION, good).body(Body::empty()).unwrap();
    assert_eq!(server.send(request).await.0, StatusCode::OK);
    let request =
        Request::get("/session").header(header::AUTHORIZATION, "Basic b3BlbmNvZGU6cHg=").body(Body::empty()).unwrap();
    assert_eq!(server.send(request).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(server.get("/session?auth_token=b3BlbmNvZGU6cHc%3D").await.0, StatusCode::OK);
    let preflight = Request::options("/session")
        .header(header::ORIGIN, "http://localhost:5173")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .body(Body::empty())
        .unwrap();
    let response = wasmgate::api::router(server.app.clone()).oneshot(preflight).await.unwrap();
    assert!(response.status().is_success());
    assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://localhost:5173");
}

#[tokio::test]
async fn event_streams_start_connected_and_carry_wrapped_and_bare_events() {
    let fixture = Fixture::new();
    let server = Server::new(&fixture.ws, None);
    let router = wasmgate::api::router(server.app.clone());
    let global = router.clone().oneshot(Request::get("/global/event").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(global.headers()[header::CONTENT_TYPE], "text/event-stream");
    let instance = router.oneshot(Request::get("/event").body(Body::empty()).unwrap()).await.unwrap();
    let mut global = global.into_body().into_data_stream();
    let mut instance = instance.into_body().into_data_stream();
    use futures_util::StreamExt;
    let next = |frame: Option<Result<bytes::Bytes, axum::Error>>| -> Value {
        let frame = frame.unwrap().unwrap();
        let text = std::str::from_utf8(&frame).unwrap();
        assert!(text.starts_with("data: ") && text.ends_with("\n\n"), "{text:?}");
        serde_json::from_str(&text[6..text.len() - 2]).unwrap()
    };
    let connected = next(global.next().await);
    assert_eq!(connected["payload"]["type"], "server.connected");
    assert!(connected.get("directory").is_none());
    assert_eq!(next(instance.next().await)["type"], "server.connected");

    let (_, session) = server.post("/session", "").await;
    let created = next(global.next().await);
    assert_eq!(created["directory"], fixture.ws.display().to_string());
    assert_eq!(created["project"], "global");
    assert_eq!(created["payload"]["type"], "session.created");
    assert_eq!(created["payload"]["properties"]["info"], session);
    let bare = next(instance.next().await);
    assert_eq!(bare["type"], "session.created");
    assert!(bare["id"].as_str().unwrap().starts_with("evt_"));
}

#[tokio::test]
async fn openapi_document_matches_the_router() {
    let document: Value = serde_json::from_str(wasmgate::api::OPENAPI).unwrap();
    let fixture = Fixture::new();
    let server = Server::new(&fixture.ws, None);
    for (path, operations) in document["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            let concrete = path
                .replace("{sessionID}", "ses_000000000000aaaaaaaaaaaaaa")
                .replace("{messageID}", "msg_000000000000aaaaaaaaaaaaaa")
                .replace("{requestID}", "per_000000000000aaaaaaaaaaaaaa");
            if concrete.ends_with("/event") {
                continue; // streams never end
            }
            let request =
                Request::builder().method(method.to_uppercase().as_str()).uri(&concrete).body(Body::empty()).unwrap();
            let (status, body) = server.send(request).await;
            let unrouted = status == StatusCode::NOT_FOUND
                && body["data"]["message"].as_str().is_some_and(|m| m.starts_with("no route"));
            let wrong_method = status == StatusCode::METHOD_NOT_ALLOWED;
            assert!(!unrouted && !wrong_method, "{method} {path} is documented but not routed");
        }
    }
}

#[tokio::test]
async fn the_store_keeps_everything_across_a_reopen_and_closes_interrupted_runs() {
    use wasmgate::model::{Message, Part};
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("db/wasmgate.db");
    let fixture = Fixture::new();
    let server = Server::new(&fixture.ws, None);
    let (_, session) = server.post("/session", r#"{"title":"kept"}"#).await;
    let session: wasmgate::model::Session = serde_json::from_value(session).unwrap();
    {
        let store = SqliteStore::open(&path).unwrap();
        store.put_session(&session).await.unwrap();
        let message: Message = serde_json::from_value(json!({
            "role": "assistant", "id": "msg_000000000001aaaaaaaaaaaaaa", "sessionID": session.id,
            "time": {"created": 1}, "parentID": "msg_000000000000aaaaaaaaaaaaaa", "modelID": "m", "providerID": "p",
            "mode": "build", "agent": "build", "path": {"cwd": "/", "root": "/"}, "cost": 0,
            "tokens": {"input": 0, "output": 0, "reasoning": 0, "cache": {"read": 0, "write": 0}},
        }))
        .unwrap();
        store.put_message(None, &message).await.unwrap();
        let part = Part::new(
            &session.id,
            message.id(),
            json!({"type": "tool", "tool": "bash", "callID": "c",
            "state": {"status": "running", "input": {"command": "sleep"}, "time": {"start": 1}}}),
        );
        store.put_part(None, &part).await.unwrap();
        // Dropped without any shutdown, as a killed process would leave it.
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.session(&session.id).await.unwrap().unwrap().title, "kept");
    assert_eq!(wasmgate::conversation::recover(&store).await.unwrap(), (1, 1));
    let messages = store.messages(SessionKey::of(&session), None, None).await.unwrap();
    let Message::Assistant(assistant) = &messages[0].info else { panic!("an assistant message") };
    assert!(assistant.time.completed.is_some());
    assert_eq!(messages[0].parts[0].body["state"]["status"], "error");
    assert_eq!(wasmgate::conversation::recover(&store).await.unwrap(), (0, 0), "recovery is done once");
}
