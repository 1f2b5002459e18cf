//! The agents a prompt can run as, and their permission rules.
//!
//! `build` may use every tool; `plan` is read-only twice over: its rules deny
//! edits, and its tool calls run under a read-only grant, so even a shell
//! command that writes fails in the sandbox. The config's `agent` key
//! (opencode.json's format) adjusts these two and adds agents of its own;
//! the config's `permission` applies to every agent, an agent's own
//! `permission` after it.
//!
//! A rule is `{permission, pattern, action}`; the **last** rule whose
//! permission and pattern match decides (`allow`, `ask` or `deny`), as in
//! the reference. Patterns are wildcards: `*` any text, `?` one character,
//! and a trailing ` *` also matches nothing (`git *` matches `git`).

use crate::config::Config;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// What a rule decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    Ask,
    Deny,
}

/// One permission rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub permission: String,
    pub pattern: String,
    pub action: Action,
}

impl Rule {
    pub fn new(permission: &str, pattern: &str, action: Action) -> Self {
        Rule { permission: permission.into(), pattern: pattern.into(), action }
    }
}

/// What `rules` decide for `permission` on `pattern`: the last match, or
/// `ask` when none matches.
pub fn evaluate(rules: &[Rule], permission: &str, pattern: &str) -> Action {
    rules
        .iter()
        .rev()
        .find(|rule| wildcard(&rule.permission, permission) && wildcard(&rule.pattern, pattern))
        .map(|rule| rule.action)
        .unwrap_or(Action::Ask)
}

/// Whether `text` matches the wildcard `pattern` (see the module doc).
pub fn wildcard(pattern: &str, text: &str) -> bool {
    if let Some(head) = pattern.strip_suffix(" *")
        && wildcard(head, text)
    {
        return true;
    }
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Iterative glob matching with one backtrack point per star. A `*` in
    // the pattern is always a wildcard, even where the text has a `*` too.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// One agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub name: String,
    pub description: Option<String>,
    /// `primary`, `subagent` or `all`.
    pub mode: String,
    pub native: bool,
    pub hidden: bool,
    pub rules: Vec<Rule>,
    /// The model it uses unless a prompt names one, as `(provider, model)`.
    pub model: Option<(String, String)>,
    /// Its instructions, added to the system prompt.
    pub prompt: Option<String>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    /// The most model steps of one turn.
    pub steps: Option<u32>,
    /// Tools switched on or off by name (`false` removes a tool).
    pub tools: Map<String, Value>,
    pub color: Option<String>,
}

impl Agent {
    fn native(name: &str, description: &str, rules: Vec<Rule>) -> Self {
        Agent {
            name: name.into(),
            description: Some(description.into()),
            mode: "primary".into(),
            native: true,
            hidden: false,
            rules,
            model: None,
            prompt: None,
            temperature: None,
            top_p: None,
            steps: None,
            tools: Map::new(),
            color: None,
        }
    }

    /// Whether its tool calls get a read-only grant: edits are denied
    /// everywhere.
    pub fn read_only(&self) -> bool {
        evaluate(&self.rules, "edit", "*") == Action::Deny
    }

    /// Whether `tool` is offered to the model at all: not switched off, and
    /// not denied for every pattern.
    pub fn offers(&self, tool: &str) -> bool {
        if self.tools.get(tool).and_then(Value::as_bool) == Some(false) {
            return false;
        }
        let permission = permission_of(tool);
        // A tool denied for "*" with no later allow for a narrower pattern is
        // never usable.
        let last = self.rules.iter().rev().find(|r| wildcard(&r.permission, permission));
        !matches!(last, Some(rule) if rule.pattern == "*" && rule.action == Action::Deny)
    }

    /// The agent in the reference's `Agent` shape.
    pub fn to_json(&self) -> Value {
        let mut agent = json!({
            "name": self.name,
            "mode": self.mode,
            "native": self.native,
            "permission": self.rules,
            "options": {},
        });
        let set = |agent: &mut Value, key: &str, value: Value| {
            if !value.is_null() {
                agent[key] = value;
            }
        };
        set(&mut agent, "description", json!(self.description));
        set(&mut agent, "hidden", if self.hidden { json!(true) } else { Value::Null });
        set(&mut agent, "temperature", json!(self.temperature));
        set(&mut agent, "topP", json!(self.top_p));
        set(&mut agent, "prompt", json!(self.prompt));
        set(&mut agent, "steps", json!(self.steps));
        set(&mut agent, "color", json!(self.color));
        if let Some((provider, model)) = &self.model {
            agent["model"] = json!({ "providerID": provider, "modelID": model });
        }
        agent
    }
}

