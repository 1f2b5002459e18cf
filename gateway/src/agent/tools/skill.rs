//! The `skill` tool: the model loads one of the workspace's skills (see
//! [`crate::agent::skills`]) by name, and gets its instructions and the
//! names of the files beside them. It is offered only when there are skills,
//! with each one's name and description in its description; the `skill`
//! permission applies by skill name.

use super::{Context, Outcome, ToolSource, failed};
use crate::agent::provider::{ToolCall, ToolDefinition};
use crate::agent::skills::Skill;
use crate::model::Part;
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const NAME: &str = "skill";

/// The `skill` tool.
pub struct SkillTool;

/// The tool as offered with `skills` available.
pub fn definition(skills: &BTreeMap<String, Skill>) -> ToolDefinition {
    let mut description = String::from(
        "Loads a skill: instructions and resources (scripts, references, templates) for a particular kind of \
         task. When the task at hand matches one of the skills below, load it before starting, and follow it.\n\n\
         <available_skills>\n",
    );
    for skill in skills.values() {
        description.push_str(&format!(
            "  <skill>\n    <name>{}</name>\n    <description>{}</description>\n  </skill>\n",
            skill.name, skill.description
        ));
    }
    description.push_str("</available_skills>");
    let examples: Vec<String> = skills.keys().take(3).map(|n| format!("'{n}'")).collect();
    ToolDefinition {
        name: NAME.into(),
        description,
        parameters: json!({
            "type": "object",
            "properties": {
                "name": {
                    "type": "string",
                    "description": format!("The skill's name from available_skills (e.g. {})", examples.join(", ")),
                },
            },
            "required": ["name"],
        }),
    }
}

#[async_trait::async_trait]
impl ToolSource for SkillTool {
    /// None here: the step offers the tool with the workspace's skills.
    async fn definitions(&self, _workspace: &crate::workspace::Workspace) -> Vec<ToolDefinition> {
        Vec::new()
    }

    fn offers(&self, name: &str) -> bool {
        name == NAME
    }

    async fn run(&self, context: &Context<'_>, call: &ToolCall, _part: &Part) -> Outcome {
        let Some(name) = call.input.get("name").and_then(Value::as_str) else {
            return failed("The skill tool needs the skill's \"name\".".into());
        };
        let skills = context.assistant.skills(context.workspace).await;
        let Some(skill) = skills.get(name) else {
            let names: Vec<&str> = skills.keys().map(String::as_str).collect();
            return failed(format!("There is no skill named {name:?}. The skills are: {}.", names.join(", ")));
        };
        let dir = skill.location.parent().unwrap_or(&skill.location);
        let files: String =
            skill.files.iter().map(|file| format!("<file>{}</file>\n", file.display())).collect::<String>();
        let output = format!(
            "<skill_content name=\"{name}\">\n# Skill: {name}\n\n{content}\n\nBase directory for this skill: {dir}\n\
             Paths in this skill (scripts/, reference/, ...) are relative to it. Some of its files:\n\n\
             <skill_files>\n{files}</skill_files>\n</skill_content>",
            content = skill.content,
            dir = dir.display(),
        );
        Outcome::Completed {
            title: format!("Loaded skill: {name}"),
            output,
            metadata: json!({ "name": name, "dir": dir }),
        }
    }
}
