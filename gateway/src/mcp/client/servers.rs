//! One set of MCP servers and their connections: the server's own (over the
//! folder it serves), or one tenant's in one of its folders (see the
//! module above). Each server connects within its `timeout`; one that
//! fails, hangs or is still connecting offers nothing meanwhile. A call is
//! bounded by the sandbox's deadline and by the turn's abort; a server that
//! exits is marked failed at the call that finds it gone, and its tools are
//! withdrawn until it is connected again.

use super::config::{self, ServerConfig};
use super::{CallOutput, PromptCommand, RemoteTool, Status};
use crate::sandbox::{CancelToken, Grant, Runner};
use rmcp::model::{CallToolRequestParams, ContentBlock, GetPromptRequestParams, Prompt, Tool};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Some configured servers and their connections.
pub(super) struct ServerSet {
    servers: Mutex<BTreeMap<String, Arc<Server>>>,
    launch: Launch,
    /// The longest a tool call may take.
    call_timeout: Duration,
}

/// Where and how a set's local servers run.
pub(super) struct Launch {
    /// The folder they start in (and, jailed, reach) and how their
    /// programs run; `Err`: why they may not run.
    pub place: Result<(Grant, Runner), String>,
    /// Bytes one file they write may grow to (jailed).
    pub file_size: u64,
}

struct Server {
    name: String,
    config: Result<ServerConfig, String>,
    state: Mutex<State>,
}

enum State {
    Disabled,
    /// Connecting; the number tells this attempt from a later one.
    Connecting(u64),
    Connected(Arc<Connection>),
    Failed(String),
}

/// A live connection and what the server offered when it connected.
struct Connection {
    service: RunningService<RoleClient, ()>,
    tools: Vec<Tool>,
    prompts: Vec<Prompt>,
    /// A jailed process's private folders, kept while it runs.
    _jail: Option<crate::jail::JailFolders>,
}

/// The most of a tool's answer the model is given (as OpenCode: 1 MiB).
const MAX_OUTPUT: usize = 1 << 20;

static ATTEMPTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl ServerSet {
    /// `configs`, none connected yet.
    pub fn new(
        configs: BTreeMap<String, Result<ServerConfig, String>>,
        launch: Launch,
        call_timeout: Duration,
    ) -> Self {
        let servers =
            configs.into_iter().map(|(name, config)| (name.clone(), Arc::new(Server::new(name, config)))).collect();
        ServerSet { servers: Mutex::new(servers), launch, call_timeout }
    }

    /// The servers' names.
    pub fn names(&self) -> Vec<String> {
        self.all().iter().map(|server| server.name.clone()).collect()
    }

    /// Each server's configuration, by name.
    pub fn configs(&self) -> BTreeMap<String, Result<ServerConfig, String>> {
        self.all().into_iter().map(|server| (server.name.clone(), server.config.clone())).collect()
    }

    fn all(&self) -> Vec<Arc<Server>> {
        self.servers.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }

    fn server(&self, name: &str) -> Option<Arc<Server>> {
        self.servers.lock().unwrap_or_else(|p| p.into_inner()).get(name).cloned()
    }

    /// Starts connecting every enabled server, in the background.
    pub fn connect_all(self: &Arc<Self>) {
        for server in self.enabled() {
            let this = self.clone();
            tokio::spawn(async move { this.connect_server(&server).await });
        }
    }

    /// Connects every enabled server at once, waiting for them all (each
    /// within its own `timeout`).
    pub async fn connect_all_waiting(&self) {
        futures_util::future::join_all(self.enabled().iter().map(|server| self.connect_server(server))).await;
    }

    fn enabled(&self) -> Vec<Arc<Server>> {
        let enabled = |server: &Arc<Server>| matches!(&server.config, Ok(config) if config.enabled());
        self.all().into_iter().filter(enabled).collect()
    }

    /// Closes every connection (their programs end).
    pub async fn close_all(&self) {
        for server in self.all() {
            if let Some(connection) = server.replace(State::Disabled) {
                close(connection).await;
            }
        }
    }

    /// Each server's state, by name.
    pub fn status(&self) -> BTreeMap<String, Status> {
        self.all().iter().map(|server| (server.name.clone(), server.status())).collect()
    }

    /// Connects `name` again (or for the first time), waiting for the
    /// outcome; `false` for a server the config does not name.
    pub async fn connect(&self, name: &str) -> bool {
        let Some(server) = self.server(name) else { return false };
        self.connect_server(&server).await;
        true
    }

    /// Closes `name`'s connection and marks it disabled; `false` for a
    /// server the config does not name.
    pub async fn disconnect(&self, name: &str) -> bool {
        let Some(server) = self.server(name) else { return false };
        if let Some(connection) = server.replace(State::Disabled) {
            close(connection).await;
        }
        true
    }

    /// Adds (or replaces) a server while serving and connects it
    /// (`POST /mcp`).
    pub async fn add(&self, name: &str, config: &Value) -> BTreeMap<String, Status> {
        let parsed =
            config::parse(Some(&json!({ name: config }))).remove(name).unwrap_or_else(|| Err("missing".into()));
        let server = Arc::new(Server::new(name.to_string(), parsed));
        let previous = self.servers.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string(), server.clone());
        if let Some(connection) = previous.and_then(|previous| previous.replace(State::Disabled)) {
            close(connection).await;
        }
        if matches!(&server.config, Ok(config) if config.enabled()) {
            self.connect_server(&server).await;
        }
        self.status()
    }

    async fn connect_server(&self, server: &Server) {
        let attempt = ATTEMPTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(connection) = server.replace(State::Connecting(attempt)) {
            close(connection).await;
        }
        let outcome = match &server.config {
            Ok(config) => {
                let timeout = config.timeout();
                match tokio::time::timeout(timeout, self.open(config)).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(format!("it did not connect and list its tools within {} ms", timeout.as_millis())),
                }
            }
            Err(error) => Err(error.clone()),
        };
        // A disconnect or a newer attempt meanwhile wins: then this
        // connection is closed unused.
        let unused = {
            let mut state = server.lock();
            match (matches!(*state, State::Connecting(current) if current == attempt), outcome) {
                (false, outcome) => outcome.ok(),
                (true, Ok(connection)) => {
                    tracing::info!(server = server.name, tools = connection.tools.len(), "MCP server connected");
                    *state = State::Connected(Arc::new(connection));
                    None
                }
                (true, Err(error)) => {
                    tracing::warn!(server = server.name, "MCP server not connected: {error}");
                    *state = State::Failed(error);
                    None
                }
            }
        };
        if let Some(connection) = unused {
            close(Arc::new(connection)).await;
        }
    }

    /// Connects to a server and lists its tools and prompts.
    async fn open(&self, config: &ServerConfig) -> Result<Connection, String> {
        let (service, jail) = match config {
            ServerConfig::Local(local) => self.spawn(local).await?,
            ServerConfig::Remote(remote) => (connect_remote(remote).await?, None),
            ServerConfig::Toggle { .. } => return Err("it names no command or URL".into()),
        };
        let tools = service.list_all_tools().await.map_err(|e| format!("listing its tools: {e}"))?;
        let has_prompts = service.peer_info().is_some_and(|info| info.capabilities.prompts.is_some());
        let prompts = match has_prompts {
            true => service.list_all_prompts().await.map_err(|e| format!("listing its prompts: {e}"))?,
            false => Vec::new(),
        };
        Ok(Connection { service, tools, prompts, _jail: jail })
    }

    /// Starts a local server's program where processes may run.
    async fn spawn(
        &self,
        local: &config::LocalServer,
    ) -> Result<(RunningService<RoleClient, ()>, Option<crate::jail::JailFolders>), String> {
        let (folder, runner) = self.launch.place.clone()?;
        let cwd = match &local.cwd {
            Some(path) => folder.dir().open_dir(path).map_err(|e| format!("cwd {path}: {e}"))?,
            None => folder.dir().try_clone().map_err(|e| e.to_string())?,
        };
        let environment: Vec<(String, String)> = local.environment.clone().into_iter().collect();
        let (mut command, jail) = match runner {
            Runner::Trusted => {
                let mut command = tokio::process::Command::new(&local.command[0]);
                command.args(&local.command[1..]).envs(environment).kill_on_drop(true);
                // Checked beneath the folder above; a trusted process is
                // started by name.
                command
                    .current_dir(std::path::Path::new(folder.guest_path()).join(local.cwd.as_deref().unwrap_or(".")));
                (command, None)
            }
            Runner::Jailed { jail, network } => {
                let jailed = crate::jail::JailedCommand {
                    argv: &local.command,
                    env: &environment,
                    workspace: folder.dir(),
                    cwd: &cwd,
                    writable: folder.access() == crate::sandbox::Access::ReadWrite,
                    // It runs as long as it is connected.
                    time: Duration::from_secs(365 * 86_400),
                    file_size: self.launch.file_size,
                    network,
                    layer: false,
                };
                let (command, folders) = jail.command(&jailed).map_err(|e| e.to_string())?;
                (command, Some(folders))
            }
        };
        command.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
        let (transport, _) = rmcp::transport::TokioChildProcess::builder(command)
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", local.command[0]))?;
        let service = ().serve(transport).await.map_err(|e| format!("it did not start as an MCP server: {e}"))?;
        Ok((service, jail))
    }

    /// The tools of the connected servers.
    pub fn tools(&self) -> Vec<RemoteTool> {
        let mut tools = Vec::new();
        for server in self.all() {
            let Some(connection) = server.connection() else { continue };
            for tool in &connection.tools {
                let mut parameters = Value::Object((*tool.input_schema).clone());
                parameters["type"] = json!("object");
                if !parameters["properties"].is_object() {
                    parameters["properties"] = json!({});
                }
                tools.push(RemoteTool {
                    name: format!("{}_{}", sanitize(&server.name), sanitize(&tool.name)),
                    description: tool.description.as_deref().unwrap_or_default().to_string(),
                    parameters,
                });
            }
        }
        tools
    }

    fn find_tool(&self, name: &str) -> Option<(Arc<Server>, Arc<Connection>, String)> {
        self.all().into_iter().find_map(|server| {
            let prefix = format!("{}_", sanitize(&server.name));
            let rest = name.strip_prefix(&prefix)?;
            let connection = server.connection()?;
            let tool = connection.tools.iter().find(|tool| sanitize(&tool.name) == rest)?.name.to_string();
            Some((server, connection, tool))
        })
    }

    /// Calls tool `name` (`server_tool`) with `arguments`: its text, or why
    /// not (the server's error, a timeout, an abort, a server gone).
    pub async fn call(&self, name: &str, arguments: Value, cancel: &CancelToken) -> Result<CallOutput, String> {
        let (server, connection, tool) =
            self.find_tool(name).ok_or_else(|| format!("no MCP server offers {name} now"))?;
        let arguments = match arguments {
            Value::Object(arguments) => arguments,
            Value::Null => Map::new(),
            _ => return Err("the arguments must be an object".into()),
        };
        let request = CallToolRequestParams::new(tool.clone()).with_arguments(arguments);
        let result = tokio::select! {
            result = connection.service.call_tool(request) => result,
            () = cancel.cancelled() => return Err("the call was cancelled".into()),
            () = tokio::time::sleep(self.call_timeout) => {
                return Err(format!(
                    "the MCP server {} did not answer {tool} within {} s",
                    server.name,
                    self.call_timeout.as_secs()
                ));
            }
        };
        let result = match result {
            Ok(result) => result,
            Err(error @ (rmcp::ServiceError::TransportClosed | rmcp::ServiceError::TransportSend(_))) => {
                let why = format!("the MCP server {} is gone ({error})", server.name);
                server.fail_if_current(&connection, why.clone());
                return Err(why);
            }
            Err(error) => return Err(format!("the MCP server {} answered with an error: {error}", server.name)),
        };
        let mut output = text_of(&result.content);
        if output.len() > MAX_OUTPUT {
            let cut = (0..=MAX_OUTPUT).rev().find(|&i| output.is_char_boundary(i)).unwrap_or(0);
            output.truncate(cut);
            output.push_str(&format!("\n\n(the MCP server's answer was cut at {MAX_OUTPUT} bytes)"));
        }
        if result.is_error == Some(true) {
            return Err(if output.is_empty() { format!("{tool} failed") } else { output });
        }
        let mut metadata = json!({ "server": server.name, "tool": tool });
        if let Some(structured) = result.structured_content {
            metadata["structured"] = structured;
        }
        Ok(CallOutput { output, metadata })
    }

    /// The prompts of the connected servers, as slash commands.
    pub fn prompts(&self) -> Vec<PromptCommand> {
        let mut commands = Vec::new();
        for server in self.all() {
            let Some(connection) = server.connection() else { continue };
            for prompt in &connection.prompts {
                commands.push(PromptCommand {
                    name: format!("{}:{}", sanitize(&server.name), sanitize(&prompt.name)),
                    description: prompt.description.clone(),
                    arguments: prompt.arguments.iter().flatten().map(|a| a.name.clone()).collect(),
                });
            }
        }
        commands
    }

    /// The text of prompt command `name` (`server:prompt`), its arguments
    /// given as `$1`, `$2`, ... for the command to fill; `None` for a name
    /// no connected server offers.
    pub async fn prompt_template(&self, name: &str) -> Option<Result<String, String>> {
        let (server_name, prompt_name) = name.split_once(':')?;
        let server = self.all().into_iter().find(|server| sanitize(&server.name) == server_name)?;
        let connection = server.connection()?;
        let prompt = connection.prompts.iter().find(|prompt| sanitize(&prompt.name) == prompt_name)?;
        let arguments: Map<String, Value> = prompt
            .arguments
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, a)| (a.name.clone(), json!(format!("${}", i + 1))))
            .collect();
        let request = GetPromptRequestParams::new(prompt.name.clone()).with_arguments(arguments);
        let result = tokio::select! {
            result = connection.service.get_prompt(request) => result,
            () = tokio::time::sleep(self.call_timeout) => {
                return Some(Err(format!("the MCP server {} did not give its prompt within {} s", server.name, self.call_timeout.as_secs())));
            }
        };
        Some(match result {
            Ok(result) => Ok(result
                .messages
                .iter()
                .map(|m| text_of(std::slice::from_ref(&m.content)))
                .collect::<Vec<_>>()
                .join("\n")),
            Err(error) => Err(format!("the MCP server {} did not give its prompt: {error}", server.name)),
        })
    }
}

