//! The tools the model gets, and running one of its calls.
//!
//! Every tool but the todo list is a sandboxed component: the built-ins
//! (`bash`, `read`, `write`, `edit`, `list`, `glob`, `grep`, with OpenCode's
//! names, arguments and metadata so the TUI renders them natively) and any
//! installed third-party component. A call runs under the session's grant on
//! its workspace, read-write, or read-only for an agent that may not edit,
//! so a plan-mode shell command that writes fails in the sandbox itself.
//! `todowrite` and `todoread` are the host's own: they only touch the
//! session's stored list.
//!
//! Before a call runs, the agent's permission rules are consulted: `deny`
//! fails it, `ask` waits for a person (see [`super::permission`]).

use super::agents::{Action, Agent, Rule, permission_of};
use super::permission::{Ask, Verdict};
use super::provider::{ToolCall, ToolDefinition};
use super::{Assistant, script};
use crate::events::Event;
use crate::model::{Part, Todo};
use crate::sandbox::{CallError, CallOptions, CancelToken};
use crate::workspace::Workspace;
use serde_json::{Value, json};
use std::time::Duration;

/// The most items a todo list may hold, and the most text in all of them:
/// the list is stored, sent with every event and shown whole.
const MAX_TODOS: usize = 200;
const MAX_TODOS_BYTES: usize = 64 << 10;

/// The host's own tools.
const TODOWRITE: &str = "todowrite";
const TODOREAD: &str = "todoread";

/// The tools `agent` offers the model, minus those a prompt switched off.
pub fn definitions(assistant: &Assistant, agent: &Agent, switched_off: &[String]) -> Vec<ToolDefinition> {
    let mut tools: Vec<ToolDefinition> = assistant
        .sandbox
        .tools()
        .iter()
        .map(|tool| ToolDefinition {
            name: tool.name.clone(),
            description: tool.description.clone(),
            parameters: tool.parameters.clone(),
        })
        .collect();
    tools.push(ToolDefinition {
        name: TODOWRITE.into(),
        description: "Writes the session's todo list, replacing it: use it to plan a multi-step task and to mark \
                      progress (one item in_progress at a time; mark items completed as soon as they are done)."
            .into(),
        parameters: json!({
            "type": "object",
            "properties": {
                "todos": {
                    "type": "array",
                    "description": "The whole updated list",
                    "items": {
                        "type": "object",
                        "properties": {
                            "content": { "type": "string", "description": "What to do, briefly" },
                            "status": { "type": "string", "enum": ["pending", "in_progress", "completed", "cancelled"] },
                            "priority": { "type": "string", "enum": ["high", "medium", "low"] },
                            "id": { "type": "string" },
                        },
                        "required": ["content", "status", "priority"],
                    },
                },
            },
            "required": ["todos"],
        }),
    });
    tools.push(ToolDefinition {
        name: TODOREAD.into(),
        description: "Reads the session's todo list.".into(),
        parameters: json!({ "type": "object", "properties": {} }),
    });
    tools.retain(|tool| valid_name(&tool.name) && agent.offers(&tool.name) && !switched_off.contains(&tool.name));
    tools
}

/// Whether providers accept `name` for a function (`^[a-zA-Z0-9_-]{1,64}$`):
/// one component with a stranger tool name must not break every request.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What one call came to.
#[derive(Debug)]
pub enum Outcome {
    Completed {
        title: String,
        output: String,
        metadata: Value,
    },
    Failed {
        error: String,
    },
    /// A person said no; with their words when they gave some.
    Rejected {
        feedback: Option<String>,
    },
    /// The run was aborted while the call ran or waited.
    Aborted,
}

/// Everything a call needs beyond its arguments.
pub struct Context<'a> {
    pub assistant: &'a Assistant,
    pub workspace: &'a Workspace,
    pub agent: &'a Agent,
    /// The agent's rules, then the session's own.
    pub rules: &'a [Rule],
    pub offered: &'a [ToolDefinition],
    pub session_id: &'a str,
    pub message_id: &'a str,
    pub cancel: &'a CancelToken,
}

