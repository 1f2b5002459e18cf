//! The tools the model gets, and running one of its calls.
//!
//! Every tool but the todo list is a sandboxed component: the built-ins
//! (`bash`, `read`, `write`, `edit`, `list`, `glob`, `grep`, with OpenCode's
//! names, arguments and metadata so the TUI renders them natively) and any
//! installed third-party component. A call runs under the session's grant on
//! its workspace, read-write, or read-only for an agent that may not edit,
//! so a plan-mode shell command that writes fails in the sandbox itself.
//! `todowrite` and `todoread` are the host's own: they only touch the
//! session's stored list; so is `question`, which waits for a person, and
//! `skill`, which reads the workspace's skills through the sandbox, and
//! `task`, which hands work to a subagent in a child session.
//!
//! Before a call runs, the agent's permission rules are consulted: `deny`
//! fails it, `ask` waits for a person (see [`super::permission`]).
//!
//! The tools come from [`ToolSource`]s, in order: the sandbox's components
//! ([`SandboxTools`]), then the host's own ([`HostTools`] and the rest), then
//! the MCP servers' ([`McpTools`]). The first source to offer a name owns
//! it.

mod ask;
mod host;
mod mcp;
mod question;
mod sandboxed;
pub mod skill;
pub mod task;

pub use host::HostTools;
pub use mcp::McpTools;
pub use question::QuestionTool;
pub use sandboxed::SandboxTools;
pub use skill::SkillTool;
pub use task::TaskTool;

use super::Assistant;
use super::agents::{Action, Agent, Rule};
use super::permission::Verdict;
use super::provider::{ToolCall, ToolDefinition};
use crate::model::{Part, Span, ToolState};
use crate::sandbox::CancelToken;
use crate::store::SessionKey;
use crate::workspace::Workspace;
use serde_json::Value;

/// Where the model's tools come from: each lists its tools and runs them.
#[async_trait::async_trait]
pub trait ToolSource: Send + Sync {
    /// The tools it offers now to a session in `workspace`.
    async fn definitions(&self, workspace: &Workspace) -> Vec<ToolDefinition>;
    /// Whether it owns `name` (whether it offers it may depend on the
    /// session).
    fn offers(&self, name: &str) -> bool;
    /// Runs a call whose permission was granted.
    async fn run(&self, context: &Context<'_>, call: &ToolCall, part: &Part) -> Outcome;
}

/// The sources of the model's tools, in order of precedence.
pub struct Toolbox(Vec<Box<dyn ToolSource>>);

impl Toolbox {
    /// The sandbox's tools, then the host's: the todo list, `question`,
    /// `skill` and `task`, then the MCP servers'.
    pub fn new(sandbox: crate::sandbox::Sandbox, mcp: std::sync::Arc<crate::mcp::client::McpServers>) -> Self {
        Toolbox(vec![
            Box::new(SandboxTools(sandbox)),
            Box::new(HostTools),
            Box::new(QuestionTool),
            Box::new(SkillTool),
            Box::new(TaskTool),
            Box::new(McpTools(mcp)),
        ])
    }

