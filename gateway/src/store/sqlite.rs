//! The embedded SQLite backend of [`Store`].
//!
//! Rows keep the indexed columns the queries need and the object itself as
//! JSON, so the wire shape is stored exactly. The database runs in WAL mode
//! with `synchronous = NORMAL`: a commit survives the process being killed
//! (`kill -9`), which is the promise the server makes; only a power loss can
//! take the last few commits. One writer connection and a few readers, each
//! behind its own lock, used on tokio's blocking pool: a slow disk or a
//! locked database never holds an async worker (and so never the HTTP server
//! or the event streams).
//!
//! The schema is versioned ([`migrations`], tracked in `user_version`): a
//! database made by an older wasmgate is upgraded in place when opened, and
//! one made by a newer wasmgate is refused rather than misread.

use super::{
    AuditQuery, AuditRecord, Blob, ChangeSelection, FileChange, Kept, Owned, SessionChange, SessionKey, SessionQuery,
    Store, StoreError, StoreResult,
};
use crate::model::{Message, MessageWithParts, Part, Session, Todo};
use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The schema, one step per version; never edit a step that has shipped,
/// add one. Version 1 is the first schema wasmgate had (written with
/// `IF NOT EXISTS`, so a database from before versioning upgrades too).
fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            "CREATE TABLE IF NOT EXISTS session (
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
        );",
        ),
        // A page of messages reads its parts in one range scan.
        M::up(
            "CREATE INDEX part_session_message ON part (session_id, message_id, id);
        DROP INDEX part_session;",
        ),
        // Sessions belong to a tenant ('' for the server's own user).
        M::up(
            "ALTER TABLE session ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
        CREATE INDEX session_tenant ON session (tenant, project_id, updated);",
        ),
        // The audit log: appended to, pruned by age, never changed.
        M::up(
            "CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time INTEGER NOT NULL,
            tenant TEXT,
            data TEXT NOT NULL
        );
        CREATE INDEX audit_time ON audit (time);
        CREATE INDEX audit_tenant ON audit (tenant, time);
        CREATE TRIGGER audit_append_only BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
        ),
        // Messages, parts and todos carry their session's tenant, and every
        // query of them names it.
        M::up(
            "ALTER TABLE message ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
        ALTER TABLE part ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
        ALTER TABLE todo ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
        UPDATE message SET tenant = COALESCE((SELECT tenant FROM session WHERE session.id = message.session_id), '');
        UPDATE part SET tenant = COALESCE((SELECT tenant FROM session WHERE session.id = part.session_id), '');
        UPDATE todo SET tenant = COALESCE((SELECT tenant FROM session WHERE session.id = todo.session_id), '');",
        ),
        // What each step changed in the workspace (undo), and the file
        // contents those changes keep, once per content.
        M::up(
            "CREATE TABLE file_change (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL,
            tenant TEXT NOT NULL,
            message_id TEXT NOT NULL,
            part_id TEXT NOT NULL,
            redo INTEGER NOT NULL,
            path TEXT NOT NULL,
            blob TEXT,
            data TEXT NOT NULL
        );
        CREATE INDEX file_change_session ON file_change (session_id, seq);
        CREATE INDEX file_change_blob ON file_change (blob);
        CREATE TABLE blob (
            hash TEXT PRIMARY KEY,
            data BLOB NOT NULL
        );",
        ),
    ])
}

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = 6;

const READERS: usize = 4;

/// Sessions, messages, parts and todos in one SQLite file.
pub struct SqliteStore {
    connections: Arc<Connections>,
}