/// The permission a tool's calls are checked under: file changes are all
/// `edit`, as in the reference; every other tool goes by its name.
pub fn permission_of(tool: &str) -> &str {
    match tool {
        "write" | "edit" | "patch" | "multiedit" => "edit",
        other => other,
    }
}

/// The agents of `config`: `build` and `plan`, the subagents `general` and
/// `explore`, the hidden `title`, and the config's own.
pub fn agents(config: &Config) -> Vec<Agent> {
    let global = rules_of(config.get("permission"));
    let with_global = |mut rules: Vec<Rule>| {
        rules.extend(global.iter().cloned());
        rules
    };
    let mut agents = vec![
        Agent::native(
            "build",
            "The default agent. Executes tools based on configured permissions.",
            with_global(vec![Rule::new("*", "*", Action::Allow)]),
        ),
        Agent::native(
            "plan",
            "Plan mode. Read-only: tools get a read-only view of the workspace and edits are denied.",
            with_global(vec![Rule::new("*", "*", Action::Allow), Rule::new("edit", "*", Action::Deny)]),
        ),
        Agent {
            mode: "subagent".into(),
            ..Agent::native(
                "general",
                "General-purpose agent for researching complex questions and executing multi-step tasks. Use it \
                 to run several units of work in parallel.",
                subagent(with_global(subagent_rules()), false),
            )
        },
        Agent {
            mode: "subagent".into(),
            ..Agent::native(
                "explore",
                "Fast agent for exploring codebases: finding files by pattern, searching code for keywords, and \
                 answering questions about how the code works. Read-only. Say how thorough to be: quick, medium \
                 or very thorough.",
                subagent(with_global(subagent_rules()), true),
            )
        },
        Agent {
            hidden: true,
            temperature: Some(0.5),
            prompt: Some(TITLE_PROMPT.into()),
            ..Agent::native("title", "Writes session titles.", vec![Rule::new("*", "*", Action::Deny)])
        },
    ];
    let Some(Value::Object(configured)) = config.get("agent") else { return agents };
    for (name, entry) in configured {
        if entry.get("disable").and_then(Value::as_bool) == Some(true) {
            agents.retain(|a| a.name != *name);
            continue;
        }
        let index = match agents.iter().position(|a| a.name == *name) {
            Some(index) => index,
            None => {
                let mut agent = Agent::native(name, "", with_global(vec![Rule::new("*", "*", Action::Allow)]));
                agent.native = false;
                agent.description = None;
                agent.mode = "all".into();
                agents.push(agent);
                agents.len() - 1
            }
        };
        let agent = &mut agents[index];
        let text = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_string);
        if let Some(description) = text("description") {
            agent.description = Some(description);
        }
        if let Some(mode) = text("mode").filter(|m| ["primary", "subagent", "all"].contains(&m.as_str())) {
            agent.mode = mode;
        }
        if let Some((provider, model)) = text("model").as_deref().and_then(|m| m.split_once('/')) {
            agent.model = Some((provider.into(), model.into()));
        }
        agent.prompt = text("prompt").or(agent.prompt.take());
        agent.color = text("color").or(agent.color.take());
        agent.temperature = entry.get("temperature").and_then(Value::as_f64).or(agent.temperature);
        agent.top_p = entry.get("top_p").and_then(Value::as_f64).or(agent.top_p);
        let steps = entry.get("steps").or_else(|| entry.get("maxSteps")).and_then(Value::as_u64);
        agent.steps = steps.map(|s| s.clamp(1, u32::MAX as u64) as u32).or(agent.steps);
        if let Some(hidden) = entry.get("hidden").and_then(Value::as_bool) {
            agent.hidden = hidden;
        }
        if let Some(Value::Object(tools)) = entry.get("tools") {
            agent.tools.extend(tools.clone());
        }
        agent.rules.extend(rules_of(entry.get("permission")));
    }
    agents
}

/// What a native subagent may do before the config's rules: everything.
fn subagent_rules() -> Vec<Rule> {
    vec![Rule::new("*", "*", Action::Allow)]
}

