//! Undo and redo: `POST /session/{id}/revert` and `/unrevert`, the clean-up
//! a new prompt does after a revert, and the session's diffs.
//!
//! A revert puts every path the steps after a point changed back as it was
//! before the earliest of them, from the records each tool call left (see
//! [`crate::conversation::changes`]); what the paths hold at that moment is
//! recorded first as the redo set, which unrevert puts back. The reverted
//! messages stay, hidden by the client behind `session.revert`, until the
//! next prompt drops them, as in the reference (`session/revert.ts`).

use super::{SessionError, SessionResult, Sessions};
use crate::conversation::changes::{self, Boundary, content, earliest};
use crate::events::Event;
use crate::model::{FileDiff, Message, MessageWithParts, Session, SessionSummary};
use crate::sandbox::{self, Grant, NotRestored, Prior, Restore};
use crate::store::{Blob, ChangeSelection, FileChange, Kept, SessionChange, SessionKey};
use crate::workspace::Workspace;
use serde_json::json;
use std::collections::BTreeMap;

impl Sessions {
    /// Reverts the session to before `message_id` (or its part `part_id`):
    /// files first, then `session.revert`. Refused while the session runs;
    /// a message or part the session does not have changes nothing.
    pub async fn revert(
        &self,
        workspace: &Workspace,
        session: &Session,
        message_id: &str,
        part_id: Option<&str>,
    ) -> SessionResult<Session> {
        let _hold = self.runs.start(&session.id, workspace.scope())?;
        let key = SessionKey::of(session);
        let messages = self.store().messages(key, None, None).await?;
        let Some(boundary) = boundary_of(&messages, message_id, part_id) else {
            // Nothing to revert to: the session as it is, as the reference answers.
            return Ok(session.clone());
        };
        let mut records = self.store().file_changes(key).await?;
        if session.revert.is_some() {
            // Start again from the state the earlier revert left behind.
            let failed = self.put_back_redo(workspace, session, &records).await?;
            self.warn_not_restored(workspace, &failed);
            records.retain(|c| !c.redo);
        }
        let targets: BTreeMap<String, Kept> = earliest(&records, |c| !c.redo && boundary.covers(c))
            .into_iter()
            .map(|(path, change)| (path.to_string(), change.kept.clone()))
            .collect();
        // What the paths hold now, kept for unrevert before anything moves.
        let paths: Vec<String> = targets.keys().cloned().collect();
        let grant = workspace.grant.clone();
        let now = blocking(move || sandbox::read_current(&grant, &paths)).await?;
        let (redo, blobs) = redo_records(&boundary, &now);
        self.store().put_file_changes(key, &redo, &blobs).await?;

        let mut restores = Vec::with_capacity(targets.len());
        for (path, kept) in &targets {
            restores.push(Restore { path: path.clone(), state: changes::prior_of(self.store(), key, kept).await? });
        }
        // What the revert undoes, per file, and as one patch for the TUI's banner.
        let before: BTreeMap<&str, &Prior> = now.iter().map(|n| (n.path.as_str(), &n.state)).collect();
        let mut diffs: Vec<FileDiff> = Vec::new();
        let mut undoing = String::new();
        for back in &restores {
            let current = before.get(back.path.as_str()).and_then(|state| content(state));
            diffs.extend(changes::diff(&back.path, content(&back.state), current));
            undoing.extend(changes::diff(&back.path, current, content(&back.state)).and_then(|d| d.patch));
        }
        let grant = workspace.grant.clone();
        let mut failed = blocking(move || sandbox::restore(&grant, restores)).await?;
        let outside = changes::notes(&records, |c| !c.redo && boundary.covers(c));
        failed.extend(outside.into_iter().map(|reason| NotRestored { path: String::new(), reason }));
        self.warn_not_restored(workspace, &failed);

        self.journal.publish(workspace, Event::SessionDiff { session_id: &session.id, diff: &diffs });
        // Always there, empty when nothing changed, as the reference's is.
        let mut revert = json!({ "messageID": boundary.message_id, "diff": undoing });
        if let Some(part) = &boundary.part_id {
            revert["partID"] = json!(part);
        }
        let summary = SessionSummary {
            additions: diffs.iter().map(|d| d.additions).sum(),
            deletions: diffs.iter().map(|d| d.deletions).sum(),
            files: diffs.len() as u64,
        };
        let change = SessionChange::Revert { revert: Some(revert), summary: Some(summary) };
        self.changed(workspace, session, change).await
    }

