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
use crate::store::{Owned, Store, StoreError, StoreResult};
use serde_json::json;

/// Ends the runs a previous process left unfinished; returns how many
/// messages and parts it closed. A row whose session is gone is left as it
/// is: nothing shows it.
pub async fn recover(store: &dyn Store) -> StoreResult<(usize, usize)> {
    let (messages, parts) = store.unfinished().await?;
    let now = ids::now_millis();
    let (mut closed_messages, mut closed_parts) = (0, 0);
    for Owned { owner, row: mut part } in parts {
        // A state that does not read is closed as one that never started.
        let open = part.tool_state().unwrap_or(ToolState::Pending { input: json!({}), raw: String::new() });
        part.set_tool_state(&open.failed("The server stopped while this tool was running.", now));
        closed_parts += kept(store.put_part(owner.as_deref(), &part).await)?;
    }
    for Owned { owner, row: message } in messages {
        if let Message::Assistant(mut assistant) = message {
            assistant.time.completed = Some(now);
            assistant.error.get_or_insert_with(|| MessageError::new("MessageAbortedError", "Aborted"));
            closed_messages += kept(store.put_message(owner.as_deref(), &Message::Assistant(assistant)).await)?;
        }
    }
    Ok((closed_messages, closed_parts))
}

/// 1 for a row written, 0 for one whose session is gone.
fn kept(written: StoreResult<()>) -> StoreResult<usize> {
    match written {
        Ok(()) => Ok(1),
        Err(StoreError::NotFound(_)) => Ok(0),
        Err(error) => Err(error),
    }
}
