//! Per-tool policy: what one tool's calls may reach, as the operator wrote
//! it under `wasmgate.tools.<name>`, resolved once when the sandbox is built
//! and applied to every call of that tool.
//!
//! Deny by default. Without a policy a tool added by the operator reaches
//! the caller's grant (the workspace the session, `tool call` or the MCP
//! client granted) and nothing else: no environment variable, no network,
//! no process. A policy may
//!
//! - narrow the grant to some of its folders (`folders`), each read-only or
//!   read-write, never more than the caller granted: each is opened beneath
//!   the grant's handle at the call, so a folder that is a symlink leading
//!   out, or gone, gives the tool nothing;
//! - pass environment variables (`env`): names taken from the server's
//!   environment, or names with values;
//! - open `wasi:http` to the hosts, ports and methods it lists (`network`),
//!   under the same checks as the web fetch (loopback, private and reserved
//!   addresses refused unless an entry names that host), with headers the
//!   host adds to requests for a host (`secrets`): the guest never holds
//!   them, and a redirect to another host does not carry them;
//! - set the call's limits (`limits`): wall-clock time, CPU time, memory and
//!   output.
//!
//! A built-in tool's capabilities are fixed (the shell's processes, the web
//! fetch's network): a policy for one may set its limits only.

use super::Access;
use crate::egress::EgressPolicy;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Component, Path};
use std::sync::Arc;
use std::time::Duration;

/// One tool's policy, as configured (`wasmgate.tools.<name>`): the key is a
/// tool's name, or a component's for all of its tools (a tool's own entry
/// wins).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolPolicy {
    /// Folders of the caller's grant the tool may reach (absent: the whole
    /// grant).
    pub folders: Option<Vec<FolderRule>>,
    /// Environment variables the tool sees.
    #[serde(default)]
    pub env: EnvRule,
    /// Where its `wasi:http` requests may go (absent: nowhere).
    pub network: Option<NetworkRule>,
    /// Its limits, in place of the sandbox's.
    #[serde(default)]
    pub limits: ToolLimits,
}

/// A folder of the caller's grant: `"docs"` (read-only), or `{"path":
/// "out", "access": "read-write"}`; `"."` is the grant's root.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawFolder")]
pub struct FolderRule {
    /// Relative to the grant's root, `/`-separated, without `.` or `..`
    /// (empty for the root itself).
    pub path: String,
    pub access: Access,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawFolder {
    Path(String),
    Full(FullFolder),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FullFolder {
    path: String,
    #[serde(default)]
    access: FolderAccess,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum FolderAccess {
    #[default]
    Read,
    ReadWrite,
}

impl TryFrom<RawFolder> for FolderRule {
    type Error = String;

    fn try_from(raw: RawFolder) -> Result<Self, String> {
        let (path, access) = match raw {
            RawFolder::Path(path) => (path, FolderAccess::Read),
            RawFolder::Full(FullFolder { path, access }) => (path, access),
        };
        let mut parts = Vec::new();
        for part in Path::new(&path).components() {
            match part {
                Component::Normal(name) => parts.push(name.to_str().ok_or("a folder's path must be UTF-8")?),
                Component::CurDir => {}
                _ => {
                    return Err(format!(
                        "folder {path:?}: folders are within the caller's grant: write them relative to it, without `..`"
                    ));
                }
            }
        }
        if path.is_empty() {
            return Err("a folder's path is empty (write \".\" for the whole grant)".into());
        }
        let access = match access {
            FolderAccess::Read => Access::ReadOnly,
            FolderAccess::ReadWrite => Access::ReadWrite,
        };
        Ok(FolderRule { path: parts.join("/"), access })
    }
}

/// Environment variables: names whose values come from the server's
/// environment (`["LANG", "TZ"]`), or names with their values.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum EnvRule {
    FromServer(Vec<String>),
    Values(BTreeMap<String, String>),
}

impl Default for EnvRule {
    fn default() -> Self {
        EnvRule::FromServer(Vec::new())
    }
}

impl EnvRule {
    fn names(&self) -> Vec<&str> {
        match self {
            EnvRule::FromServer(names) => names.iter().map(String::as_str).collect(),
            EnvRule::Values(values) => values.keys().map(String::as_str).collect(),
        }
    }
}

/// Where a tool's `wasi:http` requests may go.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkRule {
    /// Hosts, as the web fetch's `allow` takes them (`api.example.com`,
    /// `*.example.com`, `host:port`, an address, `*` for any public host).
    pub allow: Vec<String>,
    /// Refused even where `allow` lets them in.
    #[serde(default)]
    pub deny: Vec<String>,
    /// The ports entries without one allow (443 when empty).
    #[serde(default)]
    pub ports: Vec<u16>,
    /// The methods allowed (`GET` and `HEAD` when absent; `"*"` any).
    pub methods: Option<Vec<String>>,
    /// Headers the host adds to the requests for a host.
    #[serde(default)]
    pub secrets: Vec<SecretHeader>,
}

/// A header the host sets on every request the tool makes to `host`
/// (replacing one the guest set), with a value the guest never holds.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretHeader {
    /// `api.example.com`, or `*.example.com` for any name under it.
    pub host: String,
    /// `authorization`, `x-api-key`, ...
    pub header: String,
    /// The value; `{env:NAME}` in it is replaced by the server's variable
    /// when the configuration is read.
    pub value: String,
}

