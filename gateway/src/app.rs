//! The server's shared state: what every handler and every run reaches.

use crate::agent::agents::Agent;
use crate::agent::{Permissions, Providers};
use crate::config::Config;
use crate::events::{Bus, Scope};
use crate::sandbox::Sandbox;
use crate::session::Runs;
use crate::store::Store;
use crate::workspace::{Workspace, Workspaces};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

/// Everything a request can reach. Handlers get it as `State<Arc<App>>`.
pub struct App {
    /// Runs every tool call.
    pub sandbox: Sandbox,
    /// Sessions, messages, parts, todos.
    pub store: Arc<dyn Store>,
    /// Publishes events to `/event` and `/global/event`.
    pub bus: Bus,
    /// Resolves the directories clients name.
    pub workspaces: Workspaces,
    /// The configuration file.
    pub config: Config,
    /// The model providers and their models.
    pub providers: Providers,
    /// The agents prompts run as (from the config, made once).
    pub agents: Vec<Agent>,
    /// Tool calls waiting for a person's permission.
    pub permissions: Permissions,
    /// What each session is running now.
    pub runs: Runs,
    /// The folders `GET /path` reports.
    pub paths: Paths,
    /// Basic-auth credentials every request must carry, when set.
    pub credentials: Option<Credentials>,
    /// Host names clients may use when no password is set, besides IP
    /// addresses and `localhost` (the name the server listens on).
    pub host_names: Vec<String>,
}

/// The folders `GET /path` reports.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The user's home.
    pub home: PathBuf,
    /// Where the database lives.
    pub data: PathBuf,
    /// The configuration file's folder.
    pub config: PathBuf,
}

/// The user name and password of HTTP Basic auth.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl App {
    /// The agent named `name`, if there is one (the config may disable any,
    /// `build` too).
    pub fn agent(&self, name: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.name == name)
    }

    /// Publishes an event of `workspace`.
    pub fn publish(&self, workspace: &Workspace, kind: &str, properties: Value) {
        let scope = Scope::Instance { directory: &workspace.directory, project: &workspace.project.id };
        self.bus.publish(scope, kind, properties);
    }
}

/// The version the server reports (`/global/health`, new sessions).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
