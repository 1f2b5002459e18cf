//! What an owner's prompts run with: the agents (with their permission
//! rules), the default agent and the slash commands.
//!
//! The server's own user has the host config's. A tenant the host gave
//! settings of its own (`wasmgate tenant add|set --agent-config FILE`) has
//! the host's with its own layered over them (see
//! [`Config::layered`](crate::config::Config::layered)), built on first use
//! and again whenever its settings change. The grant stays the hard
//! boundary underneath: a tenant's rules decide what to ask it, never which
//! folders its tools reach.

use super::agents::{Agent, agents};
use crate::config::{Command, Config};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The agents, default agent and commands of one owner.
#[derive(Debug)]
pub struct Profile {
    pub agents: Vec<Agent>,
    /// The primary agent prompts run as unless they name one.
    pub default_agent: String,
    pub commands: Vec<Command>,
}

impl Profile {
    /// The profile `config` describes.
    pub fn of(config: &Config) -> Self {
        Profile {
            agents: agents(config),
            default_agent: config.default_agent().to_string(),
            commands: super::commands::with_builtin(&config.commands),
        }
    }

    /// The agent named `name`, if there is one.
    pub fn agent(&self, name: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.name == name)
    }

    /// The slash command named `name`, if there is one.
    pub fn command(&self, name: &str) -> Option<&Command> {
        self.commands.iter().find(|c| c.name == name)
    }
}

/// The settings tenants have of their own, over the host's config.
pub trait TenantSettings: Send + Sync {
    /// `tenant`'s own `agent`, `permission`, `command` and `default_agent`
    /// (`None`: it has none).
    fn overlay(&self, tenant: &str) -> Option<Map<String, Value>>;
}

/// Profiles by owner.
pub struct Profiles {
    config: Config,
    host: Arc<Profile>,
    settings: Option<Arc<dyn TenantSettings>>,
    built: Mutex<Built>,
}

/// Tenants' profiles, with the settings each was built from.
type Built = HashMap<String, (Map<String, Value>, Arc<Profile>)>;

impl Profiles {
    /// The host's profile from `config`, and tenants' from `settings` over it.
    pub fn new(config: Config, settings: Option<Arc<dyn TenantSettings>>) -> Self {
        let host = Arc::new(Profile::of(&config));
        Profiles { config, host, settings, built: Mutex::default() }
    }

    /// What `owner`'s prompts run with (`None`: the server's own user).
    pub fn of(&self, owner: Option<&str>) -> Arc<Profile> {
        let own =
            owner.zip(self.settings.as_ref()).and_then(|(tenant, settings)| Some((tenant, settings.overlay(tenant)?)));
        let Some((tenant, overlay)) = own else { return self.host.clone() };
        let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((seen, profile)) = built.get(tenant)
            && *seen == overlay
        {
            return profile.clone();
        }
        let profile = match self.config.layered(&overlay) {
            Ok(config) => Arc::new(Profile::of(&config)),
            Err(error) => {
                tracing::error!(
                    tenant,
                    "the tenant's own settings do not fit the host's config, so it has the host's: {error}"
                );
                self.host.clone()
            }
        };
        built.insert(tenant.to_string(), (overlay, profile.clone()));
        profile
    }
}
