//! The agent: what turns a prompt into a model's answer, with the model's tool
//! calls running in the sandbox.
//!
//! - [`provider`] speaks the model protocols (OpenAI chat completions,
//!   Anthropic Messages), streaming;
//! - [`providers`] is the catalogue of configured and detected providers;
//! - [`agents`] defines `build`, `plan` and configured agents, with their
//!   permission rules; [`profile`] gives each owner its agents and commands
//!   (a tenant's own layered over the host's), [`commands`] the built-in
//!   slash commands;
//! - [`turn`] is the loop that runs one session's turn step by step, and
//!   [`compaction`] the rules for summarizing a conversation that outgrows
//!   the model's window;
//! - [`tools`] offers the sandboxed tools to the model and runs its calls;
//! - [`permission`] parks calls that need a person's answer;
//! - [`history`], [`system`] and [`title`] build what the model reads.
//!
//! [`Assistant`] is what the rest of the server holds: the narrow set of
//! things a turn reaches (the conversation journal and run registry below
//! it, the sandbox, the providers), never the HTTP layer above.

pub mod agents;
pub mod commands;
pub mod compaction;
pub mod history;
pub mod permission;
pub mod profile;
pub mod provider;
pub mod providers;
pub mod question;
pub mod script;
pub mod skills;
pub mod subtask;
pub mod system;
pub mod title;
pub mod tools;
pub mod turn;

pub use permission::Permissions;
pub use profile::{Profile, Profiles, TenantSettings};
pub use providers::Providers;

use crate::config::AgentConfig;
use crate::conversation::{Journal, Runs};
use crate::model::Session;
use crate::sandbox::Sandbox;
use crate::store::StoreError;
use std::sync::Arc;

/// Answers sessions' prompts: runs turns against the model providers, with
/// tool calls in the sandbox under the agents' permission rules.
pub struct Assistant {
    /// Where the conversation is stored and published.
    pub journal: Journal,
    /// What each session runs now (shared with the session layer).
    pub runs: Arc<Runs>,
    /// Runs the model's tool calls.
    pub sandbox: Sandbox,
    /// Where the model's tools come from (the sandbox's, the host's, the
    /// MCP servers').
    pub tools: tools::Toolbox,
    /// The MCP servers opencode.json names (their prompts are commands).
    pub mcp: Arc<crate::mcp::client::McpServers>,
    /// The model providers and their models.
    pub providers: Arc<Providers>,
    /// The agents and commands each owner's prompts run with.
    pub profiles: Profiles,
    /// Tool calls waiting for a person's permission.
    pub permissions: Arc<Permissions>,
    /// The questions the model asked that wait for a person.
    pub questions: Arc<question::Questions>,
    /// Retries and their delays.
    pub settings: AgentConfig,
    /// When conversations are compacted and pruned.
    pub compaction: compaction::Settings,
    /// The models tenants may call and the tokens they may still spend
    /// (none: no tenants).
    pub allowance: Option<Arc<dyn ModelAllowance>>,
    /// Provider keys owners set for themselves (none: only the config's
    /// and the environment's).
    pub keys: Option<Arc<dyn ProviderKeys>>,
    /// The user's OpenCode config folder, whose skills the server's own
    /// user has (none: not found).
    pub config_dir: Option<std::path::PathBuf>,
    /// Runs subagents' tasks in child sessions: the session layer's, set
    /// once the app is built (unset: the `task` tool is not offered).
    pub subagents: std::sync::OnceLock<Arc<dyn Subagents>>,
}

/// A task for a subagent (the `task` tool's call).
pub struct SubagentTask<'a> {
    /// The session whose model asked for it.
    pub parent: &'a Session,
    /// A few words on the task: the child session's title.
    pub description: &'a str,
    /// What the subagent is told.
    pub prompt: &'a str,
    /// The subagent.
    pub agent: &'a str,
    /// The model it runs on (the parent's, unless the agent names one).
    pub model: crate::model::ModelRef,
    /// A child session of the parent's to carry on in, instead of a new one.
    pub resume: Option<&'a str>,
}

/// How a subagent's task ended.
pub enum SubagentOutcome {
    /// Its last answer, in child session `session_id`.
    Answered { session_id: String, text: String },
    /// The parent's run was aborted, and the child's with it.
    Aborted { session_id: String },
}

