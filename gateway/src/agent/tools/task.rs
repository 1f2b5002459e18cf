//! The `task` tool: the model hands a piece of work to a subagent (`general`,
//! `explore`, or one the config defines with `mode: subagent`), which runs it
//! in a child session with its own, narrower rules (`explore` reads only;
//! subagents keep no todo list and start no subagents) and answers once.
//! While it runs, the parent's tool part carries the child session's id and
//! its tool calls so far, as the TUI shows them; an abort of the parent
//! aborts the child. The `task` permission applies by subagent name.

use super::{Context, Outcome, ToolSource, failed};
use crate::agent::profile::Profile;
use crate::agent::provider::{ToolCall, ToolDefinition};
use crate::agent::{SubagentOutcome, SubagentTask};
use crate::model::{Message, ModelRef, Part, ToolState};
use crate::store::SessionKey;
use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::Duration;

pub const NAME: &str = "task";

/// How often the parent's part is brought up to date with the child's calls.
const PROGRESS_EVERY: Duration = Duration::from_millis(300);

/// The `task` tool.
pub struct TaskTool;

/// The tool as offered to an owner with `profile`'s subagents, those
/// `allowed` says the caller may start, if there are any.
pub fn definition(profile: &Profile, allowed: impl Fn(&str) -> bool) -> Option<ToolDefinition> {
    let subagents: Vec<_> =
        profile.agents.iter().filter(|a| a.mode != "primary" && !a.hidden && allowed(&a.name)).collect();
    if subagents.is_empty() {
        return None;
    }
    let mut description = String::from(
        "Hands a self-contained piece of work to a subagent, which works on it in a session of its own and \
         answers once, with what it found or did. Use it for searches and investigations that would fill this \
         conversation with files, and to run independent pieces of work at once (several task calls in one \
         message). Tell the subagent everything it needs: it sees none of this conversation. Its answer is not \
         shown to the user: say what matters from it yourself.\n\nSubagents:\n",
    );
    for agent in &subagents {
        description.push_str(&format!("- {}: {}\n", agent.name, agent.description.as_deref().unwrap_or_default()));
    }
    Some(ToolDefinition {
        name: NAME.into(),
        description,
        parameters: json!({
            "type": "object",
            "properties": {
                "description": { "type": "string", "description": "The task in three to five words" },
                "prompt": { "type": "string", "description": "The whole task, as the subagent should read it" },
                "subagent_type": { "type": "string", "description": "Which subagent does it" },
                "task_id": {
                    "type": "string",
                    "description": "To carry on an earlier task, its task_id (that subagent's session)",
                },
            },
            "required": ["description", "prompt", "subagent_type"],
        }),
    })
}

#[async_trait::async_trait]
impl ToolSource for TaskTool {
    /// None here: the step offers the tool with the owner's subagents.
    async fn definitions(&self, _workspace: &crate::workspace::Workspace) -> Vec<ToolDefinition> {
        Vec::new()
    }

    fn offers(&self, name: &str) -> bool {
        name == NAME
    }

    async fn run(&self, context: &Context<'_>, call: &ToolCall, part: &Part) -> Outcome {
        let text = |key: &str| call.input.get(key).and_then(Value::as_str).unwrap_or_default();
        let request = TaskRequest {
            description: text("description"),
            prompt: text("prompt"),
            agent: text("subagent_type"),
            model: None,
            resume: call.input.get("task_id").and_then(Value::as_str).filter(|id| !id.is_empty()),
            any_agent: false,
        };
        run(context, part, request).await
    }
}

/// A task to run: the model's `task` call, or a command run as a subtask.
pub struct TaskRequest<'a> {
    pub description: &'a str,
    pub prompt: &'a str,
    /// The agent that does it.
    pub agent: &'a str,
    /// The model it runs on, before the agent's own and the parent's.
    pub model: Option<ModelRef>,
    /// An earlier task's child session to carry on in.
    pub resume: Option<&'a str>,
    /// Whether a primary agent may do it too: a command the person ran as a
    /// subtask may name one; the model may start subagents only.
    pub any_agent: bool,
}