impl std::fmt::Debug for SecretHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretHeader").field("host", &self.host).field("header", &self.header).finish_non_exhaustive()
    }
}

/// A tool's limits, each in place of the sandbox's.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolLimits {
    /// Seconds a call may take, waiting included.
    pub timeout: Option<f64>,
    /// Seconds of CPU its code may use (time it waits on the host for
    /// files, the network or output does not count), in steps of the
    /// engine's 5 ms tick.
    pub cpu_seconds: Option<f64>,
    /// MiB of memory (at most the sandbox's `memory_mib`, the size of its
    /// memory slots).
    pub memory_mib: Option<usize>,
    /// Bytes of output.
    pub output_bytes: Option<usize>,
}

/// A policy resolved for calls: values read, names and headers checked.
#[derive(Debug)]
pub(crate) struct CallPolicy {
    pub(crate) folders: Option<Vec<FolderRule>>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) network: Option<Arc<NetworkGrant>>,
    pub(crate) deadline: Option<Duration>,
    pub(crate) cpu: Option<Duration>,
    pub(crate) memory: Option<usize>,
    pub(crate) output: Option<usize>,
    /// The policy as `tool list` and the API show it (no values).
    pub(crate) view: Value,
    /// Whether it asks for more than limits (what a built-in may not).
    pub(crate) grants_more_than_limits: bool,
}

/// Where one call's `wasi:http` requests may go, and what the host adds.
#[derive(Debug)]
pub(crate) struct NetworkGrant {
    pub(crate) egress: EgressPolicy,
    /// `None`: any method.
    pub(crate) methods: Option<Vec<http::Method>>,
    pub(crate) secrets: Vec<(String, http::HeaderName, http::HeaderValue)>,
}

impl NetworkGrant {
    /// The built-in web fetch's grant: `egress`, any method, no secrets.
    pub(crate) fn web(egress: EgressPolicy) -> Self {
        NetworkGrant { egress, methods: None, secrets: Vec::new() }
    }

    /// Why `method` is refused, if it is.
    pub(crate) fn check_method(&self, method: &http::Method) -> Result<(), String> {
        match &self.methods {
            Some(methods) if !methods.contains(method) => {
                let allowed: Vec<&str> = methods.iter().map(http::Method::as_str).collect();
                Err(format!("the method {method} is not allowed (the tool's policy allows {})", allowed.join(", ")))
            }
            _ => Ok(()),
        }
    }

    /// The secret headers for a request to `host`.
    pub(crate) fn secrets_for<'a>(
        &'a self,
        host: &'a str,
    ) -> impl Iterator<Item = (&'a http::HeaderName, &'a http::HeaderValue)> + 'a {
        let host = host.trim_matches(['[', ']']).trim_end_matches('.').to_ascii_lowercase();
        self.secrets
            .iter()
            .filter(move |(pattern, _, _)| host_matches(pattern, &host))
            .map(|(_, name, value)| (name, value))
    }
}

/// Whether `pattern` (`example.com`, `*.example.com`) names `host` (lower
/// case, no brackets or final dot).
fn host_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(domain) => host.ends_with(&format!(".{domain}")),
        None => pattern.trim_matches(['[', ']']) == host,
    }
}

