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
use crate::events::{Bus, Event, Scope};
use crate::ids::{self, Prefix};
use crate::model::{PermissionRequest, PermissionTool};
use crate::workspace::Workspace;
use serde::Deserialize;
use serde_json::Value;
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
    /// Whether what the call does could not be fully read from its
    /// arguments (a shell script that computes a command's name): then no
    /// rule allows it outright, a person is asked.
    pub opaque: bool,
    pub metadata: Value,
    pub message_id: String,
    pub call_id: String,
}

struct Pending {
    ask: Ask,
    request: PermissionRequest,
    /// Where its events go.
    scope: Scope,
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
        } else if verdicts.contains(&Action::Ask) || verdicts.is_empty() || ask.opaque {
            Action::Ask
        } else {
            Action::Allow
        }
    }

    /// Publishes `permission.asked` and returns the channel its answer
    /// arrives on, with the request's id.
    pub fn ask(&self, bus: &Bus, workspace: &Workspace, ask: Ask) -> (String, oneshot::Receiver<Verdict>) {
        let id = ids::new(Prefix::Permission);
        let request = PermissionRequest {
            id: id.clone(),
            session_id: ask.session_id.clone(),
            permission: ask.permission.clone(),
            patterns: ask.patterns.clone(),
            metadata: ask.metadata.clone(),
            always: ask.always.clone(),
            tool: PermissionTool { message_id: ask.message_id.clone(), call_id: ask.call_id.clone() },
        };
        let (answer, receiver) = oneshot::channel();
        // Waiting before it is announced: a reply may come at once.
        let pending = Pending { ask, request: request.clone(), scope: workspace.scope(), answer };
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), pending);
        bus.publish(&workspace.scope(), Event::PermissionAsked(&request));
        (id, receiver)
    }

    /// Applies a client's reply to request `id`.
    /// The session a pending request belongs to, where `tenant` may see it.
    pub fn session_of(&self, tenant: Option<&str>, id: &str) -> Option<String> {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let request = pending.get(id).filter(|p| p.scope.tenant().map(String::as_str) == tenant)?;
        Some(request.ask.session_id.clone())
    }

    pub fn reply(
        &self,
        bus: &Bus,
        tenant: Option<&str>,
        id: &str,
        reply: Reply,
        message: Option<String>,
    ) -> Result<(), NotFound> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        // Another tenant's request is not found, exactly as a missing one.
        if pending.get(id).is_none_or(|p| p.scope.tenant().map(String::as_str) != tenant) {
            return Err(NotFound(id.to_string()));
        }
        let request = pending.remove(id).ok_or_else(|| NotFound(id.to_string()))?;
        let session = request.ask.session_id.clone();
        // Other waiting calls of the session this reply also settles.
        let others = match reply {
            Reply::Once => Vec::new(),
            Reply::Always => {
                let mut approved = self.approved.lock().unwrap_or_else(|p| p.into_inner());
                let rules = approved.entry(session.clone()).or_default();
                let asked = &request.ask;
                rules.extend(asked.always.iter().map(|pattern| Rule::new(&asked.permission, pattern, Action::Allow)));
                take_where(&mut pending, |ask| {
                    ask.session_id == session
                        && ask.patterns.iter().all(|pattern| evaluate(rules, &ask.permission, pattern) == Action::Allow)
                })
            }
            Reply::Reject => take_where(&mut pending, |ask| ask.session_id == session),
        };
        drop(pending);
        let verdict = |words: Option<String>| match reply {
            Reply::Reject => Verdict::Rejected(words),
            _ => Verdict::Allowed,
        };
        // Only the request the user answered carries their words.
        answer(bus, id, request, &reply, verdict(message));
        for (other, request) in others {
            answer(bus, &other, request, &reply, verdict(None));
        }
        Ok(())
    }

    /// Withdraws every request of `session` (its run was aborted).
    pub fn withdraw(&self, bus: &Bus, session: &str) {
        let withdrawn =
            take_where(&mut self.pending.lock().unwrap_or_else(|p| p.into_inner()), |ask| ask.session_id == session);
        for (id, request) in withdrawn {
            answer(bus, &id, request, &Reply::Reject, Verdict::Rejected(None));
        }
    }

    /// Forgets what `session` allowed (it was deleted).
    pub fn forget(&self, session: &str) {
        self.approved.lock().unwrap_or_else(|p| p.into_inner()).remove(session);
    }

    /// The requests waiting now (`GET /permission`), oldest first.
    pub fn list(&self, tenant: Option<&str>) -> Vec<PermissionRequest> {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let mut list: Vec<(&String, &Pending)> =
            pending.iter().filter(|(_, p)| p.scope.tenant().map(String::as_str) == tenant).collect();
        list.sort_by(|a, b| a.0.cmp(b.0));
        list.into_iter().map(|(_, p)| p.request.clone()).collect()
    }
}

/// Removes and returns the pending requests whose ask matches.
fn take_where(pending: &mut HashMap<String, Pending>, matches: impl Fn(&Ask) -> bool) -> Vec<(String, Pending)> {
    let ids: Vec<String> = pending.iter().filter(|(_, p)| matches(&p.ask)).map(|(id, _)| id.clone()).collect();
    ids.into_iter().filter_map(|id| pending.remove_entry(&id)).collect()
}

/// Publishes `permission.replied` for a request and wakes the call waiting on it.
fn answer(bus: &Bus, id: &str, request: Pending, reply: &Reply, verdict: Verdict) {
    let event = Event::PermissionReplied { session_id: &request.ask.session_id, request_id: id, reply: reply.as_str() };
    bus.publish(&request.scope, event);
    let _ = request.answer.send(verdict);
}
