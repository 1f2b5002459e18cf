//! What the configuration offers a client: providers and models, agents,
//! slash commands, in the shapes `GET /config/providers`, `/provider`,
//! `/agent` and `/command` return.
//!
//! Providers come from the config file's `provider` key (opencode.json's
//! format); the TUI's model picker lists them and the default model is
//! `model` when set, else each provider's first model.

use crate::config::Config;
use serde_json::{Map, Value, json};

/// The configured providers in the reference's `Provider` shape.
pub fn providers(config: &Config) -> Vec<Value> {
    let Some(Value::Object(configured)) = config.get("provider") else { return Vec::new() };
    configured.iter().map(|(id, entry)| provider(id, entry)).collect()
}

fn provider(id: &str, entry: &Value) -> Value {
    let options = entry.get("options").cloned().unwrap_or_else(|| json!({}));
    let npm = entry.get("npm").and_then(Value::as_str).unwrap_or("@ai-sdk/openai-compatible");
    let url = options.get("baseURL").and_then(Value::as_str).unwrap_or("");
    let models: Map<String, Value> = entry
        .get("models")
        .and_then(Value::as_object)
        .map(|models| models.iter().map(|(model_id, m)| (model_id.clone(), model(id, model_id, m, npm, url))).collect())
        .unwrap_or_default();
    json!({
        "id": id,
        "name": entry.get("name").and_then(Value::as_str).unwrap_or(id),
        "source": "config",
        "env": entry.get("env").cloned().unwrap_or_else(|| json!([])),
        "options": options,
        "models": models,
    })
}

fn model(provider: &str, id: &str, entry: &Value, npm: &str, url: &str) -> Value {
    let flag = |key: &str, default: bool| entry.get(key).and_then(Value::as_bool).unwrap_or(default);
    let limit = entry.get("limit");
    let number = |key: &str, default: u64| limit.and_then(|l| l.get(key)).and_then(Value::as_u64).unwrap_or(default);
    let io = |text: bool| json!({ "text": text, "audio": false, "image": false, "video": false, "pdf": false });
    json!({
        "id": id,
        "providerID": provider,
        "api": { "id": entry.get("id").and_then(Value::as_str).unwrap_or(id), "url": url, "npm": npm },
        "name": entry.get("name").and_then(Value::as_str).unwrap_or(id),
        "family": entry.get("family").and_then(Value::as_str).unwrap_or(""),
        "capabilities": {
            "temperature": flag("temperature", false),
            "reasoning": flag("reasoning", false),
            "attachment": flag("attachment", false),
            "toolcall": flag("tool_call", true),
            "input": io(true),
            "output": io(true),
            "interleaved": false,
        },
        "cost": { "input": 0, "output": 0, "cache": { "read": 0, "write": 0 } },
        "limit": { "context": number("context", 128_000), "output": number("output", 8_192) },
        "status": "active",
        "options": entry.get("options").cloned().unwrap_or_else(|| json!({})),
        "headers": entry.get("headers").cloned().unwrap_or_else(|| json!({})),
        "release_date": entry.get("release_date").and_then(Value::as_str).unwrap_or(""),
        "variants": entry.get("variants").cloned().unwrap_or_else(|| json!({})),
    })
}

/// The default model of each provider: the config's `model` for its
/// provider, else the provider's first model.
pub fn default_models(config: &Config, providers: &[Value]) -> Map<String, Value> {
    let chosen = config.get("model").and_then(Value::as_str).and_then(|m| m.split_once('/'));
    providers
        .iter()
        .filter_map(|provider| {
            let id = provider["id"].as_str()?;
            let model = match chosen {
                Some((p, m)) if p == id => m.to_string(),
                _ => provider["models"].as_object()?.keys().next()?.clone(),
            };
            Some((id.to_string(), Value::String(model)))
        })
        .collect()
}

