//! The server's shared state, and the one builder that assembles it for
//! `serve` and for the tests alike.
//!
//! [`App`] is what the HTTP layer holds. Below it, each domain gets only
//! what it needs: the [`Assistant`] (turns), [`Sessions`] (session
//! operations and runs), and through them the conversation journal, the
//! store, the bus and the sandbox. Requests are made as a [`Tenant`]: the
//! server's own user ([`App::host`]) or one of [`App::tenants`].

use crate::agent::tools::Toolbox;
use crate::agent::{Assistant, ModelAllowance, Permissions, Profiles, ProviderKeys, Providers, TenantSettings};
use crate::audit::{Auditor, DEFAULT_RETENTION};
use crate::config::Config;
use crate::conversation::{Journal, Runs};
use crate::events::Bus;
use crate::keyring::Keyring;
use crate::mcp::client::{DEFAULT_TENANT_IDLE, McpServers};
use crate::sandbox::Sandbox;
use crate::session::Sessions;
use crate::store::Store;
use crate::tenant::{Tenant, Tenants};
use crate::workspace::Workspaces;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

pub use crate::session::VERSION;

/// Everything a request can reach. Handlers get it as `State<Arc<App>>`.
pub struct App {
    /// Runs the file and search routes' tool calls.
    pub sandbox: Sandbox,
    /// Sessions, messages, parts, todos (read directly by the routes that
    /// only list them).
    pub store: Arc<dyn Store>,
    /// Publishes events to `/event` and `/global/event`.
    pub bus: Bus,
    /// The server's own user: the folders it serves, for requests made with
    /// its password or on a server without auth.
    pub host: Arc<Tenant>,
    /// The tenants, when the server keeps them (a data folder); once there
    /// is one, every request needs a tenant's token or the password.
    pub tenants: Option<Arc<Tenants>>,
    /// The token that opens the admin API (closed without one).
    pub admin_token: Option<String>,
    /// Origins besides the reference's local ones that CORS answers.
    pub cors_origins: Vec<String>,
    /// Writes the audit log.
    pub auditor: Auditor,
    /// The configuration file.
    pub config: Config,
    /// The model providers and their models.
    pub providers: Arc<Providers>,
    /// Answers prompts: agents, permissions, turns.
    pub assistant: Arc<Assistant>,
    /// Session operations and the runs that keep sessions busy.
    pub sessions: Sessions,
    /// The folders `GET /path` reports.
    pub paths: Paths,
    /// Basic-auth credentials every request must carry, when set.
    pub credentials: Option<Credentials>,
    /// Host names clients may use when no password is set, besides IP
    /// addresses and `localhost` (the name the server listens on).
    pub host_names: Vec<String>,
}

/// The folders `GET /path` reports.
#[derive(Debug, Clone, Default)]
pub struct Paths {
    /// The user's home.
    pub home: PathBuf,
    /// Where the database lives.
    pub data: PathBuf,
    /// The configuration file's folder.
    pub config: PathBuf,
}

/// The user name and password of HTTP Basic auth.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

impl App {
    /// Starts assembling a server over these parts.
    pub fn builder(sandbox: Sandbox, store: Arc<dyn Store>, workspaces: Workspaces, config: Config) -> AppBuilder {
        AppBuilder {
            sandbox,
            store,
            workspaces,
            config,
            paths: Paths::default(),
            credentials: None,
            host_names: Vec::new(),
            tenants: None,
            admin_token: None,
            environment: Box::new(|name| std::env::var(name).ok()),
        }
    }

    /// The provider keys owners set through `PUT /auth/{id}` (`None`: a
    /// server with no data folder keeps none).
    pub fn keyring(&self) -> Option<Arc<Keyring>> {
        self.tenants.as_ref().map(|tenants| tenants.keyring().clone())
    }
}

/// Assembles an [`App`]; see [`App::builder`].
pub struct AppBuilder {
    sandbox: Sandbox,
    store: Arc<dyn Store>,
    workspaces: Workspaces,
    config: Config,
    paths: Paths,
    credentials: Option<Credentials>,
    host_names: Vec<String>,
    tenants: Option<Arc<Tenants>>,
    admin_token: Option<String>,
    environment: Environment,
}

/// Looks up an environment variable.
type Environment = Box<dyn Fn(&str) -> Option<String>>;

