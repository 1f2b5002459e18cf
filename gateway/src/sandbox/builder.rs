//! Loading a sandbox: compile (or load from the cache), link and
//! pre-instantiate every component, then ask each for its tools.

use super::bindings::ToolSpec;
use super::bindings::file_tools::FileToolsPre;
use super::bindings::search_tools::SearchToolsPre;
use super::bindings::tool_provider::{ToolProvider, ToolProviderPre};
use super::call::Call;
use super::state::CallState;
use super::{CallError, CallOptions, CompileCache, Inner, Limits, Loaded, Sandbox, ToolInfo, engine};
use super::{disk_quota, preopen, special_files};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::Semaphore;
use wasmtime::component::{Component, HasSelf, Linker};

/// Configures and loads a [`Sandbox`].
pub struct SandboxBuilder {
    limits: Limits,
    cache: CompileCache,
    /// Built-ins are borrowed from the binary; added components are owned.
    components: Vec<(String, Cow<'static, [u8]>)>,
    host_processes: bool,
}

impl SandboxBuilder {
    /// The built-in tools, default limits, the default cache.
    pub(super) fn with_builtins() -> Self {
        SandboxBuilder {
            limits: Limits::default(),
            cache: CompileCache::default_location(),
            components: crate::builtin::COMPONENTS.iter().map(|&(n, b)| (n.to_string(), Cow::Borrowed(b))).collect(),
            host_processes: false,
        }
    }

    /// The limits every call runs under.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Where compiled components are cached.
    pub fn cache(mut self, cache: CompileCache) -> Self {
        self.cache = cache;
        self
    }

    /// Lets the shell run commands it does not have built in as real host
    /// processes. Only for a trusted single-user host; off by default.
    pub fn host_processes(mut self, allowed: bool) -> Self {
        self.host_processes = allowed;
        self
    }

    /// Adds a component from its bytes.
    pub fn component(mut self, name: impl Into<String>, bytes: Vec<u8>) -> Self {
        self.components.push((name.into(), Cow::Owned(bytes)));
        self
    }

    /// Adds every `*.wasm` component in `dir`, named after its file.
    pub fn tools_dir(mut self, dir: &Path) -> std::io::Result<Self> {
        let mut paths: Vec<_> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        paths.sort();
        for path in paths {
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("component").to_string();
            self.components.push((name, Cow::Owned(std::fs::read(&path)?)));
        }
        Ok(self)
    }

    /// Compiles (or loads), links and describes every component.
    pub async fn build(self) -> Result<Sandbox, CallError> {
        let host = |e: wasmtime::Error| CallError::Host(format!("{e:#}"));
        let (engine, allocation) = engine::build(&self.limits).map_err(host)?;
        engine::start_ticker(&engine);
        let mut linker = Linker::<CallState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(host)?;
        preopen::add_to_linker(&mut linker).map_err(host)?;
        special_files::add_to_linker(&mut linker).map_err(host)?;
        disk_quota::add_to_linker(&mut linker).map_err(host)?;
        ToolProvider::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |state| state).map_err(host)?;

        let mut components = Vec::new();
        for (name, bytes) in &self.components {
            let context = |e: wasmtime::Error| CallError::Host(format!("component {name}: {e:#}"));
            let component: Component = self.cache.load(&engine, bytes).map_err(context)?;
            let pre = linker.instantiate_pre(&component).map_err(context)?;
            let tools = ToolProviderPre::new(pre.clone()).map_err(context)?;
            let files = FileToolsPre::new(pre.clone()).ok();
            let search = SearchToolsPre::new(pre).ok();
            components.push(Loaded { name: name.clone(), tools, files, search });
        }

        let mut sandbox = Sandbox {
            inner: Arc::new(Inner {
                engine,
                allocation,
                files: components.iter().position(|c| c.files.is_some()),
                search: components.iter().position(|c| c.search.is_some()),
                components,
                tools: Vec::new(),
                by_name: HashMap::new(),
                limits: self.limits,
                permits: Arc::new(Semaphore::new(self.limits.concurrency.max(1))),
                host_processes: self.host_processes,
            }),
        };
        let mut tools = Vec::new();
        let mut by_name = HashMap::new();
        for (index, component) in sandbox.inner.components.iter().enumerate() {
            for spec in sandbox.describe(component).await? {
                if let Some(&other) = by_name.get(&spec.name) {
                    let other: &Loaded = &sandbox.inner.components[other];
                    return Err(CallError::Host(format!(
                        "tool {:?} is offered by both {} and {}",
                        spec.name, other.name, component.name
                    )));
                }
                let parameters = serde_json::from_str(&spec.parameters).map_err(|e| {
                    CallError::Host(format!(
                        "component {}: tool {}: parameters are not JSON: {e}",
                        component.name, spec.name
                    ))
                })?;
                by_name.insert(spec.name.clone(), index);
                tools.push(ToolInfo {
                    name: spec.name,
                    description: spec.description,
                    parameters,
                    component: component.name.clone(),
                });
            }
        }
        let inner = Arc::get_mut(&mut sandbox.inner).expect("no other handle exists yet");
        inner.tools = tools;
        inner.by_name = by_name;
        Ok(sandbox)
    }
}

impl Sandbox {
    /// Asks a component for its tools, in a store with no workspace at all.
    async fn describe(&self, component: &Loaded) -> Result<Vec<ToolSpec>, CallError> {
        let mut call = Call::start(&self.inner, "describe", None, CallOptions::default()).await?;
        let outcome = async {
            let instance = component.tools.instantiate_async(&mut call.store).await?;
            instance.wasmgate_tools_tool().call_describe(&mut call.store).await.map(Ok)
        }
        .await;
        call.finish(outcome).map_err(|e| CallError::Host(format!("component {}: describe failed: {e}", component.name)))
    }
}
