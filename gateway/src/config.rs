//! The configuration file: opencode.json's schema plus wasmgate's own keys.
//!
//! The keys wasmgate shares with OpenCode (`provider`, `model`, `small_model`,
//! `agent`, `command`, `permission`, `mcp`, ...) keep OpenCode's meaning and
//! shape, so an existing opencode.json works as it is; they are served back by
//! `GET /config`. wasmgate's own settings sit beside them under one
//! `"wasmgate"` key, never shown to clients:
//!
//! ```jsonc
//! {
//!   "model": "local/qwen",
//!   "wasmgate": {
//!     "data_dir": "./.wasmgate",          // where the database lives
//!     "directories": ["../other-project"], // more folders clients may open
//!     "agent": {
//!       "retries": 5,                    // retries of a failed model call
//!       "retry_delay_ms": 2000           // the first retry's delay, doubling
//!     },
//!     "sandbox": {
//!       "timeout": 60,                   // seconds per tool call
//!       "memory_mib": 256,               // per tool call
//!       "output_bytes": 4194304,         // per tool call
//!       "write_bytes": 1073741824,       // written to files per tool call
//!       "concurrency": 32,               // tool calls at once
//!       "processes": "off",              // or "jailed", or "trusted" (one user's machine)
//!       "jail": {                        // what jailed processes reach
//!         "toolchains": ["~/.cargo", "~/.rustup"], // read-only, their bin/ on PATH
//!         "env": { "RUSTUP_HOME": "/root/.rustup" },
//!         "memory_mib": 4096,            // per process
//!         "processes": 256,              // at once
//!         "open_files": 4096,            // per process
//!         "network": {                   // HTTPS out, through a checking proxy
//!           "allow": ["crates.io", "*.crates.io", "*.npmjs.org", "pypi.org"],
//!           "deny": [],                  // refused even where allowed
//!           "ports": [443]               // for entries without their own
//!         }
//!       },
//!       "web": {                         // where the web fetch connects
//!         "allow": ["*"],                // the default: any public host
//!         "deny": ["*.internal.example"],
//!         "ports": [80, 443]             // the default, for entries without their own
//!       },
//!       "tools_dir": "./tools"           // more tool components (*.wasm)
//!     }
//!   }
//! }
//! ```
//!
//! The file is JSON or JSONC (comments, trailing commas). Relative paths are
//! relative to the file's folder. Unknown keys under `wasmgate` are errors, so
//! a typo does not silently leave a limit at its default; so is a config
//! that leaves prompts without their default primary agent (`build`, or the
//! one `default_agent` names), which would otherwise fail every prompt.

use crate::jail::ProcessMode;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::fmt;
use std::path::{Path, PathBuf};

/// Why a configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// The text is not JSON or JSONC, or not an object.
    #[error("{0}")]
    Syntax(String),
    /// The `"wasmgate"` key has an unknown or ill-typed setting.
    #[error("\"wasmgate\": {0}")]
    Wasmgate(serde_json::Error),
    /// A slash command is not OpenCode's shape (a `template` at least).
    #[error("\"command\".{name:?}: {error}")]
    Command { name: String, error: serde_json::Error },
    /// Prompts would have no primary agent to run as.
    #[error("{0}")]
    Agent(String),
    /// Any of the above, in the file at `path`.
    #[error("{path}: {error}")]
    In { path: PathBuf, error: Box<ConfigError> },
}

/// The agents OpenCode always has, which the config may change or disable.
const NATIVE_PRIMARY_AGENTS: [&str; 2] = ["build", "plan"];

/// A loaded configuration.
#[derive(Clone, Default)]
pub struct Config {
    /// The OpenCode keys, as `GET /config` serves them.
    pub opencode: Map<String, Value>,
    /// wasmgate's own settings.
    pub wasmgate: WasmgateConfig,
    /// The slash commands (`"command"`), in the order written, read once.
    pub commands: Vec<Command>,
}

/// One slash command of `"command"`: OpenCode's shape.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Command {
    /// Its name (the key), as `/name` invokes it.
    #[serde(skip)]
    pub name: String,
    /// The prompt, with `$ARGUMENTS` and `$1`, `$2`, ... filled in.
    pub template: String,
    pub description: Option<String>,
    /// The agent it runs as, and the model (`"provider/model"`), if set.
    pub agent: Option<String>,
    pub model: Option<String>,
    pub subtask: Option<bool>,
}

