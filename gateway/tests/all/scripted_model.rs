//! A scripted language model on loopback, the one stand-in the tests allow:
//! it speaks OpenAI's chat completions (`POST /v1/chat/completions`) and
//! Anthropic's Messages (`POST /v1/messages`) as the real services stream
//! them, replying from a script the test writes, and records every request.
//!
//! Title requests (whose system prompt is the title agent's) are answered
//! from a fixed reply and never consume the script, since they run beside
//! the turn in no fixed order.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The title every title request gets.
pub const TITLE: &str = "Scripted title";

/// One piece of a scripted reply.
#[derive(Debug, Clone)]
pub enum Chunk {
    Text(&'static str),
    Reasoning(&'static str),
    /// A tool call: its id, tool and JSON arguments (streamed in two halves).
    Call(&'static str, &'static str, Value),
    /// Waits before the next chunk.
    Pause(Duration),
    /// A raw SSE data line, sent as it is.
    Raw(&'static str),
    /// The prompt tokens the finish reports (10 unless said).
    Usage(u64),
}

/// The prompt tokens a reply of `chunks` reports.
fn prompt_tokens(chunks: &[Chunk]) -> u64 {
    chunks.iter().find_map(|c| if let Chunk::Usage(n) = c { Some(*n) } else { None }).unwrap_or(10)
}

/// One scripted reply.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A streamed reply, then the finish chunk with token usage.
    Stream(Vec<Chunk>),
    /// A streamed reply cut off without finishing.
    Cut(Vec<Chunk>),
    /// An error status with headers and a body.
    Status(u16, Vec<(&'static str, &'static str)>, &'static str),
}

/// Shorthand: a reply that says `text`.
pub fn says(text: &'static str) -> Reply {
    Reply::Stream(vec![Chunk::Text(text)])
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Value>>,
    titles: AtomicUsize,
    /// Streams whose client went away before the reply ended.
    dropped: AtomicUsize,
    /// The key each turn request carried (`authorization` or `x-api-key`).
    keys: Mutex<Vec<String>>,
}

/// A running scripted model.
#[derive(Clone)]
pub struct ScriptedModel {
    /// The API base, e.g. `http://127.0.0.1:PORT/v1`.
    pub url: String,
    shared: Arc<Shared>,
}

impl ScriptedModel {
    /// Starts a server answering from `script`, in order.
    pub async fn start(script: Vec<Reply>) -> Self {
        let shared = Arc::new(Shared { script: Mutex::new(script.into()), ..Default::default() });
        let router = Router::new()
            .route("/v1/chat/completions", post(openai))
            .route("/v1/messages", post(anthropic))
            .route("/v1/models", get(models))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let listener = listener.tap_io(|connection| connection.set_nodelay(true).unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        ScriptedModel { url, shared }
    }

    /// Adds replies to the end of the script.
    pub fn push(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.script.lock().unwrap().extend(replies);
    }

    /// The bodies of the turn requests received so far (not titles).
    pub fn requests(&self) -> Vec<Value> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// The key each turn request carried, in order (empty: none).
    pub fn keys(&self) -> Vec<String> {
        self.shared.keys.lock().unwrap().clone()
    }

    /// How many title requests arrived.
    pub fn titles(&self) -> usize {
        self.shared.titles.load(Ordering::SeqCst)
    }

    /// How many streams the client dropped before they ended.
    pub fn dropped(&self) -> usize {
        self.shared.dropped.load(Ordering::SeqCst)
    }

    /// How many replies are left.
    pub fn left(&self) -> usize {
        self.shared.script.lock().unwrap().len()
    }
}

#[derive(Clone, Copy)]
enum Protocol {
    OpenAi,
    Anthropic,
}

async fn models() -> axum::Json<Value> {
    axum::Json(json!({ "object": "list", "data": [{ "id": "discovered-1", "object": "model" }] }))
}

async fn openai(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let key = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    reply(shared, Protocol::OpenAi, key.trim_start_matches("Bearer ").to_string(), body)
}

async fn anthropic(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if headers.get("anthropic-version").is_none() {
        return (StatusCode::BAD_REQUEST, "anthropic-version header missing").into_response();
    }
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    reply(shared, Protocol::Anthropic, key, body)
}

fn reply(shared: Arc<Shared>, protocol: Protocol, key: String, body: Bytes) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return (StatusCode::BAD_REQUEST, format!("not JSON: {error}")).into_response(),
    };
    let system = match protocol {
        Protocol::OpenAi => request.pointer("/messages/0/content").and_then(Value::as_str).unwrap_or(""),
        Protocol::Anthropic => request.get("system").and_then(Value::as_str).unwrap_or(""),
    };
    let reply = if system.contains("title generator") {
        shared.titles.fetch_add(1, Ordering::SeqCst);
        says(TITLE)
    } else {
        shared.requests.lock().unwrap().push(request.clone());
        shared.keys.lock().unwrap().push(key);
        match shared.script.lock().unwrap().pop_front() {
            Some(reply) => reply,
            None => return (StatusCode::BAD_REQUEST, "the script is exhausted").into_response(),
        }
    };
    let (chunks, finish) = match reply {
        Reply::Status(status, headers, body) => {
            let mut response = (StatusCode::from_u16(status).unwrap(), body.to_string()).into_response();
            for (name, value) in headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            return response;
        }
        Reply::Stream(chunks) => (chunks, true),
        Reply::Cut(chunks) => (chunks, false),
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(16);
    tokio::spawn(async move {
        let frames = match protocol {
            Protocol::OpenAi => openai_frames(&chunks, finish),
            Protocol::Anthropic => anthropic_frames(&chunks, finish),
        };
        for frame in frames {
            let frame = match frame {
                Frame::Pause(pause) => {
                    tokio::select! {
                        () = tokio::time::sleep(pause) => continue,
                        () = sender.closed() => {
                            shared.dropped.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                    }
                }
                Frame::Data(data) => data,
            };
            if sender.send(Ok(Bytes::from(frame))).await.is_err() {
                shared.dropped.fetch_add(1, Ordering::SeqCst);
                return;
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
    Response::builder().header("content-type", "text/event-stream").body(Body::from_stream(stream)).unwrap()
}

enum Frame {
    Data(String),
    Pause(Duration),
}

fn data(value: Value) -> Frame {
    Frame::Data(format!("data: {value}\n\n"))
}

fn openai_frames(chunks: &[Chunk], finish: bool) -> Vec<Frame> {
    let delta = |delta: Value| {
        data(
            json!({ "id": "c", "object": "chat.completion.chunk", "choices": [{ "index": 0, "delta": delta, "finish_reason": null }] }),
        )
    };
    let mut frames = vec![delta(json!({ "role": "assistant", "content": "" }))];
    let mut calls = 0;
    for chunk in chunks {
        match chunk {
            Chunk::Text(text) => frames.push(delta(json!({ "content": text }))),
            Chunk::Reasoning(text) => frames.push(delta(json!({ "reasoning_content": text }))),
            Chunk::Call(id, name, arguments) => {
                let arguments = arguments.to_string();
                let (head, tail) = arguments.split_at(arguments.len() / 2);
                frames.push(delta(json!({ "tool_calls": [{ "index": calls, "id": id, "type": "function", "function": { "name": name, "arguments": head } }] })));
                frames.push(delta(json!({ "tool_calls": [{ "index": calls, "function": { "arguments": tail } }] })));
                calls += 1;
            }
            Chunk::Pause(pause) => frames.push(Frame::Pause(*pause)),
            Chunk::Raw(raw) => frames.push(Frame::Data(format!("data: {raw}\n\n"))),
            Chunk::Usage(_) => {}
        }
    }
    if finish {
        let reason = if calls > 0 { "tool_calls" } else { "stop" };
        frames.push(data(json!({ "id": "c", "choices": [{ "index": 0, "delta": {}, "finish_reason": reason }] })));
        let prompt = prompt_tokens(chunks);
        frames.push(data(json!({ "id": "c", "choices": [], "usage": { "prompt_tokens": prompt, "completion_tokens": 3, "total_tokens": prompt + 3 } })));
        frames.push(Frame::Data("data: [DONE]\n\n".into()));
    }
    frames
}

fn anthropic_frames(chunks: &[Chunk], finish: bool) -> Vec<Frame> {
    let event = |kind: &str, value: Value| Frame::Data(format!("event: {kind}\ndata: {value}\n\n"));
    let mut frames = vec![event(
        "message_start",
        json!({ "type": "message_start", "message": { "id": "msg_1", "type": "message", "role": "assistant", "content": [], "usage": { "input_tokens": prompt_tokens(chunks), "output_tokens": 1 } } }),
    )];
    let mut index = 0;
    let mut open: Option<&str> = None;
    let mut called = false;
    let close = |frames: &mut Vec<Frame>, index: &mut usize, open: &mut Option<&str>| {
        if open.take().is_some() {
            frames.push(event("content_block_stop", json!({ "type": "content_block_stop", "index": *index })));
            *index += 1;
        }
    };
    for chunk in chunks {
        match chunk {
            Chunk::Text(text) | Chunk::Reasoning(text) => {
                let (kind, delta) = match chunk {
                    Chunk::Text(_) => ("text", json!({ "type": "text_delta", "text": text })),
                    _ => ("thinking", json!({ "type": "thinking_delta", "thinking": text })),
                };
                if open != Some(kind) {
                    close(&mut frames, &mut index, &mut open);
                    let block = if kind == "text" {
                        json!({ "type": "text", "text": "" })
                    } else {
                        json!({ "type": "thinking", "thinking": "" })
                    };
                    frames.push(event(
                        "content_block_start",
                        json!({ "type": "content_block_start", "index": index, "content_block": block }),
                    ));
                    if kind == "thinking" {
                        frames.push(event("content_block_delta", json!({ "type": "content_block_delta", "index": index, "delta": { "type": "signature_delta", "signature": "sig-1" } })));
                    }
                    open = Some(kind);
                }
                frames.push(event(
                    "content_block_delta",
                    json!({ "type": "content_block_delta", "index": index, "delta": delta }),
                ));
            }
            Chunk::Call(id, name, arguments) => {
                close(&mut frames, &mut index, &mut open);
                called = true;
                frames.push(event("content_block_start", json!({ "type": "content_block_start", "index": index, "content_block": { "type": "tool_use", "id": id, "name": name, "input": {} } })));
                let arguments = arguments.to_string();
                let (head, tail) = arguments.split_at(arguments.len() / 2);
                for part in [head, tail] {
                    frames.push(event("content_block_delta", json!({ "type": "content_block_delta", "index": index, "delta": { "type": "input_json_delta", "partial_json": part } })));
                }
                frames.push(event("content_block_stop", json!({ "type": "content_block_stop", "index": index })));
                index += 1;
            }
            Chunk::Pause(pause) => frames.push(Frame::Pause(*pause)),
            Chunk::Raw(raw) => frames.push(Frame::Data(format!("data: {raw}\n\n"))),
            Chunk::Usage(_) => {}
        }
    }
    if finish {
        close(&mut frames, &mut index, &mut open);
        let reason = if called { "tool_use" } else { "end_turn" };
        frames.push(event(
            "message_delta",
            json!({ "type": "message_delta", "delta": { "stop_reason": reason }, "usage": { "output_tokens": 3 } }),
        ));
        frames.push(event("message_stop", json!({ "type": "message_stop" })));
    }
    frames
}
