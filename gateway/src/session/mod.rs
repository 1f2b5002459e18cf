//! Sessions: creating, changing, forking and deleting them, and the runs
//! (shell commands, prompts) that keep one busy. The model's side of a
//! prompt is [`crate::agent`]'s.
//!
//! Each operation stores first and publishes second, in the order the
//! reference publishes (PROTOCOL.md §6), so the TUI's view built from events
//! matches what it reads back. Failures are [`SessionError`]s; the HTTP
//! layer above decides what status each one is.

mod compact;
mod edit;
mod prompt;
mod revert;
mod shell;
mod subagent;

pub use compact::SummarizeRequest;
pub use prompt::{CommandRequest, PromptRequest, Submitted};
pub use shell::ShellRequest;

use crate::agent::Assistant;
use crate::agent::agents::Rule;
use crate::conversation::{Busy, Journal, Runs};
use crate::events::Event;
use crate::ids::{self, Prefix, iso8601};
use crate::model::{Message, MessageTime, ModelRef, Session, SessionModel, SessionTime, Tokens, UserMessage};
use crate::sandbox::Sandbox;
use crate::store::{SessionChange, SessionKey, Store, StoreError};
use crate::workspace::Workspace;
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

/// The version new sessions are stamped with.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The session (or a message, a command) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request is not one the session can take.
    #[error("{0}")]
    Invalid(String),
    /// The session runs something that refuses company.
    #[error(transparent)]
    Busy(#[from] Busy),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A run ended without an answer.
    #[error("{0}")]
    Failed(String),
    /// The prompt names a model no configured provider has (the
    /// reference's `ProviderModelNotFoundError`).
    #[error("{message}")]
    ModelNotFound { provider_id: String, model_id: String, suggestions: Vec<String>, message: String },
}

/// The id a client chose for something it creates, when it chose one with
/// `prefix`: accepted (later ids sort after it), or refused when its clock
/// is far ahead (see [`ids::accept`]). `None` when it chose none of that kind.
fn chosen_id(prefix: Prefix, id: Option<String>) -> SessionResult<Option<String>> {
    match id.filter(|id| prefix.matches(id)) {
        Some(id) => ids::accept(prefix, &id).map(|()| Some(id)).map_err(SessionError::Invalid),
        None => Ok(None),
    }
}

/// A new user message of `session`: with the id the client chose when it
/// is a message id (already through [`chosen_id`]), else a new one. The
/// caller fills in what else it has.
fn user_message(session: &Session, message_id: Option<String>, agent: String, model: ModelRef) -> UserMessage {
    UserMessage {
        id: message_id.filter(|id| Prefix::Message.matches(id)).unwrap_or_else(|| ids::new(Prefix::Message)),
        session_id: session.id.clone(),
        time: MessageTime { created: ids::now_millis(), completed: None },
        summary: None,
        agent,
        model,
        system: None,
        tools: None,
        format: None,
        variant: None,
    }
}

/// An id the client chose that is another session's is a bad request, as
/// the reference answers one.
fn client_chosen(error: StoreError) -> SessionError {
    match error {
        StoreError::Conflict(message) => SessionError::Invalid(message),
        other => other.into(),
    }
}

/// What a session operation returns.
pub type SessionResult<T> = Result<T, SessionError>;

/// Sessions and what runs in them: everything a session operation reaches.
#[derive(Clone)]
pub struct Sessions {
    journal: Journal,
    runs: Arc<Runs>,
    sandbox: Sandbox,
    assistant: Arc<Assistant>,
}

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

impl Sessions {
    pub fn new(journal: Journal, runs: Arc<Runs>, sandbox: Sandbox, assistant: Arc<Assistant>) -> Self {
        Self { journal, runs, sandbox, assistant }
    }

    fn store(&self) -> &dyn Store {
        self.journal.store()
    }

    /// What each session runs now.
    pub fn runs(&self) -> &Runs {
        &self.runs
    }

    /// A session of `tenant` by id, or not found in the reference's words:
    /// another tenant's session is not found exactly as a missing one is.
    pub async fn get(&self, tenant: Option<&str>, id: &str) -> SessionResult<Session> {
        self.store()
            .session(id)
            .await?
            .filter(|session| session.tenant.as_deref() == tenant)
            .ok_or_else(|| SessionError::NotFound(format!("Session not found: {id}")))
    }

    /// Creates a session in `workspace`.
    pub async fn create(&self, workspace: &Workspace, request: CreateSession) -> SessionResult<Session> {
        if let Some(parent) = &request.parent_id {
            self.get(workspace.tenant.as_deref(), parent).await?;
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
            tenant: workspace.tenant.clone(),
        };
        self.store().put_session(&session).await?;
        self.journal.publish(workspace, Event::SessionCreated { session_id: &session.id, info: &session });
        self.journal.publish(workspace, Event::SessionUpdated { session_id: &session.id, info: &session });
        Ok(session)
    }

    /// Applies `PATCH /session/{id}`.
    pub async fn update(
        &self,
        workspace: &Workspace,
        session: &Session,
        request: UpdateSession,
    ) -> SessionResult<Session> {
        let change = SessionChange::Edit {
            title: request.title,
            metadata: request.metadata,
            permission: request.permission.map(|rules| json!(rules)),
            archived: request.time.map(|time| time.archived),
        };
        // An edit always applies; a session deleted meanwhile is not found.
        self.journal
            .change_session(workspace, &session.id, change)
            .await?
            .ok_or_else(|| SessionError::NotFound(format!("Session not found: {}", session.id)))
    }

    /// Deletes a session and its children (stopping whatever they run).
    pub async fn delete(&self, workspace: &Workspace, session: &Session) -> SessionResult<()> {
        for session in self.store().delete_session(&session.id).await? {
            // A call waiting for permission withdraws its request as it stops.
            self.runs.abort(&session.id);
            self.assistant.permissions.forget(&session.id);
            self.journal.publish(workspace, Event::SessionDeleted { session_id: &session.id, info: &session });
        }
        Ok(())
    }

    /// Copies a session's messages before `message_id` (all when unset) into a
    /// new session.
    pub async fn fork(
        &self,
        workspace: &Workspace,
        original: &Session,
        message_id: Option<&str>,
    ) -> SessionResult<Session> {
        let request = CreateSession {
            title: Some(format!("{} (fork)", original.title)),
            agent: original.agent.clone(),
            model: original.model.clone(),
            // Stored rules were checked when set; older rows that do not read
            // as a ruleset are not carried over.
            permission: original.permission.clone().and_then(|rules| serde_json::from_value(rules).ok()),
            ..Default::default()
        };
        let session = self.create(workspace, request).await?;
        for mut entry in self.store().messages(SessionKey::of(original), None, None).await? {
            if Some(entry.info.id()) == message_id {
                break;
            }
            // New ids keep the copies in order and apart from the originals.
            let new_id = ids::new(Prefix::Message);
            match &mut entry.info {
                Message::User(m) => (m.id, m.session_id) = (new_id.clone(), session.id.clone()),
                Message::Assistant(m) => (m.id, m.session_id) = (new_id.clone(), session.id.clone()),
            }
            self.store().put_message(session.tenant.as_deref(), &entry.info).await?;
            for mut part in entry.parts {
                (part.id, part.session_id, part.message_id) =
                    (ids::new(Prefix::Part), session.id.clone(), new_id.clone());
                self.store().put_part(session.tenant.as_deref(), &part).await?;
            }
        }
        Ok(session)
    }
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
