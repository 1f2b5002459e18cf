//! The system prompt: who the model is, where it works, what its tools can
//! do, and the project's own instructions.
//!
//! The project's `AGENTS.md` (or `CLAUDE.md`), when the workspace has one, is
//! read through the sandbox like every other file, under a read-only grant.

use super::Assistant;
use super::agents::Agent;
use crate::jail::ProcessMode;
use crate::sandbox::Content;
use crate::workspace::Workspace;

/// The most of an instructions file that goes into the prompt.
const MAX_INSTRUCTIONS: usize = 32 << 10;

const BASE: &str = "You are a coding agent working in the user's project. You help with software engineering \
tasks: reading and changing code, running commands, finding things, explaining.

- Use the tools to look before you answer; do not guess what a file contains.
- Keep answers short and concrete. Show paths relative to the project.
- Prefer `edit` to change a file and `write` to create one; read a file before you edit it.
- Use `todowrite` to plan a task of several steps and keep it up to date.
- When a tool fails, read the error and adjust; do not repeat the same call.";

const SHELL: &str = "The `bash` tool runs commands in a sandboxed shell that runs bash scripts (variables, \
arithmetic, `if`/`case`/loops, functions, arrays, `[[ ]]`, pipes and redirections) with these commands built in: \
echo, printf, cat, ls, head, tail, wc, grep, find, mkdir, rm, cp, mv, touch, ln -s, sed, sort, uniq, cut, tr, diff, \
xargs, tee, seq, test, basename, dirname, cd, pwd, env, read, mapfile, getopts, source, jq, awk, base64, sha256sum, nl, paste, comm, date. It cannot reach anything outside the project \
folder, and there is no network.";

const HOST_PROCESSES: &str = "Commands that are not built in run as real programs in the project folder.";

const JAILED_PROCESSES: &str = "Commands that are not built in (compilers, test runners, git, python3) run as \
real programs in a jail: they see the project folder, the system's programs and a private temporary folder, and \
have no network.";

const NO_PROCESSES: &str = "Other programs (compilers, package managers, git) are not available: an unknown \
command fails with `command not found`.";

const READ_ONLY: &str = "You are in read-only mode: you may read, search and run commands, but the project's files \
cannot be changed. Plan the change and describe it instead.";

/// The system prompt for `agent` in `workspace`, plus a prompt's own `extra`.
pub async fn prompt(assistant: &Assistant, workspace: &Workspace, agent: &Agent, extra: Option<&str>) -> Vec<String> {
    let mut system = vec![BASE.to_string()];
    if let Some(own) = &agent.prompt {
        system.push(own.clone());
    }
    let shell = match assistant.sandbox.processes_for(&workspace.grant) {
        ProcessMode::Off => NO_PROCESSES,
        ProcessMode::Jailed => JAILED_PROCESSES,
        ProcessMode::Trusted => HOST_PROCESSES,
    };
    system.push(format!(
        "{SHELL} {shell}\n\n<env>\nWorking directory: {}\nIs a git repository: {}\nToday's date: {}\n</env>",
        workspace.directory,
        if workspace.project.git { "yes" } else { "no" },
        &crate::ids::iso8601(crate::ids::now_millis())[..10],
    ));
    if agent.read_only() {
        system.push(READ_ONLY.to_string());
    }
    if let Some(instructions) = instructions(assistant, workspace).await {
        system.push(instructions);
    }
    if let Some(extra) = extra.filter(|e| !e.trim().is_empty()) {
        system.push(extra.to_string());
    }
    system
}

async fn instructions(assistant: &Assistant, workspace: &Workspace) -> Option<String> {
    for name in ["AGENTS.md", "CLAUDE.md"] {
        let Ok(file) = assistant.sandbox.read_file(&workspace.read_only, name).await else { continue };
        let Content::Text(mut text) = file.content else { continue };
        if text.len() > MAX_INSTRUCTIONS {
            let end = (0..=MAX_INSTRUCTIONS).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
            text.truncate(end);
        }
        return Some(format!("Instructions from {name}:\n{text}"));
    }
    None
}
