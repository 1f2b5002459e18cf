//! The Model Context Protocol from the agent's side: the MCP servers
//! opencode.json's `mcp` key names, connected with `rmcp` (the protocol's
//! official Rust SDK, which speaks the current revision and the older ones
//! servers still use), their tools offered to the model as `server_tool`
//! and their prompts as slash commands `server:prompt`, as OpenCode does.
//!
//! A server never holds anything up: the server's own user's servers
//! connect in the background when the server starts (each within its
//! `timeout`, 5 s by default), and one that fails, hangs or is still
//! connecting is reported by [`McpServers::status`] (`GET /mcp`) and offers
//! nothing meanwhile.
//!
//! A local server is a program on this machine, so it runs only where the
//! operator allows processes (`wasmgate.sandbox.processes`), under the same
//! decision as the shell's programs: in the jail (the folder, the
//! toolchains, its own temporary folder) or, on a trusted single-user host,
//! as a plain process.
//!
//! **Tenants** never share a server process: one holds one folder's state
//! for whoever calls it. A tenant whose quota allows programs gets its own
//! copy of each configured local server in each of its folders, jailed in
//! that folder and offline (as its shell's programs are), started at its
//! first use there (a turn, `GET /mcp`, `GET /command`: the first waits for
//! them to connect, as OpenCode's first use of a folder does) and stopped
//! once unused for `wasmgate.mcp.tenant_idle` seconds (600), when the
//! tenant opens a fifth folder's, or at its next use once it may no longer
//! run programs. Remote servers are the server's own user's
//! alone: their headers are the operator's credentials.

pub mod config;
mod servers;

pub use config::ServerConfig;

use crate::sandbox::{CancelToken, Grant, Processes};
use crate::workspace::Workspace;
use serde_json::Value;
use servers::{Launch, ServerSet};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// A server's state, as `GET /mcp` reports it (OpenCode's `MCPStatus`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Connected,
    Disabled,
    Failed { error: String },
}

/// A tool of a connected server, as the model is offered it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteTool {
    /// `server_tool`.
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

/// A prompt of a connected server, as a slash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptCommand {
    /// `server:prompt`.
    pub name: String,
    pub description: Option<String>,
    /// Its arguments' names, in order: `$1`, `$2`, ... fill them.
    pub arguments: Vec<String>,
}

/// What a tool call came to.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutput {
    pub output: String,
    pub metadata: Value,
}

/// How long a tenant's servers run unused when the configuration does not
/// say.
pub const DEFAULT_TENANT_IDLE: Duration = Duration::from_secs(600);

/// The folders of one tenant whose servers may run at once; opening
/// another's stops the least recently used.
const FOLDERS_PER_TENANT: usize = 4;

/// The largest file a jailed local server may write (less where a tenant's
/// disk quota is smaller).
const MAX_FILE_SIZE: u64 = 1 << 30;

/// Why a program may not run where processes are off.
const PROCESSES_OFF: &str = "a local MCP server is a program on this machine: it runs only where processes are \
     allowed (wasmgate.sandbox.processes \"jailed\", or \"trusted\" on a single-user host)";

/// The configured servers: the server's own user's connections, and each
/// tenant's own in the folders it uses.
pub struct McpServers {
    /// The server's own user's, over the folder it serves.
    host: Arc<ServerSet>,
    processes: Processes,
    call_timeout: Duration,
    /// How long a tenant's servers run unused.
    tenant_idle: Duration,
    /// Tenants' servers, by tenant and folder.
    tenants: Mutex<HashMap<(String, String), Arc<TenantServers>>>,
}

/// One tenant's servers in one of its folders.
struct TenantServers {
    set: Arc<ServerSet>,
    /// Whether the tenant could run programs when they were made.
    programs: bool,
    /// Set once they were first connected.
    started: tokio::sync::OnceCell<()>,
    used: Mutex<Instant>,
}

impl TenantServers {
    fn touch(&self) {
        *self.used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        self.used.lock().unwrap_or_else(|p| p.into_inner()).elapsed()
    }
}

impl McpServers {
    /// The servers of `config` (opencode.json's `mcp` value), none connected
    /// yet: see [`McpServers::connect_all`]. `folder` is the one served to
    /// the server's own user.
    pub fn new(
        config: Option<&Value>,
        processes: Processes,
        folder: Option<Grant>,
        call_timeout: Duration,
        tenant_idle: Duration,
    ) -> Self {
        let launch = launch(&processes, folder);
        let host = Arc::new(ServerSet::new(config::parse(config), launch, call_timeout));
        McpServers { host, processes, call_timeout, tenant_idle, tenants: Mutex::default() }
    }

