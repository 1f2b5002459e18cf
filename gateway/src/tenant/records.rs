//! The tenant database: one small SQLite file (`tenants.db` beside the
//! main database) that `wasmgate tenant ...`, the admin API and the server
//! share.
//!
//! It is its own file so a running server can tell cheaply that another
//! process changed it: `PRAGMA data_version` moves only when another
//! connection commits, and only tenant changes are written here, so a token
//! rotated or a tenant removed from the command line stops working at the
//! very next request without the server re-reading anything in between.

use super::quotas::QuotaSettings;
use super::token;
use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One tenant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRecord {
    pub name: String,
    /// The folders it may open, canonical.
    pub roots: Vec<PathBuf>,
    /// The quotas set for it (the rest follow the defaults).
    pub quotas: QuotaSettings,
    /// Its token's public id.
    pub token_id: String,
    /// Its token secret's digest.
    pub digest: [u8; 32],
    /// When it was added (ms).
    pub created: i64,
}

/// Why a tenant operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("tenant {0:?} already exists")]
    Exists(String),
    #[error("no tenant named {0:?}")]
    Unknown(String),
    #[error("the tenant database {path}: {message}")]
    Failed { path: PathBuf, message: String },
}

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(
        "CREATE TABLE tenant (
            name TEXT PRIMARY KEY,
            roots TEXT NOT NULL,
            quotas TEXT NOT NULL,
            token_id TEXT NOT NULL UNIQUE,
            token_digest TEXT NOT NULL,
            created INTEGER NOT NULL
        );
        CREATE TABLE token_use (
            tenant TEXT NOT NULL,
            day INTEGER NOT NULL,
            tokens INTEGER NOT NULL,
            PRIMARY KEY (tenant, day)
        );",
    )])
}

/// The tenant database, behind one connection.
pub struct TenantDb {
    path: PathBuf,
    connection: Mutex<Connection>,
    /// `data_version` when the tenants were last read.
    seen: Mutex<Option<i64>>,
}

impl TenantDb {
    /// Opens (creating) `tenants.db` in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, RecordError> {
        let path = data_dir.join("tenants.db");
        let failed = |e: &dyn std::fmt::Display| RecordError::Failed { path: path.clone(), message: e.to_string() };
        std::fs::create_dir_all(data_dir).map_err(|e| failed(&e))?;
        let mut connection = Connection::open(&path).map_err(|e| failed(&e))?;
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;")
            .map_err(|e| failed(&e))?;
        migrations().to_latest(&mut connection).map_err(|e| failed(&e))?;
        // Only the owner reads the file: it names every tenant's folders.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
        Ok(TenantDb { path, connection: Mutex::new(connection), seen: Mutex::new(None) })
    }

    fn with<T>(&self, work: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, RecordError> {
        let connection = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        work(&connection).map_err(|e| RecordError::Failed { path: self.path.clone(), message: e.to_string() })
    }

    /// Whether another process changed the tenants since the last call
    /// (true the first time).
    pub fn changed(&self) -> Result<bool, RecordError> {
        let version: i64 = self.with(|c| c.query_row("PRAGMA data_version", [], |row| row.get(0)))?;
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        Ok(seen.replace(version) != Some(version))
    }

    /// Every tenant, by name.
    pub fn list(&self) -> Result<Vec<TenantRecord>, RecordError> {
        self.with(|c| {
            let mut statement =
                c.prepare("SELECT name, roots, quotas, token_id, token_digest, created FROM tenant ORDER BY name")?;
            let rows = statement.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, i64>(5)?,
                ))
            })?;
            let mut records = Vec::new();
            for row in rows {
                let (name, roots, quotas, token_id, digest, created) = row?;
                let record = (|| {
                    Some(TenantRecord {
                        roots: serde_json::from_str(&roots).ok()?,
                        quotas: serde_json::from_str(&quotas).ok()?,
                        digest: token::from_hex(&digest)?,
                        name: name.clone(),
                        token_id,
                        created,
                    })
                })();
                match record {
                    Some(record) => records.push(record),
                    None => tracing::error!(tenant = name, "a damaged tenant row; the tenant is not served"),
                }
            }
            Ok(records)
        })
    }

    /// Adds a tenant.
    pub fn insert(&self, record: &TenantRecord) -> Result<(), RecordError> {
        let roots = serde_json::to_string(&record.roots).expect("paths serialize");
        let quotas = serde_json::to_string(&record.quotas).expect("quotas serialize");
        let inserted = self.with(|c| {
            c.execute(
                "INSERT INTO tenant (name, roots, quotas, token_id, token_digest, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (name) DO NOTHING",
                params![record.name, roots, quotas, record.token_id, token::to_hex(&record.digest), record.created],
            )
        })?;
        if inserted == 0 {
            return Err(RecordError::Exists(record.name.clone()));
        }
        Ok(())
    }

    /// Removes a tenant (its sessions stay in the main database, unreachable).
    pub fn remove(&self, name: &str) -> Result<(), RecordError> {
        let removed = self.with(|c| {
            c.execute("DELETE FROM token_use WHERE tenant = ?1", [name])?;
            c.execute("DELETE FROM tenant WHERE name = ?1", [name])
        })?;
        if removed == 0 {
            return Err(RecordError::Unknown(name.into()));
        }
        Ok(())
    }

    /// Gives a tenant a new token; the old one stops working.
    pub fn set_token(&self, name: &str, id: &str, digest: &[u8; 32]) -> Result<(), RecordError> {
        let changed = self.with(|c| {
            c.execute(
                "UPDATE tenant SET token_id = ?2, token_digest = ?3 WHERE name = ?1",
                params![name, id, token::to_hex(digest)],
            )
        })?;
        if changed == 0 {
            return Err(RecordError::Unknown(name.into()));
        }
        Ok(())
    }

    /// Replaces a tenant's quota settings.
    pub fn set_quotas(&self, name: &str, quotas: &QuotaSettings) -> Result<(), RecordError> {
        let quotas = serde_json::to_string(quotas).expect("quotas serialize");
        let changed =
            self.with(|c| c.execute("UPDATE tenant SET quotas = ?2 WHERE name = ?1", params![name, quotas]))?;
        if changed == 0 {
            return Err(RecordError::Unknown(name.into()));
        }
        Ok(())
    }

    /// Model tokens a tenant used on `day` (days since the epoch, UTC).
    pub fn tokens_used(&self, name: &str, day: i64) -> Result<u64, RecordError> {
        self.with(|c| {
            c.query_row("SELECT tokens FROM token_use WHERE tenant = ?1 AND day = ?2", params![name, day], |row| {
                row.get::<_, i64>(0)
            })
            .optional()
        })
        .map(|tokens| tokens.unwrap_or(0).max(0) as u64)
    }

    /// Adds to the model tokens a tenant used on `day`; older days are let go.
    pub fn add_tokens(&self, name: &str, day: i64, tokens: u64) -> Result<(), RecordError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO token_use (tenant, day, tokens) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant, day) DO UPDATE SET tokens = tokens + excluded.tokens",
                params![name, day, tokens as i64],
            )?;
            c.execute("DELETE FROM token_use WHERE tenant = ?1 AND day < ?2", params![name, day - 1])
        })
        .map(drop)
    }
}
