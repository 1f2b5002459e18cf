//! The host's own tools: `todowrite` and `todoread`, which only touch the
//! session's stored todo list.

use super::{Context, Outcome, ToolSource, failed};
use crate::agent::provider::{ToolCall, ToolDefinition};
use crate::events::Event;
use crate::model::{Part, Todo};
use serde_json::{Value, json};

/// The most items a todo list may hold, and the most text in all of them:
/// the list is stored, sent with every event and shown whole.
const MAX_TODOS: usize = 200;
const MAX_TODOS_BYTES: usize = 64 << 10;

const TODOWRITE: &str = "todowrite";
const TODOREAD: &str = "todoread";

/// The todo list tools.
pub struct HostTools;

#[async_trait::async_trait]
impl ToolSource for HostTools {
    async fn definitions(&self, _workspace: &crate::workspace::Workspace) -> Vec<ToolDefinition> {
        vec![
            ToolDefinition {
                name: TODOWRITE.into(),
                description:
                    "Writes the session's todo list, replacing it: use it to plan a multi-step task and to mark \
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
            },
            ToolDefinition {
                name: TODOREAD.into(),
                description: "Reads the session's todo list.".into(),
                parameters: json!({ "type": "object", "properties": {} }),
            },
        ]
    }

    fn offers(&self, name: &str) -> bool {
        matches!(name, TODOWRITE | TODOREAD)
    }

    async fn run(&self, context: &Context<'_>, call: &ToolCall, _: &Part) -> Outcome {
        let Value::Object(arguments) = &call.input else { return failed("the arguments are not an object".into()) };
        match call.name.as_str() {
            TODOWRITE => write_todos(context, arguments).await,
            _ => read_todos(context).await,
        }
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
    if let Err(error) = context.assistant.journal.store().put_todos(context.session(), &todos).await {
        return failed(error.to_string());
    }
    let event = Event::TodoUpdated { session_id: context.session_id, todos: &todos };
    context.assistant.journal.publish(context.workspace, event);
    todo_result(&todos)
}

async fn read_todos(context: &Context<'_>) -> Outcome {
    match context.assistant.journal.store().todos(context.session()).await {
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
