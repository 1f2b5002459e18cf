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
//!       "host_processes": false,         // trusted single-user machines only
//!       "tools_dir": "./tools"           // more tool components (*.wasm)
//!     }
//!   }
//! }
//! ```
//!
//! The file is JSON or JSONC (comments, trailing commas). Relative paths are
//! relative to the file's folder. Unknown keys under `wasmgate` are errors, so
//! a typo does not silently leave a limit at its default.

use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// A loaded configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The OpenCode keys, as `GET /config` serves them.
    pub opencode: Map<String, Value>,
    /// wasmgate's own settings.
    pub wasmgate: WasmgateConfig,
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
    /// Whether the shell may run host processes (trusted machines only).
    #[serde(default)]
    pub host_processes: bool,
    /// A folder of more tool components.
    pub tools_dir: Option<PathBuf>,
}

impl Config {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses JSON or JSONC text; relative paths resolve against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, String> {
        let value = jsonc_parser::parse_to_serde_value(text, &Default::default()).map_err(|e| e.to_string())?;
        let mut opencode = match value {
            Some(Value::Object(map)) => map,
            None => Map::new(),
            Some(_) => return Err("the configuration must be a JSON object".into()),
        };
        let mut wasmgate: WasmgateConfig = match opencode.remove("wasmgate") {
            Some(value) => serde_json::from_value(value).map_err(|e| format!("\"wasmgate\": {e}"))?,
            None => WasmgateConfig::default(),
        };
        let absolute = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        wasmgate.data_dir.as_mut().map(absolute);
        wasmgate.directories.iter_mut().for_each(absolute);
        wasmgate.sandbox.tools_dir.as_mut().map(absolute);
        Ok(Self { opencode, wasmgate })
    }

    /// The value of an OpenCode key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.opencode.get(key)
    }
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
    fn a_misspelt_own_key_is_an_error() {
        let error = Config::parse(r#"{"wasmgate": {"sandbox": {"timout": 5}}}"#, Path::new(".")).unwrap_err();
        assert!(error.contains("timout"), "{error}");
    }
}
