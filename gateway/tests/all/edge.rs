//! The HTTP edge under bad input: wrong methods, oversized and non-JSON
//! bodies, host names a web page could rebind, rules and part types the
//! reference refuses, ids that belong to another session, unknown agents,
//! and damaged rows in the store. Each gets a clear error and loses nothing.

use crate::router::TestServer as Server;
use crate::util::Fixture;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use wasmgate::store::{SessionKey, SqliteStore, Store};

#[tokio::test]
async fn a_wrong_method_gets_a_json_405() {
    let fixture = Fixture::new();
    let server = Server::new(&fixture.ws, None);
    let (status, body) = server.send(Request::delete("/global/health").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["name"], "MethodNotAllowedError", "{body}");
}

fn no_reply(text: &str) -> String {
    json!({ "noReply": true, "parts": [{ "type": "text", "text": text }] }).to_string()
}

#[tokio::test]
async fn a_long_prompt_is_taken_and_one_past_the_limit_is_a_413() {
    let fixture = Fixture::new();
    let server = Server::new(&fixture.ws, None);
    let id = server.session().await;
    let pasted = "log line\n".repeat(3 << 20 >> 3);
    let (status, reply) = server.post(&format!("/session/{id}/message"), &no_reply(&pasted)).await;
    assert_eq!(status, StatusCode::OK, "a 3 MB prompt is taken, as the reference takes it");
    assert_eq!(reply["parts"][0]["text"].as_str().map(str::len), Some(pasted.len()));
    let huge = "x".repeat(wasmgate::api::PROMPT_BODY_LIMIT + 1);
    let (status, body) = server.post(&format!("/session/{id}/message"), &no_reply(&huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["name"], "PayloadTooLargeError");
    let (status, messages) = server.get(&format!("/session/{id}/message")).await;
    assert_eq!((status, messages.as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "nothing was lost");
}

#[tokio::test]
async fn only_a_json_body_is_read_as_json() {
    let fixture = Fixture::new();
    let server = Server::new(&fixture.ws, None);
    let post = |kind: &'static str, body: &'static str| {
        Request::post("/session").header(header::CONTENT_TYPE, kind).body(Body::from(body)).unwrap()
    };
    let (status, _) = server.send(post("text/plain", r#"{"title":"from a web page"}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a page may post text/plain without asking first");
    let (status, session) = server.send(post("application/json; charset=utf-8", r#"{"title":"mine"}"#)).await;
    assert_eq!((status, session["title"].as_str()), (StatusCode::OK, Some("mine")));
    let (status, _) = server.send(post("text/plain", "")).await;
    assert_eq!(status, StatusCode::OK, "an empty body is no body");
    let (_, sessions) = server.get("/session").await;
    assert!(!sessions.to_string().contains("from a web page"));
}

#[tokio::test]
async fn without_a_password_only_names_a_page_cannot_rebind_are_served() {
    let fixture = Fixture::new();
    let server = Server::new(&fixture.ws, None);
    let with_host = |host: &str| Request::get("/session").header(header::HOST, host).body(Body::empty()).unwrap();
    for host in ["evil.example", "evil.example:4096", "127.0.0.1.evil.example"] {
        let (status, body) = server.send(with_host(host)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{host}: {body}");
    }
    for host in ["127.0.0.1:4096", "localhost:4096", "[::1]:4096"] {
        assert_eq!(server.send(with_host(host)).await.0, StatusCode::OK, "{host}");
    }
}

#[tokio::test]
async fn whether_a_folder_exists_outside_is_not_told() {
    let fixture = Fixture::new();
    let server = Server::new(&fixture.ws, None);
    let parent = fixture.outside.parent().unwrap().display().to_string();
    let ws = fixture.ws.display().to_string();
    let mut answers = Vec::new();
    for directory in [
        "/etc".to_string(),
        "/no/such/folder/anywhere".to_string(),
        parent.clone(),
        format!("{parent}/no-such-sibling"),
        format!("{ws}/../ws"),
        format!("{ws}/../no-such-sibling"),
    ] {
        let uri = format!("/path?directory={}", crate::util::encode(&directory));
        let (status, body) = server.get(&uri).await;
        answers.push((status, body["name"].clone()));
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn session_rules_are_checked_like_the_references() {
    let fixture = Fixture::new();
    let server = Server::new(&fixture.ws, None);
    for bad in [
        json!([{ "action": "bogus", "pattern": null }]),
        json!([{ "permission": "bash", "pattern": "*", "action": "maybe" }]),
        json!({ "bash": "allow" }),
        json!("allow"),
    ] {
        let (status, body) = server.post("/session", &json!({ "permission": bad }).to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let rules = json!([{ "permission": "bash", "pattern": "rm *", "action": "deny" }]);
    let (status, session) = server.post("/session", &json!({ "permission": rules }).to_string()).await;
    assert_eq!((status, &session["permission"]), (StatusCode::OK, &rules));
    let id = session["id"].as_str().unwrap();
    let patch = |body: Value| {
        Request::patch(format!("/session/{id}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let (status, _) = server.send(patch(json!({ "permission": [{ "action": "bogus" }] }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, kept) = server.get(&format!("/session/{id}")).await;
    assert_eq!(kept["permission"], rules, "a refused change changes nothing");
}

#[tokio::test]
async fn unknown_part_types_and_agents_are_refused() {
    let fixture = Fixture::new();
    let server = Server::new(&fixture.ws, None);
    let id = server.session().await;
    let bogus = json!({ "noReply": true, "parts": [{ "type": "bogus", "text": "x" }] }).to_string();
    let (status, body) = server.post(&format!("/session/{id}/message"), &bogus).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let unknown_agent = json!({ "agent": "nope", "parts": [{ "type": "text", "text": "x" }] }).to_string();
    let (status, body) = server.post(&format!("/session/{id}/message"), &unknown_agent).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = server.post(&format!("/session/{id}/shell"), r#"{"agent":"nope","command":"ls"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    assert_eq!(messages, json!([]), "nothing refused was stored");
}

#[tokio::test]
async fn a_disabled_build_agent_is_an_error_not_a_stuck_session() {
    // A config that leaves prompts without their default agent is refused
    // when loaded, naming the agent.
    let refused = wasmgate::config::Config::parse(r#"{"agent":{"build":{"disable":true}}}"#, std::path::Path::new("/"));
    let error = refused.expect_err("a config without its default agent").to_string();
    assert!(error.contains("\"build\""), "{error}");
    // With another default, a prompt that still names the disabled agent
    // is a 400, and the session is not left busy.
    let fixture = Fixture::new();
    let server = Server::configured(&fixture.ws, r#"{"default_agent":"plan","agent":{"build":{"disable":true}}}"#);
    let id = server.session().await;
    let prompt = json!({ "agent": "build", "parts": [{ "type": "text", "text": "hi" }] }).to_string();
    let (status, body) = server.post(&format!("/session/{id}/message"), &prompt).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, statuses) = server.get("/session/status").await;
    assert!(statuses.get(&id).is_none_or(|s| s["type"] == "idle"), "{statuses}");
}

#[tokio::test]
async fn the_plan_agents_shell_command_cannot_write() {
    let fixture = Fixture::new();
    let server = Server::new(&fixture.ws, None);
    let id = server.session().await;
    let (status, reply) = server
        .post(&format!("/session/{id}/shell"), r#"{"agent":"plan","command":"echo x > made.txt; echo status=$?"}"#)
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert!(!fixture.ws.join("made.txt").exists(), "{reply}");
    let (_, reply) =
        server.post(&format!("/session/{id}/shell"), r#"{"agent":"build","command":"echo x > made.txt"}"#).await;
    assert!(fixture.ws.join("made.txt").exists(), "{reply}");
}

#[tokio::test]
async fn an_id_a_client_chose_never_replaces_another_sessions_rows() {
    let fixture = Fixture::new();
    let server = Server::new(&fixture.ws, None);
    let (a, b) = (server.session().await, server.session().await);
    let body = |message: &str, part: &str, text: &str| {
        json!({ "noReply": true, "messageID": message, "parts": [{ "id": part, "type": "text", "text": text }] })
            .to_string()
    };
    let (message, part) = ("msg_00000000000100000000000001", "prt_00000000000100000000000001");
    let (status, _) = server.post(&format!("/session/{a}/message"), &body(message, part, "original")).await;
    assert_eq!(status, StatusCode::OK);
    for (session, message, part) in [
        (&b, message, "prt_00000000000100000000000002"),
        (&a, message, "prt_00000000000100000000000003"),
        (&b, "msg_00000000000100000000000002", part),
    ] {
        let (status, reply) =
            server.post(&format!("/session/{session}/message"), &body(message, part, "replacement")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{message} {part}: {reply}");
    }
    let (_, kept) = server.get(&format!("/session/{a}/message")).await;
    assert_eq!(kept[0]["parts"][0]["text"], "original");
    assert_eq!(kept.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_damaged_stored_row_is_skipped_not_fatal() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("wasmgate.db");
    let fixture = Fixture::new();
    let server = Server::new(&fixture.ws, None);
    let mut ids = Vec::new();
    {
        let store = SqliteStore::open(&path).unwrap();
        for title in ["damaged", "intact"] {
            let (_, session) = server.post("/session", &json!({ "title": title }).to_string()).await;
            let session: wasmgate::model::Session = serde_json::from_value(session).unwrap();
            store.put_session(&session).await.unwrap();
            ids.push(session.id);
        }
    }
    let database = rusqlite::Connection::open(&path).unwrap();
    database.execute("UPDATE session SET data = '{not json' WHERE id = ?1", [&ids[0]]).unwrap();
    database
        .execute(
            "INSERT INTO message (id, session_id, data) VALUES ('msg_00000000000100000000000009', ?1, '{broken')",
            [&ids[1]],
        )
        .unwrap();
    database
        .execute(
            "INSERT INTO part (id, message_id, session_id, data) VALUES
             ('prt_00000000000100000000000009', 'msg_00000000000100000000000009', ?1, 'null')",
            [&ids[1]],
        )
        .unwrap();
    drop(database);
    let store = SqliteStore::open(&path).unwrap();
    // The start-up recovery pass reads past the damage...
    wasmgate::conversation::recover(&store).await.expect("recovery skips damaged rows");
    // ...and so does every listing.
    let sessions = store.sessions(&Default::default()).await.unwrap();
    let titles: Vec<&str> = sessions.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles, ["intact"]);
    assert!(store.session(&ids[0]).await.unwrap().is_none());
    assert_eq!(store.messages(SessionKey::new(None, &ids[1]), None, None).await.unwrap().len(), 0);
}

/// Reads from `stream` until it closes; true if it closed within `within`.
async fn closes_within(stream: &mut tokio::net::TcpStream, within: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut sink = vec![0u8; 64 << 10];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut sink)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_and_idle_connections_are_closed_and_event_streams_are_not() {
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    let fixture = Fixture::new();
    let server = crate::served::Served::start_with(&fixture.ws, &["--header-timeout", "1"]);
    let address = server.address().to_string();
    // Many clients that send half a request head and stop.
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream.write_all(b"GET /session HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();
        slow.push(stream);
    }
    // One that finished a request and keeps the connection idle.
    let mut idle = TcpStream::connect(&address).await.unwrap();
    idle.write_all(b"GET /global/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    // An event stream, which must outlive the header timeout.
    let mut events = TcpStream::connect(&address).await.unwrap();
    events.write_all(b"GET /global/event HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let (status, _) = server.get("/global/health").await;
    assert_eq!(status, 200, "the server answers while slow clients wait");
    for stream in &mut slow {
        assert!(closes_within(stream, Duration::from_secs(10)).await, "a half-sent request was kept");
    }
    assert!(closes_within(&mut idle, Duration::from_secs(10)).await, "an idle connection was kept");
    assert!(!closes_within(&mut events, Duration::from_secs(3)).await, "the event stream was cut");
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_a_wave_of_subscribers_used_is_given_back_when_they_leave() {
    use tokio::io::AsyncWriteExt;
    let fixture = Fixture::new();
    let server = crate::served::Served::start_with(&fixture.ws, &[]);
    let address = server.address().to_string();
    let idle = server.resident();
    // 100 subscribers that read nothing while 100 events of 400 KB (a session
    // with a long title, twice) are published: the server holds them all.
    let mut subscribers = Vec::new();
    for _ in 0..100 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream.write_all(b"GET /global/event HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
        subscribers.push(stream);
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let title = "x".repeat(200_000);
    for _ in 0..100 {
        assert_eq!(server.post("/session", json!({ "title": title }).to_string()).await, 200);
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let busy = server.resident();
    drop(subscribers);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let after = server.resident();
    eprintln!(
        "resident: idle {} MB, with subscribers {} MB, after they left {} MB",
        idle >> 20,
        busy >> 20,
        after >> 20
    );
    assert!(busy > idle + (32 << 20), "the subscribers did not make the server hold their events");
    assert!(
        after < idle + (busy - idle) / 3,
        "idle {} MB, with subscribers {} MB, after they left {} MB",
        idle >> 20,
        busy >> 20,
        after >> 20
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_the_one_a_client_sent() {
    use tower::ServiceExt;
    let fixture = Fixture::new();
    let server = Server::new(&fixture.ws, None);
    let id_of = |request: Request<Body>| async {
        let response = wasmgate::api::router(server.app.clone()).oneshot(request).await.unwrap();
        response.headers().get("x-request-id").map(|id| id.to_str().unwrap().to_string())
    };
    let first = id_of(Request::get("/global/health").body(Body::empty()).unwrap()).await.expect("an id");
    let second = id_of(Request::get("/no/such/route").body(Body::empty()).unwrap()).await.expect("errors too");
    assert!(first.starts_with("req_") && second.starts_with("req_") && first != second, "{first} {second}");
    let kept = id_of(Request::get("/session").header("x-request-id", "trace-7f3a").body(Body::empty()).unwrap()).await;
    assert_eq!(kept.as_deref(), Some("trace-7f3a"));
}

#[tokio::test]
async fn a_body_past_a_small_routes_limit_is_a_json_413() {
    let fixture = Fixture::new();
    let server = Server::new(&fixture.ws, None);
    let reply = json!({ "reply": "once", "message": "x".repeat(3 << 20) }).to_string();
    let (status, body) = server.post("/permission/per_00000000000100000000000001/reply", &reply).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["name"], "PayloadTooLargeError", "{body}");
}
