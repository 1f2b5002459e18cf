//! `POST /session/{id}/shell`: the user's `!command`, run by the shell
//! component without the model.
//!
//! It is recorded exactly as the reference records it (PROTOCOL.md §6.6): a
//! user message with a synthetic text part, an assistant message holding one
//! `bash` tool part that goes running -> (running with live output) ->
//! completed, then idle. Output streams into the running part's
//! `metadata.output`, published at most every [`LIVE_UPDATE`] so a flood of
//! output cannot flood the event stream.

use super::{Run, get};
use crate::api::error::ApiResult;
use crate::app::App;
use crate::events::Scope;
use crate::ids::{self, Prefix};
use crate::model::{
    AssistantMessage, Message, MessageError, MessagePath, MessageTime, MessageWithParts, ModelRef, Part, Tokens,
    UserMessage,
};
use crate::sandbox::{CallError, CallOptions};
use crate::workspace::Workspace;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The most often a running command's output is republished.
const LIVE_UPDATE: Duration = Duration::from_millis(50);

/// How much output the part's metadata keeps (the model-facing tool caps
/// its own output the same way).
const METADATA_OUTPUT: usize = 30_000;

/// `POST /session/{id}/shell`'s body.
#[derive(Debug, Deserialize)]
pub struct ShellRequest {
    #[serde(rename = "messageID")]
    pub message_id: Option<String>,
    #[serde(default = "build")]
    pub agent: String,
    pub model: Option<ModelRef>,
    pub command: String,
}

fn build() -> String {
    "build".into()
}

/// Runs the command and returns the assistant message with its tool part.
pub async fn shell(
    app: &App,
    workspace: &Workspace,
    session_id: &str,
    request: ShellRequest,
) -> ApiResult<MessageWithParts> {
    let session = get(app, session_id).await?;
    let run = app.runs.start(session_id)?;
    let status = |kind: &str| json!({ "sessionID": session_id, "status": { "type": kind } });
    app.publish(workspace, "session.status", status("busy"));
    let result = run_recorded(app, workspace, &session, request, &run).await;
    drop(run);
    app.publish(workspace, "session.status", status("idle"));
    app.publish(workspace, "session.idle", json!({ "sessionID": session_id }));
    result
}