    /// Puts back what a revert undid and clears `session.revert`.
    pub async fn unrevert(&self, workspace: &Workspace, session: &Session) -> SessionResult<Session> {
        let _hold = self.runs.start(&session.id, workspace.scope())?;
        if session.revert.is_none() {
            return Ok(session.clone());
        }
        let records = self.store().file_changes(SessionKey::of(session)).await?;
        let failed = self.put_back_redo(workspace, session, &records).await?;
        self.warn_not_restored(workspace, &failed);
        self.changed(workspace, session, SessionChange::Revert { revert: None, summary: None }).await
    }

    /// After a revert, a new prompt makes it final: the reverted messages
    /// (and parts) are deleted, with the records of what they changed, and
    /// `session.revert` is cleared. Nothing for a session not reverted.
    pub(super) async fn drop_reverted(&self, workspace: &Workspace, session: &mut Session) -> SessionResult<()> {
        let Some(boundary) = session.revert.as_ref().and_then(|r| serde_json::from_value::<Stored>(r.clone()).ok())
        else {
            return Ok(());
        };
        let key = SessionKey::of(session);
        for message in self.store().messages(key, None, None).await? {
            let id = message.info.id();
            if id < boundary.message_id.as_str() {
                continue;
            }
            match (&boundary.part_id, id == boundary.message_id) {
                (Some(part), true) => {
                    for dropped in message.parts.iter().filter(|p| &p.id >= part) {
                        self.store().delete_part(key, id, &dropped.id).await?;
                        let event =
                            Event::PartRemoved { session_id: &session.id, message_id: id, part_id: &dropped.id };
                        self.journal.publish(workspace, event);
                    }
                }
                _ => {
                    self.store().delete_message(key, id).await?;
                    self.journal.publish(workspace, Event::MessageRemoved { session_id: &session.id, message_id: id });
                }
            }
        }
        let from = ChangeSelection::From { message_id: boundary.message_id, part_id: boundary.part_id };
        self.store().delete_file_changes(key, &from).await?;
        self.store().delete_file_changes(key, &ChangeSelection::Redo).await?;
        *session = self.changed(workspace, session, SessionChange::Revert { revert: None, summary: None }).await?;
        Ok(())
    }

    /// What the session changed in the workspace: each path from before the
    /// session's first change of it to now (or, for `message_id`, what that
    /// user message's turn changed, as its summary recorded).
    pub async fn diff(
        &self,
        workspace: &Workspace,
        session: &Session,
        message_id: Option<&str>,
    ) -> SessionResult<Vec<FileDiff>> {
        let key = SessionKey::of(session);
        if let Some(id) = message_id {
            let message = self.store().message(key, id).await?;
            let diffs = message.and_then(|m| match m.info {
                Message::User(user) => user.summary.and_then(|s| s.get("diffs").cloned()),
                Message::Assistant(_) => None,
            });
            return Ok(diffs.and_then(|d| serde_json::from_value(d).ok()).unwrap_or_default());
        }
        let records = self.store().file_changes(key).await?;
        Ok(changes::diff_since(self.store(), &workspace.read_only, key, &records, |c| !c.redo).await?)
    }

