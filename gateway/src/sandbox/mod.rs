//! The sandbox: runs tool components in wasmtime, one fresh instance per call.
//!
//! At start every component is compiled (or loaded from the on-disk cache),
//! linked against WASI and the `host` interface, and pre-instantiated; its
//! tools are read with one `describe` call. Each call then gets:
//!
//! - a concurrency permit (calls past [`Limits::concurrency`] wait their turn);
//! - a fresh `Store` whose WASI context preopens exactly one directory, the
//!   [`Grant`]'s workspace, read-only or read-write, and nothing else: no
//!   environment, no network, no other files;
//! - a deadline and a cancellation check driven by the engine's epoch, a
//!   memory guard, and capped output;
//! - a fresh instance from the pre-instantiated component.
//!
//! Whatever the tool does, the call ends in a result or a [`CallError`] and
//! the host goes on: traps, limits and guest errors all become values.

mod bindings;
mod cache;
mod engine;
mod error;
mod grant;
mod limits;
mod state;

pub use bindings::{Content, DirEntry, EntryKind, FileContent};
pub use cache::CompileCache;
pub use engine::Allocation;
pub use error::CallError;
pub use grant::{Access, Grant};
pub use limits::Limits;
pub use state::OutputSink;

use bindings::file_tools::FileToolsPre;
use bindings::tool_provider::{ToolProvider, ToolProviderPre};
use bindings::{CallContext, GuestError};
use limits::MemoryGuard;
use state::{CallState, MAX_RESOURCES, OutputCapReached, OutputMeter};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// A tool as the sandbox offers it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ToolInfo {
    /// The name calls use.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of its arguments.
    pub parameters: serde_json::Value,
    /// The component that provides it.
    pub component: String,
}

/// A successful call's result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ToolOutput {
    /// A short line for the UI.
    pub title: String,
    /// The text the model sees.
    pub output: String,
    /// Structured details for the UI.
    pub metadata: serde_json::Value,
}

/// Cancels a call from outside: the tool sees `is-cancelled` turn true, and
/// the host stops it at the next epoch tick if it does not return by itself.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that has not fired.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fires the token.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Per-call options beyond the tool, its arguments and its grant.
#[derive(Default)]
pub struct CallOptions {
    /// A shorter (or longer) deadline than the sandbox's default.
    pub deadline: Option<Duration>,
    /// Fires to stop the call.
    pub cancel: Option<CancelToken>,
    /// Receives streamed output as the tool produces it.
    pub on_output: Option<OutputSink>,
    /// The OpenCode session, message and tool-call ids, passed to the tool.
    pub session_id: Option<String>,
    /// See [`CallOptions::session_id`].
    pub message_id: Option<String>,
    /// See [`CallOptions::session_id`].
    pub call_id: Option<String>,
}

/// One loaded component.
struct Loaded {
    name: String,
    tools: ToolProviderPre<CallState>,
    /// Set when the component also implements the typed `files` interface.
    files: Option<FileToolsPre<CallState>>,
}

/// Runs tool components. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    allocation: Allocation,
    components: Vec<Loaded>,
    tools: Vec<ToolInfo>,
    by_name: HashMap<String, usize>,
    files: Option<usize>,
    limits: Limits,
    permits: Arc<Semaphore>,
}

/// Configures and loads a [`Sandbox`].
pub struct SandboxBuilder {
    limits: Limits,
    cache: CompileCache,
    components: Vec<(String, Vec<u8>)>,
}

