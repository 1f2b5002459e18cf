//! `wasmgate serve`: builds the [`App`] from the command line, the
//! configuration file and the data folder (its database and tenants), then
//! serves the API until Ctrl-C or SIGTERM. A server anyone on the network
//! could use (a non-loopback address, no tenant, no password) is refused.

use crate::app::{App, Credentials, Paths};
use crate::config::Config;
use crate::conversation::recover;
use crate::sandbox::Sandbox;
use crate::store::{SqliteStore, Store, StoreError};
use crate::tenant::{Quotas, TenantError, Tenants};
use crate::workspace::{WorkspaceError, Workspaces};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How long open connections (event streams, running prompts) get to finish
/// after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What `serve` needs beyond the sandbox.
pub struct ServeOptions {
    /// The folder to serve.
    pub directory: PathBuf,
    /// Where to listen.
    pub hostname: String,
    pub port: u16,
    /// The configuration, already loaded.
    pub config: Config,
    /// The configuration file's folder (for `GET /path`).
    pub config_dir: PathBuf,
    /// Overrides the data folder of the config.
    pub data_dir: Option<PathBuf>,
    /// How long a client may take to send a request's head (and an idle
    /// connection is kept).
    pub header_timeout: Duration,
    /// Serve a non-loopback address without any authentication.
    pub insecure_no_auth: bool,
}

/// Why the server could not start (said to the person who started it).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("no data folder: pass --data-dir")]
    NoDataFolder,
    #[error("the database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot serve {directory}: {error}")]
    Workspace { directory: PathBuf, error: WorkspaceError },
    #[error("cannot listen on {address}: {error}")]
    Listen { address: String, error: std::io::Error },
    #[error(
        "refusing to serve {0} without authentication: anyone who reaches it could run the agent and its tools.\n\
         Add a tenant (`wasmgate tenant add NAME --root DIR`, then `opencode attach URL -p TOKEN`), or set \
         OPENCODE_SERVER_PASSWORD; --insecure-no-auth serves it open anyway"
    )]
    Unauthenticated(SocketAddr),
    #[error(transparent)]
    Tenants(#[from] TenantError),
}

/// The data folder: the one named, else the config's, else the user data
/// folder's `wasmgate`.
pub fn data_folder(named: Option<PathBuf>, config: &Config) -> Result<PathBuf, ServeError> {
    named
        .or_else(|| config.wasmgate.data_dir.clone())
        .or_else(|| dirs::data_dir().map(|d| d.join("wasmgate")))
        .ok_or(ServeError::NoDataFolder)
}

/// Serves until a shutdown signal.
pub async fn serve(sandbox: Sandbox, options: ServeOptions) -> Result<(), ServeError> {
    let data = data_folder(options.data_dir, &options.config)?;
    let tenants = Arc::new(Tenants::open(&data, Quotas::default())?);
    // Folders a model can write to: the served ones and the tenants' roots.
    let writable: Vec<PathBuf> = std::iter::once(options.directory.clone())
        .chain(options.config.wasmgate.directories.iter().cloned())
        .chain(tenants.list().iter().filter_map(|t| t.record()).flat_map(|r| r.roots.clone()))
        .collect();
    let admin_token = std::env::var("WASMGATE_ADMIN_TOKEN")
        .ok()
        .or_else(|| options.config.wasmgate.admin_token.as_ref().map(|s| s.0.clone()));
    let database = data.join("wasmgate.db");
    let store = SqliteStore::open(&database)?;
    let (messages, parts) = recover(&store).await?;
    if messages + parts > 0 {
        tracing::warn!(messages, parts, "closed runs a previous process left unfinished");
    }
    let workspaces = Workspaces::new(&options.directory, &options.config.wasmgate.directories)
        .map_err(|error| ServeError::Workspace { directory: options.directory.clone(), error })?;
    let credentials = std::env::var("OPENCODE_SERVER_PASSWORD").ok().filter(|p| !p.is_empty()).map(|password| {
        let username = std::env::var("OPENCODE_SERVER_USERNAME").ok().filter(|u| !u.is_empty());
        Credentials { username: username.unwrap_or_else(|| "opencode".into()), password }
    });
    let app = App::builder(sandbox, Arc::new(store) as Arc<dyn Store>, workspaces, options.config)
        .paths(Paths { home: dirs::home_dir().unwrap_or_default(), data, config: options.config_dir })
        .credentials(credentials)
        .host_names(vec![options.hostname.clone()])
        .tenants(Some(tenants))
        .admin_token(admin_token)
        .build();

    let listening = |error| ServeError::Listen { address: format!("{}:{}", options.hostname, options.port), error };
    let listener = tokio::net::TcpListener::bind((options.hostname.as_str(), options.port)).await.map_err(listening)?;
    let address: SocketAddr = listener.local_addr().map_err(listening)?;
    let open = app.credentials.is_none() && app.tenants.as_ref().is_none_or(|t| !t.hosting());
    if open && !address.ip().is_loopback() {
        if !options.insecure_no_auth {
            return Err(ServeError::Unauthenticated(address));
        }
        eprintln!("warning: --insecure-no-auth: anyone who can reach {address} can use this server");
    }
    tokio::spawn(crate::memory::trim_periodically());
    tokio::spawn(reload_tools_on_hangup(app.sandbox.clone()));
    // A tools folder a model could write to is read at start and on SIGHUP
    // only: followed, a model's write would install a tool.
    match app.sandbox.tools_dir().and_then(|dir| crate::tool_folder::within(dir, &writable)) {
        Some(root) => tracing::warn!(
            root = %root.display(),
            "the tools folder lies inside a served folder: it is not followed while serving (SIGHUP reloads it)"
        ),
        None => crate::tool_folder::watch(app.sandbox.clone()),
    }
    // Models of providers that did not list theirs arrive in the background.
    let discovering = app.clone();
    tokio::spawn(async move { discovering.providers.discover().await });
    println!("wasmgate listening on http://{address}");
    let keyed = app.keyring().is_some_and(|keyring| !keyring.providers(None).is_empty());
    if app.providers.all().is_empty() && !keyed {
        println!(
            "no model provider yet: set OPENAI_API_KEY (or ANTHROPIC_API_KEY, OPENROUTER_API_KEY, ...), add one under \
             \"provider\" in --config, or connect one with /connect in the TUI"
        );
    }
    let auditor = app.auditor.clone();
    let router = crate::api::router(app);
    let server = crate::listen::serve(listener, router, options.header_timeout, shutdown_signal());
    let forced = async {
        shutdown_signal().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        () = server => {}
        () = forced => {}
    }
    // The audit records still gathering in memory.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, auditor.flush()).await;
    Ok(())
}

/// `SIGHUP` reads the tools folder again at once (the folder is also
/// followed as it changes, see `tool_folder::watch`): added, changed and
/// removed components take effect for the next calls; running calls finish
/// on the old ones.
async fn reload_tools_on_hangup(sandbox: Sandbox) {
    #[cfg(unix)]
    {
        let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
        while hangup.recv().await.is_some() {
            // The reload logs what it changed and what failed to load.
            if let Err(error) = sandbox.reload_tools_dir().await {
                tracing::error!("cannot read the tools folder: {error}");
            }
        }
    }
    #[cfg(not(unix))]
    drop(sandbox);
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
