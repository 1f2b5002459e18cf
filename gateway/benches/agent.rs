//! The agent benchmark: what a server adds between a model and the TUI,
//! wasmgate against the reference `opencode serve`, both answering prompts
//! from the same scripted model in one run.
//!
//! The scripted model (in this process, on loopback) streams
//! [`CHUNKS`] text deltas [`CHUNK_GAP`] apart and notes when it sent each;
//! a `/global/event` subscriber (also in this process, so the clocks agree)
//! notes when each `message.part.delta` arrives and when the assistant
//! message arrives completed. Figures:
//!
//! - the server's overhead per streamed chunk: from the model sending a
//!   chunk to its delta reaching the subscriber (median and p99);
//! - the time from the model's last chunk to the completed message on the
//!   event stream.
//!
//! The reference binary comes from the e2e tests' npm install (`just e2e`);
//! without it, only wasmgate's column is printed.
//!
//! Run with `cargo bench --bench agent` (or `just bench`).

mod common;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::serve::ListenerExt;
use common::{
    Connection, find, print_header, read_frames, reference, reference_binary, reference_home, row, session_id, start,
    wasmgate,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Text deltas per reply.
const CHUNKS: usize = 100;
/// The model's pause between deltas.
const CHUNK_GAP: Duration = Duration::from_millis(3);
/// Prompts per server (after one to warm up).
const TURNS: usize = 5;

/// What the scripted model sent, and when.
#[derive(Default)]
struct Sent {
    /// Each delta's text and when it was handed to the connection.
    chunks: HashMap<String, Instant>,
    /// When each turn's last chunk (`[DONE]`) went out, by turn.
    last: HashMap<usize, Instant>,
}

struct Model {
    url: String,
    sent: Arc<Mutex<Sent>>,
    /// How many timed replies have started.
    turns: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct ModelState {
    sent: Arc<Mutex<Sent>>,
    turns: Arc<AtomicUsize>,
}

async fn start_model() -> Model {
    let state = ModelState { sent: Arc::default(), turns: Arc::default() };
    let (sent, turns) = (state.sent.clone(), state.turns.clone());
    let router = Router::new().route("/v1/chat/completions", post(complete)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    // A real provider's chunks are not held back by Nagle either.
    let listener = listener.tap_io(|connection| connection.set_nodelay(true).unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Model { url, sent, turns }
}

fn chunk(delta: Value, finish: Option<&str>) -> Bytes {
    let chunk = json!({ "id": "b", "object": "chat.completion.chunk", "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] });
    Bytes::from(format!("data: {chunk}\n\n"))
}

/// Turn requests (they offer tools) get a timed stream; title and summary
/// requests a short untimed reply.
async fn complete(State(state): State<ModelState>, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let timed = request.get("tools").and_then(Value::as_array).is_some_and(|t| !t.is_empty());
    let turn = if timed { state.turns.fetch_add(1, Ordering::SeqCst) } else { usize::MAX };
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(CHUNKS + 8);
    tokio::spawn(async move {
        let _ = sender.send(Ok(chunk(json!({ "role": "assistant", "content": "" }), None))).await;
        if timed {
            for i in 0..CHUNKS {
                tokio::time::sleep(CHUNK_GAP).await;
                let text = format!("t{turn}c{i} ");
                state.sent.lock().unwrap().chunks.insert(text.clone(), Instant::now());
                if sender.send(Ok(chunk(json!({ "content": text }), None))).await.is_err() {
                    return;
                }
            }
        } else {
            let _ = sender.send(Ok(chunk(json!({ "content": "Bench title" }), None))).await;
        }
        let _ = sender.send(Ok(chunk(json!({}), Some("stop")))).await;
        let usage = json!({ "id": "b", "choices": [], "usage": { "prompt_tokens": 10, "completion_tokens": 100, "total_tokens": 110 } });
        let _ = sender.send(Ok(Bytes::from(format!("data: {usage}\n\n")))).await;
        let _ = sender.send(Ok(Bytes::from_static(b"data: [DONE]\n\n"))).await;
        if timed {
            state.sent.lock().unwrap().last.insert(turn, Instant::now());
        }
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(receiver)))
        .unwrap()
}

/// What the event subscriber saw, and when.
#[derive(Default)]
struct Seen {
    deltas: HashMap<String, Instant>,
    /// When each session's assistant message arrived completed.
    completed: HashMap<String, Instant>,
}

/// Subscribes to `/global/event` and notes deltas and completed messages.
async fn subscribe(address: &str) -> Arc<Mutex<Seen>> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(b"GET /global/event HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: */*\r\n\r\n").await.unwrap();
    let sink = seen.clone();
    tokio::spawn(read_frames(stream, move |frame, at| {
        let Some(start) = find(frame, b"data: ") else { return };
        let Ok(event) = serde_json::from_slice::<Value>(&frame[start + 6..]) else { return };
        let payload = &event["payload"];
        let properties = &payload["properties"];
        match payload["type"].as_str() {
            Some("message.part.delta") => {
                if let Some(delta) = properties["delta"].as_str() {
                    sink.lock().unwrap().deltas.entry(delta.to_string()).or_insert(at);
                }
            }
            Some("message.updated")
                if properties["info"]["role"] == "assistant"
                    && properties["info"]["time"]["completed"].is_number()
                    && properties["info"]["finish"] == "stop" =>
            {
                let session = properties["sessionID"].as_str().unwrap_or_default().to_string();
                sink.lock().unwrap().completed.entry(session).or_insert(at);
            }
            _ => {}
        }
    }));
    seen
}

struct Figures {
    /// Model chunk to delta at the subscriber: median, p99 (ms).
    chunk_median: f64,
    chunk_p99: f64,
    /// Model's last chunk to the completed message: median (ms).
    finish_median: f64,
    /// Deltas that arrived, of those sent.
    delivered: f64,
}

async fn measure(address: &str, model: &Model) -> Figures {
    let seen = subscribe(address).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut client = Connection::open(address).await;
    let mut sessions = Vec::new();
    // One turn to warm up, then the timed ones.
    for _ in 0..TURNS + 1 {
        let turn = model.turns.load(Ordering::SeqCst);
        let (status, body) = client.request("POST", "/session", "{}").await;
        assert_eq!(status, 200);
        let session = session_id(&body).unwrap();
        let prompt = json!({ "agent": "build", "model": { "providerID": "mock", "modelID": "m1" }, "parts": [{ "type": "text", "text": "go" }] });
        let (status, body) = client.request("POST", &format!("/session/{session}/message"), &prompt.to_string()).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        // The event may trail the response.
        for _ in 0..500 {
            if seen.lock().unwrap().completed.contains_key(&session) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        sessions.push((turn, session));
    }
    let (sent, seen) = (model.sent.lock().unwrap(), seen.lock().unwrap());
    let mut chunk_delays = Vec::new();
    let mut finish_delays = Vec::new();
    let mut expected = 0;
    for (turn, session) in sessions.iter().skip(1) {
        for i in 0..CHUNKS {
            let text = format!("t{turn}c{i} ");
            expected += 1;
            if let (Some(out), Some(arrived)) = (sent.chunks.get(&text), seen.deltas.get(&text)) {
                chunk_delays.push(arrived.saturating_duration_since(*out).as_secs_f64() * 1000.0);
                if std::env::var("BENCH_DEBUG").is_ok()
                    && arrived.saturating_duration_since(*out) > Duration::from_millis(5)
                {
                    eprintln!("slow chunk {text}: {:?}", arrived.saturating_duration_since(*out));
                }
            }
        }
        if let (Some(last), Some(completed)) = (sent.last.get(turn), seen.completed.get(session)) {
            finish_delays.push(completed.saturating_duration_since(*last).as_secs_f64() * 1000.0);
        }
    }
    let percentile = |values: &mut Vec<f64>, q: f64| {
        values.sort_by(f64::total_cmp);
        if values.is_empty() { f64::NAN } else { values[((values.len() - 1) as f64 * q) as usize] }
    };
    Figures {
        chunk_median: percentile(&mut chunk_delays, 0.5),
        chunk_p99: percentile(&mut chunk_delays, 0.99),
        finish_median: percentile(&mut finish_delays, 0.5),
        delivered: chunk_delays.len() as f64 / expected as f64 * 100.0,
    }
}

fn config(model: &Model) -> String {
    json!({
        "model": "mock/m1",
        "small_model": "mock/m1",
        "autoupdate": false,
        "share": "disabled",
        "disabled_providers": ["opencode"],
        "provider": { "mock": {
            "npm": "@ai-sdk/openai-compatible",
            "options": { "baseURL": model.url, "apiKey": "bench" },
            "models": { "m1": { "name": "Bench", "limit": { "context": 100000, "output": 4000 } } },
        } },
    })
    .to_string()
}

fn main() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    let project = root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("README.md"), "# bench\n").unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let model = runtime.block_on(start_model());
    let settings = config(&model);
    let config_file = root.join("wasmgate.json");
    std::fs::write(&config_file, &settings).unwrap();
    let home = root.join("home");
    reference_home(&home, &settings);

    let run = |name: &'static str, command, marker: &str| {
        let (server, _) = start(name, command, marker);
        let figures = runtime.block_on(measure(&server.address, &model));
        eprintln!("{name}: measured");
        figures
    };
    let ours = run("wasmgate", wasmgate(&project, &root.join("data"), &config_file), "wasmgate listening");
    let theirs = reference_binary()
        .map(|binary| run("reference", reference(&binary, &project, &home), "opencode server listening"));

    println!(
        "\nagent benchmark: {TURNS} prompts, each streaming {CHUNKS} chunks {} ms apart from a scripted model",
        CHUNK_GAP.as_millis()
    );
    print_header();
    let theirs = theirs.as_ref();
    row("model chunk to TUI delta, median", ours.chunk_median, theirs.map(|t| t.chunk_median), "ms", false);
    row("model chunk to TUI delta, p99", ours.chunk_p99, theirs.map(|t| t.chunk_p99), "ms", false);
    row("last chunk to completed message, median", ours.finish_median, theirs.map(|t| t.finish_median), "ms", false);
    row("deltas delivered", ours.delivered, theirs.map(|t| t.delivered), "%", true);
    println!("(ratio: how many times better wasmgate is; above 1.0 is better)");
    if theirs.is_none() {
        println!("the reference server is not installed: run `just e2e` (or `npm install` in tests/e2e) to compare");
    }
}