impl AppBuilder {
    /// The folders `GET /path` reports.
    pub fn paths(mut self, paths: Paths) -> Self {
        self.paths = paths;
        self
    }

    /// Requires HTTP Basic auth with these credentials.
    pub fn credentials(mut self, credentials: Option<Credentials>) -> Self {
        self.credentials = credentials;
        self
    }

    /// Host names clients may use besides IP addresses and `localhost`.
    pub fn host_names(mut self, names: Vec<String>) -> Self {
        self.host_names = names;
        self
    }

    /// Serves these tenants beside the server's own user.
    pub fn tenants(mut self, tenants: Option<Arc<Tenants>>) -> Self {
        self.tenants = tenants;
        self
    }

    /// Opens the admin API to this token.
    pub fn admin_token(mut self, token: Option<String>) -> Self {
        self.admin_token = token.filter(|t| !t.is_empty());
        self
    }

    /// Where provider keys are looked up (the process environment unless
    /// set; tests name their providers in the config instead).
    pub fn environment(mut self, lookup: impl Fn(&str) -> Option<String> + 'static) -> Self {
        self.environment = Box::new(lookup);
        self
    }

    pub fn build(self) -> Arc<App> {
        let retention = self
            .config
            .wasmgate
            .audit_days
            .map_or(DEFAULT_RETENTION, |days| std::time::Duration::from_secs(days.max(1).saturating_mul(86_400)));
        let auditor = Auditor::start(self.store.clone(), retention);
        self.sandbox.observe_calls(Arc::new(auditor.clone()));
        let bus = Bus::new();
        let journal = Journal::new(self.store.clone(), bus.clone());
        let runs = Arc::new(Runs::new(bus.clone()));
        let providers = Arc::new(Providers::new(&self.config, &*self.environment));
        let mcp = Arc::new(McpServers::new(
            self.config.get("mcp"),
            self.sandbox.process_runner(),
            Some(self.workspaces.default().grant.clone()),
            self.sandbox.limits().deadline,
            self.config.wasmgate.mcp.tenant_idle().ok().flatten().unwrap_or(DEFAULT_TENANT_IDLE),
        ));
        if tokio::runtime::Handle::try_current().is_ok() {
            mcp.connect_all();
        }
        let assistant = Arc::new(Assistant {
            journal: journal.clone(),
            runs: runs.clone(),
            sandbox: self.sandbox.clone(),
            tools: Toolbox::new(self.sandbox.clone(), mcp.clone()),
            mcp,
            providers: providers.clone(),
            profiles: Profiles::new(self.config.clone(), self.tenants.clone().map(|t| t as Arc<dyn TenantSettings>)),
            permissions: Arc::new(Permissions::default()),
            questions: Arc::default(),
            settings: self.config.wasmgate.agent.clone(),
            compaction: crate::agent::compaction::Settings::of(&self.config, &*self.environment),
            allowance: self.tenants.clone().map(|t| t as Arc<dyn ModelAllowance>),
            keys: self.tenants.as_ref().map(|t| t.keyring().clone() as Arc<dyn ProviderKeys>),
            config_dir: opencode_config_dir(&*self.environment),
            subagents: std::sync::OnceLock::new(),
        });
        let sessions = Sessions::new(journal, runs, self.sandbox.clone(), assistant.clone());
        let _ = assistant.subagents.set(Arc::new(sessions.child_sessions()));
        Arc::new(App {
            sandbox: self.sandbox,
            store: self.store,
            bus,
            host: Tenant::host(self.workspaces),
            tenants: self.tenants,
            admin_token: self.admin_token,
            cors_origins: self.config.wasmgate.cors_origins.clone(),
            auditor,
            config: self.config,
            providers,
            assistant,
            sessions,
            paths: self.paths,
            credentials: self.credentials,
            host_names: self.host_names,
        })
    }
}

/// The user's OpenCode config folder (`$XDG_CONFIG_HOME/opencode`, else
/// `~/.config/opencode`), if there is one.
fn opencode_config_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<std::path::PathBuf> {
    let base = env("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| env("HOME").map(|home| std::path::Path::new(&home).join(".config")))?;
    Some(base.join("opencode")).filter(|dir| dir.is_dir())
}
