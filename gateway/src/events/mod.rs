//! The event bus and its two Server-Sent Events views.
//!
//! Every event is rendered once, when it is published, into both frames the
//! protocol needs: the `/global/event` frame (wrapped as
//! `{directory, project, payload}`) and the bare `/event` frame. A thousand
//! subscribers then cost one `Bytes` clone each, not a thousand JSON encodings;
//! that is also why the streams write pre-rendered `data: ...\n\n` frames
//! instead of going through axum's `Sse` encoder.
//!
//! The bus is a bounded broadcast channel: a subscriber that falls more than
//! [`CAPACITY`] events behind is disconnected (the TUI reconnects and
//! re-reads), so a stalled client can never make the server buffer without
//! bound. What can be published is the [`Event`] enum.

mod event;

pub use event::Event;

use crate::ids::{self, Prefix};
use bytes::Bytes;
use futures_util::Stream;
use serde_json::{Value, json};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_stream::wrappers::{BroadcastStream, IntervalStream, errors::BroadcastStreamRecvError};

/// How many events a subscriber may fall behind before it is dropped.
pub const CAPACITY: usize = 8192;

/// How often an idle stream carries a `server.heartbeat`.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// One published event, rendered for both streams.
#[derive(Debug)]
pub struct Frames {
    /// The tenant it belongs to, when the server has tenants.
    pub tenant: Option<String>,
    /// The instance directory, or `None` for process-wide events.
    pub directory: Option<String>,
    /// The `/global/event` frame.
    pub global_frame: Bytes,
    /// The `/event` frame.
    pub instance_frame: Bytes,
}

/// Where an event comes from: an instance (directory and project) or the
/// whole process, of one tenant when the server has tenants. Owned, so a
/// run can keep the scope it publishes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One directory of one project.
    Instance { tenant: Option<String>, directory: String, project: String },
    /// The process (`directory: "global"`).
    Global { tenant: Option<String> },
}

impl Scope {
    /// The process-wide scope of a server without tenants.
    pub const GLOBAL: Scope = Scope::Global { tenant: None };

    fn tenant(&self) -> Option<&String> {
        match self {
            Scope::Instance { tenant, .. } | Scope::Global { tenant } => tenant.as_ref(),
        }
    }
}

/// Publishes events to every subscriber.
#[derive(Clone)]
pub struct Bus {
    sender: broadcast::Sender<Arc<Frames>>,
}

impl Default for Bus {
    fn default() -> Self {
        Self::new()
    }
}

impl Bus {
    /// A bus with no subscribers.
    pub fn new() -> Self {
        Self { sender: broadcast::channel(CAPACITY).0 }
    }

    /// Publishes `event` from `scope`.
    pub fn publish(&self, scope: &Scope, event: Event<'_>) {
        let payload = json!({ "id": ids::new(Prefix::Event), "type": event.kind(), "properties": event });
        let (directory, project) = match scope {
            Scope::Instance { directory, project, .. } => (directory.as_str(), project.as_str()),
            Scope::Global { .. } => ("global", "global"),
        };
        let global = json!({ "directory": directory, "project": project, "payload": &payload });
        let event = Frames {
            tenant: scope.tenant().cloned(),
            directory: matches!(scope, Scope::Instance { .. }).then(|| directory.to_string()),
            global_frame: frame(&global),
            instance_frame: frame(&payload),
        };
        // No subscribers is not an error.
        let _ = self.sender.send(Arc::new(event));
    }

    /// How many streams are connected.
    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }

    /// The `/global/event` stream: every event, wrapped.
    pub fn global_stream(&self) -> FrameStream {
        self.stream(View::Global)
    }

    /// The `/event` stream of one directory: its events, bare.
    pub fn instance_stream(&self, directory: String) -> FrameStream {
        self.stream(View::Instance(directory))
    }

    fn stream(&self, view: View) -> FrameStream {
        // Subscribe before the first frame, so nothing published after the
        // request arrived is missed.
        let events = BroadcastStream::new(self.sender.subscribe());
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let connected = Some(view.control_frame("server.connected"));
        FrameStream { view, connected, events, heartbeat: IntervalStream::new(heartbeat) }
    }
}

enum View {
    Global,
    Instance(String),
}

impl View {
    fn control_frame(&self, kind: &str) -> Bytes {
        let payload = json!({ "id": ids::new(Prefix::Event), "type": kind, "properties": {} });
        match self {
            View::Global => frame(&json!({ "payload": payload })),
            View::Instance(_) => frame(&payload),
        }
    }

    fn select(&self, event: &Frames) -> Option<Bytes> {
        match self {
            View::Global => Some(event.global_frame.clone()),
            View::Instance(directory) => {
                (event.directory.as_deref() == Some(directory)).then(|| event.instance_frame.clone())
            }
        }
    }
}

fn frame(value: &Value) -> Bytes {
    let mut bytes = b"data: ".to_vec();
    serde_json::to_writer(&mut bytes, value).expect("JSON values serialize");
    bytes.extend_from_slice(b"\n\n");
    Bytes::from(bytes)
}

/// A subscriber's frames: `server.connected`, then events and heartbeats,
/// ending when the subscriber falls too far behind.
pub struct FrameStream {
    view: View,
    connected: Option<Bytes>,
    events: BroadcastStream<Arc<Frames>>,
    heartbeat: IntervalStream,
}

impl Stream for FrameStream {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(connected) = self.connected.take() {
            return Poll::Ready(Some(Ok(connected)));
        }
        loop {
            match Pin::new(&mut self.events).poll_next(cx) {
                Poll::Ready(Some(Ok(event))) => match self.view.select(&event) {
                    Some(frame) => return Poll::Ready(Some(Ok(frame))),
                    None => continue,
                },
                Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(missed)))) => {
                    tracing::warn!(missed, "an event subscriber fell too far behind; disconnecting it");
                    return Poll::Ready(None);
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => break,
            }
        }
        match Pin::new(&mut self.heartbeat).poll_next(cx) {
            Poll::Ready(Some(_)) => Poll::Ready(Some(Ok(self.view.control_frame("server.heartbeat")))),
            _ => Poll::Pending,
        }
    }
}
