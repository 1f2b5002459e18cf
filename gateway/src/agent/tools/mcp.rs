//! The connected MCP servers as a source of the model's tools: each tool as
//! `server_tool`, under the same permission rules as every other tool (the
//! rules match its name), called with the turn's abort. A server's error,
//! a timeout or a server gone ends the call as a failed tool part; the turn
//! goes on. Tenants' sessions are not offered them (see `mcp::client`).

use super::{Context, Outcome, ToolSource};
use crate::agent::provider::{ToolCall, ToolDefinition};
use crate::mcp::client::McpServers;
use crate::model::Part;
use std::sync::Arc;

/// The MCP servers' tools.
pub struct McpTools(pub Arc<McpServers>);

#[async_trait::async_trait]
impl ToolSource for McpTools {
    fn definitions(&self) -> Vec<ToolDefinition> {
        self.0
            .tools()
            .into_iter()
            .map(|tool| ToolDefinition { name: tool.name, description: tool.description, parameters: tool.parameters })
            .collect()
    }

    fn offers(&self, name: &str) -> bool {
        self.0.offers(name)
    }

    fn for_tenants(&self) -> bool {
        false
    }

    async fn run(&self, context: &Context<'_>, call: &ToolCall, _part: &Part) -> Outcome {
        if context.workspace.tenant.is_some() {
            return Outcome::Failed { error: format!("{} is not offered to tenants' sessions", call.name) };
        }
        match self.0.call(&call.name, call.input.clone(), context.cancel).await {
            Ok(result) => {
                Outcome::Completed { title: call.name.clone(), output: result.output, metadata: result.metadata }
            }
            Err(_) if context.cancel.is_cancelled() => Outcome::Aborted,
            Err(error) => Outcome::Failed { error },
        }
    }
}
