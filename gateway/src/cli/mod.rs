//! The command line: `wasmgate serve`, `wasmgate mcp`, `wasmgate tool ...`
//! (in `tool`), `wasmgate tenant ...` and `wasmgate audit`, and the
//! sandbox every command that runs tools builds the same way.
//!
//! A command that fails prints its reason and exits 1; a usage error (bad
//! flags, arguments that are not a JSON object) exits 2.

use crate::config::{Config, ConfigError, JailConfig, WasmgateConfig};
use crate::jail::{Jail, JailSettings, ProcessMode};
use crate::sandbox::{Access, CallError, CompileCache, Grant, Limits, Processes, Sandbox};
use crate::serve::{ServeError, ServeOptions};
use crate::store::{AuditQuery, AuditRecord, SqliteStore, Store};
use crate::tenant::{QuotaSettings, Quotas, TenantError, Tenants};
use crate::tool_folder::ToolFolder;
use clap::{Args, Parser, Subcommand};

mod tool;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// wasmgate: an OpenCode-compatible server whose tools run as sandboxed
/// WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "wasmgate", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    sandbox: SandboxArgs,
}

/// Options for the sandbox every command runs tools in.
#[derive(Debug, Args)]
struct SandboxArgs {
    /// Also load every `*.wasm` tool component in this folder.
    #[arg(long, global = true, value_name = "DIR")]
    tools_dir: Option<PathBuf>,
    /// Where compiled components are cached [default: the user cache folder].
    #[arg(long, global = true, value_name = "DIR", env = "WASMGATE_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile every component at start instead of using the cache.
    #[arg(long, global = true)]
    no_cache: bool,
    /// Seconds one call may run before it is stopped.
    #[arg(long, global = true, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// MiB of memory one call may use.
    #[arg(long, global = true, value_name = "MIB")]
    memory: Option<usize>,
    /// Bytes of output one call may produce.
    #[arg(long, global = true, value_name = "BYTES")]
    output_limit: Option<usize>,
    /// Bytes one call may write to files.
    #[arg(long, global = true, value_name = "BYTES")]
    disk_write_limit: Option<u64>,
    /// How the shell runs commands it does not have built in: not at all
    /// (off), as jailed processes that reach only the workspace, the
    /// system's programs and the configured toolchains (jailed), or as plain
    /// host processes (trusted: one trusted user's machine only)
    /// [default: off, or the config's `wasmgate.sandbox.processes`].
    #[arg(long, global = true, value_name = "MODE")]
    processes: Option<ProcessMode>,
    /// The old spelling of `--processes trusted`.
    #[arg(long, global = true, conflicts_with = "processes")]
    allow_host_processes: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a folder over OpenCode's HTTP API (`opencode attach URL` works).
    Serve(ServeArgs),
    /// Inspect and run tools.
    Tool(tool::ToolArgs),
    /// Serve the sandboxed tools to an MCP client on stdin and stdout (as
    /// `serve` does over HTTP at `/wasmgate/mcp`).
    Mcp(McpArgs),
    /// Manage the tenants a server hosts (each with its own folders, token
    /// and quotas). Once one exists, every request needs a token.
    Tenant(Box<TenantArgs>),
    /// Read the audit log: requests, tool calls, refused credentials and
    /// admin actions, oldest first.
    Audit(AuditArgs),
}

#[derive(Debug, Args)]
struct AuditArgs {
    /// Only this tenant's records.
    #[arg(long, value_name = "NAME")]
    tenant: Option<String>,
    /// Only records this recent: a duration ago (`90s`, `15m`, `2h`, `7d`)
    /// or milliseconds since the epoch.
    #[arg(long, value_name = "WHEN", value_parser = parse_since)]
    since: Option<i64>,
    /// At most the newest N records.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    limit: usize,
    /// Print JSON (one array) instead of lines.
    #[arg(long)]
    json: bool,
    /// The server's data folder [default: the config's, else the user data folder].
    #[arg(long, value_name = "DIR", env = "WASMGATE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The server's configuration file (for its data folder).
    #[arg(long, value_name = "FILE", env = "WASMGATE_CONFIG")]
    config: Option<PathBuf>,
}

