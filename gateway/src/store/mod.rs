//! Persistence: sessions, messages, parts and todos.
//!
//! The domains see only the [`Store`] trait, so a PostgreSQL backend can
//! serve several gateways later; [`SqliteStore`] is the embedded default,
//! and [`conformance`] is the suite every backend must pass. Every change is
//! written here before it is published on the bus, so a client that
//! reconnects and re-reads sees what the event stream showed.
//!
//! Every message, part and todo row carries the tenant of its session, and
//! every query of them names it ([`SessionKey`]).
//!
//! A session is changed by a [`SessionChange`] the store applies atomically
//! (never a whole row read by one caller and written back over another's
//! change), and failures say what went wrong ([`StoreError`]).

pub mod conformance;
mod sqlite;

pub use sqlite::{SCHEMA_VERSION, SqliteStore};

use crate::ids;
use crate::model::{Message, MessageWithParts, Part, Session, SessionModel, SessionSummary, Todo, Tokens};
use serde_json::Value;

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// What the operation names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The row's id is already another session's (or another message's):
    /// ids a client chooses never replace someone else's rows.
    #[error("{0}")]
    Conflict(String),
    /// The database is unreadable, full, locked...
    #[error("store: {0}")]
    Failed(String),
}

/// What a path held before a step changed it, as stored: a file's bytes
/// are kept apart, once per content, under their SHA-256 ([`Blob`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Kept {
    Absent,
    Directory,
    Symlink { target: String },
    File { blob: String, size: u64, mode: u32 },
    Unkept { reason: String },
}

/// A file's bytes, named by their SHA-256 in hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub hash: String,
    pub bytes: Vec<u8>,
}

/// One path a step changed, with what it held before (undo), or what it
/// held when the session was reverted (`redo`, put back by unrevert).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// The assistant message whose step changed it.
    pub message_id: String,
    /// The tool part that changed it.
    pub part_id: String,
    /// Relative to the workspace root, `/`-separated.
    pub path: String,
    pub kept: Kept,
    pub redo: bool,
}

impl FileChange {
    /// The blob this change refers to, if any.
    pub fn blob(&self) -> Option<&str> {
        match &self.kept {
            Kept::File { blob, .. } => Some(blob),
            _ => None,
        }
    }
}

/// Which of a session's file changes to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeSelection {
    /// The redo records of a revert.
    Redo,
    /// The steps at or after a point: every message after `message_id`,
    /// and that message's parts from `part_id` on (the whole message when
    /// `None`).
    From { message_id: String, part_id: Option<String> },
}

/// A change to a stored session, applied by the store in one step.
#[derive(Debug, Clone)]
pub enum SessionChange {
    /// What `PATCH /session/{id}` sets.
    Edit {
        title: Option<String>,
        metadata: Option<Value>,
        permission: Option<Value>,
        /// `Some` sets `time.archived` (to a time, or back to none).
        archived: Option<Option<i64>>,
    },
    /// A model step's usage, added to the session's totals.
    AddUsage { tokens: Tokens, cost: f64 },
    /// A generated title, applied only while the title still starts with
    /// `if_prefix` (nobody renamed the session meanwhile).
    Retitle { title: String, if_prefix: String },
    /// Something happened in the session: `time.updated` moves on.
    Touch,
    /// A prompt was sent with this agent and model: the session remembers
    /// them (the next prompt that names none uses them), as the reference's do.
    Prompted { agent: String, model: SessionModel },
    /// Sets (or clears) `revert`; a revert also sets the `summary` of what
    /// it undid (`None` leaves the summary as it is).
    Revert { revert: Option<Value>, summary: Option<SessionSummary> },
}