struct Connections {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, upgrading its
    /// schema to this build's.
    pub fn open(path: &Path) -> StoreResult<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Failed(format!("{}: {e}", parent.display())))?;
        }
        let mut writer = Connection::open(path).map_err(|e| wrap(path, e))?;
        writer
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;")
            .map_err(|e| wrap(path, e))?;
        migrations()
            .to_latest(&mut writer)
            .map_err(|e| StoreError::Failed(format!("{}: cannot bring the schema up to date: {e}", path.display())))?;
        let readers = (0..READERS)
            .map(|_| {
                let reader = Connection::open(path).map_err(|e| wrap(path, e))?;
                reader
                    .execute_batch("PRAGMA busy_timeout = 5000; PRAGMA query_only = 1;")
                    .map_err(|e| wrap(path, e))?;
                Ok(Mutex::new(reader))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let connections = Connections { writer: Mutex::new(writer), readers, next_reader: AtomicUsize::new(0) };
        Ok(Self { connections: Arc::new(connections) })
    }

    /// Runs `work` with the writer connection, on the blocking pool.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.blocking(move |connections| {
            let mut connection = connections.writer.lock().unwrap_or_else(|p| p.into_inner());
            work(&mut connection).map_err(failed)
        })
        .await
    }

    /// Runs `work` with a reader connection, on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.blocking(move |connections| {
            // Take a free reader if there is one; otherwise wait on the next in turn.
            let reader = connections.readers.iter().find_map(|r| r.try_lock().ok());
            let connection = match reader {
                Some(connection) => connection,
                None => {
                    let index = connections.next_reader.fetch_add(1, Ordering::Relaxed) % connections.readers.len();
                    connections.readers[index].lock().unwrap_or_else(|p| p.into_inner())
                }
            };
            work(&connection).map_err(failed)
        })
        .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connections) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let connections = self.connections.clone();
        tokio::task::spawn_blocking(move || work(&connections))
            .await
            .map_err(|e| StoreError::Failed(format!("a database task failed: {e}")))?
    }
}

fn failed(error: rusqlite::Error) -> StoreError {
    StoreError::Failed(error.to_string())
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

/// A session row (`id, tenant, data`), or `None` (logged) when damaged.
fn session_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<Session>> {
    let (id, tenant, text) = (row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?);
    Ok(decode::<Session>("session", &id, &text).map(|mut session| {
        session.tenant = (!tenant.is_empty()).then_some(tenant);
        session
    }))
}

/// The sessions a statement selecting `id, tenant, data` finds, skipping
/// damaged rows.
fn collect_sessions(
    statement: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<Session>> {
    statement.query_map(params, session_row)?.filter_map(Result::transpose).collect()
}

/// The parts of `messages` (a run of one session's messages, oldest first:
/// a page) attached in order, read in one range scan rather than a query per
/// message.
fn with_parts(
    connection: &Connection,
    session: &KeyRow,
    messages: Vec<Message>,
) -> rusqlite::Result<Vec<MessageWithParts>> {
    let (Some(first), Some(last)) = (messages.first(), messages.last()) else { return Ok(Vec::new()) };
    let mut statement = connection.prepare_cached(
        "SELECT message_id, id, data FROM part
         WHERE session_id = ?1 AND tenant = ?2 AND message_id >= ?3 AND message_id <= ?4
         ORDER BY message_id, id",
    )?;
    let rows = statement.query_map([&session.id, &session.tenant, first.id(), last.id()], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?))
    })?;
    let mut by_message: std::collections::HashMap<String, Vec<Part>> = std::collections::HashMap::new();
    for row in rows {
        let (message_id, id, text) = row?;
        if let Some(part) = decode("part", &id, &text) {
            by_message.entry(message_id).or_default().push(part);
        }
    }
    Ok(messages
        .into_iter()
        .map(|info| {
            let parts = by_message.remove(info.id()).unwrap_or_default();
            MessageWithParts { info, parts }
        })
        .collect())
}

/// A [`SessionKey`] owned, to move onto the blocking pool: the session's id
/// and its `tenant` column.
struct KeyRow {
    id: String,
    tenant: String,
}

impl KeyRow {
    fn of(key: SessionKey<'_>) -> Self {
        KeyRow { id: key.id.to_string(), tenant: tenant_column(key.owner) }
    }
}

/// The session row's columns and JSON, written by `put_session` and
/// `update_session` alike.
fn write_session(connection: &Connection, session: &Session) -> rusqlite::Result<()> {
    connection
        .prepare_cached(
            "INSERT OR REPLACE INTO session (id, project_id, directory, parent_id, updated, data, tenant)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            session.id,
            session.project_id,
            session.directory,
            session.parent_id,
            session.time.updated,
            to_json(session),
            session.tenant.as_deref().unwrap_or(""),
        ])
        .map(drop)
}

/// What an upsert that may not take another session's id changed: nothing
/// means the id was taken.
fn claimed(changed: usize, what: &str, id: &str) -> StoreResult<()> {
    match changed {
        0 => Err(StoreError::Conflict(format!("{what} id {id} is taken"))),
        _ => Ok(()),
    }
}

