//! The `mcp` key of opencode.json: which MCP servers to connect to, as
//! OpenCode reads it (`McpLocalConfig`, `McpRemoteConfig`, or `{"enabled":
//! false}` alone to switch one off).

use serde::Deserialize;
use std::collections::BTreeMap;

/// How long connecting and listing may take when a server sets no
/// `timeout` (OpenCode's default).
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;

/// One server's entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ServerConfig {
    Local(LocalServer),
    Remote(RemoteServer),
    /// `{"enabled": false}`: named, and off.
    Toggle {
        enabled: bool,
    },
}

/// `{"type": "local", "command": [...]}`: a program spoken to on its stdin
/// and stdout.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalServer {
    #[serde(rename = "type")]
    pub kind: LocalTag,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// The folder it starts in, relative to the served folder (default: the
    /// served folder).
    pub cwd: Option<String>,
    /// Variables it gets besides the minimal environment.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    pub enabled: Option<bool>,
    /// Milliseconds to connect and list its tools.
    pub timeout: Option<u64>,
}

/// `{"type": "remote", "url": ...}`: a server over streamable HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteServer {
    #[serde(rename = "type")]
    pub kind: RemoteTag,
    pub url: String,
    /// Headers sent with every request (`{env:NAME}` read from the server's
    /// environment).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub enabled: Option<bool>,
    /// OpenCode's OAuth settings; only `false` (no OAuth) is honoured here.
    pub oauth: Option<serde_json::Value>,
    /// Milliseconds to connect and list its tools.
    pub timeout: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocalTag {
    Local,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemoteTag {
    Remote,
}

impl ServerConfig {
    /// Whether it is to be connected at start.
    pub fn enabled(&self) -> bool {
        match self {
            ServerConfig::Local(local) => local.enabled != Some(false),
            ServerConfig::Remote(remote) => remote.enabled != Some(false),
            ServerConfig::Toggle { enabled } => *enabled,
        }
    }

    /// How long connecting and listing may take.
    pub fn timeout(&self) -> std::time::Duration {
        let ms = match self {
            ServerConfig::Local(local) => local.timeout,
            ServerConfig::Remote(remote) => remote.timeout,
            ServerConfig::Toggle { .. } => None,
        };
        std::time::Duration::from_millis(ms.unwrap_or(DEFAULT_TIMEOUT_MS).max(1))
    }
}

/// The servers of an `mcp` value: each parsed, or why it could not be
/// (kept, so `GET /mcp` names the mistake).
pub fn parse(value: Option<&serde_json::Value>) -> BTreeMap<String, Result<ServerConfig, String>> {
    let Some(serde_json::Value::Object(servers)) = value else { return BTreeMap::new() };
    servers
        .iter()
        .map(|(name, entry)| {
            let parsed = serde_json::from_value::<ServerConfig>(entry.clone()).map_err(|_| {
                "not an MCP server: write {\"type\": \"local\", \"command\": [...]} or {\"type\": \"remote\", \"url\": ...}"
                    .to_string()
            });
            (name.clone(), parsed.and_then(check))
        })
        .collect()
}

fn check(config: ServerConfig) -> Result<ServerConfig, String> {
    match &config {
        ServerConfig::Local(local) if local.command.first().is_none_or(|program| program.is_empty()) => {
            Err("its command is empty".into())
        }
        ServerConfig::Remote(remote) if !remote.url.starts_with("http://") && !remote.url.starts_with("https://") => {
            Err(format!("{} is not an http:// or https:// URL", remote.url))
        }
        _ => Ok(config),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn opencode_entries_parse_and_mistakes_are_named() {
        let servers = parse(Some(&json!({
            "files": { "type": "local", "command": ["node", "server.js"], "environment": { "A": "1" }, "timeout": 2000 },
            "docs": { "type": "remote", "url": "https://mcp.example.com/mcp", "headers": { "x": "y" }, "oauth": false },
            "off": { "enabled": false },
            "empty": { "type": "local", "command": [] },
            "ftp": { "type": "remote", "url": "ftp://x" },
            "typo": { "type": "local", "comand": ["x"] },
        })));
        assert!(matches!(&servers["files"], Ok(ServerConfig::Local(l)) if l.command == ["node", "server.js"]));
        assert_eq!(servers["files"].as_ref().unwrap().timeout(), std::time::Duration::from_secs(2));
        assert!(matches!(&servers["docs"], Ok(ServerConfig::Remote(r)) if r.headers["x"] == "y"));
        assert!(!servers["off"].as_ref().unwrap().enabled());
        assert!(servers["empty"].as_ref().unwrap_err().contains("command is empty"));
        assert!(servers["ftp"].as_ref().unwrap_err().contains("not an http"));
        assert!(servers["typo"].as_ref().unwrap_err().contains("not an MCP server"));
    }
}