impl ToolPolicy {
    /// The policy ready for calls, reading the environment it names now.
    /// `memory_slot`: the most memory a call can have (the pool's slots).
    pub(crate) fn resolve(&self, name: &str, memory_slot: usize) -> Result<CallPolicy, String> {
        let at = |what: String| format!("wasmgate.tools.{name}: {what}");
        let env = match &self.env {
            EnvRule::FromServer(names) => {
                names.iter().filter_map(|key| std::env::var(key).ok().map(|value| (key.clone(), value))).collect()
            }
            EnvRule::Values(values) => values.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        };
        for key in self.env.names() {
            if key.is_empty() || key.contains(['=', '\0']) {
                return Err(at(format!("env: {key:?} is not a variable name")));
            }
        }
        let network = self.network.as_ref().map(|rule| rule.resolve()).transpose().map_err(at)?;
        let seconds = |what: &str, value: Option<f64>| match value {
            Some(s) if !(s.is_finite() && s > 0.0 && s <= 86_400.0) => {
                Err(at(format!("limits.{what}: {s} is not a number of seconds between 0 and a day")))
            }
            _ => Ok(value.map(Duration::from_secs_f64)),
        };
        let memory = self.limits.memory_mib.map(|mib| mib << 20);
        if let Some(memory) = memory.filter(|&m| m > memory_slot || m == 0) {
            return Err(at(format!(
                "limits.memory_mib: {} MiB is more than the sandbox's memory slots hold ({} MiB): raise wasmgate.sandbox.memory_mib",
                memory >> 20,
                memory_slot >> 20
            )));
        }
        Ok(CallPolicy {
            folders: self.folders.clone(),
            env,
            network: network.map(Arc::new),
            deadline: seconds("timeout", self.limits.timeout)?,
            cpu: seconds("cpu_seconds", self.limits.cpu_seconds)?,
            memory,
            output: self.limits.output_bytes,
            view: self.view(),
            grants_more_than_limits: self.folders.is_some() || !self.env.names().is_empty() || self.network.is_some(),
        })
    }

    /// The policy as shown: folders, variable names, hosts, methods and
    /// the secret headers' names, limits; never a value.
    fn view(&self) -> Value {
        let mut view = serde_json::Map::new();
        if let Some(folders) = &self.folders {
            let folders: Vec<Value> = folders
                .iter()
                .map(|f| {
                    let path = if f.path.is_empty() { "." } else { &f.path };
                    json!({ "path": path, "access": if f.access == Access::ReadWrite { "read-write" } else { "read" } })
                })
                .collect();
            view.insert("folders".into(), json!(folders));
        }
        if !self.env.names().is_empty() {
            view.insert("env".into(), json!(self.env.names()));
        }
        if let Some(network) = &self.network {
            let secrets: Vec<Value> = network
                .secrets
                .iter()
                .map(|s| json!({ "host": s.host, "header": s.header.to_ascii_lowercase() }))
                .collect();
            view.insert(
                "network".into(),
                json!({
                    "allow": network.allow,
                    "deny": network.deny,
                    "ports": if network.ports.is_empty() { vec![443] } else { network.ports.clone() },
                    "methods": network.methods.clone().unwrap_or_else(|| vec!["GET".into(), "HEAD".into()]),
                    "secrets": secrets,
                }),
            );
        }
        let limits = serde_json::to_value(LimitsView::from(&self.limits)).expect("limits serialize");
        if limits.as_object().is_some_and(|l| !l.is_empty()) {
            view.insert("limits".into(), limits);
        }
        Value::Object(view)
    }
}

#[derive(serde::Serialize)]
struct LimitsView {
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_mib: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_bytes: Option<usize>,
}

impl From<&ToolLimits> for LimitsView {
    fn from(l: &ToolLimits) -> Self {
        LimitsView {
            timeout: l.timeout,
            cpu_seconds: l.cpu_seconds,
            memory_mib: l.memory_mib,
            output_bytes: l.output_bytes,
        }
    }
}