/// The `tenant` column's value for `owner` (`''`: the server's own user).
fn tenant_column(owner: Option<&str>) -> String {
    owner.unwrap_or("").to_string()
}

/// Whether session `id` exists and is `tenant`'s; the error a write into
/// any other session gets.
fn owned(connection: &Connection, tenant: &str, id: &str) -> rusqlite::Result<StoreResult<()>> {
    let found = connection
        .prepare_cached("SELECT 1 FROM session WHERE id = ?1 AND tenant = ?2")?
        .query_row([id, tenant], |_| Ok(()))
        .optional()?;
    Ok(found.ok_or_else(|| StoreError::NotFound(format!("Session not found: {id}"))))
}

/// Deletes the blobs no file change refers to any more.
fn drop_unreferenced_blobs(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute("DELETE FROM blob WHERE NOT EXISTS (SELECT 1 FROM file_change WHERE blob = blob.hash)", [])?;
    Ok(())
}

/// A message as its row, ready to write on the blocking pool.
struct MessageRow {
    id: String,
    session_id: String,
    tenant: String,
    data: String,
}

impl MessageRow {
    fn of(owner: Option<&str>, message: &Message) -> Self {
        Self {
            id: message.id().into(),
            session_id: message.session_id().into(),
            tenant: tenant_column(owner),
            data: to_json(message),
        }
    }

    /// Inserts or replaces the row, unless its session is not its owner's
    /// or its id is another session's.
    fn insert(&self, connection: &Connection) -> rusqlite::Result<StoreResult<()>> {
        if let Err(missing) = owned(connection, &self.tenant, &self.session_id)? {
            return Ok(Err(missing));
        }
        let changed = connection
            .prepare_cached(
                "INSERT INTO message (id, session_id, tenant, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data
                 WHERE message.session_id = excluded.session_id AND message.tenant = excluded.tenant",
            )?
            .execute(params![self.id, self.session_id, self.tenant, self.data])?;
        Ok(claimed(changed, "message", &self.id))
    }
}

/// A part as its row, ready to write on the blocking pool.
struct PartRow {
    id: String,
    message_id: String,
    session_id: String,
    tenant: String,
    data: String,
}

impl PartRow {
    fn of(owner: Option<&str>, part: &Part) -> Self {
        Self {
            id: part.id.clone(),
            message_id: part.message_id.clone(),
            session_id: part.session_id.clone(),
            tenant: tenant_column(owner),
            data: to_json(part),
        }
    }

