//! Loading a sandbox: compile (or load from the cache), link and
//! pre-instantiate every component, then ask each for its tools. The same
//! loading builds the registry that replaces the current one when the
//! operator's tools are reloaded while serving.

use super::bindings::ToolSpec;
use super::bindings::file_tools::FileToolsPre;
use super::bindings::search_tools::SearchToolsPre;
use super::bindings::tool_provider::{ToolProvider, ToolProviderPre};
use super::bindings::vcs_tools::VcsToolsPre;
use super::call::Call;
use super::policy::{NetworkGrant, Policies};
use super::registry::{Capabilities, Exports, LoadFailure, Loaded, Origin, Registry, Reload};
use super::state::CallState;
use super::{CallError, CallOptions, CompileCache, Inner, Limits, Processes, Sandbox, ToolInfo, engine};
use super::{change_capture, disk_quota, plain_exports, preopen, special_files};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tokio::sync::Semaphore;
use wasmtime::component::{Component, HasSelf, Linker};

/// Configures and loads a [`Sandbox`].
pub struct SandboxBuilder {
    limits: Limits,
    cache: CompileCache,
    /// Built-ins are borrowed from the binary; added components are owned.
    components: Vec<(String, Cow<'static, [u8]>)>,
    /// The folder `--tools-dir` named, read again on reload.
    tools_dir: Option<PathBuf>,
    processes: Processes,
    network: crate::egress::EgressPolicy,
    policies: std::collections::BTreeMap<String, super::ToolPolicy>,
}

impl SandboxBuilder {
    /// The built-in tools, default limits, the default cache.
    pub(super) fn with_builtins() -> Self {
        SandboxBuilder {
            limits: Limits::default(),
            cache: CompileCache::default_location(),
            components: crate::builtin::COMPONENTS.iter().map(|&(n, b)| (n.to_string(), Cow::Borrowed(b))).collect(),
            tools_dir: None,
            processes: Processes::Off,
            network: crate::egress::EgressPolicy::public_web(),
            policies: Default::default(),
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

    /// How the built-in shell runs commands it does not have built in (no
    /// other component ever may): not at all (the default), in a jail, or
    /// as plain host processes on a trusted single-user host.
    pub fn processes(mut self, processes: Processes) -> Self {
        self.processes = processes;
        self
    }

    /// Where the components granted the network (the built-in web fetch)
    /// may connect: by default any public host over HTTP and HTTPS.
    pub fn network(mut self, policy: crate::egress::EgressPolicy) -> Self {
        self.network = policy;
        self
    }

    /// The operator's per-tool policies (`wasmgate.tools`), by tool or
    /// component name.
    pub fn policies(mut self, policies: std::collections::BTreeMap<String, super::ToolPolicy>) -> Self {
        self.policies = policies;
        self
    }

    /// Adds a component from its bytes.
    pub fn component(mut self, name: impl Into<String>, bytes: Vec<u8>) -> Self {
        self.components.push((name.into(), Cow::Owned(bytes)));
        self
    }

    /// Adds every `*.wasm` component in `dir`, named after its file, and
    /// remembers the folder for [`Sandbox::reload_tools_dir`].
    pub fn tools_dir(mut self, dir: &Path) -> std::io::Result<Self> {
        self.components.extend(read_tools_dir(dir)?.into_iter().map(|(name, bytes)| (name, Cow::Owned(bytes))));
        self.tools_dir = Some(dir.to_path_buf());
        Ok(self)
    }

    /// Compiles (or loads), links and describes every component. A built-in
    /// that fails is an error; an added component that fails is reported
    /// ([`Sandbox::load_failures`]) and left out.
    pub async fn build(self) -> Result<Sandbox, CallError> {
        let host = |e: wasmtime::Error| CallError::Host(format!("{e:#}"));
        let policies = Policies::resolve(&self.policies, self.limits.memory).map_err(CallError::Host)?;
        let (engine, allocation) = engine::build(&self.limits).map_err(host)?;
        engine::start_ticker(&engine);
        let mut linker = Linker::<CallState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(host)?;
        preopen::add_to_linker(&mut linker).map_err(host)?;
        special_files::add_to_linker(&mut linker).map_err(host)?;
        disk_quota::add_to_linker(&mut linker).map_err(host)?;
        change_capture::add_to_linker(&mut linker).map_err(host)?;
        ToolProvider::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |state| state).map_err(host)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(host)?;

        let sandbox = Sandbox {
            inner: Arc::new(Inner {
                engine,
                allocation,
                linker,
                cache: self.cache,
                tools_dir: self.tools_dir,
                registry: RwLock::new(Arc::new(Registry::default())),
                limits: self.limits,
                permits: Arc::new(Semaphore::new(self.limits.concurrency.max(1))),
                processes: self.processes,
                network: (!self.network.allow.is_empty()).then(|| Arc::new(NetworkGrant::web(self.network))),
                policies,
                observer: std::sync::OnceLock::new(),
                fair_share: super::fair_share::FairShare::of_this_machine(),
                call_threads: Default::default(),
                reloading: Default::default(),
            }),
        };
        let builtins = crate::builtin::COMPONENTS.len();
        let mut registry = Registry::default();
        for (index, (name, bytes)) in self.components.iter().enumerate() {
            let origin = if index < builtins { Origin::BuiltIn } else { Origin::Added };
            if let Err(error) = sandbox.add(&mut registry, name, bytes, origin).await {
                if origin == Origin::BuiltIn {
                    return Err(CallError::Host(error));
                }
                tracing::error!(component = name, "a tool component was not loaded: {error}");
                registry.failures.push(LoadFailure { component: name.clone(), error, previous_serving: false });
            }
        }
        for name in self.policies.keys() {
            if !registry.tools.iter().any(|t| &t.name == name || &t.component == name) {
                tracing::warn!(name, "wasmgate.tools.{name} names no tool or component loaded now");
            }
        }
        sandbox.install(registry);
        Ok(sandbox)
    }
}

/// The `*.wasm` files of `dir`, by name (the file's without `.wasm`), in
/// name order: what a tools folder holds. Hidden files are left out (`tool
/// add` writes a component under a hidden name first and renames it into
/// place whole), and so are names that are not UTF-8 (a tool's name is
/// text).
pub fn component_files(dir: &Path) -> std::io::Result<Vec<(String, std::path::PathBuf)>> {
    let mut files: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_str()?.strip_suffix(".wasm")?.to_string();
            (!name.starts_with('.') && path.is_file()).then_some((name, path))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The components of a tools folder, read.
fn read_tools_dir(dir: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    component_files(dir)?.into_iter().map(|(name, path)| Ok((name, std::fs::read(&path)?))).collect()
}

/// Refuses what is not a component before a parser explains it in bytes.
pub fn check_header(bytes: &[u8]) -> Result<(), String> {
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 0x0d, 0, 1, 0]) => Ok(()),
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => Err("a core WebAssembly module, not a component: build it for \
             wasm32-wasip2 (or wrap it with `wasm-tools component new`)"
            .into()),
        _ => Err("not a WebAssembly component (it does not start with the \\0asm header)".into()),
    }
}

