//! Tenants: the people or customers one server hosts, each with its own
//! folders, token, quotas, sessions and events.
//!
//! A request is made *as* a [`Tenant`]: the one its token names, or the
//! server's own user (the single-user mode of a password or of no auth).
//! Everything a request reaches is chosen through that tenant: directories
//! resolve only inside its roots ([`Tenant::workspaces`]), sessions and
//! permission requests answer only when they are its own, event streams
//! carry only its events, and its tool calls run under its [`Quota`].
//!
//! [`Tenants`] is the registry the server and `wasmgate tenant ...` share.
//! It keeps the database's tenants in memory and re-reads them when another
//! process changed them (see `records`), so a rotated token stops working at
//! the next request. Counters (CPU time, tokens, requests) live beside the
//! tenants and survive a change of their settings.

mod records;
pub mod token;
mod usage;

pub mod quotas;

pub use quotas::{QuotaSettings, Quotas};
pub use records::{RecordError, TenantRecord};
pub use usage::{Refused, StreamTicket, Usage};

use crate::keyring::{KEY_VARIABLE, Keyring, KeyringError};
use crate::sandbox::Quota;
use crate::workspace::{Owner, WorkspaceError, Workspaces};
use records::TenantDb;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Who a request is made as.
pub struct Tenant {
    /// `None`: the server's own user.
    record: Option<TenantRecord>,
    /// The resolved quotas (`None`: the server's own user has the
    /// sandbox's limits only).
    quotas: Option<Quotas>,
    workspaces: Mutex<Option<Arc<Workspaces>>>,
    quota: Option<Arc<Quota>>,
    usage: Arc<Usage>,
    /// Requests being answered at once (`None`: no limit).
    in_flight: Option<Arc<Semaphore>>,
}

impl Tenant {
    /// The server's own user, over the folders it serves.
    pub fn host(workspaces: Workspaces) -> Arc<Tenant> {
        Arc::new(Tenant {
            record: None,
            quotas: None,
            workspaces: Mutex::new(Some(Arc::new(workspaces))),
            quota: None,
            usage: Arc::new(Usage::default()),
            in_flight: None,
        })
    }

    /// The tenant's name (`None`: the server's own user).
    pub fn name(&self) -> Option<&str> {
        self.record.as_ref().map(|r| r.name.as_str())
    }

    /// The tenant as stored (`None`: the server's own user).
    pub fn record(&self) -> Option<&TenantRecord> {
        self.record.as_ref()
    }

    /// The tenant as the admin API and `tenant list --json` show it: never
    /// its token (`None`: the server's own user).
    pub fn to_json(&self) -> Option<serde_json::Value> {
        let record = self.record.as_ref()?;
        Some(serde_json::json!({
            "name": record.name,
            "roots": record.roots,
            "created": record.created,
            "settings": record.quotas,
            "quotas": self.quotas,
            "tokenID": record.token_id,
        }))
    }

    /// The quotas (`None`: the server's own user).
    pub fn quotas(&self) -> Option<&Quotas> {
        self.quotas.as_ref()
    }

    /// The tenant's share of the sandbox (`None`: the server's own user).
    pub fn quota(&self) -> Option<&Arc<Quota>> {
        self.quota.as_ref()
    }

    /// What the tenant has used.
    pub fn usage(&self) -> &Usage {
        &self.usage
    }

    /// The directories the tenant may open, opened on first use (a root
    /// that is missing now is retried at the next request).
    pub fn workspaces(&self) -> Result<Arc<Workspaces>, WorkspaceError> {
        let mut opened = self.workspaces.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(workspaces) = &*opened {
            return Ok(workspaces.clone());
        }
        let record = self.record.as_ref().expect("the server's own user has its folders from the start");
        let owner = Owner { tenant: Some(record.name.clone()), quota: self.quota.clone() };
        let workspaces = Arc::new(Workspaces::owned(&record.roots[0], &record.roots[1..], owner)?);
        *opened = Some(workspaces.clone());
        Ok(workspaces)
    }

    /// Whether the host lets the tenant call `provider`'s `model` (the
    /// server's own user: every one).
    pub fn allows_model(&self, provider: &str, model: &str) -> bool {
        self.allows(|pattern| match pattern.split_once('/') {
            Some((p, "*")) => p == provider,
            Some((p, m)) => p == provider && m == model,
            None => false,
        })
    }

