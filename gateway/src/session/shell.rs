//! `POST /session/{id}/shell`: the user's `!command`, run by the shell
//! component without the model.
//!
//! It is recorded exactly as the reference records it (PROTOCOL.md §6.6): a
//! user message with a synthetic text part, an assistant message holding one
//! `bash` tool part that goes running -> (running with live output) ->
//! completed, then idle. Output streams into the running part's
//! `metadata.output` (see [`crate::conversation::Journal::live_output`]). The command runs in
//! a task of its own, so a client that disconnects does not leave it half
//! recorded.

use super::{SessionError, SessionResult, Sessions, client_chosen, user_message};
use crate::agent::agents::Agent;
use crate::conversation::Run;
use crate::conversation::changes::StepRecorder;
use crate::ids;
use crate::model::{
    AssistantMessage, Message, MessageError, MessagePath, MessageWithParts, ModelRef, Part, Session, SessionStatus,
    Span, Started, ToolState,
};
use crate::sandbox::{CallError, CallOptions, Grant};
use crate::store::SessionKey;
use crate::workspace::Workspace;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use tracing::Instrument;

/// `POST /session/{id}/shell`'s body.
#[derive(Debug, Deserialize)]
pub struct ShellRequest {
    #[serde(rename = "messageID")]
    pub message_id: Option<String>,
    /// The agent whose grant the command runs under (the default agent's
    /// when unset).
    pub agent: Option<String>,
    pub model: Option<ModelRef>,
    pub command: String,
}

impl Sessions {
    /// Runs the command and returns the assistant message with its tool part.
    pub async fn shell(
        &self,
        workspace: Arc<Workspace>,
        session: Session,
        mut request: ShellRequest,
    ) -> SessionResult<MessageWithParts> {
        let profile = self.assistant.profile(session.tenant.as_deref());
        let name = request.agent.take().unwrap_or_else(|| profile.default_agent.clone());
        let Some(agent) = profile.agent(&name) else {
            return Err(SessionError::Invalid(format!("no agent named {name:?}")));
        };
        // The agent's grant: a read-only agent's `!command` cannot write either.
        let grant = if agent.read_only() { workspace.read_only.clone() } else { workspace.grant.clone() };
        let agent = agent.clone();
        let run = self.runs.start(&session.id, workspace.scope())?;
        let sessions = self.clone();
        let command = async move {
            let mut session = session;
            sessions.drop_reverted(&workspace, &mut session).await?;
            let result = sessions.run_recorded(&workspace, &grant, &session, &agent, request, &run).await;
            // Dropping the run leaves the session idle, and publishes it.
            drop(run);
            result
        };
        // The command's log lines carry the request that started it.
        let task = tokio::spawn(command.instrument(tracing::Span::current()));
        task.await.map_err(|e| SessionError::Failed(format!("the shell command's task failed: {e}")))?
    }

    async fn run_recorded(
        &self,
        workspace: &Workspace,
        grant: &Grant,
        session: &Session,
        agent: &Agent,
        request: ShellRequest,
        run: &Run,
    ) -> SessionResult<MessageWithParts> {
        let model = super::prompt::model_for(&self.assistant, session, agent, request.model);
        let message_id = super::chosen_id(ids::Prefix::Message, request.message_id)?;
        let user = Message::User(user_message(session, message_id, agent.name.clone(), model.clone()));
        let note = Part::new(
            &session.id,
            user.id(),
            json!({ "type": "text", "text": "The following tool was executed by the user", "synthetic": true }),
        );
        let path = MessagePath { cwd: workspace.directory.clone(), root: workspace.project.worktree.clone() };
        let mut assistant = AssistantMessage::answering(&session.id, user.id(), &model, &agent.name, path);
        let input = json!({ "command": request.command });
        let start = ids::now_millis();
        let call_id = ids::call_id();
        let mut tool =
            Part::new(&session.id, &assistant.id, json!({ "type": "tool", "callID": call_id, "tool": "bash" }));
        tool.set_tool_state(&ToolState::Running {
            input: input.clone(),
            title: None,
            metadata: None,
            time: Started { start },
        });
        // Stored together before anything says the session is busy: once a
        // client sees it busy, a restart finds the command's records.
        let opening = [user, Message::Assistant(assistant.clone())];
        self.journal
            .store()
            .put_records(session.tenant.as_deref(), &opening, &[note.clone(), tool.clone()])
            .await
            .map_err(client_chosen)?;
        run.report(SessionStatus::Busy);
        let [user, opened] = &opening;
        self.journal.publish_message(workspace, user);
        self.journal.publish_part(workspace, &note);
        self.journal.publish_message(workspace, opened);
        self.journal.publish_part(workspace, &tool);

        let recorder = Arc::new(StepRecorder::new(&assistant.id, &tool.id));
        let options = CallOptions {
            changes: Some(recorder.clone()),
            cancel: Some(run.cancel.clone()),
            on_output: Some(self.journal.live_output(workspace, &tool)),
            session_id: Some(session.id.clone()),
            message_id: Some(assistant.id.clone()),
            call_id: Some(call_id),
            ..Default::default()
        };
        let arguments = input.to_string();
        let result = self.sandbox.call_with("bash", &arguments, grant, options).await;
        if let Err(error) = self.journal.put_file_changes(SessionKey::of(session), &recorder).await {
            tracing::warn!("the changes of a shell command were not recorded for undo: {error}");
        }
        let end = ids::now_millis();
        let time = Span { start, end };
        tool.set_tool_state(&match &result {
            Ok(output) => ToolState::Completed {
                input,
                output: output.output.clone(),
                title: String::new(),
                metadata: json!({ "output": output.output }),
                time,
            },
            Err(error) => ToolState::Error { input, error: error.to_string(), metadata: None, time },
        });
        assistant.time.completed = Some(end);
        if matches!(result, Err(CallError::Cancelled)) || run.aborted() {
            assistant.error = Some(MessageError::new("MessageAbortedError", "Aborted"));
        }
        self.journal.put_assistant(workspace, &assistant).await?;
        self.journal.put_part(workspace, &tool).await?;
        Ok(MessageWithParts { info: Message::Assistant(assistant), parts: vec![tool] })
    }
}