    /// Inserts or replaces the row, unless its session is not its owner's
    /// or its id is another message's.
    fn insert(&self, connection: &Connection) -> rusqlite::Result<StoreResult<()>> {
        if let Err(missing) = owned(connection, &self.tenant, &self.session_id)? {
            return Ok(Err(missing));
        }
        let changed = connection
            .prepare_cached(
                "INSERT INTO part (id, message_id, session_id, tenant, data) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data
                 WHERE part.session_id = excluded.session_id AND part.message_id = excluded.message_id
                   AND part.tenant = excluded.tenant",
            )?
            .execute(params![self.id, self.message_id, self.session_id, self.tenant, self.data])?;
        Ok(claimed(changed, "part", &self.id))
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn put_session(&self, session: &Session) -> StoreResult<()> {
        let session = session.clone();
        self.write(move |c| write_session(c, &session)).await
    }

    async fn update_session(&self, id: &str, change: SessionChange) -> StoreResult<Option<Session>> {
        let (id, missing) = (id.to_string(), format!("Session not found: {id}"));
        let found = self
            .write(move |c| {
                let transaction = c.transaction()?;
                let found = transaction
                    .prepare_cached("SELECT id, tenant, data FROM session WHERE id = ?1")?
                    .query_row([&id], session_row)
                    .optional()?;
                let Some(mut session) = found.flatten() else {
                    return Ok(None);
                };
                if !change.apply(&mut session) {
                    return Ok(Some(None));
                }
                write_session(&transaction, &session)?;
                transaction.commit()?;
                Ok(Some(Some(session)))
            })
            .await?;
        found.ok_or(StoreError::NotFound(missing))
    }

    async fn session(&self, id: &str) -> StoreResult<Option<Session>> {
        let id = id.to_string();
        self.read(move |c| {
            Ok(c.prepare_cached("SELECT id, tenant, data FROM session WHERE id = ?1")?
                .query_row([&id], session_row)
                .optional()?
                .flatten())
        })
        .await
    }

    async fn sessions(&self, query: &SessionQuery) -> StoreResult<Vec<Session>> {
        let query = query.clone();
        let search = query.search.as_ref().map(|s| s.to_lowercase());
        let sessions: Vec<Session> = self
            .read(move |c| {
                let mut statement = c.prepare_cached(
                    "SELECT id, tenant, data FROM session
                     WHERE tenant = ?5 AND (?1 IS NULL OR project_id = ?1) AND (?2 IS NULL OR directory = ?2)
                       AND (?3 = 0 OR parent_id IS NULL) AND (?4 IS NULL OR updated >= ?4)
                     ORDER BY updated DESC, id",
                )?;
                let tenant = query.tenant.as_deref().unwrap_or("");
                collect_sessions(
                    &mut statement,
                    params![query.project_id, query.directory, query.roots_only, query.updated_since, tenant],
                )
            })
            .await?;
        let matching =
            sessions.into_iter().filter(|s| search.as_ref().is_none_or(|q| s.title.to_lowercase().contains(q)));
        Ok(match query.limit {
            Some(limit) => matching.take(limit).collect(),
            None => matching.collect(),
        })
    }

    async fn count_sessions(&self, tenant: Option<&str>) -> StoreResult<u64> {
        let tenant = tenant.unwrap_or("").to_string();
        self.read(move |c| {
            c.prepare_cached("SELECT count(*) FROM session WHERE tenant = ?1")?
                .query_row([&tenant], |row| row.get::<_, i64>(0))
                .map(|n| n.max(0) as u64)
        })
        .await
    }

    async fn append_audit(&self, records: Vec<AuditRecord>) -> StoreResult<()> {
        self.write(move |c| {
            let transaction = c.transaction()?;
            {
                let mut insert =
                    transaction.prepare_cached("INSERT INTO audit (time, tenant, data) VALUES (?1, ?2, ?3)")?;
                for record in &records {
                    insert.execute(params![record.time, record.tenant, to_json(record)])?;
                }
            }
            transaction.commit()
        })
        .await
    }

    async fn audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRecord>> {
        let query = query.clone();
        self.read(move |c| {
            let mut statement = c.prepare_cached(
                "SELECT id, data FROM audit WHERE (?1 IS NULL OR tenant = ?1) AND (?2 IS NULL OR time >= ?2)
                 ORDER BY id DESC LIMIT ?3",
            )?;
            let limit = query.limit.map_or(-1, |l| l as i64);
            let rows = statement.query_map(params![query.tenant, query.since, limit], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })?;
            let mut records = Vec::new();
            for row in rows {
                let (id, text) = row?;
                records.extend(decode::<AuditRecord>("audit", &id.to_string(), &text));
            }
            records.reverse();
            Ok(records)
        })
        .await
    }

    async fn prune_audit(&self, before: i64) -> StoreResult<u64> {
        self.write(move |c| c.execute("DELETE FROM audit WHERE time < ?1", [before]).map(|n| n as u64)).await
    }

    async fn children(&self, id: &str) -> StoreResult<Vec<Session>> {
        let id = id.to_string();
        self.read(move |c| {
            let mut statement =
                c.prepare_cached("SELECT id, tenant, data FROM session WHERE parent_id = ?1 ORDER BY id")?;
            collect_sessions(&mut statement, [&id])
        })
        .await
    }