/// `--since`: a duration ago, or milliseconds since the epoch.
fn parse_since(text: &str) -> Result<i64, String> {
    if let Ok(millis) = text.parse::<i64>() {
        return Ok(millis);
    }
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or("a number with a unit: 90s, 15m, 2h, 7d")?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| format!("{text:?}: not a duration like 15m"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit is s, m, h or d")),
    };
    Ok(crate::ids::now_millis() - number.saturating_mul(seconds * 1000))
}

#[derive(Debug, Args)]
struct TenantArgs {
    #[command(subcommand)]
    command: TenantCommand,
    /// The server's data folder, where the tenants are kept [default: the
    /// config's, else the user data folder].
    #[arg(long, global = true, value_name = "DIR", env = "WASMGATE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The server's configuration file (for its data folder).
    #[arg(long, global = true, value_name = "FILE", env = "WASMGATE_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Add a tenant; its token is printed once, alone on the last line.
    Add {
        name: String,
        /// A folder the tenant may open (repeat for more; the first is its
        /// default).
        #[arg(long = "root", value_name = "DIR", required = true)]
        roots: Vec<PathBuf>,
        #[command(flatten)]
        quotas: QuotaSettings,
    },
    /// List the tenants with their folders and quotas.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove a tenant: its token stops working at once.
    Remove { name: String },
    /// Give a tenant a new token (printed); the old one stops working at once.
    Rotate { name: String },
    /// Change a tenant's quotas (the others stay as they are).
    Set {
        name: String,
        #[command(flatten)]
        quotas: QuotaSettings,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// The folder to serve [default: the current folder].
    directory: Option<PathBuf>,
    /// The port to listen on (0: any free port).
    #[arg(long, default_value_t = 4096)]
    port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    hostname: String,
    /// A configuration file: opencode.json's format plus a "wasmgate" key.
    #[arg(long, value_name = "FILE", env = "WASMGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Where the database lives [default: the user data folder].
    #[arg(long, value_name = "DIR", env = "WASMGATE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Seconds a client may take to send a request's head; an idle
    /// connection is closed after as long.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::listen::DEFAULT_HEADER_TIMEOUT.as_secs_f64())]
    header_timeout: f64,
    /// Serve a non-loopback address even with neither tenants nor a
    /// password: anyone who reaches it can run the agent and its tools.
    #[arg(long)]
    insecure_no_auth: bool,
}

/// `wasmgate mcp`.
#[derive(Debug, Args)]
struct McpArgs {
    /// The workspace the tools may reach.
    #[arg(long, default_value = ".", value_name = "DIR")]
    root: PathBuf,
    /// Grant the workspace read-only: writes, renames and deletes fail.
    #[arg(long)]
    read_only: bool,
    /// A configuration file, for its `wasmgate.sandbox` settings.
    #[arg(long, value_name = "FILE", env = "WASMGATE_CONFIG")]
    config: Option<PathBuf>,
    /// The data folder, whose `tools` folder holds the installed tools
    /// [default: the config's, else the user data folder].
    #[arg(long, value_name = "DIR", env = "WASMGATE_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

/// Parses the process's arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    // The server uses every core; a single tool call needs one thread.
    let runtime = match &cli.command {
        Command::Serve(_) | Command::Mcp(_) => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
        Command::Tool(_) | Command::Tenant(_) | Command::Audit(_) => {
            tokio::runtime::Builder::new_current_thread().enable_all().build()
        }
    };
    match runtime {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(error) => fail(format!("cannot start the runtime: {error}")),
    }
}

async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => match serve(args, &cli.sandbox).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(error.to_string()),
        },
        Command::Tenant(args) => tenant(*args).await,
        Command::Mcp(args) => mcp(args, &cli.sandbox).await,
        Command::Audit(args) => audit(args).await,
        Command::Tool(args) => tool::run(args, &cli.sandbox).await,
    }
}

