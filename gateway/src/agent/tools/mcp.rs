//! The MCP servers' tools as a source of the model's tools: each tool as
//! `server_tool`, under the same permission rules as every other tool (the
//! rules match its name), called with the turn's abort. Which servers a
//! session has depends on its workspace: the server's own user's, or the
//! tenant's own in that folder (see `mcp::client`). A server's error, a
//! timeout or a server gone ends the call as a failed tool part; the turn
//! goes on.

use super::{Context, Outcome, ToolSource};
use crate::agent::provider::{ToolCall, ToolDefinition};
use crate::mcp::client::McpServers;
use crate::model::Part;
use crate::workspace::Workspace;
use std::sync::Arc;

/// The MCP servers' tools.
pub struct McpTools(pub Arc<McpServers>);

#[async_trait::async_trait]
impl ToolSource for McpTools {
    async fn definitions(&self, workspace: &Workspace) -> Vec<ToolDefinition> {
        self.0
            .tools(workspace)
            .await
            .into_iter()
            .map(|tool| ToolDefinition { name: tool.name, description: tool.description, parameters: tool.parameters })
            .collect()
    }

    fn offers(&self, name: &str) -> bool {
        self.0.owns(name)
    }

    async fn run(&self, context: &Context<'_>, call: &ToolCall, _part: &Part) -> Outcome {
        match self.0.call(context.workspace, &call.name, call.input.clone(), context.cancel).await {
            Ok(result) => {
                Outcome::Completed { title: call.name.clone(), output: result.output, metadata: result.metadata }
            }
            Err(_) if context.cancel.is_cancelled() => Outcome::Aborted,
            Err(error) => Outcome::Failed { error },
        }
    }
}
