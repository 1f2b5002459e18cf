//! The embedded SQLite backend of [`Store`].
//!
//! Rows keep the indexed columns the queries need and the object itself as
//! JSON, so the wire shape is stored exactly. The database runs in WAL mode
//! with `synchronous = NORMAL`: a commit survives the process being killed
//! (`kill -9`), which is the promise the server makes; only a power loss can
//! take the last few commits. One writer connection and a few readers,
//! each behind its own lock; statements are short, so they run inline on the
//! calling task rather than on a blocking pool.

use super::{SessionQuery, Store, StoreError, StoreResult};
use crate::model::{Message, MessageWithParts, Part, Session, Todo};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS session (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    directory TEXT NOT NULL,
    parent_id TEXT,
    updated INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS session_project ON session (project_id, updated);
CREATE INDEX IF NOT EXISTS session_parent ON session (parent_id);
CREATE TABLE IF NOT EXISTS message (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS message_session ON message (session_id, id);
CREATE TABLE IF NOT EXISTS part (
    id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS part_message ON part (message_id, id);
CREATE INDEX IF NOT EXISTS part_session ON part (session_id);
CREATE TABLE IF NOT EXISTS todo (
    session_id TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
";

const READERS: usize = 4;

/// Sessions, messages, parts and todos in one SQLite file.
pub struct SqliteStore {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> StoreResult<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Failed(format!("{}: {e}", parent.display())))?;
        }
        let writer = Connection::open(path).map_err(|e| wrap(path, e))?;
        writer
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;")
            .map_err(|e| wrap(path, e))?;
        writer.execute_batch(SCHEMA).map_err(|e| wrap(path, e))?;
        let readers = (0..READERS)
            .map(|_| {
                let reader = Connection::open(path).map_err(|e| wrap(path, e))?;
                reader
                    .execute_batch("PRAGMA busy_timeout = 5000; PRAGMA query_only = 1;")
                    .map_err(|e| wrap(path, e))?;
                Ok(Mutex::new(reader))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Self { writer: Mutex::new(writer), readers, next_reader: AtomicUsize::new(0) })
    }

    fn write<T>(&self, work: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let mut connection = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        work(&mut connection).map_err(|e| StoreError::Failed(e.to_string()))
    }

    fn read<T>(&self, work: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        // Take a free reader if there is one; otherwise wait on the next in turn.
        let reader = self.readers.iter().find_map(|r| r.try_lock().ok());
        let connection = match reader {
            Some(connection) => connection,
            None => {
                let index = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
                self.readers[index].lock().unwrap_or_else(|p| p.into_inner())
            }
        };
        work(&connection).map_err(|e| StoreError::Failed(e.to_string()))
    }
}

fn wrap(path: &Path, error: rusqlite::Error) -> StoreError {
    StoreError::Failed(format!("{}: {error}", path.display()))
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("model types serialize")
}

/// A stored row's JSON, or `None` (logged, naming the row) when it does not
/// read: one damaged row must not take its neighbours or the server down.
fn decode<T: serde::de::DeserializeOwned>(table: &str, id: &str, text: &str) -> Option<T> {
    match serde_json::from_str(text) {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::warn!(table, id, "skipping a stored row that does not read: {error}");
            None
        }
    }
}

/// The rows of a statement selecting `id, data`, skipping damaged ones.
fn collect<'c, T: serde::de::DeserializeOwned>(
    table: &str,
    statement: &mut rusqlite::Statement<'c>,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<T>> {
    let rows = statement.query_map(params, |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
    let mut values = Vec::new();
    for row in rows {
        let (id, text) = row?;
        values.extend(decode(table, &id, &text));
    }
    Ok(values)
}

/// The parts of each message in `messages`, attached in order.
fn with_parts(connection: &Connection, messages: Vec<Message>) -> rusqlite::Result<Vec<MessageWithParts>> {
    let mut statement = connection.prepare_cached("SELECT id, data FROM part WHERE message_id = ?1 ORDER BY id")?;
    messages
        .into_iter()
        .map(|info| {
            let parts = collect("part", &mut statement, [info.id()])?;
            Ok(MessageWithParts { info, parts })
        })
        .collect()
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn put_session(&self, session: &Session) -> StoreResult<()> {
        self.write(|c| {
            c.prepare_cached(
                "INSERT OR REPLACE INTO session (id, project_id, directory, parent_id, updated, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                session.id,
                session.project_id,
                session.directory,
                session.parent_id,
                session.time.updated,
                to_json(session)
            ])
            .map(drop)
        })
    }

    async fn session(&self, id: &str) -> StoreResult<Option<Session>> {
        self.read(|c| {
            let text: Option<String> =
                c.prepare_cached("SELECT data FROM session WHERE id = ?1")?.query_row([id], |r| r.get(0)).optional()?;
            Ok(text.and_then(|text| decode("session", id, &text)))
        })
    }

    async fn sessions(&self, query: &SessionQuery) -> StoreResult<Vec<Session>> {
        let search = query.search.as_ref().map(|s| s.to_lowercase());
        let sessions: Vec<Session> = self.read(|c| {
            let mut statement = c.prepare_cached(
                "SELECT id, data FROM session
                 WHERE (?1 IS NULL OR project_id = ?1) AND (?2 IS NULL OR directory = ?2)
                   AND (?3 = 0 OR parent_id IS NULL) AND (?4 IS NULL OR updated >= ?4)
                 ORDER BY updated DESC, id",
            )?;
            collect(
                "session",
                &mut statement,
                params![query.project_id, query.directory, query.roots_only, query.updated_since],
            )
        })?;
        let matching =
            sessions.into_iter().filter(|s| search.as_ref().is_none_or(|q| s.title.to_lowercase().contains(q)));
        Ok(match query.limit {
            Some(limit) => matching.take(limit).collect(),
            None => matching.collect(),
        })
    }

    async fn children(&self, id: &str) -> StoreResult<Vec<Session>> {
        self.read(|c| {
            let mut statement = c.prepare_cached("SELECT id, data FROM session WHERE parent_id = ?1 ORDER BY id")?;
            collect("session", &mut statement, [id])
        })
    }

    async fn delete_session(&self, id: &str) -> StoreResult<Vec<Session>> {
        self.write(|c| {
            let transaction = c.transaction()?;
            let mut deleted: Vec<Session> = Vec::new();
            let mut pending = vec![id.to_string()];
            while let Some(next) = pending.pop() {
                let text: Option<String> = transaction
                    .query_row("SELECT data FROM session WHERE id = ?1", [&next], |r| r.get(0))
                    .optional()?;
                let Some(text) = text else { continue };
                deleted.extend(decode("session", &next, &text));
                let mut children = transaction.prepare("SELECT id FROM session WHERE parent_id = ?1")?;
                pending.extend(children.query_map([&next], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?);
                drop(children);
                transaction.execute("DELETE FROM part WHERE session_id = ?1", [&next])?;
                transaction.execute("DELETE FROM message WHERE session_id = ?1", [&next])?;
                transaction.execute("DELETE FROM todo WHERE session_id = ?1", [&next])?;
                transaction.execute("DELETE FROM session WHERE id = ?1", [&next])?;
            }
            transaction.commit()?;
            Ok(deleted)
        })
    }

    async fn put_message(&self, message: &Message) -> StoreResult<()> {
        self.write(|c| {
            c.prepare_cached(
                "INSERT INTO message (id, session_id, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data WHERE message.session_id = excluded.session_id",
            )?
            .execute(params![message.id(), message.session_id(), to_json(message)])
        })
        .and_then(|changed| match changed {
            0 => Err(StoreError::Taken(format!("message id {} is taken", message.id()))),
            _ => Ok(()),
        })
    }

    async fn message(&self, session_id: &str, id: &str) -> StoreResult<Option<MessageWithParts>> {
        self.read(|c| {
            let text: Option<String> = c
                .prepare_cached("SELECT data FROM message WHERE id = ?1 AND session_id = ?2")?
                .query_row([id, session_id], |r| r.get(0))
                .optional()?;
            let Some(info) = text.and_then(|text| decode("message", id, &text)) else { return Ok(None) };
            Ok(with_parts(c, vec![info])?.pop())
        })
    }

    async fn messages(
        &self,
        session_id: &str,
        limit: Option<usize>,
        before: Option<&str>,
    ) -> StoreResult<Vec<MessageWithParts>> {
        self.read(|c| {
            // Newest first to apply the limit, then back to oldest first.
            let mut statement = c.prepare_cached(
                "SELECT id, data FROM message WHERE session_id = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3",
            )?;
            let limit = limit.map(|l| l as i64).unwrap_or(-1);
            let mut messages: Vec<Message> = collect("message", &mut statement, params![session_id, before, limit])?;
            messages.reverse();
            with_parts(c, messages)
        })
    }

    async fn delete_message(&self, session_id: &str, id: &str) -> StoreResult<bool> {
        self.write(|c| {
            let transaction = c.transaction()?;
            transaction.execute("DELETE FROM part WHERE message_id = ?1 AND session_id = ?2", [id, session_id])?;
            let removed =
                transaction.execute("DELETE FROM message WHERE id = ?1 AND session_id = ?2", [id, session_id])?;
            transaction.commit()?;
            Ok(removed > 0)
        })
    }

    async fn put_part(&self, part: &Part) -> StoreResult<()> {
        self.write(|c| {
            c.prepare_cached(
                "INSERT INTO part (id, message_id, session_id, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data
                 WHERE part.session_id = excluded.session_id AND part.message_id = excluded.message_id",
            )?
            .execute(params![part.id, part.message_id, part.session_id, to_json(part)])
        })
        .and_then(|changed| match changed {
            0 => Err(StoreError::Taken(format!("part id {} is taken", part.id))),
            _ => Ok(()),
        })
    }

    async fn delete_part(&self, session_id: &str, message_id: &str, id: &str) -> StoreResult<bool> {
        self.write(|c| {
            c.execute(
                "DELETE FROM part WHERE id = ?1 AND message_id = ?2 AND session_id = ?3",
                [id, message_id, session_id],
            )
            .map(|n| n > 0)
        })
    }

    async fn todos(&self, session_id: &str) -> StoreResult<Vec<Todo>> {
        self.read(|c| {
            let text: Option<String> = c
                .prepare_cached("SELECT data FROM todo WHERE session_id = ?1")?
                .query_row([session_id], |r| r.get(0))
                .optional()?;
            Ok(text.and_then(|text| decode("todo", session_id, &text)).unwrap_or_default())
        })
    }

    async fn put_todos(&self, session_id: &str, todos: &[Todo]) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT OR REPLACE INTO todo (session_id, data) VALUES (?1, ?2)",
                params![session_id, to_json(&todos)],
            )
            .map(drop)
        })
    }

    async fn unfinished(&self) -> StoreResult<(Vec<Message>, Vec<Part>)> {
        self.read(|c| {
            // `CASE` first checks the JSON reads, so a damaged row is
            // skipped instead of failing the query (and the start).
            let messages = collect(
                "message",
                &mut c.prepare(
                    "SELECT id, data FROM message WHERE CASE WHEN json_valid(data) THEN
                       json_extract(data, '$.role') = 'assistant' AND json_extract(data, '$.time.completed') IS NULL
                     END",
                )?,
                [],
            )?;
            let parts = collect(
                "part",
                &mut c.prepare(
                    "SELECT id, data FROM part WHERE CASE WHEN json_valid(data) THEN
                       json_extract(data, '$.type') = 'tool'
                       AND json_extract(data, '$.state.status') IN ('pending', 'running')
                     END",
                )?,
                [],
            )?;
            Ok((messages, parts))
        })
    }
}