impl Sandbox {
    /// A builder with the built-in tools, default limits and the default cache.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder {
            limits: Limits::default(),
            cache: CompileCache::default_location(),
            components: crate::builtin::COMPONENTS.iter().map(|(n, b)| (n.to_string(), b.to_vec())).collect(),
        }
    }

    /// Every tool, in load order.
    pub fn tools(&self) -> &[ToolInfo] {
        &self.inner.tools
    }

    /// The limits every call runs under.
    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    /// How the engine allocates instances.
    pub fn allocation(&self) -> Allocation {
        self.inner.allocation
    }

    /// Runs `tool` with JSON `arguments` in the workspace `grant` allows.
    pub async fn call(&self, tool: &str, arguments: &str, grant: &Grant) -> Result<ToolOutput, CallError> {
        self.call_with(tool, arguments, grant, CallOptions::default()).await
    }

    /// [`Sandbox::call`] with per-call options.
    pub async fn call_with(
        &self,
        tool: &str,
        arguments: &str,
        grant: &Grant,
        options: CallOptions,
    ) -> Result<ToolOutput, CallError> {
        let index = *self.inner.by_name.get(tool).ok_or_else(|| CallError::UnknownTool(tool.to_string()))?;
        let component = &self.inner.components[index];
        let context = call_context(grant, &options);
        let mut call = self.prepare(tool, Some(grant), options).await?;
        let outcome = async {
            let instance = component.tools.instantiate_async(&mut call.store).await?;
            instance.wasmgate_tools_tool().call_invoke(&mut call.store, tool, arguments, &context).await
        }
        .await;
        let result = call.finish(outcome)?;
        let cap = self.inner.limits.output;
        if result.output.len() > cap || result.metadata.len() > cap {
            return Err(CallError::OutputLimit(cap));
        }
        let metadata = serde_json::from_str(&result.metadata).unwrap_or_else(|_| {
            tracing::warn!(tool, "tool returned metadata that is not JSON; dropped");
            serde_json::Value::Object(Default::default())
        });
        Ok(ToolOutput { title: result.title, output: result.output, metadata })
    }

    /// Lists one directory of the workspace through the file tools.
    pub async fn list_dir(&self, grant: &Grant, path: &str) -> Result<Vec<DirEntry>, CallError> {
        let (files, context) = self.file_tools(grant)?;
        let mut call = self.prepare("list-dir", Some(grant), CallOptions::default()).await?;
        let outcome = async {
            let instance = files.instantiate_async(&mut call.store).await?;
            instance.wasmgate_tools_files().call_list_dir(&mut call.store, path, &context).await
        }
        .await;
        call.finish(outcome)
    }

    /// Reads one file of the workspace whole through the file tools.
    pub async fn read_file(&self, grant: &Grant, path: &str) -> Result<FileContent, CallError> {
        let (files, context) = self.file_tools(grant)?;
        let mut call = self.prepare("read-file", Some(grant), CallOptions::default()).await?;
        let outcome = async {
            let instance = files.instantiate_async(&mut call.store).await?;
            instance.wasmgate_tools_files().call_read_file(&mut call.store, path, &context).await
        }
        .await;
        call.finish(outcome)
    }

    fn file_tools(&self, grant: &Grant) -> Result<(&FileToolsPre<CallState>, CallContext), CallError> {
        let files = self
            .inner
            .files
            .and_then(|i| self.inner.components[i].files.as_ref())
            .ok_or_else(|| CallError::Host("no component implements the files interface".into()))?;
        Ok((files, call_context(grant, &CallOptions::default())))
    }

    /// Sets up one call's store: permit, WASI context, limits, deadline.
    async fn prepare(&self, tool: &str, grant: Option<&Grant>, options: CallOptions) -> Result<Call, CallError> {
        let inner = &self.inner;
        let permit =
            inner.permits.clone().acquire_owned().await.map_err(|_| CallError::Host("sandbox closed".into()))?;
        let cap = inner.limits.output;
        let stdout = MemoryOutputPipe::new(cap);
        let stderr = MemoryOutputPipe::new(cap);
        let mut wasi = WasiCtxBuilder::new();
        // Must precede the preopen: each preopen captures the flag when added.
        wasi.allow_blocking_current_thread(true);
        wasi.stdout(stdout.clone()).stderr(stderr.clone());
        if let Some(grant) = grant {
            let perms = match grant.access() {
                Access::ReadOnly => FsPerms::ReadOnly,
                Access::ReadWrite => FsPerms::ReadWrite,
            };
            wasi.preopened_dir(grant.root(), grant.guest_path(), perms)
                .map_err(|e| CallError::Host(format!("cannot open workspace {}: {e:#}", grant.root().display())))?;
        }
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        let cancelled = options.cancel.map(|c| c.0).unwrap_or_default();
        let state = CallState {
            wasi: wasi.build(),
            table,
            memory: MemoryGuard::new(inner.limits.memory),
            output: OutputMeter::new(cap, options.on_output),
            cancelled,
            tool: tool.to_string(),
        };
        let mut store = Store::new(&inner.engine, state);
        store.limiter(|state| &mut state.memory);
        let deadline = options.deadline.unwrap_or(inner.limits.deadline);
        let started = Instant::now();
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |store| {
            if store.data().cancelled.load(Ordering::Relaxed) {
                Err(wasmtime::Error::new(Interrupted::Cancelled))
            } else if started.elapsed() >= deadline {
                Err(wasmtime::Error::new(Interrupted::Deadline))
            } else {
                // Yield to the executor each tick, so a busy guest never
                // starves the other tasks on its thread (an abort request,
                // the event stream) even on a single-threaded runtime.
                Ok(UpdateDeadline::Yield(1))
            }
        });
        Ok(Call { store, stdout, stderr, cap, deadline, _permit: permit })
    }
}

