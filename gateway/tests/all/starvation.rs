//! Busy tools never starve the server: with every runtime worker's worth of
//! long tool calls running (host processes waiting on `sleep`, a shell loop
//! spinning in the sandbox), `GET /global/health` and the event stream still
//! answer at once. A host process waited for by a blocked worker thread
//! would freeze both until the commands end.

use crate::served::Served;
use crate::util::Fixture;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// What "at once" means here: far below the seconds the busy calls take.
const PROMPT: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread")]
async fn health_and_events_answer_while_tool_calls_keep_the_runtime_busy() {
    let fx = Fixture::new();
    let server = Served::start_with(&fx.ws, &["--allow-host-processes", "--timeout", "20"]);
    let client = reqwest::Client::new();
    let mut events = client.get(format!("{}/event", server.url)).send().await.unwrap();
    assert_eq!(events.status(), 200);

    // Three sessions, each kept busy: two host processes, one loop inside the sandbox.
    let commands = ["sh -c 'sleep 8'", "sh -c 'sleep 8'", "while true; do :; done"];
    let mut sessions = Vec::new();
    let mut running = Vec::new();
    for command in commands {
        let session: Value =
            client.post(format!("{}/session", server.url)).json(&json!({})).send().await.unwrap().json().await.unwrap();
        let id = session["id"].as_str().unwrap().to_string();
        let (url, body) =
            (format!("{}/session/{id}/shell", server.url), json!({ "agent": "build", "command": command }));
        let client = client.clone();
        running.push(tokio::spawn(async move { client.post(url).json(&body).send().await.map(|r| r.status()) }));
        sessions.push(id);
    }
    let all_busy = Instant::now();
    loop {
        let (_, statuses) = server.get("/session/status").await;
        if sessions.iter().all(|id| statuses[id]["type"] == "busy") {
            break;
        }
        assert!(all_busy.elapsed() < Duration::from_secs(10), "the commands did not start: {statuses}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the host processes settle into their wait.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let asked = Instant::now();
        let (status, health) = server.get("/global/health").await;
        slowest = slowest.max(asked.elapsed());
        assert_eq!(status, 200, "{health}");
    }
    assert!(slowest < PROMPT, "health took {slowest:?} while tools ran");

    // An event published now arrives now.
    let asked = Instant::now();
    let created: Value =
        client.post(format!("{}/session", server.url)).json(&json!({})).send().await.unwrap().json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let mut seen = String::new();
    while !seen.contains("\"session.created\"") || !seen.contains(id) {
        let chunk = tokio::time::timeout(PROMPT * 5, events.chunk()).await.expect("the event stream went quiet");
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap().expect("the stream stays open")));
    }
    let delivered = asked.elapsed();
    assert!(delivered < PROMPT, "the event took {delivered:?} while tools ran");
    // The commands are still running (nothing was given up to answer).
    let (_, statuses) = server.get("/session/status").await;
    assert!(sessions.iter().all(|id| statuses[id]["type"] == "busy"), "{statuses}");

    for id in &sessions {
        let _ = client.post(format!("{}/session/{id}/abort", server.url)).send().await.unwrap();
    }
    for call in running {
        let status = call.await.unwrap().expect("the shell call answers once aborted");
        assert_eq!(status, 200);
    }
    eprintln!("health slowest {slowest:?}, event delivered in {delivered:?}, with three busy tool calls");
}
