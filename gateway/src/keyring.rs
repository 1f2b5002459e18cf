//! Provider keys people set through `PUT /auth/{providerID}` (the TUI's
//! `/connect`), one set per owner: each tenant, and the server's own user.
//!
//! Keys live in their own small SQLite file (`keys.db` beside the main
//! database, mode 0600), sealed with ChaCha20-Poly1305 under the server's
//! keyring key: `WASMGATE_KEYRING_KEY` (32 bytes, base64) when it is set, so
//! the key can be kept apart from the data folder and its backups, else a
//! key made once in `keyring.key` beside the file. Each sealed key is bound
//! to its owner and provider (the AEAD's associated data), so a row copied
//! to another tenant does not open. Nothing serves a key back: the API can
//! set and remove one, and the agent reads it to call the provider.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rusqlite::{Connection, OptionalExtension, params};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The variable that holds the keyring key (base64 of 32 bytes).
pub const KEY_VARIABLE: &str = "WASMGATE_KEYRING_KEY";

/// The longest key accepted.
const MAX_KEY: usize = 8 << 10;

/// Why a key could not be kept or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// What was sent cannot be a provider or a key.
    #[error("{0}")]
    Invalid(String),
    /// The file or the keyring key could not be used.
    #[error("the keyring {path}: {message}")]
    Failed { path: PathBuf, message: String },
}

/// The provider keys of every owner of one data folder.
pub struct Keyring {
    path: PathBuf,
    connection: Mutex<Connection>,
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Keyring {
    /// The keyring of `data_dir`, with the keyring key from `key_variable`
    /// (the value of [`KEY_VARIABLE`]) or the key file.
    pub fn open(data_dir: &Path, key_variable: Option<&str>) -> Result<Self, KeyringError> {
        let path = data_dir.join("keys.db");
        let failed = |message: String| KeyringError::Failed { path: path.clone(), message };
        let key = match key_variable.map(str::trim).filter(|v| !v.is_empty()) {
            Some(encoded) => decode_key(encoded).ok_or_else(|| {
                failed(format!("{KEY_VARIABLE} must be 32 bytes in base64 (`openssl rand -base64 32` makes one)"))
            })?,
            None => key_file(&data_dir.join("keyring.key")).map_err(|e| failed(format!("keyring.key: {e}")))?,
        };
        private_file(&path).map_err(|e| failed(e.to_string()))?;
        let connection = Connection::open(&path).map_err(|e| failed(e.to_string()))?;
        connection
            .execute_batch(
                "PRAGMA busy_timeout = 5000;
                 CREATE TABLE IF NOT EXISTS provider_key (
                    owner TEXT NOT NULL,
                    provider TEXT NOT NULL,
                    sealed BLOB NOT NULL,
                    updated INTEGER NOT NULL,
                    PRIMARY KEY (owner, provider)
                 );",
            )
            .map_err(|e| failed(e.to_string()))?;
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&key));
        Ok(Keyring { path, connection: Mutex::new(connection), cipher })
    }

    /// Keeps `key` as `owner`'s key for `provider` (`None`: the server's
    /// own user), replacing the one before.
    pub fn set(&self, owner: Option<&str>, provider: &str, key: &str) -> Result<(), KeyringError> {
        check_provider(provider)?;
        if key.trim().is_empty() || key.len() > MAX_KEY || key.chars().any(char::is_control) {
            return Err(KeyringError::Invalid(format!(
                "a key must be 1 to {MAX_KEY} characters with no control characters"
            )));
        }
        let nonce: [u8; 12] = rand::random();
        let aad = associated(owner, provider);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: key.as_bytes(), aad: &aad })
            .map_err(|_| self.failed("cannot seal the key".into()))?;
        let mut row = nonce.to_vec();
        row.extend_from_slice(&sealed);
        self.connection()
            .execute(
                "INSERT INTO provider_key (owner, provider, sealed, updated) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (owner, provider) DO UPDATE SET sealed = excluded.sealed, updated = excluded.updated",
                params![owner.unwrap_or_default(), provider, row, crate::ids::now_millis()],
            )
            .map_err(|e| self.failed(e.to_string()))?;
        Ok(())
    }

    /// Forgets `owner`'s key for `provider`; whether there was one.
    pub fn remove(&self, owner: Option<&str>, provider: &str) -> Result<bool, KeyringError> {
        let removed = self
            .connection()
            .execute(
                "DELETE FROM provider_key WHERE owner = ?1 AND provider = ?2",
                params![owner.unwrap_or_default(), provider],
            )
            .map_err(|e| self.failed(e.to_string()))?;
        Ok(removed > 0)
    }

    /// Forgets every key of `owner` (a tenant that was removed).
    pub fn forget(&self, owner: &str) -> Result<(), KeyringError> {
        self.connection()
            .execute("DELETE FROM provider_key WHERE owner = ?1", params![owner])
            .map_err(|e| self.failed(e.to_string()))?;
        Ok(())
    }

    /// `owner`'s key for `provider`, if it set one that still opens.
    pub fn key(&self, owner: Option<&str>, provider: &str) -> Option<String> {
        let row: Vec<u8> = self
            .connection()
            .query_row(
                "SELECT sealed FROM provider_key WHERE owner = ?1 AND provider = ?2",
                params![owner.unwrap_or_default(), provider],
                |row| row.get(0),
            )
            .optional()
            .unwrap_or_else(|error| {
                tracing::error!("cannot read the keyring {}: {error}", self.path.display());
                None
            })?;
        if row.len() < 12 {
            return None;
        }
        let (nonce, sealed) = row.split_at(12);
        let aad = associated(owner, provider);
        match self.cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: &aad }) {
            Ok(key) => String::from_utf8(key).ok(),
            Err(_) => {
                tracing::error!(provider, "a provider key does not open with this keyring key; set it again");
                None
            }
        }
    }

    /// The providers `owner` set a key for.
    pub fn providers(&self, owner: Option<&str>) -> Vec<String> {
        let connection = self.connection();
        let listed =
            connection.prepare_cached("SELECT provider FROM provider_key WHERE owner = ?1 ORDER BY provider").and_then(
                |mut statement| statement.query_map(params![owner.unwrap_or_default()], |row| row.get(0))?.collect(),
            );
        listed.unwrap_or_else(|error| {
            tracing::error!("cannot read the keyring {}: {error}", self.path.display());
            Vec::new()
        })
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn failed(&self, message: String) -> KeyringError {
        KeyringError::Failed { path: self.path.clone(), message }
    }
}