/// Runs `request` in a child session, keeping `part` (the parent's running
/// `task` part) up to date with the child's calls.
pub async fn run(context: &Context<'_>, part: &Part, request: TaskRequest<'_>) -> Outcome {
    let TaskRequest { description, prompt, agent: name, resume, any_agent, .. } = request;
    if prompt.trim().is_empty() {
        return failed("The task needs a \"prompt\" saying what to do.".into());
    }
    let assistant = context.assistant;
    let parent = match assistant.session(context.session_id).await {
        Ok(session) => session,
        Err(error) => return failed(error.to_string()),
    };
    let profile = assistant.profile(parent.tenant.as_deref());
    let may_run = |a: &&crate::agent::agents::Agent| (any_agent || a.mode != "primary") && !a.hidden;
    let Some(agent) = profile.agent(name).filter(may_run) else {
        let names: Vec<&str> = profile.agents.iter().filter(may_run).map(|a| a.name.as_str()).collect();
        return failed(format!("There is no subagent named {name:?}. The subagents are: {}.", names.join(", ")));
    };
    let Some(subagents) = assistant.subagents.get() else {
        return failed("Subagents are not available on this server.".into());
    };
    let model = match (request.model, &agent.model, &parent.model) {
        (Some(model), _, _) => model,
        (None, Some((provider, model)), _) => {
            ModelRef { provider_id: provider.clone(), model_id: model.clone(), variant: None }
        }
        (None, None, Some(model)) => {
            ModelRef { provider_id: model.provider_id.clone(), model_id: model.id.clone(), variant: None }
        }
        (None, None, None) => match assistant.providers.default_model() {
            Some((provider, model)) => ModelRef { provider_id: provider, model_id: model, variant: None },
            None => return failed("No model to run the subagent on.".into()),
        },
    };
    let task = SubagentTask { parent: &parent, description, prompt, agent: &agent.name, model, resume };
    let child = Mutex::new(None::<String>);
    let started = |id: &str| *child.lock().unwrap_or_else(|p| p.into_inner()) = Some(id.to_string());
    let work = subagents.run(context.workspace.clone(), task, context.cancel, &started);
    tokio::pin!(work);
    let mut progress = Progress { part: part.clone(), shown: Value::Null };
    let outcome = loop {
        tokio::select! {
            outcome = &mut work => break outcome,
            () = tokio::time::sleep(PROGRESS_EVERY) => {
                let id = child.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if let Some(id) = id {
                    progress.show(context, &id, description).await;
                }
            }
        }
    };
    match outcome {
        Ok(SubagentOutcome::Answered { session_id, text }) => {
            let summary = summary(context, &session_id).await;
            Outcome::Completed {
                title: description.to_string(),
                output: format!(
                    "task_id: {session_id} (to carry on this task, call task again with this task_id)\n\n\
                     <task_result>\n{text}\n</task_result>"
                ),
                metadata: json!({ "sessionId": session_id, "summary": summary }),
            }
        }
        Ok(SubagentOutcome::Aborted { .. }) => Outcome::Aborted,
        Err(error) => failed(error),
    }
}

/// The parent's running part, kept up to date with the child's calls.
struct Progress {
    part: Part,
    shown: Value,
}

impl Progress {
    async fn show(&mut self, context: &Context<'_>, child: &str, description: &str) {
        let metadata = json!({ "sessionId": child, "summary": summary(context, child).await });
        if metadata == self.shown {
            return;
        }
        let Some(ToolState::Running { input, time, .. }) = self.part.tool_state() else { return };
        let running =
            ToolState::Running { input, title: Some(description.to_string()), metadata: Some(metadata.clone()), time };
        self.part.set_tool_state(&running);
        if context.assistant.journal.put_part(context.workspace, &self.part).await.is_ok() {
            self.shown = metadata;
        }
    }
}

/// The child's tool calls so far, as the TUI lists them under the task.
async fn summary(context: &Context<'_>, child: &str) -> Value {
    let key = SessionKey::new(context.workspace.tenant.as_deref(), child);
    let Ok(messages) = context.assistant.journal.store().messages(key, None, None).await else { return json!([]) };
    let calls: Vec<Value> = messages
        .iter()
        .filter(|m| matches!(m.info, Message::Assistant(_)))
        .flat_map(|m| m.parts.iter())
        .filter(|p| p.kind() == "tool")
        .map(|p| {
            let state = p.body.get("state").cloned().unwrap_or(Value::Null);
            json!({
                "id": p.id,
                "tool": p.body.get("tool"),
                "state": { "status": state.get("status"), "title": state.get("title") },
            })
        })
        .collect();
    Value::Array(calls)
}