    /// Starts connecting the server's own user's servers, in the
    /// background, and watching tenants' for idleness.
    pub fn connect_all(self: &Arc<Self>) {
        self.host.connect_all();
        let this = Arc::downgrade(self);
        let every = (self.tenant_idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
        tokio::spawn(stop_idle(this, every));
    }

    /// The servers `workspace`'s caller uses, started for a tenant at its
    /// first use of them there (and waited for); `None` for a tenant where
    /// no local server is configured.
    async fn set_for(&self, workspace: &Workspace) -> Option<Arc<ServerSet>> {
        let Some(tenant) = &workspace.tenant else { return Some(self.host.clone()) };
        let servers = self.tenant_servers(tenant, workspace)?;
        servers.started.get_or_init(|| servers.set.connect_all_waiting()).await;
        servers.touch();
        Some(servers.set.clone())
    }

    /// A tenant's servers in `workspace`, made (not started) if need be:
    /// anew when the tenant's right to run programs changed since. `None`
    /// where no local server is configured.
    fn tenant_servers(&self, tenant: &str, workspace: &Workspace) -> Option<Arc<TenantServers>> {
        let key = (tenant.to_string(), workspace.directory.clone());
        let programs = self.processes.for_grant(&workspace.grant).is_some();
        let mut stopped = Vec::new();
        let servers = {
            let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
            match tenants.get(&key) {
                Some(servers) if servers.programs == programs => return Some(servers.clone()),
                Some(_) => stopped.extend(tenants.remove(&key)),
                None => {}
            }
            // The host's configurations are read under this lock; nothing
            // takes the two the other way round.
            let locals: BTreeMap<_, _> = self
                .host
                .configs()
                .into_iter()
                .filter(|(_, config)| matches!(config, Ok(ServerConfig::Local(_))))
                .collect();
            (!locals.is_empty()).then(|| {
                let theirs: Vec<_> = tenants.keys().filter(|(owner, _)| owner == tenant).cloned().collect();
                if theirs.len() >= FOLDERS_PER_TENANT {
                    let oldest = theirs.into_iter().max_by_key(|key| tenants[key].idle_for());
                    stopped.extend(oldest.and_then(|key| tenants.remove(&key)));
                }
                let launch = launch(&self.processes, Some(workspace.grant.clone()));
                let servers = Arc::new(TenantServers {
                    set: Arc::new(ServerSet::new(locals, launch, self.call_timeout)),
                    programs,
                    started: tokio::sync::OnceCell::new(),
                    used: Mutex::new(Instant::now()),
                });
                tenants.insert(key, servers.clone());
                servers
            })
        };
        for stopped in stopped {
            tokio::spawn(async move { stopped.set.close_all().await });
        }
        servers
    }

    /// Each server's state, by name, as `workspace`'s caller sees them.
    pub async fn status(&self, workspace: &Workspace) -> BTreeMap<String, Status> {
        self.set_for(workspace).await.map(|set| set.status()).unwrap_or_default()
    }

    /// Connects `name` again (or for the first time), waiting for the
    /// outcome; `false` for a server the caller has no `name`.
    pub async fn connect(&self, workspace: &Workspace, name: &str) -> bool {
        let Some(set) = self.set_for(workspace).await else { return false };
        set.connect(name).await
    }

    /// Closes `name`'s connection and marks it disabled; `false` for a
    /// server the caller has no `name`.
    pub async fn disconnect(&self, workspace: &Workspace, name: &str) -> bool {
        let Some(set) = self.set_for(workspace).await else { return false };
        set.disconnect(name).await
    }

    /// Adds (or replaces) one of the server's own user's servers while
    /// serving, and connects it (`POST /mcp`). Tenants' servers stop: they
    /// start again from the new configuration at their next use.
    pub async fn add(&self, name: &str, config: &Value) -> BTreeMap<String, Status> {
        let status = self.host.add(name, config).await;
        let stopped: Vec<_> = self.tenants.lock().unwrap_or_else(|p| p.into_inner()).drain().collect();
        for (_, servers) in stopped {
            servers.set.close_all().await;
        }
        status
    }

    /// The tools `workspace`'s caller is offered.
    pub async fn tools(&self, workspace: &Workspace) -> Vec<RemoteTool> {
        self.set_for(workspace).await.map(|set| set.tools()).unwrap_or_default()
    }

    /// Whether `name` is named as a configured server's tool (`server_...`):
    /// whether it is offered depends on the caller.
    pub fn owns(&self, name: &str) -> bool {
        self.host.names().iter().any(|server| name.starts_with(&format!("{}_", servers::sanitize(server))))
    }

    /// Calls tool `name` (`server_tool`) for `workspace`'s caller: its text,
    /// or why not (the server's error, a timeout, an abort, a server gone).
    pub async fn call(
        &self,
        workspace: &Workspace,
        name: &str,
        arguments: Value,
        cancel: &CancelToken,
    ) -> Result<CallOutput, String> {
        let set = self.set_for(workspace).await.ok_or_else(|| format!("no MCP server offers {name} here"))?;
        set.call(name, arguments, cancel).await
    }

    /// The prompts `workspace`'s caller is offered, as slash commands.
    pub async fn prompts(&self, workspace: &Workspace) -> Vec<PromptCommand> {
        self.set_for(workspace).await.map(|set| set.prompts()).unwrap_or_default()
    }

    /// The text of prompt command `name` (`server:prompt`) for
    /// `workspace`'s caller, its arguments given as `$1`, `$2`, ...; `None`
    /// for a name none of its servers offers.
    pub async fn prompt_template(&self, workspace: &Workspace, name: &str) -> Option<Result<String, String>> {
        self.set_for(workspace).await?.prompt_template(name).await
    }

    /// Stops tenants' servers unused for longer than the idle time.
    async fn stop_idle(&self) {
        let idle = self.tenant_idle;
        let stopped: Vec<_> = {
            let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
            // Servers a call holds now are in use, however long ago it began.
            let unused = |servers: &TenantServers| servers.idle_for() > idle && Arc::strong_count(&servers.set) == 1;
            let keys: Vec<_> = tenants.iter().filter(|(_, s)| unused(s)).map(|(k, _)| k.clone()).collect();
            keys.into_iter().filter_map(|key| tenants.remove_entry(&key)).collect()
        };
        for ((tenant, folder), servers) in stopped {
            tracing::info!(tenant, folder, "stopping a tenant's idle MCP servers");
            servers.set.close_all().await;
        }
    }
}

/// Watches tenants' servers for idleness while the servers exist.
async fn stop_idle(servers: Weak<McpServers>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(servers) = servers.upgrade() else { return };
        servers.stop_idle().await;
    }
}