/// `rules` closed, whatever the config allows, to starting subagents (a
/// subagent's work ends with its own task), to a todo list (the parent
/// keeps the plan) and, when `read_only`, to edits.
fn subagent(mut rules: Vec<Rule>, read_only: bool) -> Vec<Rule> {
    for tool in ["task", "todowrite", "todoread"] {
        rules.push(Rule::new(tool, "*", Action::Deny));
    }
    if read_only {
        rules.push(Rule::new("edit", "*", Action::Deny));
    }
    rules
}

/// What the `title` agent is told.
pub const TITLE_PROMPT: &str = "You are a title generator. You output ONLY a thread title. Nothing else.\n\n\
Write a title of at most 50 characters that says what the user's first message asks for, \
in the user's language, without quotes or a trailing period.";

/// opencode.json's `permission` (`"ask"`, `{"bash": "ask"}` or
/// `{"bash": {"git *": "allow"}}`) as rules, in the order written.
pub fn rules_of(permission: Option<&Value>) -> Vec<Rule> {
    let action = |value: &Value| serde_json::from_value::<Action>(value.clone()).ok();
    match permission {
        Some(Value::String(_)) => permission.and_then(action).map(|a| vec![Rule::new("*", "*", a)]).unwrap_or_default(),
        Some(Value::Object(map)) => {
            let mut rules = Vec::new();
            for (name, setting) in map {
                match setting {
                    Value::Object(patterns) => rules
                        .extend(patterns.iter().filter_map(|(pattern, a)| Some(Rule::new(name, pattern, action(a)?)))),
                    other => rules.extend(action(other).map(|a| Rule::new(name, "*", a))),
                }
            }
            rules
        }
        Some(Value::Array(list)) => list.iter().filter_map(|r| serde_json::from_value(r.clone()).ok()).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn wildcards_match_as_the_reference_does() {
        assert!(wildcard("*", "anything at all"));
        assert!(wildcard("git *", "git status"));
        assert!(wildcard("git *", "git"), "a trailing ` *` also matches nothing");
        assert!(!wildcard("git *", "gitk"));
        assert!(wildcard("src/*.rs", "src/a/b.rs"));
        assert!(wildcard("?at", "cat"));
        assert!(!wildcard("*.md", "README.txt"));
    }

    #[test]
    fn a_star_in_the_text_is_text() {
        assert!(wildcard("rm *", "rm *.txt"));
        assert!(wildcard("rm *", "rm * -f"));
        assert!(wildcard("cat *", "cat */key"));
        assert!(wildcard("*", "**/*"));
        assert!(wildcard("*.txt", "*.txt"));
        assert!(!wildcard("a?c", "a"));
    }

    #[test]
    fn the_last_matching_rule_decides() {
        let rules = vec![
            Rule::new("*", "*", Action::Allow),
            Rule::new("bash", "*", Action::Ask),
            Rule::new("bash", "git status", Action::Allow),
        ];
        assert_eq!(evaluate(&rules, "bash", "git status"), Action::Allow);
        assert_eq!(evaluate(&rules, "bash", "rm -rf /"), Action::Ask);
        assert_eq!(evaluate(&rules, "read", "x"), Action::Allow);
        assert_eq!(evaluate(&[], "read", "x"), Action::Ask);
    }

    #[test]
    fn plan_is_read_only_and_config_adjusts_agents() {
        let config = Config::parse(
            r#"{"permission": {"bash": "ask"},
                "agent": {"build": {"steps": 3}, "review": {"description": "reviews", "permission": {"edit": "deny"}, "tools": {"bash": false}}}}"#,
            Path::new("."),
        )
        .unwrap();
        let agents = agents(&config);
        let find = |name: &str| agents.iter().find(|a| a.name == name).unwrap();
        assert!(!find("build").read_only());
        assert!(find("plan").read_only());
        assert!(!find("plan").offers("write"), "plan is not offered tools it may never use");
        assert!(find("plan").offers("bash"));
        assert_eq!(find("build").steps, Some(3));
        assert_eq!(evaluate(&find("build").rules, "bash", "ls"), Action::Ask);
        let review = find("review");
        assert!(review.read_only());
        assert!(!review.offers("bash"));
        assert_eq!(review.mode, "all");
    }

    #[test]
    fn permission_shorthands_become_rules() {
        let rules = rules_of(Some(&json!({ "bash": "ask", "edit": { "*.md": "allow" } })));
        assert_eq!(rules, vec![Rule::new("bash", "*", Action::Ask), Rule::new("edit", "*.md", Action::Allow)]);
        assert_eq!(rules_of(Some(&json!("deny"))), vec![Rule::new("*", "*", Action::Deny)]);
    }
}