    /// Whether the host lets the tenant call any model of `provider`.
    pub fn allows_provider(&self, provider: &str) -> bool {
        self.allows(|pattern| pattern.split_once('/').is_some_and(|(p, _)| p == provider))
    }

    fn allows(&self, matches: impl Fn(&str) -> bool) -> bool {
        let pinned = self.record.as_ref().and_then(|r| r.quotas.models.as_ref());
        pinned.is_none_or(|patterns| patterns.iter().any(|p| p == "*" || matches(p)))
    }

    /// Counts a request against the rate quota.
    pub fn admit_request(&self) -> Result<(), Refused> {
        match &self.quotas {
            Some(quotas) => self.usage.admit_request(quotas.requests_per_minute),
            None => Ok(()),
        }
    }

    /// Waits for the tenant's turn to be answered: its requests past
    /// `concurrent_requests` queue here, behind each other only, so a
    /// tenant's flood never stands between another tenant and the server.
    pub async fn admit(&self) -> Option<OwnedSemaphorePermit> {
        self.in_flight.as_ref()?.clone().acquire_owned().await.ok()
    }

    /// Opens an event stream, if the tenant has one to spare; the ticket
    /// gives it back when dropped.
    pub fn open_stream(&self) -> Result<StreamTicket, Refused> {
        self.usage.clone().open_stream(self.quotas.map(|q| q.event_streams))
    }
}

/// Why a tenant could not be added or changed.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Keyring(#[from] KeyringError),
}

/// The tenants in memory: by token id and by name.
#[derive(Default)]
struct Snapshot {
    by_token: HashMap<String, Arc<Tenant>>,
    by_name: BTreeMap<String, Arc<Tenant>>,
}

/// Every tenant of a data folder.
pub struct Tenants {
    db: TenantDb,
    /// Every owner's provider keys (a tenant's go with it).
    keyring: Arc<Keyring>,
    defaults: Quotas,
    /// Folders no tenant may have as or around a root (the data folder).
    reserved: Vec<PathBuf>,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Counters by tenant name, kept across reloads.
    meters: Mutex<HashMap<String, Meters>>,
    /// Set once a tenant exists: removing the last one does not turn the
    /// server back into an open single-user one.
    hosting: AtomicBool,
}

/// A tenant's counters: its request and stream use, and its sandbox quota
/// (whose CPU meter carries over when its limits change).
type Meters = (Arc<Usage>, Arc<Quota>);

impl Tenants {
    /// The tenants of `data_dir`, with `defaults` for the quotas they do not
    /// set, and the keyring of the folder (under `WASMGATE_KEYRING_KEY` if
    /// the environment sets it).
    pub fn open(data_dir: &Path, defaults: Quotas) -> Result<Self, TenantError> {
        let db = TenantDb::open(data_dir)?;
        let keyring = Arc::new(Keyring::open(data_dir, std::env::var(KEY_VARIABLE).ok().as_deref())?);
        let reserved = vec![data_dir.canonicalize().unwrap_or_else(|_| data_dir.to_path_buf())];
        let tenants = Tenants {
            db,
            keyring,
            defaults,
            reserved,
            snapshot: RwLock::default(),
            meters: Mutex::default(),
            hosting: AtomicBool::new(false),
        };
        tenants.refresh()?;
        Ok(tenants)
    }