impl crate::agent::ProviderKeys for Keyring {
    fn key(&self, owner: Option<&str>, provider: &str) -> Option<String> {
        Keyring::key(self, owner, provider)
    }
}

/// Whether `id` can name a provider: what OpenCode's ids look like.
fn check_provider(id: &str) -> Result<(), KeyringError> {
    let fits = (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !id.starts_with('.');
    if fits { Ok(()) } else { Err(KeyringError::Invalid(format!("{id:?} is not a provider id"))) }
}

/// What a sealed key is bound to.
fn associated(owner: Option<&str>, provider: &str) -> Vec<u8> {
    format!("wasmgate provider key\0{}\0{provider}", owner.unwrap_or_default()).into_bytes()
}

fn decode_key(encoded: &str) -> Option<[u8; 32]> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    bytes.try_into().ok()
}

/// The key in `path`, made (32 random bytes, mode 0600) if there is none.
fn key_file(path: &Path) -> std::io::Result<[u8; 32]> {
    match std::fs::read(path) {
        Ok(bytes) => bytes
            .try_into()
            .map_err(|_| std::io::Error::other("not a 32-byte key; remove it only if no key was ever set")),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key: [u8; 32] = rand::random();
            let made = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path);
            match made {
                Ok(mut file) => {
                    file.write_all(&key)?;
                    file.sync_all()?;
                    Ok(key)
                }
                // Another process made it first: use theirs.
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => key_file(path),
                Err(error) => Err(error),
            }
        }
        Err(error) => Err(error),
    }
}

/// Makes `path` (if missing) readable by this user only.
fn private_file(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sealed_bound_to_their_owner_and_never_stored_plain() {
        let data = tempfile::tempdir().unwrap();
        let keyring = Keyring::open(data.path(), None).unwrap();
        keyring.set(Some("alice"), "openai", "sk-alice-secret").unwrap();
        keyring.set(None, "openai", "sk-host-secret").unwrap();
        assert_eq!(keyring.key(Some("alice"), "openai").as_deref(), Some("sk-alice-secret"));
        assert_eq!(keyring.key(None, "openai").as_deref(), Some("sk-host-secret"));
        assert_eq!(keyring.key(Some("bob"), "openai"), None);
        assert_eq!(keyring.providers(Some("alice")), ["openai"]);
        let stored = std::fs::read(data.path().join("keys.db")).unwrap();
        assert!(!stored.windows(6).any(|w| w == b"sk-ali" || w == b"sk-hos"), "a key is stored in the clear");
        // A row moved to another owner does not open.
        keyring.connection().execute("UPDATE provider_key SET owner = 'bob' WHERE owner = 'alice'", []).unwrap();
        assert_eq!(keyring.key(Some("bob"), "openai"), None);
        // Another keyring key opens nothing.
        drop(keyring);
        let other = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let keyring = Keyring::open(data.path(), Some(&other)).unwrap();
        assert_eq!(keyring.key(None, "openai"), None);
        // The files are private.
        use std::os::unix::fs::PermissionsExt;
        for name in ["keys.db", "keyring.key"] {
            let mode = std::fs::metadata(data.path().join(name)).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{name} is readable by others");
        }
    }

    #[test]
    fn what_cannot_be_a_provider_or_a_key_is_refused() {
        let data = tempfile::tempdir().unwrap();
        let keyring = Keyring::open(data.path(), None).unwrap();
        for provider in ["", "../x", "a b", ".hidden", &"x".repeat(65)] {
            assert!(matches!(keyring.set(None, provider, "k"), Err(KeyringError::Invalid(_))), "{provider:?}");
        }
        for key in ["", "  ", "line\r\nX-Injected: 1", &"k".repeat(MAX_KEY + 1)] {
            assert!(matches!(keyring.set(None, "openai", key), Err(KeyringError::Invalid(_))), "{key:?}");
        }
        assert!(matches!(Keyring::open(data.path(), Some("short")), Err(KeyringError::Failed { .. })));
    }
}
