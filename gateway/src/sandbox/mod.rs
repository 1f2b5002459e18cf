//! The sandbox: runs tool components in wasmtime, one fresh instance per call.
//!
//! At start every component is compiled (or loaded from the on-disk cache),
//! linked against WASI and wasmgate's own imports (`host`, `bulk-fs`,
//! `host-process`), and pre-instantiated; its tools are read with one
//! `describe` call (or, for a component with plain WIT exports, from its
//! exported functions' types: `plain_exports`). Each call then gets:
//!
//! - a concurrency permit (calls past [`Limits::concurrency`] wait their turn),
//!   after one of its tenant's permits when the grant carries a [`Quota`];
//! - a fresh `Store` whose WASI context preopens exactly one directory, the
//!   [`Grant`]'s workspace handle (never its path, see `preopen`), read-only
//!   or read-write, and nothing else: no environment, no network, no other
//!   files (`bulk-fs` reads through the same handle; `host-process` answers
//!   `disabled` unless the host allows it; `wasi:http` refuses every request
//!   but the web fetch's, which the host's network policy checks, see
//!   `outgoing_http`); WASI's `open-at` refuses FIFOs,
//!   sockets and devices (`special_files`) and file writes are metered
//!   (`disk_quota`); a call given a [`ChangeSink`] tells it what each path
//!   held before changing it (`change_capture`);
//! - a deadline and a cancellation check driven by the engine's epoch, a
//!   memory guard, capped output and a budget of bytes written to files;
//! - what the operator's policy for the tool adds or narrows (`policy`:
//!   some of the grant's folders only, environment variables, hosts it may
//!   reach through `wasi:http` with headers the host adds, its own limits
//!   including CPU time);
//! - a fresh instance from the pre-instantiated component.
//!
//! Whatever the tool does, the call ends in a result or a [`CallError`] and
//! the host goes on: traps, limits and guest errors all become values.

mod bindings;
mod builder;
mod bulk_fs;
mod cache;
mod call;
mod call_threads;
mod change_capture;
mod disk_quota;
mod disk_usage;
mod engine;
mod error;
mod fair_share;
mod grant;
mod host_process;
mod limits;
mod outgoing_http;
mod plain_exports;
mod policy;
mod preopen;
mod process_changes;
mod quota;
mod registry;
mod restore;
mod special_files;
mod state;

pub use bindings::{
    ChangeKind, Content, DiffBase, DiffQuery, DirEntry, EntryKind, FileChange, FileContent, PathKind, PathQuery,
    Submatch, TextMatch, TextQuery,
};
pub use builder::{
    CompileTiming, SandboxBuilder, check_header as check_component_header, component_files, digest as component_digest,
};
pub(crate) use bulk_fs::{Follow, read_regular};
pub use cache::CompileCache;
pub use change_capture::{ChangeSink, Prior};
pub use engine::Allocation;
pub use error::CallError;
pub use grant::{Access, Grant};
pub use host_process::Processes;
pub(crate) use host_process::Runner;
pub use limits::Limits;
pub use policy::{EnvRule, FolderRule, NetworkRule, SecretHeader, ToolLimits, ToolPolicy};
pub use quota::{CPU_WINDOW, Quota, QuotaExceeded, QuotaLimits};
pub use registry::{ComponentInfo, LoadFailure, Reload, Tools};
pub use restore::{NotRestored, Restore, read_current, restore};
pub use state::OutputSink;

use bindings::CallContext;
use call::Call;
use registry::{Exports, Loaded, Registry};
use state::CallState;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::Linker;

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
    /// The operator's policy for it (`wasmgate.tools.<name>`), as shown:
    /// no values of variables or secrets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<serde_json::Value>,
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
/// Async code waiting on other things (a model stream, a permission reply)
/// can await [`CancelToken::cancelled`] beside them.
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    fired: Arc<AtomicBool>,
    notify: Arc<tokio::sync::Notify>,
}

impl CancelToken {
    /// A token that has not fired.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fires the token.
    pub fn cancel(&self) {
        self.fired.store(true, Ordering::Relaxed);
        self.notify.notify_waiters();
    }

    /// Whether the token has fired.
    pub fn is_cancelled(&self) -> bool {
        self.fired.load(Ordering::Relaxed)
    }

