//! Closes what a crash left open.
//!
//! A run lives in memory; if the process dies (`kill -9`, a power cut) while
//! a shell command or a turn runs, its stored tool part stays `running` and
//! its assistant message never completes, and the TUI would show the session
//! working forever. At start, before serving, those are marked as ended by
//! the restart: the tool part becomes an `error`, the message completes with
//! `MessageAbortedError`. Everything that was stored is kept.

use crate::ids;
use crate::model::{Message, MessageError};
use crate::store::{Store, StoreResult};
use serde_json::{Value, json};

/// Ends the runs a previous process left unfinished; returns how many
/// messages and parts it closed.
pub async fn recover(store: &dyn Store) -> StoreResult<(usize, usize)> {
    let (messages, parts) = store.unfinished().await?;
    let now = ids::now_millis();
    for mut part in parts.iter().cloned() {
        let state = part.body.get("state").cloned().unwrap_or(Value::Null);
        let start = state.pointer("/time/start").and_then(Value::as_i64).unwrap_or(now);
        part.body.insert(
            "state".into(),
            json!({
                "status": "error",
                "input": state.get("input").cloned().unwrap_or(json!({})),
                "error": "The server stopped while this tool was running.",
                "metadata": state.get("metadata").cloned().unwrap_or(json!({})),
                "time": { "start": start, "end": now },
            }),
        );
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
