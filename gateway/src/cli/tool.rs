//! `wasmgate tool ...`: list, call, inspect, add and remove tools, and write
//! a new one (`tool new`, see `scaffold`).
//!
//! `tool call` runs a component exactly as the server will: the same
//! sandbox, grant, limits and error kinds, so a tool can be tried and
//! scripted without a server or a model. `tool add` installs into the tools
//! folder only what loads beside the tools already there, and a server
//! serving that folder picks it up (see `tool_folder`).

use super::{SandboxArgs, fail, load, print, tool_folder, tools_to_load, usage};
use crate::config::Config;
use crate::jail::ProcessMode;
use crate::sandbox::{Access, CallError, CallOptions, Grant, Sandbox, ToolOutput};
use crate::scaffold::{self, Language};
use crate::tool_folder::{self, ToolFolder};
use clap::{Args, Subcommand};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// `wasmgate tool ...`.
#[derive(Debug, Args)]
pub(super) struct ToolArgs {
    #[command(subcommand)]
    command: ToolCommand,
    /// A configuration file, for its `wasmgate.sandbox` settings (and its
    /// data folder).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The data folder, whose `tools` folder holds the installed tools
    /// unless `--tools-dir` names another [default: the config's, else the
    /// user data folder].
    #[arg(long, global = true, value_name = "DIR", env = "WASMGATE_DATA_DIR")]
    data_dir: Option<PathBuf>,
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
    /// Show what a component file is: its world (imports and exports, as
    /// WIT), size, compile time, and the tools it describes with their
    /// argument schemas.
    Inspect {
        /// The component (`.wasm`).
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Install components into the tools folder, each checked first to load
    /// beside the tools already there; a server serving the folder offers
    /// them from its next call.
    Add {
        /// Component files (`NAME.wasm`, installed as NAME), or folders
        /// whose `*.wasm` files are installed.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Install the one component under this name instead.
        #[arg(long)]
        name: Option<String>,
    },
    /// Remove an installed component (by the name `tool list` shows in
    /// brackets) from the tools folder.
    Remove {
        /// The component's name.
        name: String,
    },
    /// Write a new tool's source: a working tool against `wit/tools.wit`
    /// with a `test.sh` that builds it and calls it in the sandbox.
    New {
        /// The tool's name (lowercase letters, digits and '_').
        name: String,
        /// The language to write it in.
        #[arg(long, value_enum, default_value = "rust")]
        lang: Language,
        /// The folder to write it into [default: ./NAME].
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Runs a `wasmgate tool` command.
pub(super) async fn run(args: ToolArgs, sandbox_args: &SandboxArgs) -> ExitCode {
    let config = match args.config.as_deref().map(Config::load).transpose() {
        Ok(config) => config.unwrap_or_default(),
        Err(error) => return fail(error.to_string()),
    };
    let (folder, _) = match tool_folder(sandbox_args, &config, args.data_dir.clone()) {
        Ok(folder) => folder,
        Err(error) => return fail(error.to_string()),
    };
    if let ToolCommand::Remove { name } = &args.command {
        return match folder.remove(name) {
            Ok(()) => print(format!("removed {name} from {}\n", folder.path().display())),
            Err(error) => fail(error.to_string()),
        };
    }
    if let ToolCommand::Add { .. } = &args.command
        && let Err(error) = std::fs::create_dir_all(folder.path())
    {
        return fail(format!("{}: {error}", folder.path().display()));
    }
    let sandbox = async {
        let tools = tools_to_load(sandbox_args, &config, args.data_dir.clone())?;
        load(sandbox_args, &config.wasmgate, tools.as_deref()).await
    };
    let sandbox = match sandbox.await {
        Ok(sandbox) => sandbox,
        Err(error) => return fail(error.to_string()),
    };
    match args.command {
        ToolCommand::List { json } => list(&sandbox, json),
        ToolCommand::Call { tool, arguments, root, read_only, json, stream } => {
            call(&sandbox, &tool, arguments, root, read_only, json, stream).await
        }
        ToolCommand::Inspect { file, json } => inspect(&sandbox, &file, json).await,
        ToolCommand::Add { paths, name } => add(&sandbox, &folder, &paths, name).await,
        ToolCommand::New { name, lang, dir } => new(&sandbox, &name, lang, dir),
        ToolCommand::Remove { .. } => unreachable!("removed above"),
    }
}

/// `tool new`: a scaffold, unless its name is already a tool here (`tool
/// add` would refuse it later).
fn new(sandbox: &Sandbox, name: &str, language: Language, dir: Option<PathBuf>) -> ExitCode {
    if let Some(taken) = sandbox.tools().iter().find(|tool| tool.name == name) {
        return fail(format!("{name} is already a tool here (of component {}): choose another name", taken.component));
    }
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    match scaffold::create(name, language, &dir) {
        Ok(written) => print(format!(
            "wrote {name} ({language:?}) in {}: {}\nnext:\n{}",
            dir.display(),
            written
                .iter()
                .filter_map(|path| path.strip_prefix(&dir).ok())
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            scaffold::next_steps(language, &dir)
        )),
        Err(error) => fail(error.to_string()),
    }
}

async fn call(
    sandbox: &Sandbox,
    tool: &str,
    arguments: String,
    root: PathBuf,
    read_only: bool,
    json: bool,
    stream: bool,
) -> ExitCode {
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
    let result = sandbox.call_with(tool, &arguments, &grant, options).await;
    report(tool, result, json)
}

async fn inspect(sandbox: &Sandbox, file: &std::path::Path, json: bool) -> ExitCode {
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(error) => return fail(format!("{}: {error}", file.display())),
    };
    let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or("component");
    let inspection = match tool_folder::inspect(sandbox, name, &bytes).await {
        Ok(inspection) => inspection,
        Err(error) => return fail(format!("{}: {error}", file.display())),
    };
    let loads = inspection.error.is_none();
    let printed = match json {
        true => print(serde_json::to_string_pretty(&inspection).expect("an inspection serializes") + "\n"),
        false => print(inspection.to_text()),
    };
    if loads { printed } else { ExitCode::FAILURE }
}

/// `tool add`: every component is checked against the tools already loaded
/// (and those added before it) before it is written.
async fn add(sandbox: &Sandbox, folder: &ToolFolder, paths: &[PathBuf], name: Option<String>) -> ExitCode {
    let mut files = Vec::new();
    for path in paths {
        match components_in(path) {
            Ok(found) => files.extend(found),
            Err(message) => return fail(message),
        }
    }
    if name.is_some() && files.len() != 1 {
        return usage(format!("--name names one component, and {} were given", files.len()));
    }
    let mut text = String::new();
    for file in files {
        let name = match name.clone().map_or_else(|| tool_folder::name_of(&file), Ok) {
            Ok(name) => name,
            Err(error) => return fail(format!("{}: {error}", file.display())),
        };
        let added = async {
            tool_folder::check_name(&name).map_err(|e| e.to_string())?;
            let bytes = std::fs::read(&file).map_err(|e| e.to_string())?;
            let tools = sandbox.check_component(&name, &bytes).await?;
            let replaced = folder.install(&name, &bytes).map_err(|e| e.to_string())?;
            // The next component is checked against this one too.
            sandbox.reload_tools_dir().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((tools, replaced))
        };
        match added.await {
            Ok((tools, replaced)) => {
                let verb = if replaced { "replaced" } else { "added" };
                let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
                let offers = if names.is_empty() { "no tools".to_string() } else { names.join(", ") };
                text += &format!("{verb} {name} in {}: {offers}\n", folder.path().display());
            }
            Err(error) => {
                print(text);
                return fail(format!("{} not added: {error}", file.display()));
            }
        }
    }
    print(text)
}

/// The component files `path` names: itself, or a folder's `*.wasm`.
fn components_in(path: &std::path::Path) -> Result<Vec<PathBuf>, String> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let files = crate::sandbox::component_files(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let files: Vec<PathBuf> = files.into_iter().map(|(_, file)| file).collect();
    if files.is_empty() {
        return Err(format!("{}: no *.wasm components in it (build the tool first)", path.display()));
    }
    Ok(files)
}

fn list(sandbox: &Sandbox, json: bool) -> ExitCode {
    if json {
        return print(serde_json::to_string_pretty(&sandbox.tools()).expect("tools serialize") + "\n");
    }
    let mut text = match sandbox.processes() {
        ProcessMode::Off => "shell: built-in commands only (processes off)\n\n",
        ProcessMode::Jailed => "shell: built-in commands, and jailed processes for the rest (--processes jailed)\n\n",
        ProcessMode::Trusted => "shell: built-in commands, and host processes for the rest (--processes trusted)\n\n",
    }
    .to_string();
    for failure in sandbox.load_failures() {
        text += &format!("not loaded: {}\n  {}\n\n", failure.component, failure.error);
    }
    let built_in: Vec<String> =
        sandbox.components().into_iter().filter(|c| c.origin == "built-in").map(|c| c.name).collect();
    for tool in sandbox.tools().iter() {
        text += &format!("{}  [{}]\n  {}\n", tool.name, tool.component, tool.description);
        match &tool.policy {
            Some(policy) => text += &format!("  policy: {policy}\n"),
            None if !built_in.contains(&tool.component) => {
                text += "  policy: none (the caller's workspace only; no environment, network or processes)\n"
            }
            None => {}
        }
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