    /// The quotas a tenant gets unless set otherwise.
    pub fn defaults(&self) -> &Quotas {
        &self.defaults
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        if let Err(error) = self.refresh() {
            tracing::error!("cannot read the tenants again; serving the ones read before: {error}");
        }
        self.snapshot.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads the tenants again if another process changed them.
    fn refresh(&self) -> Result<(), RecordError> {
        if self.db.changed()? {
            self.reload()?;
        }
        Ok(())
    }

    /// Reads every tenant, keeping the counters and opened folders of those
    /// whose folders and quotas did not change.
    fn reload(&self) -> Result<(), RecordError> {
        let records = self.db.list()?;
        let previous = self.snapshot.read().unwrap_or_else(|p| p.into_inner()).clone();
        let mut meters = self.meters.lock().unwrap_or_else(|p| p.into_inner());
        meters.retain(|name, _| records.iter().any(|r| &r.name == name));
        let mut snapshot = Snapshot::default();
        for record in records {
            let quotas = record.quotas.resolve(&self.defaults);
            let limits = quotas.sandbox_limits();
            let (usage, quota) = meters
                .entry(record.name.clone())
                .or_insert_with(|| (Arc::new(Usage::default()), Quota::new(limits)))
                .clone();
            let quota = if quota.limits() == limits {
                quota
            } else {
                let changed = quota.with_limits(limits);
                meters.insert(record.name.clone(), (usage.clone(), changed.clone()));
                changed
            };
            // Folders already opened, and the queue of requests in flight,
            // carry over when nothing about them changed.
            let old = previous.by_name.get(&record.name);
            let opened = old
                .filter(|old| {
                    old.record.as_ref().is_some_and(|r| r.roots == record.roots)
                        && old.quota.as_ref().is_some_and(|q| Arc::ptr_eq(q, &quota))
                })
                .and_then(|old| old.workspaces.lock().unwrap_or_else(|p| p.into_inner()).clone());
            let in_flight = old
                .filter(|old| old.quotas.map(|q| q.concurrent_requests) == Some(quotas.concurrent_requests))
                .and_then(|old| old.in_flight.clone())
                .unwrap_or_else(|| Arc::new(Semaphore::new(quotas.concurrent_requests as usize)));
            let tenant = Arc::new(Tenant {
                in_flight: Some(in_flight),
                quotas: Some(quotas),
                workspaces: Mutex::new(opened),
                quota: Some(quota),
                usage,
                record: Some(record.clone()),
            });
            snapshot.by_token.insert(record.token_id.clone(), tenant.clone());
            snapshot.by_name.insert(record.name, tenant);
        }
        if !snapshot.by_name.is_empty() {
            self.hosting.store(true, Ordering::Relaxed);
        }
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snapshot);
        Ok(())
    }

    /// Whether the server hosts tenants: one exists, or did since it
    /// started. Then every request needs a token (or the password).
    pub fn hosting(&self) -> bool {
        // Once set it stays set: only a server not hosting yet looks again
        // (a token is checked against fresh tenants by `verify` anyway).
        if !self.hosting.load(Ordering::Relaxed) {
            self.snapshot();
        }
        self.hosting.load(Ordering::Relaxed)
    }

    /// The tenant `presented` is the token of; `None` for anything else, in
    /// time that does not say whether its id exists.
    pub fn verify(&self, presented: &str) -> Option<Arc<Tenant>> {
        const NOBODY: [u8; 32] = [0; 32];
        let (id, secret) = token::parse(presented)?;
        let snapshot = self.snapshot();
        let tenant = snapshot.by_token.get(id);
        let expected = tenant.and_then(|t| t.record.as_ref()).map_or(&NOBODY, |r| &r.digest);
        (token::matches(secret, expected) && tenant.is_some()).then(|| tenant.cloned()).flatten()
    }

    /// A tenant by name.
    pub fn get(&self, name: &str) -> Option<Arc<Tenant>> {
        self.snapshot().by_name.get(name).cloned()
    }

    /// Every tenant, by name.
    pub fn list(&self) -> Vec<Arc<Tenant>> {
        self.snapshot().by_name.values().cloned().collect()
    }

    /// Adds a tenant over `roots`; returns its token (shown once, never
    /// stored).
    pub fn add(&self, name: &str, roots: &[PathBuf], quotas: QuotaSettings) -> Result<String, TenantError> {
        check_name(name)?;
        quotas.check().map_err(TenantError::Invalid)?;
        if roots.is_empty() {
            return Err(TenantError::Invalid("a tenant needs at least one --root".into()));
        }
        let roots = roots.iter().map(|root| self.checked_root(root)).collect::<Result<Vec<_>, _>>()?;
        let issued = token::issue();
        let record = TenantRecord {
            name: name.to_string(),
            roots,
            quotas,
            token_id: issued.id,
            digest: issued.digest,
            created: crate::ids::now_millis(),
        };
        self.db.insert(&record)?;
        self.reload()?;
        Ok(issued.token)
    }