impl Command {
    /// A command that only prompts with `template`: no agent, model or
    /// subtask of its own (`/init`, a skill's, an MCP server's prompt).
    pub fn prompt(name: String, template: String, description: Option<String>) -> Self {
        Command { name, template, description, agent: None, model: None, subtask: None }
    }
}

/// The `"wasmgate"` key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WasmgateConfig {
    /// Where the database lives [default: the user data folder].
    pub data_dir: Option<PathBuf>,
    /// More folders clients may name, beside the one being served.
    #[serde(default)]
    pub directories: Vec<PathBuf>,
    /// Limits and capabilities of tool calls.
    #[serde(default)]
    pub sandbox: SandboxConfig,
    /// How the agent treats model calls.
    #[serde(default)]
    pub agent: AgentConfig,
    /// Origins (exactly as browsers send them) CORS answers besides the
    /// reference's local ones.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// The token that opens the admin API (`WASMGATE_ADMIN_TOKEN` wins).
    pub admin_token: Option<Secret>,
    /// Days the audit log keeps a record (default 90).
    pub audit_days: Option<u64>,
    /// What each tool may reach beyond nothing (see `sandbox::ToolPolicy`),
    /// by tool or component name.
    #[serde(default)]
    pub tools: std::collections::BTreeMap<String, crate::sandbox::ToolPolicy>,
    /// How MCP servers (opencode.json's `mcp` key) are run.
    #[serde(default)]
    pub mcp: McpConfig,
}

/// The `"wasmgate.mcp"` key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpConfig {
    /// Seconds a tenant's local MCP servers run unused before they stop
    /// (600); they start again at the next use.
    pub tenant_idle: Option<f64>,
}

impl McpConfig {
    /// `tenant_idle` as a length of time, or why it is not one.
    pub fn tenant_idle(&self) -> Result<Option<std::time::Duration>, String> {
        let Some(seconds) = self.tenant_idle else { return Ok(None) };
        match std::time::Duration::try_from_secs_f64(seconds) {
            Ok(idle) if !idle.is_zero() => Ok(Some(idle)),
            _ => Err(format!("{seconds} is not a positive number of seconds")),
        }
    }
}

/// A setting never printed (in logs, in `Debug`).
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The `"wasmgate.agent"` key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// How often a failed model call (rate limit, server fault, broken
    /// connection) is retried before the turn ends with the error.
    pub retries: Option<u32>,
    /// The first retry's delay in milliseconds; each retry doubles it.
    pub retry_delay_ms: Option<u64>,
}

/// The `"wasmgate.sandbox"` key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    /// Seconds one call may run.
    pub timeout: Option<f64>,
    /// MiB of memory one call may use.
    pub memory_mib: Option<usize>,
    /// Bytes of output one call may produce.
    pub output_bytes: Option<usize>,
    /// Bytes one call may write to files.
    pub write_bytes: Option<u64>,
    /// Calls that may run at once.
    pub concurrency: Option<usize>,
    /// How the shell runs commands it does not have built in.
    pub processes: Option<ProcessMode>,
    /// The old spelling of `"processes": "trusted"`.
    #[serde(default)]
    pub host_processes: bool,
    /// What jailed processes reach.
    #[serde(default)]
    pub jail: JailConfig,
    /// A folder of more tool components.
    pub tools_dir: Option<PathBuf>,
    /// Where the web fetch may connect (any public host over HTTP and
    /// HTTPS when absent; `{"allow": []}` switches it off).
    pub web: Option<crate::egress::EgressPolicy>,
}

impl SandboxConfig {
    /// The web fetch's policy: `web` with HTTP's and HTTPS's ports for its
    /// entries without one, or the public web.
    pub fn web_policy(&self) -> crate::egress::EgressPolicy {
        match self.web.clone() {
            Some(mut policy) => {
                if policy.ports.is_empty() {
                    policy.ports = crate::egress::WEB_PORTS.to_vec();
                }
                policy
            }
            None => crate::egress::EgressPolicy::public_web(),
        }
    }
}

/// The `"wasmgate.sandbox.jail"` key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JailConfig {
    /// Toolchain folders (`~` is the user's home), readable and executable
    /// inside; each one's `bin` joins `PATH`.
    #[serde(default)]
    pub toolchains: Vec<PathBuf>,
    /// Variables every jailed process gets.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
    /// MiB of memory per process.
    pub memory_mib: Option<u64>,
    /// Processes at once.
    pub processes: Option<u64>,
    /// Files open at once per process.
    pub open_files: Option<u64>,
    /// Where the host's own jailed programs may connect over HTTPS (no
    /// network when absent; tenants' programs never).
    pub network: Option<crate::egress::EgressPolicy>,
}

