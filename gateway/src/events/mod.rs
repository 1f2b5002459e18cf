//! The event bus and its two Server-Sent Events views.
//!
//! Every event is rendered once, when it is published, into both frames the
//! protocol needs: the `/global/event` frame (wrapped as
//! `{directory, project, payload}`) and the bare `/event` frame. A thousand
//! subscribers then cost one `Bytes` clone each, not a thousand JSON encodings;
//! that is also why the streams write pre-rendered `data: ...\n\n` frames
//! instead of going through axum's `Sse` encoder.
//!
//! The bus is a bounded broadcast channel per tenant (the server's own user
//! has one too): a tenant's subscribers are never even woken by another
//! tenant's events, let alone shown them. A subscriber that falls more than
//! the channel's capacity behind ([`CAPACITY`], [`TENANT_CAPACITY`]) is
//! disconnected (the TUI reconnects and re-reads), so a stalled client can
//! never make the server buffer without bound. A tenant's channel exists
//! only while it has subscribers. What can be published is the [`Event`]
//! enum.

mod event;

pub use event::Event;

use crate::ids::{self, Prefix};
use bytes::Bytes;
use futures_util::Stream;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_stream::wrappers::{BroadcastStream, IntervalStream, errors::BroadcastStreamRecvError};

/// How many events a subscriber of the server's own user may fall behind
/// before it is dropped.
pub const CAPACITY: usize = 8192;

/// The same for a tenant's subscriber: smaller, since every tenant with a
/// stream open has its own channel (a slot costs 32 bytes).
pub const TENANT_CAPACITY: usize = 1024;

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

    /// The tenant the scope belongs to (`None`: the server's own user).
    pub fn tenant(&self) -> Option<&String> {
        match self {
            Scope::Instance { tenant, .. } | Scope::Global { tenant } => tenant.as_ref(),
        }
    }
}

/// Publishes events to the subscribers of their tenant.
#[derive(Clone)]
pub struct Bus {
    /// The server's own user's channel.
    host: broadcast::Sender<Arc<Frames>>,
    /// Each tenant's channel, while it has subscribers.
    tenants: Arc<Mutex<HashMap<String, broadcast::Sender<Arc<Frames>>>>>,
}

impl Default for Bus {
    fn default() -> Self {
        Self::new()
    }
}

impl Bus {
    /// A bus with no subscribers.
    pub fn new() -> Self {
        Self { host: broadcast::channel(CAPACITY).0, tenants: Arc::default() }
    }

    /// The channel of `tenant`, for publishing (`None`: nobody listens).
    fn sender(&self, tenant: Option<&String>) -> Option<broadcast::Sender<Arc<Frames>>> {
        let Some(tenant) = tenant else { return Some(self.host.clone()) };
        let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        let sender = tenants.get(tenant)?;
        if sender.receiver_count() == 0 {
            tenants.remove(tenant);
            return None;
        }
        Some(sender.clone())
    }

    /// Publishes `event` from `scope`.
    pub fn publish(&self, scope: &Scope, event: Event<'_>) {
        let Some(sender) = self.sender(scope.tenant()) else { return };
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
        let _ = sender.send(Arc::new(event));
    }

    /// How many streams are connected.
    pub fn subscribers(&self) -> usize {
        let tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        self.host.receiver_count() + tenants.values().map(|s| s.receiver_count()).sum::<usize>()
    }

    /// The `/global/event` stream of `tenant`: every event of it, wrapped.
    pub fn global_stream(&self, tenant: Option<&str>) -> FrameStream {
        self.stream(tenant, View::Global)
    }

    /// The `/event` stream of one directory of `tenant`: its events, bare.
    pub fn instance_stream(&self, tenant: Option<&str>, directory: String) -> FrameStream {
        self.stream(tenant, View::Instance(directory))
    }

    fn subscribe(&self, tenant: Option<&str>) -> broadcast::Receiver<Arc<Frames>> {
        let Some(tenant) = tenant else { return self.host.subscribe() };
        let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        tenants.entry(tenant.to_string()).or_insert_with(|| broadcast::channel(TENANT_CAPACITY).0).subscribe()
    }

    fn stream(&self, tenant: Option<&str>, view: View) -> FrameStream {
        // Subscribe before the first frame, so nothing published after the
        // request arrived is missed.
        let events = BroadcastStream::new(self.subscribe(tenant));
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
