//! Persistence: sessions, messages, parts and todos.
//!
//! The API and the agent see only the [`Store`] trait, so a PostgreSQL backend
//! can serve several gateways later; [`SqliteStore`] is the embedded default.
//! Every change is written here before it is published on the bus, so a
//! client that reconnects and re-reads sees what the event stream showed.

mod sqlite;

pub use sqlite::SqliteStore;

use crate::model::{Message, MessageWithParts, Part, Session, Todo};

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database is unreadable, full, locked...
    #[error("store: {0}")]
    Failed(String),
    /// The row's id is already another session's (or another message's):
    /// ids a client chooses never replace someone else's rows.
    #[error("{0}")]
    Taken(String),
}

/// What a store operation returns.
pub type StoreResult<T> = Result<T, StoreError>;

/// Which sessions `GET /session` lists.
#[derive(Debug, Clone, Default)]
pub struct SessionQuery {
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

/// Where sessions, messages, parts and todos live.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Inserts or replaces a session.
    async fn put_session(&self, session: &Session) -> StoreResult<()>;
    /// One session.
    async fn session(&self, id: &str) -> StoreResult<Option<Session>>;
    /// Sessions matching `query`, most recently updated first.
    async fn sessions(&self, query: &SessionQuery) -> StoreResult<Vec<Session>>;
    /// A session's direct children.
    async fn children(&self, id: &str) -> StoreResult<Vec<Session>>;
    /// Deletes a session, its descendants and everything in them; returns
    /// the sessions deleted (the one asked for first).
    async fn delete_session(&self, id: &str) -> StoreResult<Vec<Session>>;

    /// Inserts or replaces a message.
    async fn put_message(&self, message: &Message) -> StoreResult<()>;
    /// One message with its parts.
    async fn message(&self, session_id: &str, id: &str) -> StoreResult<Option<MessageWithParts>>;
    /// A session's messages with their parts, oldest first: the last `limit`
    /// of those before message `before` (all when unset).
    async fn messages(
        &self,
        session_id: &str,
        limit: Option<usize>,
        before: Option<&str>,
    ) -> StoreResult<Vec<MessageWithParts>>;
    /// Deletes a message and its parts; false when there was none.
    async fn delete_message(&self, session_id: &str, id: &str) -> StoreResult<bool>;

    /// Inserts or replaces a part.
    async fn put_part(&self, part: &Part) -> StoreResult<()>;
    /// Deletes a part; false when there was none.
    async fn delete_part(&self, session_id: &str, message_id: &str, id: &str) -> StoreResult<bool>;

    /// A session's todo list.
    async fn todos(&self, session_id: &str) -> StoreResult<Vec<Todo>>;
    /// Replaces a session's todo list.
    async fn put_todos(&self, session_id: &str, todos: &[Todo]) -> StoreResult<()>;

    /// Tool parts and assistant messages a crash left running; see
    /// [`crate::session::recover`].
    async fn unfinished(&self) -> StoreResult<(Vec<Message>, Vec<Part>)>;
}
