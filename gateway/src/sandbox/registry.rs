//! The tools a sandbox offers: the components loaded, what each may do, and
//! the tools each describes, swapped whole while serving.
//!
//! A [`Registry`] is immutable; the sandbox holds the current one behind a
//! lock and each call takes its own `Arc` of it, so replacing the registry
//! (reloading `--tools-dir`) never disturbs a call in flight: it finishes on
//! the components it started with.
//!
//! Capabilities are granted per component when it is loaded and checked at
//! the call: only the built-in shell may ask for host processes (and only
//! when the operator allows them), only the built-in web fetch may make
//! `wasi:http` requests (where the host's network policy allows); a
//! third-party component can do neither. A
//! third-party component that fails to load (it does not compile, link or
//! describe itself, or names a tool already taken) is reported and left
//! out; the others serve. A component with plain WIT exports instead of the
//! `wasmgate:tools` world offers each exported function (`plain_exports`).

use super::ToolInfo;
use super::bindings::file_tools::FileToolsPre;
use super::bindings::search_tools::SearchToolsPre;
use super::bindings::tool_provider::ToolProviderPre;
use super::bindings::vcs_tools::VcsToolsPre;
use super::plain_exports::PlainExports;
use super::state::CallState;
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;

/// Where a component comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// Compiled into the binary.
    BuiltIn,
    /// Added by the operator (`--tools-dir`, the builder).
    Added,
}

/// What a component may do beyond its grant's workspace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Capabilities {
    /// May run processes (when the sandbox allows them at all).
    pub(super) processes: bool,
    /// May make `wasi:http` requests, where the host's network policy allows.
    pub(super) network: bool,
}

impl Capabilities {
    /// The built-in shell runs processes and the built-in web fetch reaches
    /// the network; nothing else does either.
    pub(super) fn of(name: &str, origin: Origin) -> Self {
        let built_in = origin == Origin::BuiltIn;
        Capabilities { processes: built_in && name == "shell", network: built_in && name == "web" }
    }
}

/// One loaded component.
pub(super) struct Loaded {
    pub(super) name: String,
    pub(super) origin: Origin,
    /// SHA-256 of the component's bytes, in hex: a reload keeps a component
    /// whose file did not change as it is.
    pub(super) digest: String,
    pub(super) capabilities: Capabilities,
    /// How its tools are called.
    pub(super) exports: Exports,
    /// Set when the component also implements the typed `files` interface.
    pub(super) files: Option<FileToolsPre<CallState>>,
    /// Set when the component also implements the typed `search` interface.
    pub(super) search: Option<SearchToolsPre<CallState>>,
    /// Set when the component also implements the typed `vcs` interface.
    pub(super) vcs: Option<VcsToolsPre<CallState>>,
}

/// How a component's tools are called.
pub(super) enum Exports {
    /// Through `wasmgate:tools/tool` (`describe`, `invoke`).
    Tool(ToolProviderPre<CallState>),
    /// Each exported function as a tool (see `plain_exports`).
    Plain(PlainExports),
}

/// A component that could not be loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoadFailure {
    pub component: String,
    pub error: String,
    /// The version loaded before this one still serves (a reload met a
    /// broken or half-written file where a working one was).
    pub previous_serving: bool,
}

/// One loaded component, as `tool list` and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ComponentInfo {
    pub name: String,
    /// `built-in` or `added`.
    pub origin: &'static str,
    /// SHA-256 of its bytes, in hex.
    pub digest: String,
    /// The tools it offers.
    pub tools: Vec<String>,
    /// The operator's policy of each of its tools that has one
    /// (`wasmgate.tools`), as shown: no values of variables or secrets.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub policies: std::collections::BTreeMap<String, serde_json::Value>,
}

/// What a reload of the tools folder changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Reload {
    /// Components new to the folder, now serving.
    pub added: Vec<String>,
    /// Components whose file changed, now serving their new version.
    pub changed: Vec<String>,
    /// Components whose file is gone, no longer serving.
    pub removed: Vec<String>,
    /// Components in the folder that could not be loaded (see
    /// [`LoadFailure::previous_serving`]).
    pub failures: Vec<LoadFailure>,
}

/// The components and tools of one moment.
#[derive(Default)]
pub(super) struct Registry {
    pub(super) components: Vec<Arc<Loaded>>,
    pub(super) tools: Vec<ToolInfo>,
    pub(super) by_name: HashMap<String, usize>,
    pub(super) files: Option<usize>,
    pub(super) search: Option<usize>,
    pub(super) vcs: Option<usize>,
    pub(super) failures: Vec<LoadFailure>,
}

impl Registry {
    /// The component offering `tool`.
    pub(super) fn component_of(&self, tool: &str) -> Option<&Arc<Loaded>> {
        self.by_name.get(tool).map(|&index| &self.components[index])
    }

    /// The component called `name`.
    pub(super) fn component(&self, name: &str) -> Option<&Arc<Loaded>> {
        self.components.iter().find(|c| c.name == name)
    }

    /// The tools `component` offers, as it described them.
    pub(super) fn described(&self, component: &str) -> Vec<ToolInfo> {
        self.tools.iter().filter(|t| t.component == component).cloned().collect()
    }

    /// Every component, with the tools it offers.
    pub(super) fn component_infos(&self) -> Vec<ComponentInfo> {
        self.components
            .iter()
            .map(|c| ComponentInfo {
                name: c.name.clone(),
                origin: match c.origin {
                    Origin::BuiltIn => "built-in",
                    Origin::Added => "added",
                },
                digest: c.digest.clone(),
                tools: self.tools.iter().filter(|t| t.component == c.name).map(|t| t.name.clone()).collect(),
                policies: self
                    .tools
                    .iter()
                    .filter(|t| t.component == c.name)
                    .filter_map(|t| Some((t.name.clone(), t.policy.clone()?)))
                    .collect(),
            })
            .collect()
    }
}

/// The tools of the registry current when asked (it stays valid, whatever
/// is swapped in later).
#[derive(Clone)]
pub struct Tools(pub(super) Arc<Registry>);

impl Deref for Tools {
    type Target = [ToolInfo];

    fn deref(&self) -> &[ToolInfo] {
        &self.0.tools
    }
}

impl serde::Serialize for Tools {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.tools.serialize(serializer)
    }
}

impl std::fmt::Debug for Tools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.tools.fmt(f)
    }
}

impl PartialEq for Tools {
    fn eq(&self, other: &Self) -> bool {
        self.0.tools == other.0.tools
    }
}