/// `wasmgate mcp`: serves until the client closes stdin.
async fn mcp(args: McpArgs, sandbox_args: &SandboxArgs) -> ExitCode {
    let sandbox = async {
        let config = args.config.as_deref().map(Config::load).transpose()?.unwrap_or_default();
        let tools = tools_to_load(sandbox_args, &config, args.data_dir.clone())?;
        load(sandbox_args, &config.wasmgate, tools.as_deref()).await
    };
    let sandbox = match sandbox.await {
        Ok(sandbox) => sandbox,
        Err(error) => return fail(error.to_string()),
    };
    let access = if args.read_only { Access::ReadOnly } else { Access::ReadWrite };
    let grant = match Grant::new(&args.root, access) {
        Ok(grant) => grant,
        Err(error) => return usage(format!("--root: {error}")),
    };
    match crate::mcp::server::serve_stdio(crate::mcp::server::ToolServer::with_grant(sandbox, grant)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(message),
    }
}

/// `wasmgate tenant ...`.
async fn tenant(args: TenantArgs) -> ExitCode {
    let (tenants, data) = match open_tenants(&args) {
        Ok(opened) => opened,
        Err(error) => return fail(error.to_string()),
    };
    let action = match &args.command {
        TenantCommand::Add { name, .. } => Some(format!("tenant add {name}")),
        TenantCommand::Remove { name } => Some(format!("tenant remove {name}")),
        TenantCommand::Rotate { name } => Some(format!("tenant rotate {name}")),
        TenantCommand::Set { name, .. } => Some(format!("tenant set {name}")),
        TenantCommand::List { .. } => None,
    };
    let started = crate::ids::now_millis();
    let result = match args.command {
        TenantCommand::Add { name, roots, quotas } => tenants.add(&name, &roots, quotas).map(|token| {
            let tenant = tenants.get(&name).expect("just added");
            let roots = tenant.record().map(|r| r.roots.clone()).unwrap_or_default();
            let roots: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
            format!("tenant {name} added with {}; its token (shown only now):\n{token}\n", roots.join(", "))
        }),
        TenantCommand::List { json } => Ok(tenant_list(&tenants, json)),
        TenantCommand::Remove { name } => tenants.remove(&name).map(|()| format!("tenant {name} removed\n")),
        TenantCommand::Rotate { name } => tenants
            .rotate(&name)
            .map(|token| format!("tenant {name} has a new token; the old one no longer works:\n{token}\n")),
        TenantCommand::Set { name, quotas } => tenants.set(&name, &quotas).map(|()| {
            let tenant = tenants.get(&name).expect("just set");
            format!("tenant {name}: {}\n", serde_json::to_string(&tenant.quotas()).expect("quotas serialize"))
        }),
    };
    if let Some(action) = action {
        let outcome = match &result {
            Ok(_) => "ok".to_string(),
            Err(error) => error.to_string(),
        };
        let record = AuditRecord {
            time: started,
            kind: "admin".into(),
            remote: Some("cli".into()),
            action,
            outcome,
            ..Default::default()
        };
        // The change is made; a log that cannot be written is said, not fatal.
        let written = match SqliteStore::open(&data.join("wasmgate.db")) {
            Ok(store) => store.append_audit(vec![record]).await.map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = written {
            eprintln!("wasmgate: the audit log could not be written: {error}");
        }
    }
    match result {
        Ok(text) => print(text),
        Err(TenantError::Invalid(message)) => usage(message),
        Err(error) => fail(error.to_string()),
    }
}

/// `wasmgate audit`.
async fn audit(args: AuditArgs) -> ExitCode {
    let records = async {
        let config = match &args.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        let data = crate::serve::data_folder(args.data_dir.clone(), &config)?;
        let store = SqliteStore::open(&data.join("wasmgate.db")).map_err(ServeError::from)?;
        let query = AuditQuery { tenant: args.tenant.clone(), since: args.since, limit: Some(args.limit) };
        store.audit(&query).await.map_err(|e| CliError::from(ServeError::from(e)))
    };
    let records = match records.await {
        Ok(records) => records,
        Err(error) => return fail(error.to_string()),
    };
    if args.json {
        return print(serde_json::to_string_pretty(&records).expect("records serialize") + "\n");
    }
    let mut text = String::new();
    for r in records {
        let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        text += &format!(
            "{} {:<7} {:<12} {:<21} {} {} {} {}ms {}B",
            crate::ids::iso8601(r.time),
            r.kind,
            or_dash(&r.tenant),
            or_dash(&r.remote),
            r.action,
            or_dash(&r.session),
            r.outcome,
            r.duration_ms,
            r.bytes
        );
        if let Some(grant) = &r.grant {
            text += &format!(" grant={grant}");
        }
        if let Some(digest) = &r.digest {
            text += &format!(" args={}", &digest[..16.min(digest.len())]);
        }
        text.push('\n');
    }
    print(text)
}

/// The tenants of the data folder, and the folder.
fn open_tenants(args: &TenantArgs) -> Result<(Tenants, PathBuf), CliError> {
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let data = crate::serve::data_folder(args.data_dir.clone(), &config)?;
    Ok((Tenants::open(&data, Quotas::default())?, data))
}

fn tenant_list(tenants: &Tenants, json: bool) -> String {
    let all = tenants.list();
    if json {
        let rows: Vec<serde_json::Value> = all.iter().filter_map(|t| t.to_json()).collect();
        return serde_json::to_string_pretty(&rows).expect("tenants serialize") + "\n";
    }
    if all.is_empty() {
        return "no tenants: the server is single-user\n".into();
    }
    let mut text = String::new();
    for tenant in all {
        let Some(record) = tenant.record() else { continue };
        let roots: Vec<String> = record.roots.iter().map(|r| r.display().to_string()).collect();
        text += &format!("{}  token {}…  {}\n", record.name, record.token_id, roots.join(", "));
        text += &format!("  quotas {}\n", serde_json::to_string(&tenant.quotas()).expect("quotas serialize"));
    }
    text
}

/// Why a command could not run.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error("{flag}: {message}")]
    Setting { flag: &'static str, message: String },
    #[error("the sandbox: {0}")]
    Sandbox(#[from] CallError),
    #[error("cannot read the current folder: {0}")]
    CurrentFolder(std::io::Error),
    #[error(transparent)]
    Tenant(#[from] TenantError),
}

async fn serve(args: ServeArgs, sandbox_args: &SandboxArgs) -> Result<(), CliError> {
    let (config, config_dir) = match &args.config {
        Some(path) => (Config::load(path)?, path.parent().map(PathBuf::from).unwrap_or_default()),
        None => (Config::default(), std::env::current_dir().unwrap_or_default()),
    };
    // A server follows its tools folder, so the default one is made if missing.
    let (tools, _) = tool_folder(sandbox_args, &config, args.data_dir.clone())?;
    std::fs::create_dir_all(tools.path())
        .map_err(|e| CliError::Setting { flag: "--tools-dir", message: format!("{}: {e}", tools.path().display()) })?;
    config.wasmgate.mcp.tenant_idle().map_err(|message| CliError::Setting { flag: "mcp.tenant_idle", message })?;
    let sandbox = load(sandbox_args, &config.wasmgate, Some(tools.path())).await?;
    let directory = match args.directory {
        Some(directory) => directory,
        None => std::env::current_dir().map_err(CliError::CurrentFolder)?,
    };
    let options = ServeOptions {
        directory,
        hostname: args.hostname,
        port: args.port,
        config,
        config_dir,
        data_dir: args.data_dir,
        header_timeout: Duration::try_from_secs_f64(args.header_timeout)
            .map_err(|e| CliError::Setting { flag: "--header-timeout", message: e.to_string() })?,
        insecure_no_auth: args.insecure_no_auth,
    };
    Ok(crate::serve::serve(sandbox, options).await?)
}

/// The tools folder: `--tools-dir`, else the config's `tools_dir`, else
/// `tools` in the data folder (`data_dir`, else the config's, else the
/// user's). Says whether it was named (and so must exist).
fn tool_folder(args: &SandboxArgs, config: &Config, data_dir: Option<PathBuf>) -> Result<(ToolFolder, bool), CliError> {
    if let Some(dir) = args.tools_dir.as_ref().or(config.wasmgate.sandbox.tools_dir.as_ref()) {
        return Ok((ToolFolder::at(dir), true));
    }
    Ok((ToolFolder::of_data_folder(&crate::serve::data_folder(data_dir, config)?), false))
}

/// The tools folder a command that only uses tools loads: the one named, or
/// the default where it exists.
fn tools_to_load(args: &SandboxArgs, config: &Config, data_dir: Option<PathBuf>) -> Result<Option<PathBuf>, CliError> {
    let (folder, named) = tool_folder(args, config, data_dir)?;
    Ok((named || folder.path().is_dir()).then(|| folder.path().to_path_buf()))
}

/// Builds the sandbox, with the components of `tools` (a folder) beside the
/// built-ins; command-line flags win over the config file.
async fn load(args: &SandboxArgs, settings: &WasmgateConfig, tools: Option<&Path>) -> Result<Sandbox, CliError> {
    let config = &settings.sandbox;
    let mut limits = Limits::default();
    if let Some(seconds) = args.timeout.or(config.timeout) {
        limits.deadline = Duration::try_from_secs_f64(seconds)
            .map_err(|e| CliError::Setting { flag: "timeout", message: e.to_string() })?;
    }
    if let Some(mib) = args.memory.or(config.memory_mib) {
        limits.memory = mib << 20;
    }
    if let Some(bytes) = args.output_limit.or(config.output_bytes) {
        limits.output = bytes;
    }
    if let Some(bytes) = args.disk_write_limit.or(config.write_bytes) {
        limits.disk_write = bytes;
    }
    if let Some(concurrency) = config.concurrency {
        limits.concurrency = concurrency.max(1);
    }
    let cache = match (&args.cache_dir, args.no_cache) {
        (_, true) => CompileCache::disabled(),
        (Some(dir), false) => CompileCache::at(dir),
        (None, false) => CompileCache::default_location(),
    };
    let trusted = (args.allow_host_processes || config.host_processes).then_some(ProcessMode::Trusted);
    let processes = match args.processes.or(config.processes).or(trusted).unwrap_or_default() {
        ProcessMode::Off => Processes::Off,
        ProcessMode::Trusted => Processes::Trusted,
        ProcessMode::Jailed => Processes::Jailed(Arc::new(jail(&config.jail)?)),
    };
    let mut builder = Sandbox::builder()
        .limits(limits)
        .cache(cache)
        .processes(processes)
        .network(config.web_policy())
        .policies(settings.tools.clone());
    if let Some(dir) = tools {
        builder = builder
            .tools_dir(dir)
            .map_err(|e| CliError::Setting { flag: "--tools-dir", message: format!("{}: {e}", dir.display()) })?;
    }
    Ok(builder.build().await?)
}

/// The jail for `--processes jailed`, tried once: where this machine
/// cannot build it, the command refuses to start rather than run anything
/// unconfined.
fn jail(config: &JailConfig) -> Result<Jail, CliError> {
    let setting = |message: String| CliError::Setting { flag: "--processes jailed", message };
    let helper = std::env::current_exe().map_err(|e| setting(format!("this program's path: {e}")))?;
    let settings = JailSettings {
        helper,
        toolchains: config.toolchains.clone(),
        env: config.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        memory: config.memory_mib.map(|mib| mib << 20),
        processes: config.processes,
        open_files: config.open_files,
        egress: config.network.clone(),
    };
    let mut jail = Jail::new(settings).map_err(|e| setting(e.to_string()))?;
    jail.probe().map_err(|e| setting(e.to_string()))?;
    Ok(jail)
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
fn print(text: String) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => fail(format!("writing output: {error}")),
        _ => ExitCode::SUCCESS,
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("wasmgate: {message}");
    ExitCode::FAILURE
}

fn usage(message: String) -> ExitCode {
    eprintln!("wasmgate: {message}");
    ExitCode::from(2)
}
