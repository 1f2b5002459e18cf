//! Permission requests: a tool call that a rule says to `ask` about waits
//! here until a client answers `POST /permission/{id}/reply`.
//!
//! Asking publishes `permission.asked` (the TUI opens its dialog) and parks
//! the call on a channel; the reply publishes `permission.replied` and wakes
//! it. `once` lets this call through; `always` also allows the request's
//! `always` patterns for the rest of the session (and lets through other
//! waiting calls of the session they now cover); `reject` fails this call and
//! every other waiting call of the session. An aborted run withdraws its
//! requests, answering them `reject` so no dialog is left open.

use super::agents::{Action, Rule, evaluate};
use crate::app::App;
use crate::ids::{self, Prefix};
use crate::workspace::Workspace;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// A client's answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reply {
    Once,
    Always,
    Reject,
}

impl Reply {
    fn as_str(&self) -> &'static str {
        match self {
            Reply::Once => "once",
            Reply::Always => "always",
            Reply::Reject => "reject",
        }
    }
}

/// How a request ended, for the tool call that waited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Rejected, with the user's feedback when they gave some.
    Rejected(Option<String>),
}

/// What a tool call asks to do.
#[derive(Debug, Clone)]
pub struct Ask {
    pub session_id: String,
    /// `bash`, `edit`, `read`, ...
    pub permission: String,
    /// What exactly: the command, the file.
    pub patterns: Vec<String>,
    /// The patterns an `always` reply allows from then on.
    pub always: Vec<String>,
    pub metadata: Value,
    pub message_id: String,
    pub call_id: String,
}

struct Pending {
    ask: Ask,
    request: Value,
    directory: String,
    project: String,
    answer: oneshot::Sender<Verdict>,
}

/// The requests waiting for an answer, and what each session has allowed
/// with `always`.
#[derive(Default)]
pub struct Permissions {
    pending: Mutex<HashMap<String, Pending>>,
    approved: Mutex<HashMap<String, Vec<Rule>>>,
}

/// Why a reply could not be applied.
#[derive(Debug, thiserror::Error)]
#[error("Permission request not found: {0}")]
pub struct NotFound(pub String);

impl Permissions {
    /// Whether `rules` plus the session's `always` approvals allow `ask`
    /// outright, deny it, or want a person asked.
    pub fn decide(&self, rules: &[Rule], ask: &Ask) -> Action {
        let approved = self.approved.lock().unwrap_or_else(|p| p.into_inner());
        let mut all = rules.to_vec();
        all.extend(approved.get(&ask.session_id).into_iter().flatten().cloned());
        let verdicts: Vec<Action> = ask.patterns.iter().map(|p| evaluate(&all, &ask.permission, p)).collect();
        if verdicts.contains(&Action::Deny) {
            Action::Deny
        } else if verdicts.contains(&Action::Ask) || verdicts.is_empty() {
            Action::Ask
        } else {
            Action::Allow
        }
    }

    /// Publishes `permission.asked` and returns the channel its answer
    /// arrives on, with the request's id.
    pub fn ask(&self, app: &App, workspace: &Workspace, ask: Ask) -> (String, oneshot::Receiver<Verdict>) {
        let id = ids::new(Prefix::Permission);
        let request = json!({
            "id": id,
            "sessionID": ask.session_id,
            "permission": ask.permission,
            "patterns": ask.patterns,
            "metadata": ask.metadata,
            "always": ask.always,
            "tool": { "messageID": ask.message_id, "callID": ask.call_id },
        });
        let (answer, receiver) = oneshot::channel();
        let pending = Pending {
            ask,
            request: request.clone(),
            directory: workspace.directory.clone(),
            project: workspace.project.id.clone(),
            answer,
        };
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), pending);
        app.publish(workspace, "permission.asked", request);
        (id, receiver)
    }

    /// Applies a client's reply to request `id`.
    pub fn reply(&self, app: &App, id: &str, reply: Reply, message: Option<String>) -> Result<(), NotFound> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let request = pending.remove(id).ok_or_else(|| NotFound(id.to_string()))?;
        let session = request.ask.session_id.clone();
        let mut answered = vec![(id.to_string(), request, reply.clone())];
        match reply {
            Reply::Once => {}
            Reply::Always => {
                let rules: Vec<Rule> = answered[0]
                    .1
                    .ask
                    .always
                    .iter()
                    .map(|pattern| Rule::new(&answered[0].1.ask.permission, pattern, Action::Allow))
                    .collect();
                let mut approved = self.approved.lock().unwrap_or_else(|p| p.into_inner());
                let session_rules = approved.entry(session.clone()).or_default();
                session_rules.extend(rules);
                // Other waiting calls of the session that are now covered go through.
                let covered: Vec<String> = pending
                    .iter()
                    .filter(|(_, p)| p.ask.session_id == session)
                    .filter(|(_, p)| {
                        p.ask
                            .patterns
                            .iter()
                            .all(|pattern| evaluate(session_rules, &p.ask.permission, pattern) == Action::Allow)
                    })
                    .map(|(id, _)| id.clone())
                    .collect();
                for other in covered {
                    let request = pending.remove(&other).expect("listed above");
                    answered.push((other, request, Reply::Always));
                }
            }
            Reply::Reject => {
                let others: Vec<String> =
                    pending.iter().filter(|(_, p)| p.ask.session_id == session).map(|(id, _)| id.clone()).collect();
                for other in others {
                    let request = pending.remove(&other).expect("listed above");
                    answered.push((other, request, Reply::Reject));
                }
            }
        }
        drop(pending);
        for (index, (id, request, reply)) in answered.into_iter().enumerate() {
            let verdict = match reply {
                // Only the request the user answered carries their words.
                Reply::Reject => Verdict::Rejected(if index == 0 { message.clone() } else { None }),
                _ => Verdict::Allowed,
            };
            publish_replied(app, &request, &id, &reply);
            let _ = request.answer.send(verdict);
        }
        Ok(())
    }

    /// Withdraws every request of `session` (its run was aborted).
    pub fn withdraw(&self, app: &App, session: &str) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let ids: Vec<String> =
            pending.iter().filter(|(_, p)| p.ask.session_id == session).map(|(id, _)| id.clone()).collect();
        let withdrawn: Vec<(String, Pending)> = ids.into_iter().filter_map(|id| pending.remove_entry(&id)).collect();
        drop(pending);
        for (id, request) in withdrawn {
            publish_replied(app, &request, &id, &Reply::Reject);
            let _ = request.answer.send(Verdict::Rejected(None));
        }
    }

    /// Forgets what `session` allowed (it was deleted).
    pub fn forget(&self, session: &str) {
        self.approved.lock().unwrap_or_else(|p| p.into_inner()).remove(session);
    }

    /// The requests waiting now (`GET /permission`), oldest first.
    pub fn list(&self) -> Vec<Value> {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let mut list: Vec<(&String, &Pending)> = pending.iter().collect();
        list.sort_by(|a, b| a.0.cmp(b.0));
        list.into_iter().map(|(_, p)| p.request.clone()).collect()
    }
}

fn publish_replied(app: &App, request: &Pending, id: &str, reply: &Reply) {
    let scope = crate::events::Scope::Instance { directory: &request.directory, project: &request.project };
    app.bus.publish(
        scope,
        "permission.replied",
        json!({ "sessionID": request.ask.session_id, "requestID": id, "reply": reply.as_str() }),
    );
}