/// Provider options carry keys: only the key names are shown.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("opencode", &self.opencode.keys().collect::<Vec<_>>())
            .field("wasmgate", &self.wasmgate)
            .finish()
    }
}

impl Config {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).map_err(|error| ConfigError::In { path: path.to_path_buf(), error: Box::new(error) })
    }

    /// Parses JSON or JSONC text; relative paths resolve against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, ConfigError> {
        let value = jsonc_parser::parse_to_serde_value(text, &Default::default())
            .map_err(|e| ConfigError::Syntax(e.to_string()))?;
        let mut opencode = match value {
            Some(Value::Object(map)) => map,
            None => Map::new(),
            Some(_) => return Err(ConfigError::Syntax("the configuration must be a JSON object".into())),
        };
        let mut wasmgate: WasmgateConfig = match opencode.remove("wasmgate") {
            Some(value) => serde_json::from_value(value).map_err(ConfigError::Wasmgate)?,
            None => WasmgateConfig::default(),
        };
        check_default_agent(&opencode)?;
        let commands = commands(&opencode)?;
        let absolute = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        wasmgate.data_dir.as_mut().map(absolute);
        wasmgate.directories.iter_mut().for_each(absolute);
        wasmgate.sandbox.tools_dir.as_mut().map(absolute);
        // Secrets may name the server's variables rather than sit here.
        let env = |name: &str| std::env::var(name).ok();
        for policy in wasmgate.tools.values_mut() {
            for secret in policy.network.iter_mut().flat_map(|network| &mut network.secrets) {
                secret.value = substitute_env(&secret.value, &env);
            }
        }
        for toolchain in &mut wasmgate.sandbox.jail.toolchains {
            if let (Ok(rest), Some(home)) = (toolchain.strip_prefix("~"), dirs::home_dir()) {
                *toolchain = home.join(rest);
            }
            absolute(toolchain);
        }
        Ok(Self { opencode, wasmgate, commands })
    }

    /// The value of an OpenCode key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.opencode.get(key)
    }

    /// The slash command named `name`.
    pub fn command(&self, name: &str) -> Option<&Command> {
        self.commands.iter().find(|command| command.name == name)
    }

    /// The primary agent prompts run as unless they name one: the config's
    /// `default_agent`, else `build`.
    pub fn default_agent(&self) -> &str {
        self.get("default_agent").and_then(Value::as_str).unwrap_or("build")
    }
}

