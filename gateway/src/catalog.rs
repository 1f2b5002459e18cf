//! What the configuration offers a client: the config itself, the slash
//! commands and skills, in the shapes `GET /config`, `/command` and
//! `/skill` return. (Providers
//! and agents are the agent's: [`crate::agent::providers`],
//! [`crate::agent::agents`].)

use crate::agent::skills::Skill;
use crate::config::{Command, Config};
use serde_json::{Value, json};

/// `GET /config`: the OpenCode keys of the config file, with the defaults
/// the reference always fills in.
pub fn opencode_config(config: &Config) -> Value {
    let mut merged = config.opencode.clone();
    // Keys stay on the server.
    if let Some(Value::Object(providers)) = merged.get_mut("provider") {
        for provider in providers.values_mut() {
            if let Some(Value::Object(options)) = provider.get_mut("options") {
                crate::agent::providers::redact(options);
            }
        }
    }
    // So do MCP servers' credentials: their headers and variables.
    if let Some(Value::Object(servers)) = merged.get_mut("mcp") {
        for server in servers.values_mut() {
            for key in ["headers", "environment"] {
                if let Some(Value::Object(values)) = server.get_mut(key) {
                    values.values_mut().for_each(|value| *value = json!(crate::agent::providers::REDACTED));
                }
            }
        }
    }
    // Nothing is published to opencode.ai from here (see `api::session::share`).
    merged.insert("share".into(), json!("disabled"));
    merged.remove("autoshare");
    let username = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    for (key, default) in
        [("plugin", json!([])), ("username", json!(username)), ("mode", json!({})), ("agent", json!({}))]
    {
        merged.entry(key).or_insert(default);
    }
    Value::Object(merged)
}

/// Slash commands in the reference's `Command` shape.
pub fn commands(commands: &[Command]) -> Vec<Value> {
    commands
        .iter()
        .map(|command| {
            json!({
                "name": command.name,
                "description": command.description,
                "agent": command.agent,
                "model": command.model,
                "source": "command",
                "template": command.template,
                "subtask": command.subtask,
                "hints": hints(&command.template),
            })
        })
        .collect()
}

/// Skills as `GET /command` lists them (`source: "skill"`).
pub fn skill_commands<'a>(skills: impl Iterator<Item = &'a Skill>) -> Vec<Value> {
    skills
        .map(|skill| {
            json!({
                "name": skill.name,
                "description": skill.description,
                "source": "skill",
                "template": skill.content,
                "hints": [],
            })
        })
        .collect()
}

/// MCP servers' prompts as `GET /command` lists them (`source: "mcp"`,
/// a hint per argument; their text is the server's, asked for when one
/// runs).
pub fn mcp_commands(prompts: &[crate::mcp::client::PromptCommand]) -> Vec<Value> {
    prompts
        .iter()
        .map(|prompt| {
            let hints: Vec<String> = (1..=prompt.arguments.len()).map(|i| format!("${i}")).collect();
            json!({
                "name": prompt.name,
                "description": prompt.description,
                "source": "mcp",
                "template": "",
                "hints": hints,
            })
        })
        .collect()
}

/// A skill in `GET /skill`'s shape.
pub fn skill(skill: &Skill) -> Value {
    json!({
        "name": skill.name,
        "description": skill.description,
        "location": skill.location,
        "content": skill.content,
    })
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
}
