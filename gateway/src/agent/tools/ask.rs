//! What a tool call asks a person for: the permission it needs and the
//! patterns rules match (the commands a `bash` script runs, the paths a file
//! tool touches, resolved beneath the workspace, the pattern of a search).

use super::Context;
use crate::agent::agents::permission_of;
use crate::agent::permission::Ask;
use crate::agent::provider::ToolCall;
use crate::agent::script;
use crate::workspace::Workspace;
use serde_json::{Value, json};

/// What to ask a person about this call: the command for `bash`, the path
/// for file tools, the pattern for searches.
pub(super) fn ask_for(context: &Context<'_>, call: &ToolCall, arguments: &serde_json::Map<String, Value>) -> Ask {
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
        "skill" => (vec![text("name")], vec![text("name")], json!({})),
        "webfetch" => (
            vec![text("url")],
            vec!["*".into()],
            json!({ "url": text("url"), "format": arguments.get("format"), "timeout": arguments.get("timeout") }),
        ),
        "task" => (
            vec![text("subagent_type")],
            vec![text("subagent_type")],
            json!({ "description": text("description"), "subagent_type": text("subagent_type") }),
        ),
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

#[cfg(test)]
mod tests {
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