/// How local servers run for a caller holding `folder`: as the shell's
/// programs would (a tenant's jailed and offline, or not at all), each
/// file they write bounded by the tenant's disk quota.
fn launch(processes: &Processes, folder: Option<Grant>) -> Launch {
    let tenant = folder.as_ref().and_then(|grant| grant.quota().map(|quota| quota.limits()));
    let file_size = tenant.map_or(MAX_FILE_SIZE, |limits| limits.disk.min(MAX_FILE_SIZE));
    let place = match folder {
        None => Err("no folder is served to start it in".to_string()),
        Some(grant) => match processes.for_grant(&grant) {
            Some(runner) => Ok((grant, runner)),
            None => Err(match (processes, tenant) {
                (Processes::Off, _) | (_, None) => PROCESSES_OFF,
                (Processes::Trusted, Some(_)) => {
                    "a tenant's programs run only in the jail (wasmgate.sandbox.processes \"jailed\"), and this \
                     server runs programs unconfined"
                }
                (Processes::Jailed(_), Some(_)) => {
                    "a local MCP server is a program, and this tenant may not run programs \
                     (wasmgate tenant set NAME --host-processes true)"
                }
            }
            .to_string()),
        },
    };
    Launch { place, file_size }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn a_local_server_needs_processes_and_a_bad_entry_is_reported() {
        let config = json!({
            "local": { "type": "local", "command": ["true"] },
            "broken": { "type": "local" },
            "off": { "type": "local", "command": ["x"], "enabled": false },
        });
        let dir = tempfile::tempdir().unwrap();
        let folder = Grant::read_write(dir.path()).unwrap();
        let servers = Arc::new(McpServers::new(
            Some(&config),
            Processes::Off,
            Some(folder),
            Duration::from_secs(1),
            DEFAULT_TENANT_IDLE,
        ));
        let set = &servers.host;
        assert!(set.connect("local").await);
        let status = set.status();
        assert!(
            matches!(&status["local"], Status::Failed { error } if error.contains("runs only where processes are"))
        );
        assert!(matches!(&status["broken"], Status::Failed { error } if error.contains("not an MCP server")));
        assert_eq!(status["off"], Status::Disabled);
        assert!(!set.connect("nope").await);
        assert_eq!(serde_json::to_value(&status["off"]).unwrap(), json!({ "status": "disabled" }));
        assert!(servers.owns("local_anything") && !servers.owns("localx") && !servers.owns("read"));
    }
}