    /// Puts the redo set back and forgets it.
    async fn put_back_redo(
        &self,
        workspace: &Workspace,
        session: &Session,
        records: &[FileChange],
    ) -> SessionResult<Vec<NotRestored>> {
        let key = SessionKey::of(session);
        let mut restores = Vec::new();
        for change in records.iter().filter(|c| c.redo) {
            restores.push(Restore {
                path: change.path.clone(),
                state: changes::prior_of(self.store(), key, &change.kept).await?,
            });
        }
        let grant: Grant = workspace.grant.clone();
        let failed = blocking(move || sandbox::restore(&grant, restores)).await?;
        self.store().delete_file_changes(key, &ChangeSelection::Redo).await?;
        Ok(failed)
    }

    /// Tells the user (a toast in the TUI, and the log) which paths a revert
    /// could not put back.
    fn warn_not_restored(&self, workspace: &Workspace, failed: &[NotRestored]) {
        if failed.is_empty() {
            return;
        }
        let said = |f: &NotRestored| match f.path.is_empty() {
            true => f.reason.clone(),
            false => format!("{}: {}", f.path, f.reason),
        };
        let list: Vec<String> = failed.iter().take(5).map(said).collect();
        let more = failed.len().saturating_sub(5);
        let mut message = list.join("\n");
        if more > 0 {
            message.push_str(&format!("\n... and {more} more"));
        }
        tracing::warn!("a revert left {} path(s) as they were:\n{message}", failed.len());
        let title = Some("Not everything was put back");
        let event = Event::TuiToastShow { title, message: &message, variant: "warning", duration: None };
        self.journal.publish(workspace, event);
    }

    /// Applies `change` to the session, publishes it and returns it.
    async fn changed(&self, workspace: &Workspace, session: &Session, change: SessionChange) -> SessionResult<Session> {
        let updated = self.journal.change_session(workspace, &session.id, change).await?;
        updated.ok_or_else(|| SessionError::NotFound(format!("Session not found: {}", session.id)))
    }
}

/// `session.revert` as stored.
#[derive(serde::Deserialize)]
struct Stored {
    #[serde(rename = "messageID")]
    message_id: String,
    #[serde(rename = "partID")]
    part_id: Option<String>,
}

/// Where a revert to `message_id` (or its part) starts, as the reference
/// decides it: reverting to a message reverts its whole turn, from the user
/// message that started it; reverting to a part keeps what came before it in
/// its message, unless nothing worth keeping (text or a tool call) did.
/// `None` when the session has no such message or part.
pub fn boundary_of(messages: &[MessageWithParts], message_id: &str, part_id: Option<&str>) -> Option<Boundary> {
    let mut last_user: Option<&str> = None;
    for message in messages {
        let id = message.info.id();
        if matches!(message.info, Message::User(_)) {
            last_user = Some(id);
        }
        for (index, part) in message.parts.iter().enumerate() {
            let hit = match part_id {
                Some(wanted) => part.id == wanted,
                None => id == message_id,
            };
            if !hit {
                continue;
            }
            let kept_before = message.parts[..index].iter().any(|p| matches!(p.kind(), "text" | "tool"));
            let part_id = part_id.filter(|_| kept_before).map(str::to_string);
            let message_id = match (&part_id, last_user) {
                (None, Some(user)) => user.to_string(),
                _ => id.to_string(),
            };
            return Some(Boundary { message_id, part_id });
        }
    }
    None
}

/// The redo set: what each path holds now, recorded at the boundary.
fn redo_records(boundary: &Boundary, now: &[Restore]) -> (Vec<FileChange>, Vec<Blob>) {
    let mut blobs = BTreeMap::new();
    let records = now
        .iter()
        .map(|current| {
            // `now` still serves the revert's diffs, so its bytes are copied.
            let kept = changes::keep(current.state.clone(), &mut blobs);
            FileChange {
                message_id: boundary.message_id.clone(),
                part_id: boundary.part_id.clone().unwrap_or_default(),
                path: current.path.clone(),
                kept,
                redo: true,
            }
        })
        .collect();
    (records, blobs.into_iter().map(|(hash, bytes)| Blob { hash, bytes }).collect())
}

/// Runs filesystem work off the async workers.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> SessionResult<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| SessionError::Failed(format!("a file task failed: {e}")))
}