impl Server {
    fn new(name: String, config: Result<ServerConfig, String>) -> Self {
        Server { name, config, state: Mutex::new(State::Disabled) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn status(&self) -> Status {
        if let Err(error) = &self.config {
            return Status::Failed { error: error.clone() };
        }
        match &*self.lock() {
            State::Disabled => Status::Disabled,
            State::Connecting(_) => Status::Failed { error: "connecting".into() },
            State::Connected(_) => Status::Connected,
            State::Failed(error) => Status::Failed { error: error.clone() },
        }
    }

    /// Puts the server in `state`: the connection it had, to close.
    fn replace(&self, state: State) -> Option<Arc<Connection>> {
        match std::mem::replace(&mut *self.lock(), state) {
            State::Connected(connection) => Some(connection),
            _ => None,
        }
    }

    fn connection(&self) -> Option<Arc<Connection>> {
        match &*self.lock() {
            State::Connected(connection) => Some(connection.clone()),
            _ => None,
        }
    }

    /// Marks the server failed, unless it was connected again meanwhile.
    fn fail_if_current(&self, connection: &Arc<Connection>, why: String) {
        let mut state = self.lock();
        if matches!(&*state, State::Connected(current) if Arc::ptr_eq(current, connection)) {
            tracing::warn!(server = self.name, "{why}");
            *state = State::Failed(why);
        }
    }
}

/// Closes a connection (a local server's process ends with it).
async fn close(connection: Arc<Connection>) {
    if let Ok(connection) = Arc::try_unwrap(connection) {
        let _ = tokio::time::timeout(Duration::from_secs(2), connection.service.cancel()).await;
    }
}

async fn connect_remote(remote: &config::RemoteServer) -> Result<RunningService<RoleClient, ()>, String> {
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let env = |name: &str| std::env::var(name).ok();
    let mut headers = std::collections::HashMap::new();
    for (name, value) in &remote.headers {
        let value = crate::config::substitute_env(value, &env);
        let name =
            http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("{name:?} is not a header name"))?;
        let value =
            http::HeaderValue::from_str(&value).map_err(|_| format!("the value of {name} is not a header value"))?;
        headers.insert(name, value);
    }
    let config = StreamableHttpClientTransportConfig::with_uri(remote.url.as_str()).custom_headers(headers);
    let transport = StreamableHttpClientTransport::from_config(config);
    ().serve(transport).await.map_err(|e| format!("{}: {e}", remote.url))
}

/// A name as OpenCode puts it in a tool or command name: anything but
/// letters, digits, `_` and `-` becomes `_`.
pub(super) fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}

/// The text of a result's content: text as it is, anything else named.
fn text_of(content: &[ContentBlock]) -> String {
    let parts: Vec<String> = content
        .iter()
        .map(|block| match block {
            ContentBlock::Text(text) => text.text.clone(),
            ContentBlock::Image(image) => format!("[image: {}]", image.mime_type),
            ContentBlock::Audio(audio) => format!("[audio: {}]", audio.mime_type),
            ContentBlock::ResourceLink(link) => format!("[resource: {}]", link.uri),
            ContentBlock::Resource(resource) => match &resource.resource {
                rmcp::model::ResourceContents::TextResourceContents { text, .. } => text.clone(),
                rmcp::model::ResourceContents::BlobResourceContents { uri, .. } => format!("[resource: {uri}]"),
                _ => "[resource]".into(),
            },
            _ => "[content]".into(),
        })
        .collect();
    parts.join("\n")
}