    /// Removes a tenant: its token stops working at once; its sessions stay
    /// stored but unreachable.
    pub fn remove(&self, name: &str) -> Result<(), TenantError> {
        self.db.remove(name)?;
        self.keyring.forget(name)?;
        self.reload()?;
        Ok(())
    }

    /// The provider keys of the folder's owners: each tenant's, and the
    /// server's own user's.
    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    /// Gives a tenant a new token; the old one stops working at once.
    pub fn rotate(&self, name: &str) -> Result<String, TenantError> {
        let issued = token::issue();
        self.db.set_token(name, &issued.id, &issued.digest)?;
        self.reload()?;
        Ok(issued.token)
    }

    /// Changes the quotas `settings` sets; the others stay as they were.
    pub fn set(&self, name: &str, settings: &QuotaSettings) -> Result<(), TenantError> {
        let tenant = self.get(name).ok_or_else(|| RecordError::Unknown(name.into()))?;
        settings.check().map_err(TenantError::Invalid)?;
        let current = tenant.record.as_ref().map(|r| r.quotas.clone()).unwrap_or_default();
        self.db.set_quotas(name, &current.merged(settings))?;
        self.reload()?;
        Ok(())
    }

    /// Model tokens `tenant` used today.
    pub fn tokens_today(&self, tenant: &str) -> u64 {
        self.db.tokens_used(tenant, today()).unwrap_or_else(|error| {
            tracing::error!(tenant, "cannot read the tokens used: {error}");
            0
        })
    }

    /// Counts model tokens `tenant` used.
    pub fn spend_tokens(&self, tenant: &str, tokens: u64) {
        if let Err(error) = self.db.add_tokens(tenant, today(), tokens) {
            tracing::error!(tenant, tokens, "cannot count the tokens used: {error}");
        }
    }

    /// `root` made canonical, if a tenant may have it.
    fn checked_root(&self, root: &Path) -> Result<PathBuf, TenantError> {
        let canonical =
            root.canonicalize().map_err(|e| TenantError::Invalid(format!("--root {}: {e}", root.display())))?;
        if !canonical.is_dir() {
            return Err(TenantError::Invalid(format!("--root {}: not a directory", root.display())));
        }
        if canonical.to_str().is_none() {
            return Err(TenantError::Invalid(format!("--root {}: the name is not UTF-8", root.display())));
        }
        if let Some(reserved) = self.reserved.iter().find(|r| r.starts_with(&canonical) || canonical.starts_with(r)) {
            return Err(TenantError::Invalid(format!(
                "--root {}: it holds or is inside the server's data folder {}",
                root.display(),
                reserved.display()
            )));
        }
        Ok(canonical)
    }
}

/// A tenant's name: 1-64 of `a-z`, `0-9`, `-`, `_`, starting with a letter
/// or digit.
fn check_name(name: &str) -> Result<(), TenantError> {
    let valid = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if valid {
        Ok(())
    } else {
        Err(TenantError::Invalid(format!(
            "tenant name {name:?}: use 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit"
        )))
    }
}

/// Days since the epoch, UTC.
fn today() -> i64 {
    crate::ids::now_millis() / 86_400_000
}

impl crate::agent::TenantSettings for Tenants {
    fn overlay(&self, tenant: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
        self.get(tenant)?.record()?.quotas.agent_config.clone()
    }
}

impl crate::agent::ModelAllowance for Tenants {
    fn refuse_model(&self, tenant: &str, provider: &str, model: &str) -> Option<String> {
        let tenant = self.get(tenant)?;
        let allowed = tenant.record()?.quotas.models.as_ref()?;
        (!tenant.allows_model(provider, model)).then(|| {
            format!("this server lets you use only these models: {}; not {provider}/{model}", allowed.join(", "))
        })
    }

    fn refuse(&self, tenant: &str) -> Option<String> {
        let quotas = self.get(tenant)?.quotas?;
        let used = self.tokens_today(tenant);
        (used >= quotas.tokens_per_day).then(|| {
            format!(
                "the daily model token quota ({}) is used up ({used} used today); it resets at midnight UTC",
                quotas.tokens_per_day
            )
        })
    }

    fn spend(&self, tenant: &str, tokens: u64) {
        self.spend_tokens(tenant, tokens);
    }
}