    fn owner(&self, name: &str) -> Option<&dyn ToolSource> {
        self.0.iter().find(|source| source.offers(name)).map(|source| &**source)
    }
}

/// The skills a run's steps offer, found once a run: a step should not pay
/// for the folder walk.
pub type Skills = tokio::sync::OnceCell<std::collections::BTreeMap<String, super::skills::Skill>>;

/// Every tool `agent` is offered in `workspace` under `rules` (its own,
/// then the session's), minus those a prompt switched off: the sources'
/// own, then those made for the owner, `task` naming the subagents it may
/// start and `skill` naming the skills.
pub async fn offered(
    assistant: &Assistant,
    workspace: &Workspace,
    owner: Option<&str>,
    agent: &Agent,
    rules: &[Rule],
    switched_off: &[String],
    skills: &Skills,
) -> Vec<ToolDefinition> {
    let allowed = |permission: &str, name: &str| super::agents::evaluate(rules, permission, name) != Action::Deny;
    let mut per_step = Vec::new();
    if assistant.subagents.get().is_some() {
        per_step.extend(task::definition(&assistant.profile(owner), |name| allowed("task", name)));
    }
    if wanted(agent, switched_off, skill::NAME) {
        let mut found = skills.get_or_init(|| assistant.skills(workspace)).await.clone();
        found.retain(|name, _| allowed("skill", name));
        if !found.is_empty() {
            per_step.push(skill::definition(&found));
        }
    }
    let mut tools: Vec<ToolDefinition> = Vec::new();
    let mut all = Vec::new();
    for source in &assistant.tools.0 {
        all.extend(source.definitions(workspace).await);
    }
    for tool in all.into_iter().chain(per_step) {
        // The first source to offer a name owns it.
        if !tools.iter().any(|t| t.name == tool.name) {
            tools.push(tool);
        }
    }
    tools.retain(|tool| wanted(agent, switched_off, &tool.name));
    tools
}

/// Whether `name` may be offered: a name providers accept, that `agent`
/// offers and the prompt did not switch off.
pub fn wanted(agent: &Agent, switched_off: &[String], name: &str) -> bool {
    valid_name(name) && agent.offers(name) && !switched_off.iter().any(|t| t == name)
}

/// Whether providers accept `name` for a function (`^[a-zA-Z0-9_-]{1,64}$`):
/// one component with a stranger tool name must not break every request.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What one call came to.
#[derive(Debug)]
pub enum Outcome {
    Completed {
        title: String,
        output: String,
        metadata: Value,
    },
    Failed {
        error: String,
    },
    /// A person said no; with their words when they gave some.
    Rejected {
        feedback: Option<String>,
    },
    /// The person dismissed the question the call asked.
    Dismissed,
    /// The run was aborted while the call ran or waited.
    Aborted,
}

impl Outcome {
    /// The tool part's final state for this outcome, with the call's input
    /// and its start and end.
    pub fn state(&self, input: &Value, time: Span) -> ToolState {
        let error = |error: String| ToolState::Error { input: input.clone(), error, metadata: None, time };
        match self {
            Outcome::Completed { title, output, metadata } => ToolState::Completed {
                input: input.clone(),
                output: output.clone(),
                title: title.clone(),
                metadata: metadata.clone(),
                time,
            },
            Outcome::Failed { error: why } => error(why.clone()),
            Outcome::Rejected { feedback: Some(words) } => error(format!(
                "The user rejected permission to use this specific tool call with the following feedback: {words}"
            )),
            Outcome::Rejected { feedback: None } => {
                error("The user rejected permission to use this specific tool call.".to_string())
            }
            Outcome::Dismissed => error("The user dismissed this question".to_string()),
            Outcome::Aborted => error("Tool execution aborted".to_string()),
        }
    }
}

/// Everything a call needs beyond its arguments.
pub struct Context<'a> {
    pub assistant: &'a Assistant,
    pub workspace: &'a std::sync::Arc<Workspace>,
    pub agent: &'a Agent,
    /// The agent's rules, then the session's own.
    pub rules: &'a [Rule],
    pub offered: &'a [ToolDefinition],
    pub session_id: &'a str,
    pub message_id: &'a str,
    pub cancel: &'a CancelToken,
}

impl Context<'_> {
    /// The session the call is made in, as its owner names it.
    pub fn session(&self) -> SessionKey<'_> {
        SessionKey::new(self.workspace.tenant.as_deref(), self.session_id)
    }
}

/// Runs `call`, whose tool part is `part` (already `running`): checks the
/// permission rules, then dispatches it.
pub async fn run(context: &Context<'_>, call: &ToolCall, part: &Part) -> Outcome {
    let Value::Object(arguments) = &call.input else {
        return failed(format!(
            "The arguments are not a JSON object: {}. Call {} again with valid JSON arguments.",
            call.input, call.name
        ));
    };
    if !context.offered.iter().any(|tool| tool.name == call.name) {
        let names: Vec<&str> = context.offered.iter().map(|t| t.name.as_str()).collect();
        return failed(format!("Unknown tool {:?}. The tools you can call are: {}.", call.name, names.join(", ")));
    }
    let ask = ask::ask_for(context, call, arguments);
    match context.assistant.permissions.decide(context.rules, &ask) {
        Action::Allow => {}
        Action::Deny => {
            return failed(format!(
                "A permission rule forbids this call ({} {}). Do not try it again; continue without it or ask the user.",
                ask.permission,
                ask.patterns.join(", ")
            ));
        }
        Action::Ask => {
            let (_, answer) =
                context.assistant.permissions.ask(context.assistant.journal.bus(), context.workspace, ask);
            tokio::select! {
                verdict = answer => match verdict {
                    Ok(Verdict::Allowed) => {}
                    Ok(Verdict::Rejected(feedback)) => return Outcome::Rejected { feedback },
                    Err(_) => return Outcome::Aborted,
                },
                () = context.cancel.cancelled() => {
                    context.assistant.permissions.withdraw(context.assistant.journal.bus(), context.session_id);
                    return Outcome::Aborted;
                }
            }
        }
    }
    if context.cancel.is_cancelled() {
        return Outcome::Aborted;
    }
    match context.assistant.tools.owner(&call.name) {
        Some(source) => source.run(context, call, part).await,
        None => failed(format!("The tool {:?} is no longer available.", call.name)),
    }
}

pub(crate) fn failed(error: String) -> Outcome {
    Outcome::Failed { error }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_names_providers_accept_are_offered() {
        assert!(super::valid_name("huge-result") && super::valid_name("todo_write"));
        assert!(!super::valid_name("my.tool") && !super::valid_name("") && !super::valid_name(&"x".repeat(65)));
    }
}
