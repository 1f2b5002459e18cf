//! An MCP server for wasmgate's MCP client tests, written with `rmcp`, the
//! protocol's official Rust SDK: a real server process, as any of the
//! servers opencode.json names would be.
//!
//! `mcp_test_server` serves on stdio; `mcp_test_server --http PORT --key KEY`
//! serves streamable HTTP on 127.0.0.1:PORT and answers only requests
//! carrying `x-test-key: KEY`.
//!
//! Tools: `echo` (its `text`), `add` (`a` + `b`), `where` (the folder it
//! runs in and the `MCP_TEST` variable), `read` (a file's text, or the
//! error reading it), `fail` (an error result), `hang` (never answers),
//! `die` (the process exits mid-call). Prompt: `review`
//! (arguments `path` and `focus`).

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams, GetPromptResponse,
    GetPromptResult, Implementation, ListPromptsResult, ListToolsResult, PaginatedRequestParams, Prompt,
    PromptArgument, PromptMessage, Role, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Clone)]
struct TestServer;

fn tool(name: &str, description: &str, schema: Value) -> Tool {
    let Value::Object(schema) = schema else { unreachable!("schemas are objects") };
    Tool::new(name.to_string(), description.to_string(), Arc::new(schema))
}

impl ServerHandler for TestServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_prompts().build())
            .with_server_info(Implementation::new("mcp-test-server", "1.0.0"))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let text = json!({ "type": "object", "properties": { "text": { "type": "string" } }, "required": ["text"] });
        let numbers =
            json!({ "type": "object", "properties": { "a": { "type": "number" }, "b": { "type": "number" } } });
        let none = json!({ "type": "object" });
        let tools = vec![
            tool("echo", "Says its text back.", text),
            tool("add", "Adds two numbers.", numbers),
            tool("where", "Says the folder it runs in and its MCP_TEST variable.", none.clone()),
            tool("read", "Reads a file.", json!({ "type": "object", "properties": { "path": { "type": "string" } } })),
            tool("fail", "Always fails.", none.clone()),
            tool("hang", "Never answers.", none.clone()),
            tool("die", "Exits in the middle of the call.", none),
        ];
        Ok(ListToolsResult { tools, ..Default::default() })
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let text = |text: String| Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into());
        match request.name.as_ref() {
            "echo" => text(arguments["text"].as_str().unwrap_or_default().to_string()),
            "add" => {
                text(format!("{}", arguments["a"].as_f64().unwrap_or(0.0) + arguments["b"].as_f64().unwrap_or(0.0)))
            }
            "where" => text(format!(
                "{} {}",
                std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
                std::env::var("MCP_TEST").unwrap_or_else(|_| "unset".into())
            )),
            "read" => match std::fs::read_to_string(arguments["path"].as_str().unwrap_or_default()) {
                Ok(content) => text(content),
                Err(error) => text(format!("cannot read it: {error}")),
            },
            "fail" => Ok(CallToolResult::error(vec![ContentBlock::text("it failed on purpose")]).into()),
            "hang" => std::future::pending().await,
            "die" => std::process::exit(3),
            other => Err(ErrorData::invalid_params(format!("unknown tool {other}"), None)),
        }
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let arguments = vec![PromptArgument::new("path"), PromptArgument::new("focus")];
        let review = Prompt::new("review", Some("Review one file with a focus"), Some(arguments));
        Ok(ListPromptsResult { prompts: vec![review], ..Default::default() })
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if request.name != "review" {
            return Err(ErrorData::invalid_params(format!("unknown prompt {}", request.name), None));
        }
        let arguments = request.arguments.unwrap_or_default();
        let argument = |name: &str| arguments.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
        let text = format!("Review {} with a focus on {}.", argument("path"), argument("focus"));
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]).into())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    match flag("--http") {
        None => {
            let running = TestServer.serve(rmcp::transport::stdio()).await?;
            running.waiting().await?;
        }
        Some(port) => {
            use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
            use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
            let key = flag("--key").unwrap_or_default();
            let service = StreamableHttpService::new(
                || Ok(TestServer),
                Arc::new(LocalSessionManager::default()),
                StreamableHttpServerConfig::default(),
            );
            let checked = axum::Router::new().nest_service("/mcp", service).layer(axum::middleware::from_fn(
                move |request: axum::extract::Request, next: axum::middleware::Next| {
                    let allowed =
                        request.headers().get("x-test-key").and_then(|v| v.to_str().ok()) == Some(key.as_str());
                    async move {
                        match allowed {
                            true => next.run(request).await,
                            false => axum::http::StatusCode::UNAUTHORIZED.into_response(),
                        }
                    }
                },
            ));
            let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
            println!("listening on {}", listener.local_addr()?);
            axum::serve(listener, checked).await?;
        }
    }
    Ok(())
}

use axum::response::IntoResponse;
