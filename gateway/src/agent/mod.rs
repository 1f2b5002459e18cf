//! The agent: what turns a prompt into a model's answer, with the model's tool
//! calls running in the sandbox.
//!
//! - [`provider`] speaks the model protocols (OpenAI chat completions,
//!   Anthropic Messages), streaming;
//! - [`providers`] is the catalogue of configured and detected providers;
//! - [`agents`] defines `build`, `plan` and configured agents, with their
//!   permission rules;
//! - [`turn`] is the loop that runs one session's turn step by step;
//! - [`tools`] offers the sandboxed tools to the model and runs its calls;
//! - [`permission`] parks calls that need a person's answer;
//! - [`history`], [`system`] and [`title`] build what the model reads.

pub mod agents;
pub mod history;
pub mod permission;
pub mod provider;
pub mod providers;
pub mod script;
pub mod system;
pub mod title;
pub mod tools;
pub mod turn;

pub use permission::Permissions;
pub use providers::Providers;
pub use turn::answer;
