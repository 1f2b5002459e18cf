//! Subagents' tasks (the `task` tool) in child sessions: a session whose
//! `parentID` is the asking session's, prompted as the subagent, run like
//! any session (its events stream, the TUI can open it), and aborted with
//! the parent's run. The agent layer reaches this through
//! [`crate::agent::Subagents`].

use super::{CreateSession, PromptRequest, Sessions, Submitted};
use crate::agent::{Assistant, SubagentOutcome, SubagentTask, Subagents};
use crate::conversation::{self, Journal, Runs};
use crate::sandbox::{CancelToken, Sandbox};
use crate::workspace::Workspace;
use serde_json::{Map, json};
use std::sync::{Arc, Weak};

/// The session layer as subagents need it (holding the assistant weakly,
/// since the assistant holds this).
pub struct ChildSessions {
    journal: Journal,
    runs: Arc<Runs>,
    sandbox: Sandbox,
    assistant: Weak<Assistant>,
}

impl Sessions {
    /// What runs subagents' tasks for the assistant.
    pub fn child_sessions(&self) -> ChildSessions {
        ChildSessions {
            journal: self.journal.clone(),
            runs: self.runs.clone(),
            sandbox: self.sandbox.clone(),
            assistant: Arc::downgrade(&self.assistant),
        }
    }
}

#[async_trait::async_trait]
impl Subagents for ChildSessions {
    async fn run(
        &self,
        workspace: Arc<Workspace>,
        task: SubagentTask<'_>,
        cancel: &CancelToken,
        started: &(dyn for<'s> Fn(&'s str) + Send + Sync),
    ) -> Result<SubagentOutcome, String> {
        let assistant = self.assistant.upgrade().ok_or("the server is stopping")?;
        let sessions = Sessions::new(self.journal.clone(), self.runs.clone(), self.sandbox.clone(), assistant);
        let tenant = task.parent.tenant.as_deref();
        let child = match task.resume {
            Some(id) => {
                let child = sessions.get(tenant, id).await.map_err(|e| e.to_string())?;
                if child.parent_id.as_deref() != Some(task.parent.id.as_str()) {
                    return Err(format!("session {id} is not a task of this session"));
                }
                child
            }
            None => {
                let title = format!("{} (@{} subagent)", task.description, task.agent);
                let request = CreateSession {
                    parent_id: Some(task.parent.id.clone()),
                    title: Some(title),
                    ..CreateSession::default()
                };
                sessions.create(&workspace, request).await.map_err(|e| e.to_string())?
            }
        };
        started(&child.id);
        let text = Map::from_iter([("type".into(), json!("text")), ("text".into(), json!(task.prompt))]);
        let request = PromptRequest {
            message_id: None,
            model: Some(task.model),
            agent: Some(task.agent.to_string()),
            no_reply: false,
            tools: None,
            format: None,
            system: None,
            variant: None,
            parts: vec![text],
        };
        let Submitted::Answering(waiter) =
            sessions.submit(workspace, child.clone(), request).await.map_err(|e| e.to_string())?
        else {
            return Err("the task was stored but nothing answers it".into());
        };
        let outcome = tokio::select! {
            outcome = conversation::wait(waiter) => outcome,
            () = cancel.cancelled() => {
                self.runs.abort(&child.id);
                return Ok(SubagentOutcome::Aborted { session_id: child.id });
            }
        };
        let answer = outcome?;
        if let crate::model::Message::Assistant(info) = &answer.info
            && let Some(error) = &info.error
        {
            let message = error.data.get("message").and_then(|m| m.as_str()).unwrap_or(&error.name);
            return Err(format!("the subagent failed: {message}"));
        }
        let text: String = answer
            .parts
            .iter()
            .filter(|p| p.kind() == "text")
            .filter_map(|p| p.body.get("text").and_then(|t| t.as_str()))
            .collect();
        Ok(SubagentOutcome::Answered { session_id: child.id, text })
    }
}