/// Why the epoch callback stopped a call.
#[derive(Debug)]
enum Interrupted {
    Deadline,
    Cancelled,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Interrupted::Deadline => "deadline passed",
            Interrupted::Cancelled => "call cancelled",
        })
    }
}

impl std::error::Error for Interrupted {}

/// One call in progress: its store and the permit it holds.
struct Call {
    store: Store<CallState>,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
    cap: usize,
    deadline: Duration,
    _permit: OwnedSemaphorePermit,
}

impl Call {
    /// Turns a wasmtime outcome into the call's result, naming the limit a
    /// trap came from when one did.
    fn finish<T>(self, outcome: wasmtime::Result<Result<T, GuestError>>) -> Result<T, CallError> {
        let error = match outcome {
            Ok(result) => return result.map_err(CallError::from),
            Err(error) => error,
        };
        let state = self.store.data();
        if let Some(interrupted) = error.downcast_ref::<Interrupted>() {
            return Err(match interrupted {
                Interrupted::Deadline => CallError::Timeout(self.deadline),
                Interrupted::Cancelled => CallError::Cancelled,
            });
        }
        if state.memory.exceeded {
            return Err(CallError::MemoryLimit(state.memory.cap()));
        }
        if state.output.exceeded
            || error.is::<OutputCapReached>()
            || self.stdout.contents().len() >= self.cap
            || self.stderr.contents().len() >= self.cap
        {
            return Err(CallError::OutputLimit(self.cap));
        }
        let message = format!("{error}");
        Err(CallError::Crashed(message.lines().next().unwrap_or("trap").to_string()))
    }
}

fn call_context(grant: &Grant, options: &CallOptions) -> CallContext {
    CallContext {
        workspace: grant.guest_path().to_string(),
        writable: grant.access() == Access::ReadWrite,
        session_id: options.session_id.clone(),
        message_id: options.message_id.clone(),
        call_id: options.call_id.clone(),
    }
}

impl SandboxBuilder {
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

    /// Adds a component from its bytes.
    pub fn component(mut self, name: impl Into<String>, bytes: Vec<u8>) -> Self {
        self.components.push((name.into(), bytes));
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
            self.components.push((name, std::fs::read(&path)?));
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
        ToolProvider::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |state| state).map_err(host)?;

        let mut components = Vec::new();
        for (name, bytes) in &self.components {
            let context = |e: wasmtime::Error| CallError::Host(format!("component {name}: {e:#}"));
            let component: Component = self.cache.load(&engine, bytes).map_err(context)?;
            let pre = linker.instantiate_pre(&component).map_err(context)?;
            let tools = ToolProviderPre::new(pre.clone()).map_err(context)?;
            let files = FileToolsPre::new(pre).ok();
            components.push(Loaded { name: name.clone(), tools, files });
        }

        let mut sandbox = Sandbox {
            inner: Arc::new(Inner {
                engine,
                allocation,
                files: components.iter().position(|c| c.files.is_some()),
                components,
                tools: Vec::new(),
                by_name: HashMap::new(),
                limits: self.limits,
                permits: Arc::new(Semaphore::new(self.limits.concurrency.max(1))),
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
    async fn describe(&self, component: &Loaded) -> Result<Vec<bindings::ToolSpec>, CallError> {
        let mut call = self.prepare("describe", None, CallOptions::default()).await?;
        let outcome = async {
            let instance = component.tools.instantiate_async(&mut call.store).await?;
            instance.wasmgate_tools_tool().call_describe(&mut call.store).await.map(Ok)
        }
        .await;
        call.finish(outcome).map_err(|e| CallError::Host(format!("component {}: describe failed: {e}", component.name)))
    }
}
