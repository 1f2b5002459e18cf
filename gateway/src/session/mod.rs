//! Sessions: creating, changing, forking and deleting them, and the runs
//! (shell commands, prompts) that keep one busy. The model's side of a
//! prompt is [`crate::agent`]'s.
//!
//! Each operation stores first and publishes second, in the order the
//! reference publishes (PROTOCOL.md §6), so the TUI's view built from events
//! matches what it reads back.

mod prompt;
pub mod record;
mod recover;
mod runs;
mod shell;

pub use prompt::{CommandRequest, PromptRequest, Submitted, command, prompt, submit};
pub use recover::recover;
pub use runs::{Entry, Outcome, Run, Runs, Waiter, publish_idle, wait};
pub use shell::{ShellRequest, shell};

use crate::agent::agents::Rule;
use crate::api::error::{ApiError, ApiResult};
use crate::app::{App, VERSION};
use crate::ids::{self, Prefix};
use crate::model::{Message, Session, SessionModel, SessionTime, Tokens};
use crate::workspace::Workspace;
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::Path;

/// `POST /session`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSession {
    #[serde(rename = "parentID")]
    pub parent_id: Option<String>,
    pub title: Option<String>,
    pub agent: Option<String>,
    pub model: Option<SessionModel>,
    pub metadata: Option<Value>,
    /// A ruleset (`[{permission, pattern, action}]`); anything else is a 400.
    pub permission: Option<Vec<Rule>>,
}

/// `PATCH /session/{id}`'s body.
#[derive(Debug, Default, Deserialize)]
pub struct UpdateSession {
    pub title: Option<String>,
    pub metadata: Option<Value>,
    pub permission: Option<Vec<Rule>>,
    pub time: Option<UpdateTime>,
}

/// The times `PATCH /session/{id}` may set.
#[derive(Debug, Default, Deserialize)]
pub struct UpdateTime {
    pub archived: Option<i64>,
}

/// A session by id, or a 404 in the reference's words.
pub async fn get(app: &App, id: &str) -> ApiResult<Session> {
    app.store.session(id).await?.ok_or_else(|| ApiError::NotFound(format!("Session not found: {id}")))
}

/// Creates a session in `workspace`.
pub async fn create(app: &App, workspace: &Workspace, request: CreateSession) -> ApiResult<Session> {
    if let Some(parent) = &request.parent_id {
        get(app, parent).await?;
    }
    let now = ids::now_millis();
    let prefix = if request.parent_id.is_some() { "Child session" } else { "New session" };
    let session = Session {
        id: ids::new(Prefix::Session),
        slug: slug(),
        project_id: workspace.project.id.clone(),
        directory: workspace.directory.clone(),
        path: relative(&workspace.project.worktree, &workspace.directory),
        parent_id: request.parent_id,
        summary: None,
        cost: 0.0,
        tokens: Tokens::default(),
        title: request.title.unwrap_or_else(|| format!("{prefix} - {}", iso8601(now))),
        agent: request.agent,
        model: request.model,
        version: VERSION.to_string(),
        permission: request.permission.map(|rules| json!(rules)),
        metadata: request.metadata,
        revert: None,
        share: None,
        time: SessionTime { created: now, updated: now, ..Default::default() },
    };
    app.store.put_session(&session).await?;
    app.publish(workspace, "session.created", json!({ "sessionID": session.id, "info": session }));
    app.publish(workspace, "session.updated", json!({ "sessionID": session.id, "info": session }));
    Ok(session)
}

/// Applies `PATCH /session/{id}`.
pub async fn update(app: &App, workspace: &Workspace, id: &str, request: UpdateSession) -> ApiResult<Session> {
    let mut session = get(app, id).await?;
    if let Some(title) = request.title {
        session.title = title;
    }
    if let Some(metadata) = request.metadata {
        session.metadata = Some(metadata);
    }
    if let Some(permission) = request.permission {
        session.permission = Some(json!(permission));
    }
    if let Some(time) = request.time {
        session.time.archived = time.archived;
    }
    touch(app, workspace, &mut session).await?;
    Ok(session)
}