/// Runs `call`, whose tool part is `part` (already `running`): checks the
/// permission rules, then dispatches it.
pub async fn run(context: &Context<'_>, call: &ToolCall, part: &Part) -> Outcome {
    let Value::Object(arguments) = &call.input else {
        return failed(format!(
            "The arguments are not a JSON object: {}. Call {} again with valid JSON arguments.",
            call.input, call.name
        ));
    };
    if !context.offered.iter().any(|tool| tool.name == call.name) {
        let names: Vec<&str> = context.offered.iter().map(|t| t.name.as_str()).collect();
        return failed(format!("Unknown tool {:?}. The tools you can call are: {}.", call.name, names.join(", ")));
    }
    let ask = ask_for(context, call, arguments);
    match context.assistant.permissions.decide(context.rules, &ask) {
        Action::Allow => {}
        Action::Deny => {
            return failed(format!(
                "A permission rule forbids this call ({} {}). Do not try it again; continue without it or ask the user.",
                ask.permission,
                ask.patterns.join(", ")
            ));
        }
        Action::Ask => {
            let (_, answer) =
                context.assistant.permissions.ask(context.assistant.journal.bus(), context.workspace, ask);
            tokio::select! {
                verdict = answer => match verdict {
                    Ok(Verdict::Allowed) => {}
                    Ok(Verdict::Rejected(feedback)) => return Outcome::Rejected { feedback },
                    Err(_) => return Outcome::Aborted,
                },
                () = context.cancel.cancelled() => {
                    context.assistant.permissions.withdraw(context.assistant.journal.bus(), context.session_id);
                    return Outcome::Aborted;
                }
            }
        }
    }
    if context.cancel.is_cancelled() {
        return Outcome::Aborted;
    }
    match call.name.as_str() {
        TODOWRITE => write_todos(context, arguments).await,
        TODOREAD => read_todos(context).await,
        _ => sandboxed(context, call, part).await,
    }
}

fn failed(error: String) -> Outcome {
    Outcome::Failed { error }
}

/// What to ask a person about this call: the command for `bash`, the path
/// for file tools, the pattern for searches.
fn ask_for(context: &Context<'_>, call: &ToolCall, arguments: &serde_json::Map<String, Value>) -> Ask {
    let text = |key: &str| arguments.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let permission = permission_of(&call.name).to_string();
    let mut opaque = false;
    let (patterns, always, metadata) = match call.name.as_str() {
        "bash" => {
            let command = text("command");
            // Every command the script would run meets the rules, and
            // `always` allows each of them again with any arguments.
            let parsed = script::commands(&command);
            opaque = parsed.opaque;
            let mut always = Vec::new();
            for run in &parsed.commands {
                let head = format!("{} *", run.split_whitespace().next().unwrap_or_default());
                if !always.contains(&head) {
                    always.push(head);
                }
            }
            let patterns = if parsed.commands.is_empty() { vec![command.clone()] } else { parsed.commands };
            (patterns, always, json!({ "command": command }))
        }
        "write" | "edit" | "read" => {
            let path = relative(&context.workspace.directory, &text("filePath"));
            (path_patterns(context.workspace, &path), vec!["*".into()], json!({ "filepath": path }))
        }
        "glob" | "grep" => (vec![text("pattern")], vec!["*".into()], json!({ "pattern": text("pattern") })),
        "list" => {
            let path = relative(&context.workspace.directory, &text("path"));
            (path_patterns(context.workspace, &path), vec!["*".into()], json!({}))
        }
        _ => (vec!["*".into()], vec!["*".into()], json!({})),
    };
    Ask {
        session_id: context.session_id.to_string(),
        permission,
        patterns,
        always,
        opaque,
        metadata,
        message_id: context.message_id.to_string(),
        call_id: call.id.clone(),
    }
}

/// The names path rules see for a path: as written, and with its symlinks
/// resolved beneath the workspace (`s2/key` where `s2 -> secrets` is also
/// `secrets/key`), so a link the model made cannot walk past a rule.
fn path_patterns(workspace: &Workspace, path: &str) -> Vec<String> {
    let mut patterns = vec![path.to_string()];
    if let Some(resolved) = workspace.resolve_path(path)
        && resolved != path
    {
        patterns.push(resolved);
    }
    patterns
}

/// A path as rules match it: relative to the workspace, with `.` and `..`
/// resolved, so `a/../secrets/x` and `/ws/secrets/x` meet a `secrets/*`
/// rule as `secrets/x` does. A path that leaves the workspace stays
/// absolute (the sandbox refuses it anyway).
fn relative(root: &str, path: &str) -> String {
    use std::path::{Component, Path, PathBuf};
    let root = Path::new(root);
    let mut normal = PathBuf::new();
    for component in root.join(path).components() {
        match component {
            Component::ParentDir => {
                normal.pop();
            }
            Component::CurDir => {}
            other => normal.push(other),
        }
    }
    match normal.strip_prefix(root) {
        Ok(inside) if inside.as_os_str().is_empty() => ".".into(),
        Ok(inside) => inside.to_string_lossy().into_owned(),
        Err(_) => normal.to_string_lossy().into_owned(),
    }
}