impl NetworkRule {
    fn resolve(&self) -> Result<NetworkGrant, String> {
        let egress = EgressPolicy { allow: self.allow.clone(), deny: self.deny.clone(), ports: self.ports.clone() };
        let methods = match &self.methods {
            None => Some(vec![http::Method::GET, http::Method::HEAD]),
            Some(methods) if methods.iter().any(|m| m == "*") => None,
            Some(methods) => Some(
                methods
                    .iter()
                    .map(|m| {
                        http::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                            .map_err(|_| format!("network.methods: {m:?} is not an HTTP method"))
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        let secrets = self
            .secrets
            .iter()
            .map(|secret| {
                let name = http::HeaderName::from_bytes(secret.header.as_bytes())
                    .map_err(|_| format!("network.secrets: {:?} is not a header name", secret.header))?;
                let mut value = http::HeaderValue::from_str(&secret.value)
                    .map_err(|_| format!("network.secrets: the value for {} is not a header value", secret.header))?;
                if secret.value.is_empty() {
                    return Err(format!(
                        "network.secrets: the value for {} on {} is empty (is its {{env:...}} variable set?)",
                        secret.header, secret.host
                    ));
                }
                value.set_sensitive(true);
                Ok((secret.host.clone(), name, value))
            })
            .collect::<Result<_, String>>()?;
        Ok(NetworkGrant { egress, methods, secrets })
    }
}

/// The operator's policies, by tool or component name.
#[derive(Debug, Default)]
pub(crate) struct Policies {
    by_name: BTreeMap<String, Arc<CallPolicy>>,
}

impl Policies {
    /// Resolves every policy; the first that does not resolve is the error.
    pub(crate) fn resolve(policies: &BTreeMap<String, ToolPolicy>, memory_slot: usize) -> Result<Self, String> {
        let by_name = policies
            .iter()
            .map(|(name, policy)| Ok((name.clone(), Arc::new(policy.resolve(name, memory_slot)?))))
            .collect::<Result<_, String>>()?;
        Ok(Policies { by_name })
    }

    /// The policy for `tool` of `component`: the tool's own, else its
    /// component's.
    pub(crate) fn of(&self, tool: &str, component: &str) -> Option<&Arc<CallPolicy>> {
        self.by_name.get(tool).or_else(|| self.by_name.get(component))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: Value) -> Result<ToolPolicy, String> {
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    #[test]
    fn folders_stay_within_the_grant() {
        let policy =
            parse(json!({ "folders": ["docs/", "./a/b", { "path": "out", "access": "read-write" }, "."] })).unwrap();
        let folders = policy.folders.unwrap();
        let paths: Vec<(&str, Access)> = folders.iter().map(|f| (f.path.as_str(), f.access)).collect();
        assert_eq!(
            paths,
            [("docs", Access::ReadOnly), ("a/b", Access::ReadOnly), ("out", Access::ReadWrite), ("", Access::ReadOnly)]
        );
        for outside in ["../x", "/etc", "a/../../b", ""] {
            let error = parse(json!({ "folders": [outside] })).unwrap_err();
            assert!(error.contains("within the caller's grant") || error.contains("empty"), "{outside}: {error}");
        }
        assert!(parse(json!({ "folders": [{ "path": "x", "access": "everything" }] })).is_err());
        assert!(parse(json!({ "folders": [{ "path": "x", "mode": "read" }] })).is_err());
    }

    #[test]
    fn a_policy_resolves_what_it_names_and_shows_no_value() {
        let policy = parse(json!({
            "env": { "MODE": "fast" },
            "network": {
                "allow": ["api.example.com"],
                "methods": ["get", "POST"],
                "secrets": [{ "host": "api.example.com", "header": "Authorization", "value": "Bearer s3cret" }]
            },
            "limits": { "timeout": 2.5, "cpu_seconds": 0.5, "memory_mib": 64, "output_bytes": 1000 }
        }))
        .unwrap();
        let resolved = policy.resolve("t", 256 << 20).unwrap();
        assert_eq!(resolved.env, [("MODE".to_string(), "fast".to_string())]);
        assert_eq!(
            (resolved.deadline, resolved.cpu),
            (Some(Duration::from_millis(2500)), Some(Duration::from_millis(500)))
        );
        assert_eq!((resolved.memory, resolved.output), (Some(64 << 20), Some(1000)));
        let network = resolved.network.as_ref().unwrap();
        assert!(network.check_method(&http::Method::POST).is_ok());
        assert!(network.check_method(&http::Method::DELETE).unwrap_err().contains("allows GET, POST"));
        assert_eq!(network.secrets_for("API.example.com.").count(), 1);
        assert_eq!(network.secrets_for("example.com").count(), 0);
        let shown = resolved.view.to_string();
        assert!(!shown.contains("s3cret") && !shown.contains("fast"), "{shown}");
        assert!(shown.contains("\"authorization\"") && shown.contains("MODE"), "{shown}");
        assert!(format!("{policy:?}").find("s3cret").is_none());
    }

    #[test]
    fn what_cannot_be_honoured_is_refused() {
        let refused = |value: Value| parse(value).unwrap().resolve("t", 256 << 20).unwrap_err();
        assert!(refused(json!({ "limits": { "memory_mib": 512 } })).contains("raise wasmgate.sandbox.memory_mib"));
        assert!(refused(json!({ "limits": { "timeout": 0 } })).contains("limits.timeout"));
        assert!(refused(json!({ "limits": { "cpu_seconds": -1 } })).contains("limits.cpu_seconds"));
        assert!(refused(json!({ "env": ["A=B"] })).contains("not a variable name"));
        assert!(refused(json!({ "network": { "allow": ["x"], "methods": ["G ET"] } })).contains("not an HTTP method"));
        let secret = |value: &str| json!({ "network": { "allow": ["x"], "secrets": [{ "host": "x", "header": "a", "value": value }] } });
        assert!(refused(secret("")).contains("is empty"));
        assert!(refused(secret("line\nbreak")).contains("not a header value"));
        assert!(parse(json!({ "network": { "allow": [], "proxy": "x" } })).is_err());
        assert!(parse(json!({ "limits": { "cpu": 1 } })).is_err());
    }
}
