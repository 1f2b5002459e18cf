//! What a tenant may use: the quota table, its defaults, and the flags and
//! JSON that set it.
//!
//! A tenant stores only the quotas set for it ([`QuotaSettings`]); the rest
//! follow the defaults, so a better default reaches every tenant that did
//! not choose otherwise.

use crate::sandbox::QuotaLimits;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Duration;

/// A tenant's quotas, every one resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Quotas {
    /// Tool calls running at once.
    pub tool_calls: u32,
    /// Seconds of tool execution per hour.
    pub cpu_seconds_per_hour: u64,
    /// MiB of memory one tool call may use.
    pub memory_mib: u64,
    /// Seconds one tool call may run.
    pub timeout_seconds: u64,
    /// Bytes the tenant's folders may hold; a write past it fails.
    pub disk_bytes: u64,
    /// Sessions the tenant may keep.
    pub sessions: u32,
    /// Requests per minute (bursts up to as many at once).
    pub requests_per_minute: u32,
    /// Requests being answered at once; more wait in the tenant's own queue
    /// before any work is done for them.
    pub concurrent_requests: u32,
    /// Event streams open at once.
    pub event_streams: u32,
    /// Model tokens (input and output) per day (UTC).
    pub tokens_per_day: u64,
    /// Whether the tenant's shell may run jailed processes (the server must
    /// run them jailed: a tenant never gets plain host processes).
    pub host_processes: bool,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            tool_calls: 4,
            cpu_seconds_per_hour: 1800,
            memory_mib: 256,
            timeout_seconds: 60,
            disk_bytes: 1 << 30,
            sessions: 1000,
            requests_per_minute: 1200,
            concurrent_requests: 4,
            event_streams: 16,
            tokens_per_day: 5_000_000,
            host_processes: false,
        }
    }
}

/// The quotas set for one tenant: the flags of `tenant add` and `tenant
/// set`, the JSON of the admin API, and what the database keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct QuotaSettings {
    /// Tool calls running at once [default: 4].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<u32>,
    /// Seconds of tool execution per hour [default: 1800].
    #[arg(long, value_name = "SECONDS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_seconds_per_hour: Option<u64>,
    /// MiB of memory one tool call may use [default: 256].
    #[arg(long, value_name = "MIB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
    /// Seconds one tool call may run [default: 60].
    #[arg(long, value_name = "SECONDS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// Bytes the tenant's folders may hold [default: 1 GiB].
    #[arg(long, value_name = "BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_bytes: Option<u64>,
    /// Sessions the tenant may keep [default: 1000].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions: Option<u32>,
    /// Requests per minute [default: 1200].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u32>,
    /// Requests answered at once; more wait their turn [default: 4].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrent_requests: Option<u32>,
    /// Event streams open at once [default: 16].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_streams: Option<u32>,
    /// Model tokens per day [default: 5000000].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_per_day: Option<u64>,
    /// Let the tenant's shell run jailed processes, if the server runs
    /// `--processes jailed` (a tenant never gets plain host processes)
    /// [default: false].
    #[arg(long, value_name = "BOOL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_processes: Option<bool>,
    /// Models the tenant may use, as `provider/model` or `provider/*`;
    /// repeat the flag or separate with commas [default: every model the
    /// server offers].
    #[arg(long = "model", value_name = "PROVIDER/MODEL", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    /// The tenant's own agents, permission rules, slash commands and default
    /// agent (`agent`, `permission`, `command`, `default_agent`, in
    /// opencode.json's format), layered over the server's config; `{}`
    /// clears them.
    #[arg(long, value_name = "FILE", value_parser = read_agent_config)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_config: Option<Map<String, Value>>,
}

/// The JSON or JSONC object in the file `path` names.
fn read_agent_config(path: &str) -> Result<Map<String, Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    match jsonc_parser::parse_to_serde_value(&text, &Default::default()) {
        Ok(Some(Value::Object(map))) => Ok(map),
        Ok(_) => Err(format!("{path}: not a JSON object")),
        Err(e) => Err(format!("{path}: {e}")),
    }
}

impl QuotaSettings {
    /// Why these settings cannot be kept, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        for pattern in self.models.iter().flatten() {
            let fits = pattern == "*"
                || pattern.split_once('/').is_some_and(|(provider, model)| {
                    !provider.is_empty() && !model.is_empty() && !provider.contains('*')
                });
            if !fits {
                return Err(format!("{pattern:?} is not a model: use provider/model, provider/* or *"));
            }
        }
        match &self.agent_config {
            Some(own) => crate::config::check_overlay(own).map_err(|e| format!("--agent-config: {e}")),
            None => Ok(()),
        }
    }

    /// These settings over `defaults`.
    pub fn resolve(&self, defaults: &Quotas) -> Quotas {
        Quotas {
            tool_calls: self.tool_calls.unwrap_or(defaults.tool_calls).max(1),
            cpu_seconds_per_hour: self.cpu_seconds_per_hour.unwrap_or(defaults.cpu_seconds_per_hour),
            memory_mib: self.memory_mib.unwrap_or(defaults.memory_mib),
            timeout_seconds: self.timeout_seconds.unwrap_or(defaults.timeout_seconds),
            disk_bytes: self.disk_bytes.unwrap_or(defaults.disk_bytes),
            sessions: self.sessions.unwrap_or(defaults.sessions),
            requests_per_minute: self.requests_per_minute.unwrap_or(defaults.requests_per_minute),
            concurrent_requests: self.concurrent_requests.unwrap_or(defaults.concurrent_requests).max(1),
            event_streams: self.event_streams.unwrap_or(defaults.event_streams),
            tokens_per_day: self.tokens_per_day.unwrap_or(defaults.tokens_per_day),
            host_processes: self.host_processes.unwrap_or(defaults.host_processes),
        }
    }

    /// `self` with every quota `other` sets replaced.
    pub fn merged(&self, other: &QuotaSettings) -> QuotaSettings {
        QuotaSettings {
            tool_calls: other.tool_calls.or(self.tool_calls),
            cpu_seconds_per_hour: other.cpu_seconds_per_hour.or(self.cpu_seconds_per_hour),
            memory_mib: other.memory_mib.or(self.memory_mib),
            timeout_seconds: other.timeout_seconds.or(self.timeout_seconds),
            disk_bytes: other.disk_bytes.or(self.disk_bytes),
            sessions: other.sessions.or(self.sessions),
            requests_per_minute: other.requests_per_minute.or(self.requests_per_minute),
            concurrent_requests: other.concurrent_requests.or(self.concurrent_requests),
            event_streams: other.event_streams.or(self.event_streams),
            tokens_per_day: other.tokens_per_day.or(self.tokens_per_day),
            host_processes: other.host_processes.or(self.host_processes),
            models: other.models.clone().or_else(|| self.models.clone()),
            agent_config: other.agent_config.clone().or_else(|| self.agent_config.clone()),
        }
    }
}

impl Quotas {
    /// What the sandbox enforces of them.
    pub fn sandbox_limits(&self) -> QuotaLimits {
        QuotaLimits {
            concurrency: self.tool_calls.max(1) as usize,
            memory: usize::try_from(self.memory_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX),
            deadline: Duration::from_secs(self.timeout_seconds.max(1)),
            cpu_per_window: Duration::from_secs(self.cpu_seconds_per_hour),
            disk: self.disk_bytes,
            processes: self.host_processes,
        }
    }
}