    /// Resolves once the token fires (at once if it has).
    pub async fn cancelled(&self) {
        loop {
            // Registered before the check, so a cancel in between still wakes it.
            let notified = self.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// What the sandbox tells its [`CallObserver`] about each tool call.
#[derive(Debug)]
pub struct CallReport<'a> {
    pub tool: &'a str,
    pub grant: &'a Grant,
    pub session_id: Option<&'a str>,
    pub arguments: &'a str,
    /// Bytes of output, or why the call failed.
    pub outcome: Result<usize, &'a CallError>,
    /// When the call was asked for (ms since the epoch).
    pub started: i64,
    pub duration: Duration,
}

/// Hears of every tool call (the audit log).
pub trait CallObserver: Send + Sync {
    fn observe(&self, report: CallReport<'_>);
}

/// Per-call options beyond the tool, its arguments and its grant.
#[derive(Default)]
pub struct CallOptions {
    /// A shorter deadline than the sandbox's limit (a longer one is cut to
    /// the limit).
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
    /// Told what each path held before the call first changed it (undo).
    pub changes: Option<Arc<dyn ChangeSink>>,
}

/// Runs tool components. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    allocation: Allocation,
    /// WASI and wasmgate's imports, for components loaded later too.
    linker: Linker<CallState>,
    cache: CompileCache,
    /// The operator's tools folder, read again by a reload.
    tools_dir: Option<PathBuf>,
    /// The components and tools new calls use (see `registry`).
    registry: RwLock<Arc<Registry>>,
    limits: Limits,
    permits: Arc<Semaphore>,
    /// How the built-in shell runs what it does not have built in.
    processes: Processes,
    /// Where the built-in web fetch may connect.
    network: Option<Arc<policy::NetworkGrant>>,
    /// The operator's per-tool policies.
    policies: policy::Policies,
    /// Told of every tool call, once set.
    observer: std::sync::OnceLock<Arc<dyn CallObserver>>,
    /// The threads tenants' calls share (see `fair_share`).
    fair_share: fair_share::FairShare,
    /// Where calls run (see `call_threads`).
    call_threads: call_threads::CallThreads,
    /// Held while the tools folder is read again.
    reloading: tokio::sync::Mutex<()>,
}

impl Inner {
    /// Runs a started call's `work`: on this thread, or on the call threads
    /// while other tenants' calls share the machine (see `call_threads`).
    async fn execute<T: Send + 'static>(
        &self,
        shared: bool,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, CallError> {
        match shared {
            true => self.call_threads.run(work).await.map_err(CallError::Host),
            false => Ok(work.await),
        }
    }
}

/// One call of a typed interface function: a fresh instance of `pre` under
/// `grant`, then `interface().function(store, argument, context)`. (A macro,
/// because an async closure cannot borrow the call's store across awaits.)
macro_rules! typed_call {
    ($sandbox:expr, $grant:expr, $name:literal, $pre:expr, $interface:ident, $function:ident, $argument:expr) => {
        typed_call!($sandbox, $grant, $name, $pre, $interface, $function, $argument, |a| &a)
    };
    // `pass` says how the owned argument is handed to the export: by
    // reference, or by value for a record bindgen makes `Copy`.
    ($sandbox:expr, $grant:expr, $name:literal, $pre:expr, $interface:ident, $function:ident, $argument:expr, |$a:ident| $pass:expr) => {{
        let context = call_context($grant, &CallOptions::default());
        let mut call =
            Call::start(&$sandbox.inner, $name, Some($grant), CallOptions::default(), Default::default(), None).await?;
        let (pre, argument, shared) = ($pre.clone(), $argument.to_owned(), call.shared());
        let watchdog = call.watchdog();
        let work = async move {
            let outcome = watchdog
                .bound(async {
                    let instance = pre.instantiate_async(&mut call.store).await?;
                    let $a = argument;
                    instance.$interface().$function(&mut call.store, $pass, &context).await
                })
                .await;
            call.finish(outcome)
        };
        $sandbox.inner.execute(shared, work).await?
    }};
}

impl Sandbox {
    /// A builder with the built-in tools, default limits and the default cache.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::with_builtins()
    }

    /// Every tool, in load order.
    pub fn tools(&self) -> Tools {
        Tools(self.registry())
    }

    /// The added components that could not be loaded, and why.
    pub fn load_failures(&self) -> Vec<LoadFailure> {
        self.registry().failures.clone()
    }

    /// Every loaded component, built-in first, with the tools it offers.
    pub fn components(&self) -> Vec<ComponentInfo> {
        self.registry().component_infos()
    }

    /// The registry new calls use now.
    fn registry(&self) -> Arc<Registry> {
        self.inner.registry.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The limits every call runs under.
    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    /// How the engine allocates instances.
    pub fn allocation(&self) -> Allocation {
        self.inner.allocation
    }

    /// How the shell runs commands it does not have built in.
    pub fn processes(&self) -> crate::jail::ProcessMode {
        self.inner.processes.mode()
    }

    /// How the shell runs commands it does not have built in, for others
    /// that run programs under the same rules (local MCP servers).
    pub fn process_runner(&self) -> Processes {
        self.inner.processes.clone()
    }

    /// How the shell runs them for calls under `grant`: a tenant's grant
    /// may allow less than the sandbox does.
    pub fn processes_for(&self, grant: &Grant) -> crate::jail::ProcessMode {
        self.inner.processes.for_grant(grant).map_or(crate::jail::ProcessMode::Off, |runner| runner.mode())
    }

    /// Tells `observer` of every tool call from now on (once; later calls
    /// of this are ignored).
    pub fn observe_calls(&self, observer: Arc<dyn CallObserver>) {
        let _ = self.inner.observer.set(observer);
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
        let Some(observer) = self.inner.observer.get() else {
            return self.run_tool(tool, arguments, grant, options).await;
        };
        let (started, clock) = (crate::ids::now_millis(), std::time::Instant::now());
        let session_id = options.session_id.clone();
        let result = self.run_tool(tool, arguments, grant, options).await;
        observer.observe(CallReport {
            tool,
            grant,
            session_id: session_id.as_deref(),
            arguments,
            outcome: result.as_ref().map(|o| o.output.len()),
            started,
            duration: clock.elapsed(),
        });
        result
    }

    async fn run_tool(
        &self,
        tool: &str,
        arguments: &str,
        grant: &Grant,
        options: CallOptions,
    ) -> Result<ToolOutput, CallError> {
        // The component stays alive for this call whatever is swapped in meanwhile.
        let component = self.registry().component_of(tool).cloned();
        let component = component.ok_or_else(|| CallError::UnknownTool(tool.to_string()))?;
        let context = call_context(grant, &options);
        let policy = self.inner.policies.of(tool, &component.name).cloned();
        let mut call =
            Call::start(&self.inner, tool, Some(grant), options, component.capabilities, policy.as_deref()).await?;
        let cap = call.output_cap();
        let (name, arguments, shared) = (tool.to_string(), arguments.to_string(), call.shared());
        let watchdog = call.watchdog();
        let work = async move {
            let outcome = watchdog
                .bound(async {
                    match &component.exports {
                        Exports::Tool(tools) => {
                            let instance = tools.instantiate_async(&mut call.store).await?;
                            let tool = instance.wasmgate_tools_tool();
                            tool.call_invoke(&mut call.store, &name, &arguments, &context).await
                        }
                        Exports::Plain(functions) => functions.invoke(&mut call.store, &name, &arguments).await,
                    }
                })
                .await;
            let refusal = call.disk_refusal();
            (call.finish(outcome), refusal)
        };
        let (result, refusal) = self.inner.execute(shared, work).await?;
        let mut result = result?;
        // A tool that went on after a refused write (a shell script) says
        // so in its own words; the caller also learns which limit it met.
        if let Some(refusal) = refusal {
            result.output = format!("{}\n\n(wasmgate: {})", result.output.trim_end(), refusal.message());
        }
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
        let component = self.typed(|r| r.files, "files")?;
        let files = component.files.as_ref().expect("the registry says it has them");
        typed_call!(self, grant, "list-dir", files, wasmgate_tools_files, call_list_dir, path)
    }

    /// Reads one file of the workspace whole through the file tools.
    pub async fn read_file(&self, grant: &Grant, path: &str) -> Result<FileContent, CallError> {
        let component = self.typed(|r| r.files, "files")?;
        let files = component.files.as_ref().expect("the registry says it has them");
        typed_call!(self, grant, "read-file", files, wasmgate_tools_files, call_read_file, path)
    }

    /// Searches file contents in the workspace through the search tools.
    pub async fn find_text(&self, grant: &Grant, query: &TextQuery) -> Result<Vec<TextMatch>, CallError> {
        let component = self.typed(|r| r.search, "search")?;
        let search = component.search.as_ref().expect("the registry says it has them");
        typed_call!(self, grant, "find-text", search, wasmgate_tools_search, call_find_text, query)
    }

    /// Ranks the workspace's paths for a query through the search tools.
    pub async fn find_paths(&self, grant: &Grant, query: &PathQuery) -> Result<Vec<String>, CallError> {
        let component = self.typed(|r| r.search, "search")?;
        let search = component.search.as_ref().expect("the registry says it has them");
        typed_call!(self, grant, "find-paths", search, wasmgate_tools_search, call_find_paths, query)
    }

    /// How the workspace's working tree differs from git's history, through
    /// the version-control view (reading `.git` beneath the grant).
    pub async fn vcs_diff(&self, grant: &Grant, query: &DiffQuery) -> Result<Vec<FileChange>, CallError> {
        let component = self.typed(|r| r.vcs, "vcs")?;
        let vcs = component.vcs.as_ref().expect("the registry says it has them");
        typed_call!(self, grant, "vcs-diff", vcs, wasmgate_tools_vcs, call_diff, query, |a| a)
    }

    /// The component that implements a typed interface.
    fn typed(&self, index: impl Fn(&Registry) -> Option<usize>, interface: &str) -> Result<Arc<Loaded>, CallError> {
        let registry = self.registry();
        index(&registry)
            .map(|i| registry.components[i].clone())
            .ok_or_else(|| CallError::Host(format!("no component implements the {interface} interface")))
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
