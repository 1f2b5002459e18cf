//! The command line: `wasmgate serve`, `wasmgate tool list` and
//! `wasmgate tool call`.
//!
//! `tool call` runs a component exactly as the server will: the same sandbox,
//! grant, limits and error kinds, so a tool can be tried and scripted without
//! a server or a model. A tool error prints its message and exits 1; a usage
//! error (bad flags, arguments that are not a JSON object) exits 2.

use crate::config::{Config, ConfigError, SandboxConfig};
use crate::sandbox::{Access, CallError, CallOptions, CompileCache, Grant, Limits, Sandbox, ToolOutput};
use crate::serve::{ServeError, ServeOptions};
use clap::{Args, Parser, Subcommand};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
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
    /// Let the shell run commands it does not have built in as real host
    /// processes, in the workspace, with the same deadline and output cap.
    /// Only for a trusted single-user machine; off by default.
    #[arg(long, global = true)]
    allow_host_processes: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a folder over OpenCode's HTTP API (`opencode attach URL` works).
    Serve(ServeArgs),
    /// Inspect and run tools.
    #[command(subcommand)]
    Tool(ToolCommand),
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
}

#[derive(Debug, Subcommand)]
enum ToolCommand {
    /// List every tool with its description and argument schema.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run one tool in the sandbox and print its result.
    Call {
        /// The tool's name, as `tool list` shows it.
        tool: String,
        /// The arguments as a JSON object, or `-` to read them from stdin.
        #[arg(default_value = "{}")]
        arguments: String,
        /// The workspace the tool may reach.
        #[arg(long, default_value = ".", value_name = "DIR")]
        root: PathBuf,
        /// Grant the workspace read-only: writes, renames and deletes fail.
        #[arg(long)]
        read_only: bool,
        /// Print the whole result (title, output, metadata) or error as JSON.
        #[arg(long)]
        json: bool,
        /// Print output the tool streams while it runs, as it arrives.
        #[arg(long)]
        stream: bool,
    },
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
        Command::Serve(_) => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
        Command::Tool(_) => tokio::runtime::Builder::new_current_thread().enable_all().build(),
    };
    match runtime {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(error) => fail(format!("cannot start the runtime: {error}")),
    }
}

async fn run(cli: Cli) -> ExitCode {
    if let Command::Serve(args) = cli.command {
        return match serve(args, &cli.sandbox).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(error.to_string()),
        };
    }
    let sandbox = match load(&cli.sandbox, &SandboxConfig::default()).await {
        Ok(sandbox) => sandbox,
        Err(error) => return fail(error.to_string()),
    };
    match cli.command {
        Command::Serve(_) => unreachable!("served above"),
        Command::Tool(ToolCommand::List { json }) => list(&sandbox, json),
        Command::Tool(ToolCommand::Call { tool, arguments, root, read_only, json, stream }) => {
            let arguments = match read_arguments(arguments) {
                Ok(arguments) => arguments,
                Err(message) => return usage(message),
            };
            let access = if read_only { Access::ReadOnly } else { Access::ReadWrite };
            let grant = match Grant::new(&root, access) {
                Ok(grant) => grant,
                Err(error) => return usage(format!("--root: {error}")),
            };
            let mut options = CallOptions::default();
            if stream {
                options.on_output = Some(Box::new(|chunk: &str| {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(chunk.as_bytes());
                    let _ = out.flush();
                }));
            }
            let result = sandbox.call_with(&tool, &arguments, &grant, options).await;
            report(&tool, result, json)
        }
    }
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
}

async fn serve(args: ServeArgs, sandbox_args: &SandboxArgs) -> Result<(), CliError> {
    let (config, config_dir) = match &args.config {
        Some(path) => (Config::load(path)?, path.parent().map(PathBuf::from).unwrap_or_default()),
        None => (Config::default(), std::env::current_dir().unwrap_or_default()),
    };
    let sandbox = load(sandbox_args, &config.wasmgate.sandbox).await?;
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
    };
    Ok(crate::serve::serve(sandbox, options).await?)
}

/// Builds the sandbox; command-line flags win over the config file.
async fn load(args: &SandboxArgs, config: &SandboxConfig) -> Result<Sandbox, CliError> {
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
    let host_processes = args.allow_host_processes || config.host_processes;
    let mut builder = Sandbox::builder().limits(limits).cache(cache).host_processes(host_processes);
    if let Some(dir) = args.tools_dir.as_ref().or(config.tools_dir.as_ref()) {
        builder = builder
            .tools_dir(dir)
            .map_err(|e| CliError::Setting { flag: "--tools-dir", message: format!("{}: {e}", dir.display()) })?;
    }
    Ok(builder.build().await?)
}

fn list(sandbox: &Sandbox, json: bool) -> ExitCode {
    if json {
        return print(serde_json::to_string_pretty(&sandbox.tools()).expect("tools serialize") + "\n");
    }
    let mut text = if sandbox.host_processes() {
        "shell: built-in commands, and host processes for the rest (--allow-host-processes)\n\n".to_string()
    } else {
        "shell: built-in commands only (host processes off)\n\n".to_string()
    };
    for failure in sandbox.load_failures() {
        text += &format!("not loaded: {}\n  {}\n\n", failure.component, failure.error);
    }
    for tool in sandbox.tools().iter() {
        text += &format!("{}  [{}]\n  {}\n", tool.name, tool.component, tool.description);
        let schema = serde_json::to_string_pretty(&tool.parameters).expect("schema serializes");
        for line in schema.lines() {
            text += &format!("    {line}\n");
        }
        text.push('\n');
    }
    print(text)
}

fn read_arguments(arguments: String) -> Result<String, String> {
    let text = if arguments == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| format!("reading arguments from stdin: {e}"))?;
        text
    } else {
        arguments
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(_)) => Ok(text),
        Ok(_) => Err("the arguments must be a JSON object, like '{\"filePath\":\"README.md\"}'".into()),
        Err(error) => Err(format!("the arguments are not valid JSON: {error}")),
    }
}

fn report(tool: &str, result: Result<ToolOutput, CallError>, json: bool) -> ExitCode {
    match (result, json) {
        (Ok(output), true) => print(serde_json::to_string_pretty(&output).expect("output serializes") + "\n"),
        (Ok(output), false) => {
            let mut text = output.output;
            if !text.ends_with('\n') {
                text.push('\n');
            }
            print(text)
        }
        (Err(error), true) => {
            let body = serde_json::json!({"error": {"kind": error.kind(), "message": error.to_string()}});
            print(serde_json::to_string_pretty(&body).expect("error serializes") + "\n");
            ExitCode::FAILURE
        }
        (Err(error), false) => fail(format!("{tool}: {error}")),
    }
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
