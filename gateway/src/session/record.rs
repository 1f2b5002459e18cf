//! Storing and publishing the pieces of a conversation.
//!
//! Every change is written to the store before its event goes out, so a
//! client that reconnects and re-reads sees what the stream showed. Streamed
//! text is the one exception: each chunk is published as a
//! `message.part.delta` without a write, and the part is stored whole when
//! it ends.

use crate::api::error::ApiResult;
use crate::app::App;
use crate::events::Scope;
use crate::ids;
use crate::model::{AssistantMessage, Message, Part};
use crate::workspace::Workspace;
use serde_json::json;
use std::time::{Duration, Instant};

/// The most often a running tool's live output is republished.
const LIVE_UPDATE: Duration = Duration::from_millis(50);

/// How much live output a running part's metadata keeps (the model-facing
/// tool caps its own output the same way).
const LIVE_OUTPUT: usize = 30_000;

/// Stores a part, then publishes it.
pub async fn put_part(app: &App, workspace: &Workspace, part: &Part) -> ApiResult<()> {
    app.store.put_part(part).await?;
    let properties = json!({ "sessionID": part.session_id, "part": part, "time": ids::now_millis() });
    app.publish(workspace, "message.part.updated", properties);
    Ok(())
}

/// Stores a message, then publishes it.
pub async fn put_message(app: &App, workspace: &Workspace, message: &Message) -> ApiResult<()> {
    app.store.put_message(message).await?;
    app.publish(workspace, "message.updated", json!({ "sessionID": message.session_id(), "info": message }));
    Ok(())
}

/// Stores an assistant message, then publishes it.
pub async fn put_assistant(app: &App, workspace: &Workspace, message: &AssistantMessage) -> ApiResult<()> {
    put_message(app, workspace, &Message::Assistant(message.clone())).await
}

/// Publishes a chunk of a streaming part's `field`.
pub fn publish_delta(app: &App, workspace: &Workspace, part: &Part, field: &str, delta: &str) {
    app.publish(
        workspace,
        "message.part.delta",
        json!({
            "sessionID": part.session_id,
            "messageID": part.message_id,
            "partID": part.id,
            "field": field,
            "delta": delta,
        }),
    );
}

/// A sink for a running tool's streamed output that republishes its part
/// with `state.metadata.output` (what the TUI shows live), at most every
/// [`LIVE_UPDATE`] and keeping at most [`LIVE_OUTPUT`] bytes.
pub fn live_output(app: &App, workspace: &Workspace, part: &Part) -> crate::sandbox::OutputSink {
    let bus = app.bus.clone();
    let (directory, project) = (workspace.directory.clone(), workspace.project.id.clone());
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
        part.body["state"]["metadata"]["output"] = json!(output);
        let properties = json!({ "sessionID": part.session_id, "part": part, "time": ids::now_millis() });
        bus.publish(Scope::Instance { directory: &directory, project: &project }, "message.part.updated", properties);
    })
}