async fn run_recorded(
    app: &App,
    workspace: &Workspace,
    session: &crate::model::Session,
    request: ShellRequest,
    run: &Run,
) -> ApiResult<MessageWithParts> {
    let model = request
        .model
        .or_else(|| {
            session.model.as_ref().map(|m| ModelRef {
                provider_id: m.provider_id.clone(),
                model_id: m.id.clone(),
                variant: None,
            })
        })
        .unwrap_or_else(|| ModelRef { provider_id: String::new(), model_id: String::new(), variant: None });
    let user = Message::User(UserMessage {
        id: request.message_id.filter(|id| Prefix::Message.matches(id)).unwrap_or_else(|| ids::new(Prefix::Message)),
        session_id: session.id.clone(),
        time: MessageTime { created: ids::now_millis(), completed: None },
        summary: None,
        agent: request.agent.clone(),
        model: model.clone(),
        system: None,
        tools: None,
        format: None,
        variant: None,
    });
    app.store.put_message(&user).await?;
    app.publish(workspace, "message.updated", json!({ "sessionID": session.id, "info": user }));
    let note = Part::new(
        &session.id,
        user.id(),
        json!({ "type": "text", "text": "The following tool was executed by the user", "synthetic": true }),
    );
    put_part(app, workspace, &note).await?;

    let mut assistant = AssistantMessage {
        id: ids::new(Prefix::Message),
        session_id: session.id.clone(),
        time: MessageTime { created: ids::now_millis(), completed: None },
        parent_id: user.id().to_string(),
        model_id: model.model_id,
        provider_id: model.provider_id,
        mode: request.agent.clone(),
        agent: request.agent,
        path: MessagePath { cwd: workspace.directory.clone(), root: workspace.project.worktree.clone() },
        cost: 0.0,
        tokens: Tokens::default(),
        finish: None,
        error: None,
        summary: None,
        variant: None,
    };
    put_assistant(app, workspace, &assistant).await?;

    let input = json!({ "command": request.command });
    let start = ids::now_millis();
    let mut tool = Part::new(
        &session.id,
        &assistant.id,
        json!({
            "type": "tool",
            "callID": ids::call_id(),
            "tool": "bash",
            "state": { "status": "running", "input": input, "time": { "start": start } },
        }),
    );
    put_part(app, workspace, &tool).await?;

    let options = CallOptions {
        cancel: Some(run.cancel.clone()),
        on_output: Some(live_output(app, workspace, &tool)),
        session_id: Some(session.id.clone()),
        message_id: Some(assistant.id.clone()),
        call_id: tool.body.get("callID").and_then(Value::as_str).map(str::to_string),
        ..Default::default()
    };
    let arguments = json!({ "command": request.command }).to_string();
    let result = app.sandbox.call_with("bash", &arguments, &workspace.grant, options).await;
    let end = ids::now_millis();
    tool.body.insert(
        "state".into(),
        match &result {
            Ok(output) => json!({
                "status": "completed",
                "input": input,
                "output": output.output,
                "title": "",
                "metadata": { "output": output.output },
                "time": { "start": start, "end": end },
            }),
            Err(error) => json!({
                "status": "error",
                "input": input,
                "error": error.to_string(),
                "time": { "start": start, "end": end },
            }),
        },
    );
    assistant.time.completed = Some(end);
    if matches!(result, Err(CallError::Cancelled)) || run.aborted() {
        assistant.error = Some(MessageError::new("MessageAbortedError", "Aborted"));
    }
    put_assistant(app, workspace, &assistant).await?;
    put_part(app, workspace, &tool).await?;
    Ok(MessageWithParts { info: Message::Assistant(assistant), parts: vec![tool] })
}

/// Stores a part, then publishes it.
pub(super) async fn put_part(app: &App, workspace: &Workspace, part: &Part) -> ApiResult<()> {
    app.store.put_part(part).await?;
    let properties = json!({ "sessionID": part.session_id, "part": part, "time": ids::now_millis() });
    app.publish(workspace, "message.part.updated", properties);
    Ok(())
}

/// Stores an assistant message, then publishes it.
pub(super) async fn put_assistant(app: &App, workspace: &Workspace, message: &AssistantMessage) -> ApiResult<()> {
    let message = Message::Assistant(message.clone());
    app.store.put_message(&message).await?;
    app.publish(workspace, "message.updated", json!({ "sessionID": message.session_id(), "info": message }));
    Ok(())
}

/// A sink that republishes the running part with the output so far.
fn live_output(app: &App, workspace: &Workspace, part: &Part) -> crate::sandbox::OutputSink {
    let bus = app.bus.clone();
    let (directory, project) = (workspace.directory.clone(), workspace.project.id.clone());
    let mut part = part.clone();
    let mut output = String::new();
    let mut last = Instant::now() - LIVE_UPDATE;
    Box::new(move |chunk: &str| {
        if output.len() < METADATA_OUTPUT {
            let room = METADATA_OUTPUT - output.len();
            let end = (0..=room.min(chunk.len())).rev().find(|&i| chunk.is_char_boundary(i)).unwrap_or(0);
            output.push_str(&chunk[..end]);
        }
        if last.elapsed() < LIVE_UPDATE {
            return;
        }
        last = Instant::now();
        part.body["state"]["metadata"] = json!({ "output": output });
        let properties = json!({ "sessionID": part.session_id, "part": part, "time": ids::now_millis() });
        bus.publish(Scope::Instance { directory: &directory, project: &project }, "message.part.updated", properties);
    })
}