/// What compiling a component costs (see [`Sandbox::compile_timing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileTiming {
    /// Compiling it from its bytes.
    pub compile: std::time::Duration,
    /// Loading its compiled code back from the cache, as a restart does.
    pub cached: Option<std::time::Duration>,
}

/// SHA-256 of a component's bytes, in hex, as [`ComponentInfo`] shows it.
///
/// [`ComponentInfo`]: super::ComponentInfo
pub fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

impl Sandbox {
    /// The operator's tools folder, when the sandbox has one.
    pub fn tools_dir(&self) -> Option<&Path> {
        self.inner.tools_dir.as_deref()
    }

    /// Reads the tools folder again and swaps its components in: calls
    /// already running finish on the old ones, the next ones see the new
    /// set. The built-ins stay as they are, and so does every component
    /// whose file did not change. A changed component that no longer loads
    /// (broken, or caught half-written) is reported and its previous version
    /// goes on serving; a new one that does not load is reported and left out.
    pub async fn reload_tools_dir(&self) -> std::io::Result<Reload> {
        let Some(dir) = self.inner.tools_dir.clone() else { return Ok(Reload::default()) };
        // One reload at a time (a hangup and the folder's watcher may meet).
        let _one = self.inner.reloading.lock().await;
        let found = read_tools_dir(&dir)?;
        let current = self.registry();
        let mut registry = Registry::default();
        for component in current.components.iter().filter(|c| c.origin == Origin::BuiltIn) {
            register(&mut registry, component.clone(), current.described(&component.name))
                .expect("built-ins never collide");
        }
        let mut reload = Reload::default();
        for (name, bytes) in &found {
            let previous = current.component(name).filter(|c| c.origin == Origin::Added);
            if let Some(previous) = previous.filter(|p| p.digest == digest(bytes)) {
                // Unchanged: kept as it is (unless a name it offers is taken now).
                if let Err(error) = register(&mut registry, previous.clone(), current.described(name)) {
                    registry.failures.push(LoadFailure { component: name.clone(), error, previous_serving: false });
                }
                continue;
            }
            match (self.add(&mut registry, name, bytes, Origin::Added).await, previous) {
                (Ok(()), Some(_)) => reload.changed.push(name.clone()),
                (Ok(()), None) => reload.added.push(name.clone()),
                (Err(error), Some(previous)) => {
                    let kept = register(&mut registry, previous.clone(), current.described(name)).is_ok();
                    registry.failures.push(LoadFailure { component: name.clone(), error, previous_serving: kept });
                }
                (Err(error), None) => {
                    registry.failures.push(LoadFailure { component: name.clone(), error, previous_serving: false })
                }
            }
        }
        reload.removed = current
            .components
            .iter()
            .filter(|c| c.origin == Origin::Added && !found.iter().any(|(name, _)| *name == c.name))
            .map(|c| c.name.clone())
            .collect();
        reload.failures = registry.failures.clone();
        // Failures are said once, when they first appear.
        if reload.failures != current.failures {
            for failure in &reload.failures {
                let kept = if failure.previous_serving { " (its previous version keeps serving)" } else { "" };
                tracing::error!(
                    component = failure.component,
                    "a tool component was not loaded{kept}: {}",
                    failure.error
                );
            }
        }
        self.install(registry);
        if !(reload.added.is_empty() && reload.changed.is_empty() && reload.removed.is_empty()) {
            tracing::info!(
                dir = %dir.display(),
                added = ?reload.added,
                changed = ?reload.changed,
                removed = ?reload.removed,
                "reloaded the tools folder"
            );
        }
        Ok(reload)
    }

