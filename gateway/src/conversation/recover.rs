//! Closes what a crash left open.
//!
//! A run lives in memory; if the process dies (`kill -9`, a power cut) while
//! a shell command or a turn runs, its stored tool part stays `running` and
//! its assistant message never completes, and the TUI would show the session
//! working forever. At start, before serving, those are marked as ended by
//! the restart: the tool part becomes an `error`, the message completes with
//! `MessageAbortedError`. Everything that was stored is kept.

use crate::ids;
use crate::model::{Message, MessageError, ToolState};
use crate::store::{Store, StoreResult};
use serde_json::json;

/// Ends the runs a previous process left unfinished; returns how many
/// messages and parts it closed.
pub async fn recover(store: &dyn Store) -> StoreResult<(usize, usize)> {
    let (messages, parts) = store.unfinished().await?;
    let now = ids::now_millis();
    for mut part in parts.iter().cloned() {
        // A state that does not read is closed as one that never started.
        let open = part.tool_state().unwrap_or(ToolState::Pending { input: json!({}), raw: String::new() });
        part.set_tool_state(&open.failed("The server stopped while this tool was running.", now));
        store.put_part(&part).await?;
    }
    for message in &messages {
        if let Message::Assistant(assistant) = message {
            let mut assistant = assistant.clone();
            assistant.time.completed = Some(now);
            assistant.error.get_or_insert_with(|| MessageError::new("MessageAbortedError", "Aborted"));
            store.put_message(&Message::Assistant(assistant)).await?;
        }
    }
    Ok((messages.len(), parts.len()))
}