impl SessionChange {
    /// Applies the change to `session`; false when it does not apply. Every
    /// applied change moves `time.updated` on (never back).
    pub fn apply(&self, session: &mut Session) -> bool {
        match self {
            SessionChange::Edit { title, metadata, permission, archived } => {
                if let Some(title) = title {
                    session.title = title.clone();
                }
                if let Some(metadata) = metadata {
                    session.metadata = Some(metadata.clone());
                }
                if let Some(permission) = permission {
                    session.permission = Some(permission.clone());
                }
                if let Some(archived) = archived {
                    session.time.archived = *archived;
                }
            }
            SessionChange::Revert { revert, summary } => {
                session.revert = revert.clone();
                if let Some(summary) = summary {
                    session.summary = Some(summary.clone());
                }
            }
            SessionChange::AddUsage { tokens, cost } => {
                let total = &mut session.tokens;
                total.input += tokens.input;
                total.output += tokens.output;
                total.reasoning += tokens.reasoning;
                total.cache.read += tokens.cache.read;
                total.cache.write += tokens.cache.write;
                session.cost += cost;
            }
            SessionChange::Retitle { title, if_prefix } => {
                if !session.title.starts_with(if_prefix.as_str()) {
                    return false;
                }
                session.title = title.clone();
            }
            SessionChange::Touch => {}
            SessionChange::Prompted { agent, model } => {
                session.agent = Some(agent.clone());
                session.model = Some(model.clone());
            }
        }
        session.time.updated = ids::now_millis().max(session.time.updated);
        true
    }
}

/// What a store operation returns.
pub type StoreResult<T> = Result<T, StoreError>;

/// Which sessions `GET /session` lists.
#[derive(Debug, Clone, Default)]
pub struct SessionQuery {
    /// Only sessions of this tenant (`None`: the server's own user's);
    /// always applied.
    pub tenant: Option<String>,
    /// Only sessions of this project.
    pub project_id: Option<String>,
    /// Only sessions of this directory.
    pub directory: Option<String>,
    /// Only sessions without a parent.
    pub roots_only: bool,
    /// Only sessions updated at or after this time (ms).
    pub updated_since: Option<i64>,
    /// Only sessions whose title contains this (case-insensitive).
    pub search: Option<String>,
    /// At most this many, most recently updated first.
    pub limit: Option<usize>,
}

/// One entry of the audit log: who did what, when, how long it took and
/// how it ended. Never changed once written; pruned by age only.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// When it started (ms).
    pub time: i64,
    /// `request`, `tool`, `auth` (a refused credential) or `admin`.
    pub kind: String,
    /// The tenant (`None`: the server's own user, or nobody known).
    pub tenant: Option<String>,
    /// The public id of the token used.
    pub token_id: Option<String>,
    /// The client's address.
    pub remote: Option<String>,
    /// The route (`GET /session/{sessionID}`) or the tool.
    pub action: String,
    /// The session it concerned.
    pub session: Option<String>,
    /// SHA-256 of the arguments (a tool call's), never the arguments.
    pub digest: Option<String>,
    /// The grant a tool call ran under: its folder and access.
    pub grant: Option<String>,
    /// The status code, or `ok` / the error kind of a tool call.
    pub outcome: String,
    /// How long it took (ms).
    pub duration_ms: u64,
    /// Bytes answered or produced.
    pub bytes: u64,
}

/// Which audit records to read.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub tenant: Option<String>,
    /// At or after this time (ms).
    pub since: Option<i64>,
    /// The newest this many (all when unset), oldest first.
    pub limit: Option<usize>,
}

/// A stored row with the tenant it belongs to (`None`: the server's own
/// user).
#[derive(Debug, Clone)]
pub struct Owned<T> {
    pub owner: Option<String>,
    pub row: T,
}

/// A session as its owner names it: the tenant it belongs to (`None`: the
/// server's own user) and its id. Every read and write of a session's
/// messages, parts and todos names both and the store matches both (each of
/// those rows carries its tenant), so a row of another tenant's session is
/// neither read nor written, whatever id reaches the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionKey<'a> {
    pub owner: Option<&'a str>,
    pub id: &'a str,
}

impl<'a> SessionKey<'a> {
    pub fn new(owner: Option<&'a str>, id: &'a str) -> Self {
        SessionKey { owner, id }
    }

    /// The key of a session read from the store.
    pub fn of(session: &'a Session) -> Self {
        SessionKey { owner: session.tenant.as_deref(), id: &session.id }
    }
}

