//! A user message's `subtask` part: work handed to an agent in a child
//! session before the model answers, as the reference runs a command marked
//! `subtask` (the built-in `/review`, a configured command with
//! `"subtask": true` or one whose agent is a subagent) or a prompt that
//! carries such a part.
//!
//! The turn runs it first, as an assistant message of the subtask's agent
//! holding one `task` tool part (the TUI draws it as any task), then adds
//! the reference's synthetic request to summarize it, which the model
//! answers in the parent's conversation. The parent's context gets the
//! subtask's answer, not everything the subtask read.

use super::tools::{self, task};
use super::{Assistant, TurnResult};
use crate::ids;
use crate::model::{
    AssistantMessage, Message, MessagePath, MessageWithParts, ModelRef, Part, Span, Started, ToolState,
};
use crate::sandbox::CancelToken;
use crate::workspace::Workspace;
use serde_json::{Value, json};
use std::sync::Arc;

/// What the model reads for the user message that asked for a subtask, as
/// the reference writes it.
pub const RAN: &str = "The following tool was executed by the user";

/// What the model is asked once a subtask is done, as the reference asks it.
pub const CONTINUE: &str = "Summarize the task tool output above and continue with your task.";

/// A subtask waiting to run.
pub struct Subtask {
    pub agent: String,
    pub description: String,
    pub prompt: String,
    /// The command it came from, if any.
    pub command: Option<String>,
    /// The model it runs on, if the command named one.
    pub model: Option<ModelRef>,
}

/// The subtask the user message at `user_at` asks for, when it is the last
/// message of `history` (nothing has answered it yet) and asks for one.
pub fn pending(history: &[MessageWithParts], user_at: usize) -> Option<Subtask> {
    if user_at + 1 != history.len() {
        return None;
    }
    let part = history[user_at].parts.iter().find(|p| p.kind() == "subtask")?;
    let text = |key: &str| part.body.get(key).and_then(Value::as_str).map(str::to_string);
    let model = part.body.get("model").and_then(|m| {
        Some(ModelRef {
            provider_id: m.get("providerID")?.as_str()?.to_string(),
            model_id: m.get("modelID")?.as_str()?.to_string(),
            variant: None,
        })
    });
    Some(Subtask {
        agent: text("agent")?,
        description: text("description").unwrap_or_default(),
        prompt: text("prompt").unwrap_or_default(),
        command: text("command"),
        model,
    })
}

/// Runs `subtask` for the user message `user` as an assistant message of
/// its own, and returns that message.
pub async fn run(
    assistant: &Arc<Assistant>,
    workspace: &Arc<Workspace>,
    user: &crate::model::UserMessage,
    subtask: Subtask,
    cancel: &CancelToken,
) -> TurnResult<MessageWithParts> {
    let path = MessagePath { cwd: workspace.directory.clone(), root: workspace.project.worktree.clone() };
    let mut reply = AssistantMessage::answering(&user.session_id, &user.id, &user.model, &subtask.agent, path);
    assistant.journal.put_assistant(workspace, &reply).await?;
    let input = json!({
        "prompt": subtask.prompt,
        "description": subtask.description,
        "subagent_type": subtask.agent,
        "command": subtask.command,
    });
    let start = ids::now_millis();
    let running = ToolState::Running { input: input.clone(), title: None, metadata: None, time: Started { start } };
    let mut part = Part::new(
        &user.session_id,
        &reply.id,
        json!({ "type": "tool", "tool": task::NAME, "callID": ids::new(ids::Prefix::Part) }),
    );
    part.set_tool_state(&running);
    assistant.journal.put_part(workspace, &part).await?;

    let profile = assistant.profile(workspace.tenant.as_deref());
    let outcome = match profile.agent(&subtask.agent) {
        Some(agent) => {
            let context = tools::Context {
                assistant,
                workspace,
                agent,
                rules: &agent.rules,
                offered: &[],
                session_id: &user.session_id,
                message_id: &reply.id,
                cancel,
            };
            let request = task::TaskRequest {
                description: &subtask.description,
                prompt: &subtask.prompt,
                agent: &subtask.agent,
                model: subtask.model.clone(),
                resume: None,
                any_agent: true,
            };
            task::run(&context, &part, request).await
        }
        None => tools::failed(format!("There is no agent named {:?}.", subtask.agent)),
    };
    part.set_tool_state(&outcome.state(&input, Span { start, end: ids::now_millis() }));
    assistant.journal.put_part(workspace, &part).await?;
    reply.finish = Some("tool-calls".into());
    reply.time.completed = Some(ids::now_millis());
    assistant.journal.put_assistant(workspace, &reply).await?;
    Ok(MessageWithParts { info: Message::Assistant(reply), parts: vec![part] })
}
