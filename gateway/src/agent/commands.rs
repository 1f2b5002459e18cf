//! The slash commands every owner has without configuring them: `/init`
//! (write or improve `AGENTS.md`) and `/review` (review changes, with the
//! uncommitted ones or the branch's attached when that is what it reviews,
//! run as a subtask in a child session), as the reference offers them. A configured command of the same name
//! replaces the built-in one.

use crate::config::Command;
use crate::sandbox::FileChange;

const INIT: &str = include_str!("commands/init.md");
const REVIEW: &str = include_str!("commands/review.md");

/// The built-in commands, in the order `GET /command` lists them.
pub fn builtin() -> Vec<Command> {
    vec![
        Command::prompt("init".into(), INIT.into(), Some("guided AGENTS.md setup".into())),
        Command {
            name: "review".into(),
            template: REVIEW.into(),
            description: Some("review changes [commit|branch|pr], defaults to uncommitted".into()),
            agent: None,
            model: None,
            // As the reference's: the review runs in a child session, and
            // the conversation gets its findings, not every file it read.
            subtask: Some(true),
        },
    ]
}

/// What `/review` reviews, read from its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewScope {
    /// The working tree against `HEAD`.
    Uncommitted,
    /// The branch against where it left the default branch.
    Branch,
}

/// What to attach to `command` run with `arguments`: `Some` for the
/// built-in `/review` of the uncommitted changes or the branch; `None` for
/// anything else (a commit or a pull request the model looks up itself, or
/// a configured command that replaced the built-in one).
pub fn review_scope(command: &Command, arguments: &str) -> Option<ReviewScope> {
    if command.name != "review" || command.template != REVIEW {
        return None;
    }
    match arguments.trim() {
        "" | "uncommitted" => Some(ReviewScope::Uncommitted),
        "branch" => Some(ReviewScope::Branch),
        _ => None,
    }
}

/// The built-in commands, then `configured` (one of the same name replaces
/// the built-in).
pub fn with_builtin(configured: &[Command]) -> Vec<Command> {
    let mut commands: Vec<Command> =
        builtin().into_iter().filter(|b| !configured.iter().any(|c| c.name == b.name)).collect();
    commands.extend(configured.iter().cloned());
    commands
}

/// The most bytes of patches attached to a review; the rest are named.
const MAX_ATTACHED: usize = 256 << 10;

/// The changes a `/review` reviews, as text to append to its prompt.
pub fn attachment(scope: ReviewScope, changes: &[FileChange]) -> String {
    let what = match scope {
        ReviewScope::Uncommitted => "the uncommitted changes (the working tree against HEAD, untracked files included)",
        ReviewScope::Branch => "this branch's changes against where it left the default branch",
    };
    if changes.is_empty() {
        return format!("\n\nAttached: {what}. There are none (or this is not a git repository): say so.\n");
    }
    let mut text = format!("\n\nAttached: {what}, {} file(s).\n\n<changes>\n", changes.len());
    let mut left_out = Vec::new();
    for change in changes {
        if text.len() + change.patch.len() > MAX_ATTACHED {
            left_out.push(change.path.as_str());
        } else {
            text.push_str(&change.patch);
        }
    }
    text.push_str("</changes>\n");
    if !left_out.is_empty() {
        text.push_str(&format!("Too large to attach; read these yourself: {}\n", left_out.join(", ")));
    }
    text
}
