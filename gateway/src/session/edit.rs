//! Changing what a session has stored, as the reference's message and part
//! routes do: deleting a message or one part, replacing a part. Files the
//! deleted steps changed stay as they are (that is a revert's job), and
//! what undo recorded for them is kept.

use super::{SessionError, SessionResult, Sessions};
use crate::events::Event;
use crate::model::{Part, Session, ToolState};
use crate::store::SessionKey;
use crate::workspace::Workspace;
use serde_json::Value;

/// The part types a client may store (the reference's `Part` union).
const PART_TYPES: [&str; 12] = [
    "text",
    "subtask",
    "reasoning",
    "file",
    "tool",
    "step-start",
    "step-finish",
    "snapshot",
    "patch",
    "agent",
    "retry",
    "compaction",
];

impl Sessions {
    /// Deletes message `message_id` and its parts; refused while the
    /// session runs something (the run would write it back).
    pub async fn delete_message(
        &self,
        workspace: &Workspace,
        session: &Session,
        message_id: &str,
    ) -> SessionResult<()> {
        let _hold = self.runs.start(&session.id, workspace.scope())?;
        if !self.store().delete_message(SessionKey::of(session), message_id).await? {
            return Err(SessionError::NotFound(format!("Message not found: {message_id}")));
        }
        self.journal.publish(workspace, Event::MessageRemoved { session_id: &session.id, message_id });
        Ok(())
    }

    /// Deletes part `part_id` of message `message_id`.
    pub async fn delete_part(
        &self,
        workspace: &Workspace,
        session: &Session,
        message_id: &str,
        part_id: &str,
    ) -> SessionResult<()> {
        let _hold = self.runs.start(&session.id, workspace.scope())?;
        if !self.store().delete_part(SessionKey::of(session), message_id, part_id).await? {
            return Err(SessionError::NotFound(format!("Part not found: {part_id}")));
        }
        let event = Event::PartRemoved { session_id: &session.id, message_id, part_id };
        self.journal.publish(workspace, event);
        Ok(())
    }

    /// Replaces part `part_id` of message `message_id` with `body`, which
    /// must name the same part, message and session and be a part the
    /// reference knows.
    pub async fn update_part(
        &self,
        workspace: &Workspace,
        session: &Session,
        message_id: &str,
        part_id: &str,
        body: Value,
    ) -> SessionResult<Part> {
        let _hold = self.runs.start(&session.id, workspace.scope())?;
        let named = |key: &str| body.get(key).and_then(Value::as_str);
        if named("id") != Some(part_id)
            || named("messageID") != Some(message_id)
            || named("sessionID") != Some(&session.id)
        {
            return Err(SessionError::Invalid(
                "Part mismatch: its id, messageID and sessionID must be the path's".into(),
            ));
        }
        let kind = named("type").unwrap_or_default();
        if !PART_TYPES.contains(&kind) {
            return Err(SessionError::Invalid(format!("unknown part type {kind:?}")));
        }
        if kind == "text" && named("text").is_none() {
            return Err(SessionError::Invalid("a text part needs its \"text\"".into()));
        }
        if kind == "tool"
            && body.get("state").and_then(|s| serde_json::from_value::<ToolState>(s.clone()).ok()).is_none()
        {
            return Err(SessionError::Invalid("a tool part needs a valid \"state\"".into()));
        }
        let key = SessionKey::of(session);
        let message = self.store().message(key, message_id).await?;
        let message = message.ok_or_else(|| SessionError::NotFound(format!("Message not found: {message_id}")))?;
        if !message.parts.iter().any(|p| p.id == part_id) {
            return Err(SessionError::NotFound(format!("Part not found: {part_id}")));
        }
        let Value::Object(mut body) = body else { unreachable!("has an id, so an object") };
        for key in ["id", "messageID", "sessionID"] {
            body.remove(key);
        }
        let part = Part { id: part_id.into(), session_id: session.id.clone(), message_id: message_id.into(), body };
        self.journal.put_part(workspace, &part).await?;
        Ok(part)
    }
}