    /// Loads a component as `name` beside the current ones (replacing a
    /// component of that name) without installing it, and returns the tools
    /// it would offer, or why it cannot be loaded: compiling, linking,
    /// describing itself, or a tool name another component holds.
    pub async fn check_component(&self, name: &str, bytes: &[u8]) -> Result<Vec<ToolInfo>, String> {
        let current = self.registry();
        let mut registry = Registry::default();
        for component in current.components.iter().filter(|c| c.name != name) {
            register(&mut registry, component.clone(), current.described(&component.name))?;
        }
        self.add(&mut registry, name, bytes, Origin::Added).await?;
        Ok(registry.described(name))
    }

    /// Loads a component on its own (no other component's tool names in
    /// the way) without installing it, and returns the tools it describes.
    pub async fn describe_component(&self, name: &str, bytes: &[u8]) -> Result<Vec<ToolInfo>, String> {
        let mut registry = Registry::default();
        self.add(&mut registry, name, bytes, Origin::Added).await?;
        Ok(registry.described(name))
    }

    /// How long `bytes` takes to compile on this sandbox's engine, and to
    /// load back from the compile cache (after storing it there), if the
    /// sandbox has one.
    pub fn compile_timing(&self, bytes: &[u8]) -> Result<CompileTiming, String> {
        let started = std::time::Instant::now();
        Component::new(&self.inner.engine, bytes).map_err(|e| format!("{e:#}"))?;
        let compile = started.elapsed();
        let digest = digest(bytes);
        let cached = self.inner.cache.is_enabled().then(|| {
            let _ = self.inner.cache.load(&self.inner.engine, bytes, &digest);
            let started = std::time::Instant::now();
            self.inner.cache.load(&self.inner.engine, bytes, &digest).ok().map(|_| started.elapsed())
        });
        Ok(CompileTiming { compile, cached: cached.flatten() })
    }

    /// Makes `registry` the one new calls use.
    fn install(&self, registry: Registry) {
        *self.inner.registry.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(registry);
    }