/// Bumps `time.updated`, stores and publishes `session.updated`.
pub async fn touch(app: &App, workspace: &Workspace, session: &mut Session) -> ApiResult<()> {
    session.time.updated = ids::now_millis().max(session.time.updated);
    app.store.put_session(session).await?;
    app.publish(workspace, "session.updated", json!({ "sessionID": session.id, "info": session }));
    Ok(())
}

/// Deletes a session and its children (stopping whatever they run).
pub async fn delete(app: &App, workspace: &Workspace, id: &str) -> ApiResult<()> {
    get(app, id).await?;
    for session in app.store.delete_session(id).await? {
        // A call waiting for permission withdraws its request as it stops.
        app.runs.abort(&session.id);
        app.permissions.forget(&session.id);
        app.publish(workspace, "session.deleted", json!({ "sessionID": session.id, "info": session }));
    }
    Ok(())
}

/// Copies a session's messages before `message_id` (all when unset) into a
/// new session.
pub async fn fork(app: &App, workspace: &Workspace, id: &str, message_id: Option<&str>) -> ApiResult<Session> {
    let original = get(app, id).await?;
    let request = CreateSession {
        title: Some(format!("{} (fork)", original.title)),
        agent: original.agent.clone(),
        model: original.model.clone(),
        // Stored rules were checked when set; older rows that do not read
        // as a ruleset are not carried over.
        permission: original.permission.clone().and_then(|rules| serde_json::from_value(rules).ok()),
        ..Default::default()
    };
    let session = create(app, workspace, request).await?;
    for mut entry in app.store.messages(id, None, None).await? {
        if Some(entry.info.id()) == message_id {
            break;
        }
        // New ids keep the copies in order and apart from the originals.
        let new_id = ids::new(Prefix::Message);
        match &mut entry.info {
            Message::User(m) => (m.id, m.session_id) = (new_id.clone(), session.id.clone()),
            Message::Assistant(m) => (m.id, m.session_id) = (new_id.clone(), session.id.clone()),
        }
        app.store.put_message(&entry.info).await?;
        for mut part in entry.parts {
            (part.id, part.session_id, part.message_id) = (ids::new(Prefix::Part), session.id.clone(), new_id.clone());
            app.store.put_part(&part).await?;
        }
    }
    Ok(session)
}

/// `directory` relative to `worktree`, `""` at the root.
fn relative(worktree: &str, directory: &str) -> String {
    Path::new(directory).strip_prefix(worktree).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default()
}

/// A random "adjective-noun" name, as the reference gives sessions.
fn slug() -> String {
    use rand::seq::IndexedRandom;
    const ADJECTIVES: &[&str] = &[
        "brave", "calm", "clever", "eager", "gentle", "happy", "kind", "lucky", "mighty", "nimble", "proud", "quick",
        "quiet", "shiny", "silent", "sunny", "swift", "tidy", "witty", "bold",
    ];
    const NOUNS: &[&str] = &[
        "badger", "comet", "eagle", "falcon", "fox", "harbor", "island", "lynx", "meadow", "otter", "panda", "planet",
        "river", "rocket", "sparrow", "tiger", "valley", "walrus", "wolf", "zebra",
    ];
    let mut rng = rand::rng();
    format!("{}-{}", ADJECTIVES.choose(&mut rng).unwrap(), NOUNS.choose(&mut rng).unwrap())
}

/// `millis` as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn iso8601(millis: i64) -> String {
    let (days, rest) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (hours, minutes, seconds, ms) = (rest / 3_600_000, rest / 60_000 % 60, rest / 1000 % 60, rest % 1000);
    format!("{year:04}-{month:02}-{day:02}T{hours:02}:{minutes:02}:{seconds:02}.{ms:03}Z")
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso8601_matches_known_instants() {
        assert_eq!(super::iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::iso8601(1_795_590_239_948), "2026-11-25T07:03:59.948Z");
        assert_eq!(super::iso8601(951_782_400_123), "2000-02-29T00:00:00.123Z");
    }
}