/// Where sessions, messages, parts and todos live.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Inserts or replaces a session.
    async fn put_session(&self, session: &Session) -> StoreResult<()>;
    /// Applies `change` to a session in one step; the session as changed,
    /// `None` when the change did not apply, [`StoreError::NotFound`] when
    /// there is no such session.
    async fn update_session(&self, id: &str, change: SessionChange) -> StoreResult<Option<Session>>;
    /// One session.
    async fn session(&self, id: &str) -> StoreResult<Option<Session>>;
    /// Sessions matching `query`, most recently updated first.
    async fn sessions(&self, query: &SessionQuery) -> StoreResult<Vec<Session>>;
    /// A session's direct children.
    async fn children(&self, id: &str) -> StoreResult<Vec<Session>>;
    /// How many sessions `tenant` keeps (`None`: the server's own user).
    async fn count_sessions(&self, tenant: Option<&str>) -> StoreResult<u64>;
    /// Deletes a session, its descendants and everything in them; returns
    /// the sessions deleted (the one asked for first).
    async fn delete_session(&self, id: &str) -> StoreResult<Vec<Session>>;

    /// Inserts or replaces a message of a session of `owner`'s
    /// ([`StoreError::NotFound`] when the session is not `owner`'s or does
    /// not exist, [`StoreError::Conflict`] when its id is another session's).
    async fn put_message(&self, owner: Option<&str>, message: &Message) -> StoreResult<()>;
    /// One message with its parts.
    async fn message(&self, session: SessionKey<'_>, id: &str) -> StoreResult<Option<MessageWithParts>>;
    /// A session's messages with their parts, oldest first: the last `limit`
    /// of those before message `before` (all when unset).
    async fn messages(
        &self,
        session: SessionKey<'_>,
        limit: Option<usize>,
        before: Option<&str>,
    ) -> StoreResult<Vec<MessageWithParts>>;
    /// Deletes a message and its parts; false when there was none.
    async fn delete_message(&self, session: SessionKey<'_>, id: &str) -> StoreResult<bool>;

    /// Inserts or replaces messages and parts of `owner`'s sessions
    /// together: all of them, or (on any failure, a [`StoreError::Conflict`]
    /// or [`StoreError::NotFound`] included) none.
    async fn put_records(&self, owner: Option<&str>, messages: &[Message], parts: &[Part]) -> StoreResult<()>;
    /// Inserts or replaces a part of a session of `owner`'s (errors as
    /// [`Store::put_message`]'s, [`StoreError::Conflict`] when its id is
    /// another message's).
    async fn put_part(&self, owner: Option<&str>, part: &Part) -> StoreResult<()>;
    /// Deletes a part; false when there was none.
    async fn delete_part(&self, session: SessionKey<'_>, message_id: &str, id: &str) -> StoreResult<bool>;

    /// A session's todo list.
    async fn todos(&self, session: SessionKey<'_>) -> StoreResult<Vec<Todo>>;
    /// Replaces a session's todo list ([`StoreError::NotFound`] when the
    /// session is not its owner's).
    async fn put_todos(&self, session: SessionKey<'_>, todos: &[Todo]) -> StoreResult<()>;

    /// Appends file changes of a session, with the blobs they refer to that
    /// are not stored yet (a blob already stored is kept as it is).
    async fn put_file_changes(
        &self,
        session: SessionKey<'_>,
        changes: &[FileChange],
        blobs: &[Blob],
    ) -> StoreResult<()>;
    /// The session's file changes, in the order they were appended.
    async fn file_changes(&self, session: SessionKey<'_>) -> StoreResult<Vec<FileChange>>;
    /// The bytes of a blob a change of this session refers to.
    async fn blob(&self, session: SessionKey<'_>, hash: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Deletes the selected changes, and the blobs no change refers to any
    /// more; returns how many changes went.
    async fn delete_file_changes(&self, session: SessionKey<'_>, which: &ChangeSelection) -> StoreResult<u64>;
    /// Keeps the session's newest file contents up to `keep` bytes in all:
    /// older steps' contents are dropped (their changes stay, as
    /// [`Kept::Unkept`] with `reason`), redo records never. Returns how many
    /// changes lost their content.
    async fn prune_file_changes(&self, session: SessionKey<'_>, keep: u64, reason: &str) -> StoreResult<u64>;

    /// Appends records to the audit log.
    async fn append_audit(&self, records: Vec<AuditRecord>) -> StoreResult<()>;
    /// Audit records matching `query`, oldest first.
    async fn audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRecord>>;
    /// Drops audit records older than `before` (ms); how many.
    async fn prune_audit(&self, before: i64) -> StoreResult<u64>;

    /// Tool parts and assistant messages a crash left running, each with
    /// its owner; see [`crate::conversation::recover`].
    async fn unfinished(&self) -> StoreResult<(Vec<Owned<Message>>, Vec<Owned<Part>>)>;
}
