//! The sandbox as a source of the model's tools: every component's tools,
//! run under the session's grant (read-only for an agent that may not
//! edit), with `bash`'s live output and OpenCode's metadata.

use super::{Context, Outcome, ToolSource, failed};
use crate::agent::provider::{ToolCall, ToolDefinition};
use crate::conversation::changes::StepRecorder;
use crate::events::Event;
use crate::model::Part;
use crate::sandbox::{CallError, CallOptions, ChangeSink, Sandbox};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The sandbox's tools: every component's, built-in or added.
pub struct SandboxTools(pub Sandbox);

#[async_trait::async_trait]
impl ToolSource for SandboxTools {
    async fn definitions(&self, _workspace: &crate::workspace::Workspace) -> Vec<ToolDefinition> {
        let tools = self.0.tools();
        tools
            .iter()
            .map(|tool| ToolDefinition {
                name: tool.name.clone(),
                description: tool.description.clone(),
                parameters: tool.parameters.clone(),
            })
            .collect()
    }

    fn offers(&self, name: &str) -> bool {
        self.0.tools().iter().any(|tool| tool.name == name)
    }

    async fn run(&self, context: &Context<'_>, call: &ToolCall, part: &Part) -> Outcome {
        run(&self.0, context, call, part).await
    }
}

/// Runs a component's tool in the sandbox.
async fn run(sandbox: &Sandbox, context: &Context<'_>, call: &ToolCall, part: &Part) -> Outcome {
    let grant = if context.agent.read_only() { &context.workspace.read_only } else { &context.workspace.grant };
    let bash = call.name == "bash";
    let deadline = bash
        .then(|| call.input.get("timeout").and_then(Value::as_f64))
        .flatten()
        .filter(|ms| *ms > 0.0)
        .filter(|ms| ms.is_finite())
        .map(|ms| Duration::from_secs_f64((ms / 1000.0).min(u32::MAX as f64)));
    // What the call changes is recorded for undo (a read-only grant changes nothing).
    let recorder = (!context.agent.read_only()).then(|| Arc::new(StepRecorder::new(context.message_id, &part.id)));
    let options = CallOptions {
        deadline,
        cancel: Some(context.cancel.clone()),
        on_output: bash.then(|| context.assistant.journal.live_output(context.workspace, part)),
        session_id: Some(context.session_id.to_string()),
        message_id: Some(context.message_id.to_string()),
        call_id: Some(call.id.clone()),
        changes: recorder.clone().map(|r| r as Arc<dyn ChangeSink>),
    };
    let arguments = call.input.to_string();
    let result = sandbox.call_with(&call.name, &arguments, grant, options).await;
    if let Some(recorder) = recorder
        && let Err(error) = context.assistant.journal.put_file_changes(context.session(), &recorder).await
    {
        tracing::warn!("the changes of a {} call were not recorded for undo: {error}", call.name);
    }
    match result {
        Ok(result) => {
            let mut metadata = result.metadata;
            if bash {
                // The TUI renders `metadata.output` under the command.
                if !metadata.is_object() {
                    metadata = json!({});
                }
                metadata["output"] = json!(result.output);
                if let Some(description) = call.input.get("description") {
                    metadata["description"] = description.clone();
                }
            }
            if matches!(call.name.as_str(), "write" | "edit")
                && let Some(path) = call.input.get("filePath").and_then(Value::as_str)
            {
                let file = std::path::Path::new(&context.workspace.directory).join(path);
                let file = file.to_string_lossy();
                context.assistant.journal.publish(context.workspace, Event::FileEdited { file: &file });
            }
            let title =
                if bash { call.input["command"].as_str().unwrap_or_default().to_string() } else { result.title };
            Outcome::Completed { title, output: result.output, metadata }
        }
        Err(CallError::Cancelled) => Outcome::Aborted,
        Err(error) if context.cancel.is_cancelled() => {
            tracing::debug!("a call ended by an abort: {error}");
            Outcome::Aborted
        }
        Err(error) => failed(error.to_string()),
    }
}