/// Starts subagents: a child session (`parentID`) prompted as the agent.
#[async_trait::async_trait]
pub trait Subagents: Send + Sync {
    /// Runs `task` to its end (or until `cancel` fires, which aborts the
    /// child); `started` learns the child session's id as soon as it exists.
    async fn run(
        &self,
        workspace: Arc<crate::workspace::Workspace>,
        task: SubagentTask<'_>,
        cancel: &crate::sandbox::CancelToken,
        started: &(dyn for<'s> Fn(&'s str) + Send + Sync),
    ) -> Result<SubagentOutcome, String>;
}

/// Provider keys their owners set (`PUT /auth/{providerID}`): a tenant's
/// turns use its own key for a provider, the server's own user's turns
/// the key it set, before the config's and the environment's.
pub trait ProviderKeys: Send + Sync {
    /// `owner`'s key for `provider` (`None`: the server's own user).
    fn key(&self, owner: Option<&str>, provider: &str) -> Option<String>;
}

/// Which models a tenant may call, and how many tokens a day. The server's
/// own user has no such limits; a tenant past one gets a clear error on the
/// step's message and the model is not called.
pub trait ModelAllowance: Send + Sync {
    /// Why `tenant` may not call `provider`'s `model`, if the host pinned
    /// it to others.
    fn refuse_model(&self, tenant: &str, provider: &str, model: &str) -> Option<String>;
    /// Why `tenant` may not call a model now (its tokens for the day are
    /// spent), if it may not.
    fn refuse(&self, tenant: &str) -> Option<String>;
    /// Counts tokens `tenant` used.
    fn spend(&self, tenant: &str, tokens: u64);
}

impl Assistant {
    /// Provider `id` as `owner` reaches it: with the key it set, if any
    /// (see [`Providers::with_key`]).
    pub fn provider(&self, owner: Option<&str>, id: &str) -> Option<providers::Provider> {
        let key = self.keys.as_ref().and_then(|keys| keys.key(owner, id));
        self.providers.with_key(id, key)
    }

    /// Why `owner` cannot prompt `provider_id`/`model_id`, with the names
    /// it could mean; `None` when it can, or when no provider is configured
    /// at all (the turn then says how to add one).
    pub fn unknown_model(
        &self,
        owner: Option<&str>,
        provider_id: &str,
        model_id: &str,
    ) -> Option<(String, Vec<String>)> {
        let Some(provider) = self.provider(owner, provider_id) else {
            let all = self.providers.all();
            if all.is_empty() {
                return None;
            }
            let suggestions = all.iter().map(|p| p.id.clone()).collect();
            return Some((
                format!("Model not found: {provider_id}/{model_id}. No provider {provider_id:?} is configured."),
                suggestions,
            ));
        };
        // A provider's catalogue from the config is all it offers; others
        // (from the environment, or listed by the provider) take any name.
        if provider.source != "config" || provider.models.is_empty() || provider.models.iter().any(|m| m.id == model_id)
        {
            return None;
        }
        let suggestions = provider.models.iter().map(|m| format!("{provider_id}/{}", m.id)).collect();
        Some((format!("Model not found: {provider_id}/{model_id}."), suggestions))
    }

    /// The agents and commands `owner`'s prompts run with (`None`: the
    /// server's own user).
    pub fn profile(&self, owner: Option<&str>) -> Arc<Profile> {
        self.profiles.of(owner)
    }

    /// The skills prompts in `workspace` have: the workspace's, and for the
    /// server's own user those of its config folder.
    pub async fn skills(
        &self,
        workspace: &crate::workspace::Workspace,
    ) -> std::collections::BTreeMap<String, skills::Skill> {
        let mut places = Vec::new();
        if workspace.tenant.is_none()
            && let Some(place) = self.config_dir.as_deref().and_then(skills::Place::config)
        {
            places.push(place);
        }
        places.push(skills::Place::workspace(workspace.read_only.clone(), std::path::Path::new(&workspace.directory)));
        skills::discover(&self.sandbox, &places).await
    }

    /// A session the turn works on.
    async fn session(&self, id: &str) -> TurnResult<Session> {
        self.journal.store().session(id).await?.ok_or_else(|| TurnError::Gone(format!("session {id}")))
    }
}

/// Why a turn could not go on (the model's own failures are not errors:
/// they end the step with an error on its message).
#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    /// The conversation could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// What the turn works on is gone or not what it needs.
    #[error("{0}")]
    Gone(String),
}

/// What a turn's steps return.
pub type TurnResult<T> = Result<T, TurnError>;