/// Runs a component's tool in the sandbox.
async fn sandboxed(context: &Context<'_>, call: &ToolCall, part: &Part) -> Outcome {
    let grant = if context.agent.read_only() { &context.workspace.read_only } else { &context.workspace.grant };
    let bash = call.name == "bash";
    let deadline = bash
        .then(|| call.input.get("timeout").and_then(Value::as_f64))
        .flatten()
        .filter(|ms| *ms > 0.0)
        .filter(|ms| ms.is_finite())
        .map(|ms| Duration::from_secs_f64((ms / 1000.0).min(u32::MAX as f64)));
    let options = CallOptions {
        deadline,
        cancel: Some(context.cancel.clone()),
        on_output: bash.then(|| context.assistant.journal.live_output(context.workspace, part)),
        session_id: Some(context.session_id.to_string()),
        message_id: Some(context.message_id.to_string()),
        call_id: Some(call.id.clone()),
    };
    let arguments = call.input.to_string();
    match context.assistant.sandbox.call_with(&call.name, &arguments, grant, options).await {
        Ok(result) => {
            let mut metadata = result.metadata;
            if bash {
                // The TUI renders `metadata.output` under the command.
                if !metadata.is_object() {
                    metadata = json!({});
                }
                metadata["output"] = json!(result.output);
                if let Some(description) = call.input.get("description") {
                    metadata["description"] = description.clone();
                }
            }
            if matches!(call.name.as_str(), "write" | "edit")
                && let Some(path) = call.input.get("filePath").and_then(Value::as_str)
            {
                let file = std::path::Path::new(&context.workspace.directory).join(path);
                let file = file.to_string_lossy();
                context.assistant.journal.publish(context.workspace, Event::FileEdited { file: &file });
            }
            let title =
                if bash { call.input["command"].as_str().unwrap_or_default().to_string() } else { result.title };
            Outcome::Completed { title, output: result.output, metadata }
        }
        Err(CallError::Cancelled) => Outcome::Aborted,
        Err(error) if context.cancel.is_cancelled() => {
            tracing::debug!("a call ended by an abort: {error}");
            Outcome::Aborted
        }
        Err(error) => failed(error.to_string()),
    }
}

async fn write_todos(context: &Context<'_>, arguments: &serde_json::Map<String, Value>) -> Outcome {
    let todos: Vec<Todo> = match arguments.get("todos").cloned().map(serde_json::from_value) {
        Some(Ok(todos)) => todos,
        Some(Err(error)) => return failed(format!("todos must be a list of {{content, status, priority}}: {error}")),
        None => return failed("todos is required".into()),
    };
    let size: usize = todos
        .iter()
        .map(|t| t.content.len() + t.status.len() + t.priority.len() + t.id.as_ref().map_or(0, String::len))
        .sum();
    if todos.len() > MAX_TODOS || size > MAX_TODOS_BYTES {
        return failed(format!(
            "The todo list is too long ({} items, {size} bytes): keep it under {MAX_TODOS} items and \
             {MAX_TODOS_BYTES} bytes, one short line each.",
            todos.len()
        ));
    }
    if let Err(error) = context.assistant.journal.store().put_todos(context.session_id, &todos).await {
        return failed(error.to_string());
    }
    let event = Event::TodoUpdated { session_id: context.session_id, todos: &todos };
    context.assistant.journal.publish(context.workspace, event);
    todo_result(&todos)
}

async fn read_todos(context: &Context<'_>) -> Outcome {
    match context.assistant.journal.store().todos(context.session_id).await {
        Ok(todos) => todo_result(&todos),
        Err(error) => failed(error.to_string()),
    }
}

fn todo_result(todos: &[Todo]) -> Outcome {
    let open = todos.iter().filter(|t| t.status != "completed" && t.status != "cancelled").count();
    Outcome::Completed {
        title: format!("{open} todos"),
        output: serde_json::to_string_pretty(todos).expect("todos serialize"),
        metadata: json!({ "todos": todos }),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_names_providers_accept_are_offered() {
        assert!(super::valid_name("huge-result") && super::valid_name("todo_write"));
        assert!(!super::valid_name("my.tool") && !super::valid_name("") && !super::valid_name(&"x".repeat(65)));
    }

    #[test]
    fn rules_see_paths_relative_and_resolved() {
        let relative = |path| super::relative("/ws", path);
        assert_eq!(relative("src/a.rs"), "src/a.rs");
        assert_eq!(relative("/ws/src/a.rs"), "src/a.rs");
        assert_eq!(relative("notes/../secrets/key"), "secrets/key");
        assert_eq!(relative("./"), ".");
        assert_eq!(relative(""), ".");
        assert_eq!(relative("/wsx/file"), "/wsx/file", "a sibling folder is not inside");
        assert_eq!(relative("../outside"), "/outside");
    }
}
