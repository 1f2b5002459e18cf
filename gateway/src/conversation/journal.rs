//! Storing and publishing the pieces of a conversation.
//!
//! Every change is written to the store before its event goes out, so a
//! client that reconnects and re-reads sees what the stream showed. Streamed
//! text is the one exception: each chunk is published as a
//! `message.part.delta` without a write, and the part is stored whole when
//! it ends.

use super::changes::StepRecorder;
use crate::events::{Bus, Event, Scope};
use crate::ids;
use crate::model::{AssistantMessage, Message, Part, Session, ToolState};
use crate::sandbox::OutputSink;
use crate::store::{SessionChange, SessionKey, Store, StoreResult};
use crate::workspace::Workspace;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The most often a running tool's live output is republished.
const LIVE_UPDATE: Duration = Duration::from_millis(50);

/// How much live output a running part's metadata keeps (the model-facing
/// tool caps its own output the same way).
const LIVE_OUTPUT: usize = 30_000;

/// The file contents one session keeps for undo; older steps' go first.
pub const KEEP_PER_SESSION: u64 = 1 << 30;

/// The store and the bus, written in that order.
#[derive(Clone)]
pub struct Journal {
    store: Arc<dyn Store>,
    bus: Bus,
}

impl Journal {
    pub fn new(store: Arc<dyn Store>, bus: Bus) -> Self {
        Self { store, bus }
    }

    /// Where conversations are kept.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// Where their changes are published.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Stores what a tool call changed in the workspace, as `recorder` heard
    /// it (nothing when it changed nothing).
    pub async fn put_file_changes(&self, session: SessionKey<'_>, recorder: &StepRecorder) -> StoreResult<()> {
        let (changes, blobs) = recorder.take();
        if changes.is_empty() {
            return Ok(());
        }
        self.store.put_file_changes(session, &changes, &blobs).await?;
        let reason = format!("dropped to keep the session's undo history under {} MiB", KEEP_PER_SESSION >> 20);
        self.store.prune_file_changes(session, KEEP_PER_SESSION, &reason).await.map(|_| ())
    }

    /// Publishes an event of `workspace`.
    pub fn publish(&self, workspace: &Workspace, event: Event<'_>) {
        self.bus.publish(&workspace.scope(), event);
    }

    /// Publishes a stored part (`message.part.updated`).
    pub fn publish_part(&self, workspace: &Workspace, part: &Part) {
        let event = Event::PartUpdated { session_id: &part.session_id, part, time: ids::now_millis() };
        self.publish(workspace, event);
    }

    /// Publishes a stored message (`message.updated`).
    pub fn publish_message(&self, workspace: &Workspace, message: &Message) {
        self.publish(workspace, Event::MessageUpdated { session_id: message.session_id(), info: message });
    }

    /// Applies `change` to a session in the store, then publishes
    /// `session.updated`; the session as changed, `None` when the change did
    /// not apply (nothing is published then).
    pub async fn change_session(
        &self,
        workspace: &Workspace,
        id: &str,
        change: SessionChange,
    ) -> StoreResult<Option<Session>> {
        let changed = self.store.update_session(id, change).await?;
        if let Some(session) = &changed {
            self.publish(workspace, Event::SessionUpdated { session_id: &session.id, info: session });
        }
        Ok(changed)
    }

    /// Stores a part, then publishes it.
    pub async fn put_part(&self, workspace: &Workspace, part: &Part) -> StoreResult<()> {
        self.store.put_part(workspace.tenant.as_deref(), part).await?;
        self.publish_part(workspace, part);
        Ok(())
    }

    /// Stores a message, then publishes it.
    pub async fn put_message(&self, workspace: &Workspace, message: &Message) -> StoreResult<()> {
        self.store.put_message(workspace.tenant.as_deref(), message).await?;
        self.publish_message(workspace, message);
        Ok(())
    }

    /// Stores an assistant message, then publishes it.
    pub async fn put_assistant(&self, workspace: &Workspace, message: &AssistantMessage) -> StoreResult<()> {
        self.put_message(workspace, &Message::Assistant(message.clone())).await
    }

    /// Publishes a chunk of a streaming part's `field`.
    pub fn publish_delta(&self, workspace: &Workspace, part: &Part, field: &str, delta: &str) {
        let event = Event::PartDelta {
            session_id: &part.session_id,
            message_id: &part.message_id,
            part_id: &part.id,
            field,
            delta,
        };
        self.publish(workspace, event);
    }

    /// A sink for a running tool's streamed output that republishes its part
    /// with `state.metadata.output` (what the TUI shows live), at most every
    /// [`LIVE_UPDATE`] and keeping at most [`LIVE_OUTPUT`] bytes.
    pub fn live_output(&self, workspace: &Workspace, part: &Part) -> OutputSink {
        let bus = self.bus.clone();
        let scope: Scope = workspace.scope();
        let mut part = part.clone();
        let mut output = String::new();
        let mut last = Instant::now() - LIVE_UPDATE;
        Box::new(move |chunk: &str| {
            if output.len() < LIVE_OUTPUT {
                let room = LIVE_OUTPUT - output.len();
                let end = (0..=room.min(chunk.len())).rev().find(|&i| chunk.is_char_boundary(i)).unwrap_or(0);
                output.push_str(&chunk[..end]);
            }
            if last.elapsed() < LIVE_UPDATE {
                return;
            }
            last = Instant::now();
            if let Some(ToolState::Running { input, title, time, .. }) = part.tool_state() {
                let metadata = Some(json!({ "output": output }));
                part.set_tool_state(&ToolState::Running { input, title, metadata, time });
            }
            bus.publish(
                &scope,
                Event::PartUpdated { session_id: &part.session_id, part: &part, time: ids::now_millis() },
            );
        })
    }
}