    /// Compiles, links and describes one component into `registry`.
    async fn add(&self, registry: &mut Registry, name: &str, bytes: &[u8], origin: Origin) -> Result<(), String> {
        let context = |e: wasmtime::Error| format!("component {name}: {e:#}");
        check_header(bytes).map_err(|e| format!("component {name}: {e}"))?;
        let digest = digest(bytes);
        let component: Component = self.inner.cache.load(&self.inner.engine, bytes, &digest).map_err(context)?;
        let pre = self.inner.linker.instantiate_pre(&component).map_err(context)?;
        let (exports, plain_tools) = match ToolProviderPre::new(pre.clone()) {
            Ok(tools) => (Exports::Tool(tools), None),
            // Written for another host: its exported functions are the tools.
            Err(_) if origin == Origin::Added => {
                let (functions, tools) =
                    plain_exports::describe(&self.inner.engine, &component, bytes, pre.clone(), name)?;
                (Exports::Plain(functions), Some(tools))
            }
            Err(error) => return Err(context(error)),
        };
        let files = FileToolsPre::new(pre.clone()).ok();
        let search = SearchToolsPre::new(pre.clone()).ok();
        let vcs = VcsToolsPre::new(pre).ok();
        let capabilities = Capabilities::of(name, origin);
        let loaded =
            Arc::new(Loaded { name: name.to_string(), origin, digest, capabilities, exports, files, search, vcs });
        let mut described = match plain_tools {
            Some(tools) => tools,
            None => self.described_by(&loaded).await?,
        };
        for tool in &mut described {
            let policy = self.inner.policies.of(&tool.name, name);
            if origin == Origin::BuiltIn && policy.is_some_and(|p| p.grants_more_than_limits) {
                return Err(format!(
                    "wasmgate.tools: {} is built in: its capabilities are fixed, so its policy may set its limits only",
                    tool.name
                ));
            }
            tool.policy = policy.map(|p| p.view.clone());
        }
        register(registry, loaded, described)
    }

    /// The tools a `wasmgate:tools` component describes.
    async fn described_by(&self, loaded: &Loaded) -> Result<Vec<ToolInfo>, String> {
        let mut described = Vec::new();
        for spec in self.describe(loaded).await.map_err(|e| e.to_string())? {
            let parameters = serde_json::from_str(&spec.parameters)
                .map_err(|e| format!("component {}: tool {}: parameters are not JSON: {e}", loaded.name, spec.name))?;
            described.push(ToolInfo {
                name: spec.name,
                description: spec.description,
                parameters,
                component: loaded.name.clone(),
                policy: None,
            });
        }
        Ok(described)
    }

    /// Asks a component for its tools, in a store with no workspace at all.
    async fn describe(&self, component: &Loaded) -> Result<Vec<ToolSpec>, CallError> {
        let Exports::Tool(tools) = &component.exports else { return Ok(Vec::new()) };
        let mut call =
            Call::start(&self.inner, "describe", None, CallOptions::default(), Default::default(), None).await?;
        let outcome = call
            .watchdog()
            .bound(async {
                let instance = tools.instantiate_async(&mut call.store).await?;
                instance.wasmgate_tools_tool().call_describe(&mut call.store).await.map(Ok)
            })
            .await;
        call.finish(outcome).map_err(|e| CallError::Host(format!("component {}: describe failed: {e}", component.name)))
    }
}

/// Adds a described component to `registry`, unless one of its tools'
/// names is taken (the first to claim a name keeps it: built-ins come first).
fn register(registry: &mut Registry, loaded: Arc<Loaded>, described: Vec<ToolInfo>) -> Result<(), String> {
    if let Some(taken) = described.iter().find(|t| registry.by_name.contains_key(&t.name)) {
        let owner = &registry.components[registry.by_name[&taken.name]].name;
        return Err(format!("tool {:?} of {} is already offered by {owner}", taken.name, loaded.name));
    }
    let index = registry.components.len();
    if loaded.files.is_some() && registry.files.is_none() {
        registry.files = Some(index);
    }
    if loaded.search.is_some() && registry.search.is_none() {
        registry.search = Some(index);
    }
    if loaded.vcs.is_some() && registry.vcs.is_none() {
        registry.vcs = Some(index);
    }
    for tool in described {
        registry.by_name.insert(tool.name.clone(), index);
        registry.tools.push(tool);
    }
    registry.components.push(loaded);
    Ok(())
}