    async fn delete_session(&self, id: &str) -> StoreResult<Vec<Session>> {
        let id = id.to_string();
        self.write(move |c| {
            let transaction = c.transaction()?;
            let mut deleted: Vec<Session> = Vec::new();
            let mut pending = vec![id];
            while let Some(next) = pending.pop() {
                let found = transaction
                    .query_row("SELECT id, tenant, data FROM session WHERE id = ?1", [&next], session_row)
                    .optional()?;
                let Some(found) = found else { continue };
                deleted.extend(found);
                let mut children = transaction.prepare("SELECT id FROM session WHERE parent_id = ?1")?;
                pending.extend(children.query_map([&next], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?);
                drop(children);
                transaction.execute("DELETE FROM part WHERE session_id = ?1", [&next])?;
                transaction.execute("DELETE FROM message WHERE session_id = ?1", [&next])?;
                transaction.execute("DELETE FROM todo WHERE session_id = ?1", [&next])?;
                transaction.execute("DELETE FROM file_change WHERE session_id = ?1", [&next])?;
                transaction.execute("DELETE FROM session WHERE id = ?1", [&next])?;
            }
            drop_unreferenced_blobs(&transaction)?;
            transaction.commit()?;
            Ok(deleted)
        })
        .await
    }

    async fn put_message(&self, owner: Option<&str>, message: &Message) -> StoreResult<()> {
        let row = MessageRow::of(owner, message);
        self.write(move |c| row.insert(c)).await?
    }

    async fn put_records(&self, owner: Option<&str>, messages: &[Message], parts: &[Part]) -> StoreResult<()> {
        let messages: Vec<MessageRow> = messages.iter().map(|m| MessageRow::of(owner, m)).collect();
        let parts: Vec<PartRow> = parts.iter().map(|p| PartRow::of(owner, p)).collect();
        self.write(move |c| {
            let transaction = c.transaction()?;
            for row in &messages {
                if let Err(refused) = row.insert(&transaction)? {
                    return Ok(Err(refused));
                }
            }
            for row in &parts {
                if let Err(refused) = row.insert(&transaction)? {
                    return Ok(Err(refused));
                }
            }
            transaction.commit()?;
            Ok(Ok(()))
        })
        .await?
    }

    async fn message(&self, session: SessionKey<'_>, id: &str) -> StoreResult<Option<MessageWithParts>> {
        let (session, id) = (KeyRow::of(session), id.to_string());
        self.read(move |c| {
            let text: Option<String> = c
                .prepare_cached("SELECT data FROM message WHERE id = ?1 AND session_id = ?2 AND tenant = ?3")?
                .query_row([&id, &session.id, &session.tenant], |r| r.get(0))
                .optional()?;
            let Some(info) = text.and_then(|text| decode("message", &id, &text)) else { return Ok(None) };
            Ok(with_parts(c, &session, vec![info])?.pop())
        })
        .await
    }

    async fn messages(
        &self,
        session: SessionKey<'_>,
        limit: Option<usize>,
        before: Option<&str>,
    ) -> StoreResult<Vec<MessageWithParts>> {
        let (session, before) = (KeyRow::of(session), before.map(str::to_string));
        self.read(move |c| {
            // Newest first to apply the limit, then back to oldest first.
            let mut statement = c.prepare_cached(
                "SELECT id, data FROM message WHERE session_id = ?1 AND tenant = ?2 AND (?3 IS NULL OR id < ?3)
                 ORDER BY id DESC LIMIT ?4",
            )?;
            let limit = limit.map(|l| l as i64).unwrap_or(-1);
            let mut messages: Vec<Message> =
                collect("message", &mut statement, params![session.id, session.tenant, before, limit])?;
            messages.reverse();
            with_parts(c, &session, messages)
        })
        .await
    }

    async fn delete_message(&self, session: SessionKey<'_>, id: &str) -> StoreResult<bool> {
        let (session, id) = (KeyRow::of(session), id.to_string());
        self.write(move |c| {
            let transaction = c.transaction()?;
            let key = [&id, &session.id, &session.tenant];
            transaction.execute("DELETE FROM part WHERE message_id = ?1 AND session_id = ?2 AND tenant = ?3", key)?;
            let removed =
                transaction.execute("DELETE FROM message WHERE id = ?1 AND session_id = ?2 AND tenant = ?3", key)?;
            transaction.commit()?;
            Ok(removed > 0)
        })
        .await
    }

    async fn put_part(&self, owner: Option<&str>, part: &Part) -> StoreResult<()> {
        let row = PartRow::of(owner, part);
        self.write(move |c| row.insert(c)).await?
    }

    async fn delete_part(&self, session: SessionKey<'_>, message_id: &str, id: &str) -> StoreResult<bool> {
        let (session, message_id, id) = (KeyRow::of(session), message_id.to_string(), id.to_string());
        self.write(move |c| {
            c.execute(
                "DELETE FROM part WHERE id = ?1 AND message_id = ?2 AND session_id = ?3 AND tenant = ?4",
                [&id, &message_id, &session.id, &session.tenant],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn todos(&self, session: SessionKey<'_>) -> StoreResult<Vec<Todo>> {
        let session = KeyRow::of(session);
        self.read(move |c| {
            let text: Option<String> = c
                .prepare_cached("SELECT data FROM todo WHERE session_id = ?1 AND tenant = ?2")?
                .query_row([&session.id, &session.tenant], |r| r.get(0))
                .optional()?;
            Ok(text.and_then(|text| decode("todo", &session.id, &text)).unwrap_or_default())
        })
        .await
    }

    async fn put_todos(&self, session: SessionKey<'_>, todos: &[Todo]) -> StoreResult<()> {
        let (session, data) = (KeyRow::of(session), to_json(&todos));
        self.write(move |c| {
            if let Err(missing) = owned(c, &session.tenant, &session.id)? {
                return Ok(Err(missing));
            }
            c.execute(
                "INSERT OR REPLACE INTO todo (session_id, tenant, data) VALUES (?1, ?2, ?3)",
                params![session.id, session.tenant, data],
            )
            .map(|_| Ok(()))
        })
        .await?
    }

    async fn put_file_changes(
        &self,
        session: SessionKey<'_>,
        changes: &[FileChange],
        blobs: &[Blob],
    ) -> StoreResult<()> {
        let session = KeyRow::of(session);
        let (changes, blobs) = (changes.to_vec(), blobs.to_vec());
        self.write(move |c| {
            if let Err(missing) = owned(c, &session.tenant, &session.id)? {
                return Ok(Err(missing));
            }
            let transaction = c.transaction()?;
            {
                let mut blob = transaction.prepare_cached("INSERT OR IGNORE INTO blob (hash, data) VALUES (?1, ?2)")?;
                for b in &blobs {
                    blob.execute(params![b.hash, b.bytes])?;
                }
                let mut change = transaction.prepare_cached(
                    "INSERT INTO file_change (session_id, tenant, message_id, part_id, redo, path, blob, data)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                for f in &changes {
                    change.execute(params![
                        session.id,
                        session.tenant,
                        f.message_id,
                        f.part_id,
                        f.redo,
                        f.path,
                        f.blob(),
                        to_json(&f.kept)
                    ])?;
                }
            }
            transaction.commit()?;
            Ok(Ok(()))
        })
        .await?
    }

    async fn file_changes(&self, session: SessionKey<'_>) -> StoreResult<Vec<FileChange>> {
        let session = KeyRow::of(session);
        self.read(move |c| {
            let mut query = c.prepare_cached(
                "SELECT message_id, part_id, redo, path, data FROM file_change
                 WHERE session_id = ?1 AND tenant = ?2 ORDER BY seq",
            )?;
            let rows = query.query_map([&session.id, &session.tenant], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?;
            let mut changes = Vec::new();
            for row in rows {
                let (message_id, part_id, redo, path, data) = row?;
                if let Some(kept) = decode::<Kept>("file_change", &path, &data) {
                    changes.push(FileChange { message_id, part_id, path, kept, redo });
                }
            }
            Ok(changes)
        })
        .await
    }

    async fn blob(&self, session: SessionKey<'_>, hash: &str) -> StoreResult<Option<Vec<u8>>> {
        let (session, hash) = (KeyRow::of(session), hash.to_string());
        self.read(move |c| {
            c.prepare_cached(
                "SELECT data FROM blob WHERE hash = ?1 AND EXISTS
                   (SELECT 1 FROM file_change WHERE blob = ?1 AND session_id = ?2 AND tenant = ?3)",
            )?
            .query_row([&hash, &session.id, &session.tenant], |r| r.get(0))
            .optional()
        })
        .await
    }

    async fn delete_file_changes(&self, session: SessionKey<'_>, which: &ChangeSelection) -> StoreResult<u64> {
        let (session, which) = (KeyRow::of(session), which.clone());
        self.write(move |c| {
            let transaction = c.transaction()?;
            let deleted = match &which {
                ChangeSelection::Redo => transaction.execute(
                    "DELETE FROM file_change WHERE session_id = ?1 AND tenant = ?2 AND redo = 1",
                    [&session.id, &session.tenant],
                )?,
                ChangeSelection::From { message_id, part_id } => transaction.execute(
                    "DELETE FROM file_change WHERE session_id = ?1 AND tenant = ?2 AND redo = 0 AND
                       (message_id > ?3 OR (message_id = ?3 AND (?4 IS NULL OR part_id >= ?4)))",
                    params![session.id, session.tenant, message_id, part_id],
                )?,
            };
            drop_unreferenced_blobs(&transaction)?;
            transaction.commit()?;
            Ok(deleted as u64)
        })
        .await
    }

    async fn prune_file_changes(&self, session: SessionKey<'_>, keep: u64, reason: &str) -> StoreResult<u64> {
        let (session, reason) = (KeyRow::of(session), reason.to_string());
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        self.write(move |c| {
            let transaction = c.transaction()?;
            let pruned = transaction.execute(
                "WITH ranked AS (
                   SELECT seq, SUM(json_extract(data, '$.size')) OVER (ORDER BY seq DESC) AS newer
                   FROM file_change WHERE session_id = ?1 AND tenant = ?2 AND redo = 0 AND blob IS NOT NULL
                 )
                 UPDATE file_change SET blob = NULL, data = json_object('kind', 'unkept', 'reason', ?4)
                 WHERE seq IN (SELECT seq FROM ranked WHERE newer > ?3)",
                params![session.id, session.tenant, keep, reason],
            )?;
            if pruned > 0 {
                drop_unreferenced_blobs(&transaction)?;
            }
            transaction.commit()?;
            Ok(pruned as u64)
        })
        .await
    }

    async fn unfinished(&self) -> StoreResult<(Vec<Owned<Message>>, Vec<Owned<Part>>)> {
        self.read(|c| {
            // `CASE` first checks the JSON reads, so a damaged row is
            // skipped instead of failing the query (and the start).
            let messages = collect_owned(
                "message",
                &mut c.prepare(
                    "SELECT id, tenant, data FROM message WHERE CASE WHEN json_valid(data) THEN
                       json_extract(data, '$.role') = 'assistant' AND json_extract(data, '$.time.completed') IS NULL
                     END",
                )?,
            )?;
            let parts = collect_owned(
                "part",
                &mut c.prepare(
                    "SELECT id, tenant, data FROM part WHERE CASE WHEN json_valid(data) THEN
                       json_extract(data, '$.type') = 'tool'
                       AND json_extract(data, '$.state.status') IN ('pending', 'running')
                     END",
                )?,
            )?;
            Ok((messages, parts))
        })
        .await
    }
}

/// The rows of a statement selecting `id, tenant, data`, with their owners,
/// skipping damaged ones.
fn collect_owned<T: serde::de::DeserializeOwned>(
    table: &str,
    statement: &mut rusqlite::Statement<'_>,
) -> rusqlite::Result<Vec<Owned<T>>> {
    let rows = statement
        .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?)))?;
    let mut values = Vec::new();
    for row in rows {
        let (id, tenant, text) = row?;
        values
            .extend(decode(table, &id, &text).map(|row| Owned { owner: (!tenant.is_empty()).then_some(tenant), row }));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_migrations_are_valid_and_end_at_the_schema_version() {
        let migrations = super::migrations();
        migrations.validate().unwrap();
        let mut connection = rusqlite::Connection::open_in_memory().unwrap();
        migrations.to_latest(&mut connection).unwrap();
        let version: usize = connection.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, super::SCHEMA_VERSION);
    }

    #[test]
    fn messages_parts_and_todos_stored_before_tenants_took_them_get_their_sessions_tenant() {
        let migrations = super::migrations();
        let mut connection = rusqlite::Connection::open_in_memory().unwrap();
        migrations.to_version(&mut connection, 4).unwrap();
        connection
            .execute_batch(
                "INSERT INTO session (id, project_id, directory, updated, data, tenant)
                   VALUES ('ses_a', 'p', '/a', 1, '{}', 'alice'), ('ses_h', 'p', '/h', 1, '{}', '');
                 INSERT INTO message (id, session_id, data) VALUES ('msg_a', 'ses_a', '{}'), ('msg_h', 'ses_h', '{}');
                 INSERT INTO part (id, message_id, session_id, data) VALUES ('prt_a', 'msg_a', 'ses_a', '{}');
                 INSERT INTO todo (session_id, data) VALUES ('ses_a', '[]'), ('ses_gone', '[]');",
            )
            .unwrap();
        migrations.to_latest(&mut connection).unwrap();
        let tenants = |sql: &str| -> Vec<String> {
            let mut statement = connection.prepare(sql).unwrap();
            statement.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
        };
        assert_eq!(tenants("SELECT tenant FROM message ORDER BY id"), ["alice", ""]);
        assert_eq!(tenants("SELECT tenant FROM part"), ["alice"]);
        assert_eq!(tenants("SELECT tenant FROM todo ORDER BY session_id"), ["alice", ""], "an orphan is the host's");
    }
}