/// Replaces `{env:NAME}` with the variable's value, as opencode.json allows.
pub fn substitute_env(text: &str, env: &impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{env:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 5..];
        match after.find('}') {
            Some(end) => {
                out.push_str(&env(&after[..end]).unwrap_or_default());
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The keys a tenant's own settings may set over the host's config.
pub const TENANT_KEYS: [&str; 4] = ["agent", "permission", "command", "default_agent"];

impl Config {
    /// This config with a tenant's own settings (`overlay`: its `agent`,
    /// `permission`, `command` and `default_agent`) layered over it, as
    /// OpenCode layers a project's config over the global one: an agent's
    /// or a command's keys replace those of the same name, `permission`
    /// keys replace the same keys and add new ones after them (the last
    /// matching rule decides, so the tenant's own come last), and
    /// `default_agent` replaces the host's.
    pub fn layered(&self, overlay: &Map<String, Value>) -> Result<Config, ConfigError> {
        check_overlay(overlay)?;
        let mut opencode = self.opencode.clone();
        for (key, own) in overlay {
            match (key.as_str(), opencode.get_mut(key), own) {
                ("agent" | "command", Some(Value::Object(host)), Value::Object(own)) => {
                    for (name, entry) in own {
                        match (host.get_mut(name), entry) {
                            (Some(Value::Object(host)), Value::Object(entry)) => host.extend(entry.clone()),
                            _ => {
                                host.insert(name.clone(), entry.clone());
                            }
                        }
                    }
                }
                ("permission", Some(host), own) => {
                    let mut merged = permission_map(host);
                    merged.extend(permission_map(own));
                    *host = Value::Object(merged);
                }
                _ => {
                    opencode.insert(key.clone(), own.clone());
                }
            }
        }
        check_default_agent(&opencode)?;
        let commands = commands(&opencode)?;
        Ok(Config { opencode, wasmgate: self.wasmgate.clone(), commands })
    }
}

/// Whether `overlay` sets only what a tenant's own settings may, in
/// shapes that can be read.
pub fn check_overlay(overlay: &Map<String, Value>) -> Result<(), ConfigError> {
    if let Some(key) = overlay.keys().find(|key| !TENANT_KEYS.contains(&key.as_str())) {
        return Err(ConfigError::Syntax(format!(
            "a tenant's own settings may set {} only, not {key:?}",
            TENANT_KEYS.join(", ")
        )));
    }
    for key in ["agent", "command"] {
        if overlay.get(key).is_some_and(|value| !value.is_object()) {
            return Err(ConfigError::Syntax(format!("{key:?} must be an object of entries by name")));
        }
    }
    commands(overlay).map(drop)
}

/// `permission` as a map: `"ask"` is `{"*": "ask"}`.
fn permission_map(value: &Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map.clone(),
        Value::String(_) => Map::from_iter([("*".to_string(), value.clone())]),
        _ => Map::new(),
    }
}

/// The `"command"` key, typed.
fn commands(opencode: &Map<String, Value>) -> Result<Vec<Command>, ConfigError> {
    let Some(Value::Object(configured)) = opencode.get("command") else { return Ok(Vec::new()) };
    configured
        .iter()
        .map(|(name, entry)| {
            let mut command: Command = serde_json::from_value(entry.clone())
                .map_err(|error| ConfigError::Command { name: name.clone(), error })?;
            command.name = name.clone();
            Ok(command)
        })
        .collect()
}

/// Checks that the default primary agent exists: not disabled, not a
/// subagent, and (when `default_agent` names one) defined.
fn check_default_agent(opencode: &Map<String, Value>) -> Result<(), ConfigError> {
    let named = match opencode.get("default_agent") {
        None => None,
        Some(Value::String(name)) => Some(name.as_str()),
        Some(other) => {
            return Err(ConfigError::Agent(format!("\"default_agent\" must be an agent's name, got {other}")));
        }
    };
    let default = named.unwrap_or("build");
    let entry = opencode.get("agent").and_then(|agents| agents.get(default));
    let how = match named {
        Some(_) => "\"default_agent\" names",
        None => "prompts run as",
    };
    if entry.and_then(|e| e.get("disable")).and_then(Value::as_bool) == Some(true) {
        return Err(ConfigError::Agent(format!(
            "{how} the primary agent {default:?}, but \"agent\".{default:?} disables it: enable it, or set \
             \"default_agent\" to another primary agent"
        )));
    }
    if entry.is_none() && !NATIVE_PRIMARY_AGENTS.contains(&default) {
        return Err(ConfigError::Agent(format!(
            "{how} the primary agent {default:?}, which is not defined: add it under \"agent\", or name one of \
             {}",
            NATIVE_PRIMARY_AGENTS.join(", ")
        )));
    }
    if entry.and_then(|e| e.get("mode")).and_then(Value::as_str) == Some("subagent") {
        return Err(ConfigError::Agent(format!(
            "{how} {default:?}, which is a subagent: the default agent must be a primary agent"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonc_with_shared_and_own_keys() {
        let text = r#"{
            // a comment
            "model": "mock/m1",
            "command": { "hello": { "template": "Say hello to $ARGUMENTS" } },
            "wasmgate": { "data_dir": "state", "sandbox": { "timeout": 5, "host_processes": true }, },
        }"#;
        let config = Config::parse(text, Path::new("/etc/wg")).unwrap();
        assert_eq!(config.get("model").unwrap(), "mock/m1");
        assert!(config.get("wasmgate").is_none(), "own keys are not served as OpenCode config");
        assert_eq!(config.wasmgate.data_dir.as_deref(), Some(Path::new("/etc/wg/state")));
        assert_eq!(config.wasmgate.sandbox.timeout, Some(5.0));
        assert!(config.wasmgate.sandbox.host_processes);
    }

    #[test]
    fn the_web_fetch_reaches_the_public_web_unless_told_otherwise() {
        let web = |text: &str| Config::parse(text, Path::new(".")).unwrap().wasmgate.sandbox.web_policy();
        assert_eq!(web("{}"), crate::egress::EgressPolicy::public_web());
        let listed = web(r#"{"wasmgate": {"sandbox": {"web": {"allow": ["docs.rs"], "deny": ["x.docs.rs"]}}}}"#);
        assert_eq!(
            (listed.allow, listed.deny, listed.ports),
            (vec!["docs.rs".into()], vec!["x.docs.rs".into()], vec![80, 443])
        );
        assert!(web(r#"{"wasmgate": {"sandbox": {"web": {"allow": []}}}}"#).allow.is_empty());
        let error = Config::parse(r#"{"wasmgate": {"sandbox": {"web": {"alow": []}}}}"#, Path::new(".")).unwrap_err();
        assert!(error.to_string().contains("alow"), "{error}");
    }

    #[test]
    fn a_misspelt_own_key_is_an_error() {
        let error = Config::parse(r#"{"wasmgate": {"sandbox": {"timout": 5}}}"#, Path::new(".")).unwrap_err();
        assert!(error.to_string().contains("timout"), "{error}");
    }

    #[test]
    fn a_config_without_its_default_primary_agent_says_which() {
        let parse = |text: &str| Config::parse(text, Path::new(".")).map(|c| c.default_agent().to_string());
        let error = parse(r#"{"agent": {"build": {"disable": true}}}"#).unwrap_err().to_string();
        assert!(error.contains("\"build\"") && error.contains("disables it"), "{error}");
        let error = parse(r#"{"default_agent": "review"}"#).unwrap_err().to_string();
        assert!(error.contains("\"review\"") && error.contains("not defined"), "{error}");
        let error = parse(r#"{"default_agent": "helper", "agent": {"helper": {"mode": "subagent"}}}"#).unwrap_err();
        assert!(error.to_string().contains("subagent"), "{error}");
        // Disabling build is fine once another primary agent is the default.
        let other = parse(r#"{"default_agent": "plan", "agent": {"build": {"disable": true}}}"#).unwrap();
        assert_eq!(other, "plan");
        assert_eq!(parse("{}").unwrap(), "build");
    }

    #[test]
    fn commands_are_read_once_and_a_malformed_one_says_which() {
        let text =
            r#"{"command": {"hello": {"template": "Say hi to $1", "agent": "plan"}, "bye": {"template": "Bye"}}}"#;
        let config = Config::parse(text, Path::new(".")).unwrap();
        let names: Vec<&str> = config.commands.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["hello", "bye"], "in the order written");
        assert_eq!(config.command("hello").unwrap().agent.as_deref(), Some("plan"));
        let error = Config::parse(r#"{"command": {"oops": {"description": "no template"}}}"#, Path::new("."));
        let error = error.unwrap_err().to_string();
        assert!(error.contains("oops") && error.contains("template"), "{error}");
    }

    #[test]
    fn a_tenants_settings_layer_over_the_hosts() {
        let host = Config::parse(
            r#"{"permission": {"bash": "ask", "edit": "allow"},
                "agent": {"build": {"steps": 3, "prompt": "host"}},
                "command": {"hello": {"template": "Hello $1"}}}"#,
            Path::new("."),
        )
        .unwrap();
        let own = serde_json::json!({
            "permission": {"edit": "deny", "webfetch": "ask"},
            "agent": {"build": {"prompt": "mine"}, "reviewer": {"description": "reviews"}},
            "command": {"bye": {"template": "Bye"}},
            "default_agent": "plan",
        });
        let layered = host.layered(own.as_object().unwrap()).unwrap();
        assert_eq!(
            layered.get("permission").unwrap(),
            &serde_json::json!({"bash": "ask", "edit": "deny", "webfetch": "ask"})
        );
        assert_eq!(layered.get("agent").unwrap()["build"], serde_json::json!({"steps": 3, "prompt": "mine"}));
        assert!(layered.get("agent").unwrap().get("reviewer").is_some());
        let names: Vec<&str> = layered.commands.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["hello", "bye"]);
        assert_eq!(layered.default_agent(), "plan");
        assert_eq!(host.default_agent(), "build", "the host's config is unchanged");
        // Only those keys, and a default agent that exists.
        let wider = serde_json::json!({"provider": {"p": {}}});
        assert!(host.layered(wider.as_object().unwrap()).unwrap_err().to_string().contains("\"provider\""));
        let missing = serde_json::json!({"default_agent": "nobody"});
        assert!(host.layered(missing.as_object().unwrap()).is_err());
        // A shorthand permission becomes the first rule.
        let shorthand = Config::parse(r#"{"permission": "ask"}"#, Path::new(".")).unwrap();
        let layered = shorthand.layered(serde_json::json!({"permission": {"read": "allow"}}).as_object().unwrap());
        assert_eq!(layered.unwrap().get("permission").unwrap(), &serde_json::json!({"*": "ask", "read": "allow"}));
    }

    #[test]
    fn debug_output_never_shows_provider_keys() {
        let config =
            Config::parse(r#"{"provider": {"p": {"options": {"apiKey": "sk-secret-123"}}}}"#, Path::new(".")).unwrap();
        assert!(!format!("{config:?}").contains("sk-secret-123"));
    }
}
