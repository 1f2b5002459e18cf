//! The sandboxed tools as an MCP server.
//!
//! Every tool the sandbox offers (the built-in components and those from
//! `--tools-dir`) is listed with its argument schema, and a call runs in the
//! sandbox exactly as the agent's calls do: under the caller's grant, with
//! the same limits, cancelled when the client cancels it. Who the caller is
//! and what it may reach is not decided here but by the [`Grants`] the
//! server is made with: on stdio, the `--root` folder; over HTTP, the
//! workspace of whoever the request authenticated as (a tenant's token
//! reaches only that tenant's folders).
//!
//! A tool that fails (a path outside the workspace, a timeout, a crash)
//! answers a tool result marked as an error, which the client's model
//! reads; an unknown tool or malformed arguments are protocol errors.

use crate::sandbox::{CallError, CallOptions, CancelToken, Grant, Sandbox};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use std::sync::Arc;

/// The grant a request's calls run under, from what the transport knows of
/// the request (rmcp's extensions: over HTTP, the request's parts); `Err`
/// says why the request may reach nothing.
pub type Grants = Arc<dyn Fn(&rmcp::model::Extensions) -> Result<Grant, String> + Send + Sync>;

/// An MCP server over a sandbox.
#[derive(Clone)]
pub struct ToolServer {
    sandbox: Sandbox,
    grants: Grants,
}

impl ToolServer {
    pub fn new(sandbox: Sandbox, grants: Grants) -> Self {
        ToolServer { sandbox, grants }
    }

    /// A server whose every call runs under `grant`.
    pub fn with_grant(sandbox: Sandbox, grant: Grant) -> Self {
        Self::new(sandbox, Arc::new(move |_| Ok(grant.clone())))
    }
}

impl ServerHandler for ToolServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("wasmgate", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Tools that run as WebAssembly components in wasmgate's sandbox: they reach only the granted \
                 workspace, with a deadline and memory and output limits on every call.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self.sandbox.tools();
        let tools = tools.iter().map(|tool| {
            let schema = match &tool.parameters {
                serde_json::Value::Object(schema) => schema.clone(),
                _ => serde_json::Map::from_iter([("type".to_string(), "object".into())]),
            };
            Tool::new(tool.name.clone(), tool.description.clone(), Arc::new(schema))
        });
        Ok(ListToolsResult { tools: tools.collect(), ..Default::default() })
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let grant = (self.grants)(&context.extensions).map_err(|why| ErrorData::invalid_request(why, None))?;
        let arguments = serde_json::Value::Object(request.arguments.unwrap_or_default()).to_string();
        // The client's cancellation stops the call.
        let cancel = CancelToken::new();
        let watcher = {
            let (cancel, cancelled) = (cancel.clone(), context.ct.clone());
            tokio::spawn(async move {
                cancelled.cancelled().await;
                cancel.cancel();
            })
        };
        let options = CallOptions { cancel: Some(cancel), ..Default::default() };
        let result = self.sandbox.call_with(&request.name, &arguments, &grant, options).await;
        watcher.abort();
        match result {
            Ok(output) => Ok(CallToolResult::success(vec![ContentBlock::text(output.output)]).into()),
            Err(CallError::UnknownTool(name)) => Err(ErrorData::invalid_params(format!("unknown tool {name:?}"), None)),
            Err(CallError::InvalidArguments(why)) => Err(ErrorData::invalid_params(why, None)),
            Err(error) => Ok(CallToolResult::error(vec![ContentBlock::text(error.to_string())]).into()),
        }
    }
}

/// Serves `server` on this process's stdin and stdout until the client
/// closes them.
pub async fn serve_stdio(server: ToolServer) -> Result<(), String> {
    use rmcp::ServiceExt;
    let running = server.serve(rmcp::transport::stdio()).await.map_err(|e| format!("starting MCP: {e}"))?;
    running.waiting().await.map_err(|e| format!("serving MCP: {e}"))?;
    Ok(())
}