/// The agents: `build` (every tool) and `plan` (read-only), with the
/// config's `permission` rules appended to both, and the hidden `title`
/// agent that names new sessions.
pub fn agents(config: &Config) -> Vec<Value> {
    let rule = |permission: &str, pattern: &str, action: &str| json!({ "permission": permission, "pattern": pattern, "action": action });
    let configured = permission_rules(config.get("permission"));
    let mut build = vec![rule("*", "*", "allow")];
    build.extend(configured.iter().cloned());
    let mut plan = vec![rule("*", "*", "allow"), rule("edit", "*", "deny"), rule("write", "*", "deny")];
    plan.extend(configured);
    vec![
        json!({
            "name": "build",
            "description": "The default agent. Executes tools based on configured permissions.",
            "mode": "primary", "native": true, "permission": build, "options": {},
        }),
        json!({
            "name": "plan",
            "description": "Plan mode. Tools get a read-only view of the workspace.",
            "mode": "primary", "native": true, "permission": plan, "options": {},
        }),
        json!({
            "name": "title",
            "mode": "primary", "native": true, "hidden": true, "temperature": 0.5,
            "prompt": TITLE_PROMPT,
            "permission": [rule("*", "*", "deny")], "options": {},
        }),
    ]
}

/// What the `title` agent is told.
pub const TITLE_PROMPT: &str = "You are a title generator. You output ONLY a thread title. Nothing else.\n\n\
Write a title of at most 50 characters that says what the user's first message asks for, \
in the user's language, without quotes or a trailing period.";

/// opencode.json's `permission` (`{"bash": "ask"}` or
/// `{"bash": {"git *": "allow"}}`) as a list of rules.
fn permission_rules(permission: Option<&Value>) -> Vec<Value> {
    let Some(Value::Object(map)) = permission else { return Vec::new() };
    let mut rules = Vec::new();
    for (name, setting) in map {
        match setting {
            Value::String(action) => rules.push(json!({ "permission": name, "pattern": "*", "action": action })),
            Value::Object(patterns) => rules.extend(
                patterns
                    .iter()
                    .map(|(pattern, action)| json!({ "permission": name, "pattern": pattern, "action": action })),
            ),
            _ => {}
        }
    }
    rules
}

/// `GET /config`: the OpenCode keys of the config file, with the defaults
/// the reference always fills in.
pub fn opencode_config(config: &Config) -> Value {
    let mut merged = config.opencode.clone();
    let username = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    for (key, default) in
        [("plugin", json!([])), ("username", json!(username)), ("mode", json!({})), ("agent", json!({}))]
    {
        merged.entry(key).or_insert(default);
    }
    Value::Object(merged)
}

/// The config's slash commands in the reference's `Command` shape.
pub fn commands(config: &Config) -> Vec<Value> {
    let Some(Value::Object(configured)) = config.get("command") else { return Vec::new() };
    configured
        .iter()
        .map(|(name, entry)| {
            let template = entry.get("template").and_then(Value::as_str).unwrap_or("");
            json!({
                "name": name,
                "description": entry.get("description"),
                "agent": entry.get("agent"),
                "model": entry.get("model"),
                "source": "command",
                "template": template,
                "subtask": entry.get("subtask"),
                "hints": hints(template),
            })
        })
        .collect()
}

/// The placeholders a template uses: `$1`, `$2`, ... then `$ARGUMENTS`.
fn hints(template: &str) -> Vec<String> {
    let mut numbered: Vec<u32> = template
        .match_indices('$')
        .filter_map(|(at, _)| {
            let digits: String = template[at + 1..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect();
    numbered.sort_unstable();
    numbered.dedup();
    let mut hints: Vec<String> = numbered.into_iter().map(|n| format!("${n}")).collect();
    if template.contains("$ARGUMENTS") {
        hints.push("$ARGUMENTS".into());
    }
    hints
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_list_placeholders_in_order() {
        assert_eq!(hints("Say $2 to $1 and $ARGUMENTS, $1"), ["$1", "$2", "$ARGUMENTS"]);
        assert!(hints("plain").is_empty());
    }

    #[test]
    fn permission_shorthand_becomes_rules() {
        let rules = permission_rules(Some(&json!({ "bash": "ask", "edit": { "*.md": "allow" } })));
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0], json!({ "permission": "bash", "pattern": "*", "action": "ask" }));
    }
}
