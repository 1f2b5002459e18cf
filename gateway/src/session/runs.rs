//! What each session is running: one run at a time per session.
//!
//! A run is a `!` shell command or a prompt turn. A shell command on a busy
//! session is refused (the reference's 409 `SessionBusyError`). A prompt on a
//! session that is already answering one joins that run, as in the
//! reference: its message is stored, the running loop picks it up before it
//! ends, and both callers get the run's final message. Aborting fires the
//! run's cancel token, which stops the model stream, a waiting permission
//! request and the sandboxed tool call alike.
//!
//! The registry is in memory: after a restart nothing runs, and
//! [`super::recover`] closes what a crash left open.

use crate::api::error::{ApiError, ApiResult};
use crate::app::App;
use crate::model::MessageWithParts;
use crate::sandbox::CancelToken;
use crate::workspace::Workspace;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// How a run ended: its last assistant message, or why it failed.
pub type Outcome = Result<MessageWithParts, String>;

/// Waits for a run's [`Outcome`].
pub type Waiter = watch::Receiver<Option<Outcome>>;

/// Whether a prompt started a run or joined one.
pub enum Entry {
    /// The session was idle: this caller runs the turn.
    Started(Run),
    /// A turn is running: it will answer this prompt too.
    Joined(Waiter),
}

struct Active {
    id: u64,
    cancel: CancelToken,
    /// A prompt run (which prompts may join) rather than a shell command.
    prompt: bool,
    /// Set when a prompt joined since the run last checked.
    joined: bool,
    /// What `GET /session/status` reports: busy, or retrying.
    status: Value,
    done: Waiter,
}

/// The sessions that are busy now.
#[derive(Default)]
pub struct Runs {
    active: Arc<Mutex<HashMap<String, Active>>>,
    next_id: AtomicU64,
}

impl Runs {
    /// Starts a run that nothing may join (a shell command); refused while
    /// the session runs anything.
    pub fn start(&self, session: &str) -> ApiResult<Run> {
        let mut active = self.lock();
        if active.contains_key(session) {
            return Err(ApiError::Busy(session.to_string()));
        }
        Ok(self.insert(&mut active, session, false))
    }

    /// Starts a prompt run, or joins the prompt run in progress. A session
    /// running a shell command is busy.
    pub fn start_or_join(&self, session: &str) -> ApiResult<Entry> {
        let mut active = self.lock();
        match active.get_mut(session) {
            Some(run) if run.prompt => {
                run.joined = true;
                Ok(Entry::Joined(run.done.clone()))
            }
            Some(_) => Err(ApiError::Busy(session.to_string())),
            None => Ok(Entry::Started(self.insert(&mut active, session, true))),
        }
    }

    fn insert(&self, active: &mut HashMap<String, Active>, session: &str, prompt: bool) -> Run {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let cancel = CancelToken::new();
        let (done, waiter) = watch::channel(None);
        let status = json!({ "type": "busy" });
        active.insert(
            session.to_string(),
            Active { id, cancel: cancel.clone(), prompt, joined: false, status, done: waiter },
        );
        Run { id, session: session.to_string(), cancel, done, active: self.active.clone() }
    }

    /// Stops what `session` runs; false when it runs nothing.
    pub fn abort(&self, session: &str) -> bool {
        self.lock().get(session).map(|run| run.cancel.cancel()).is_some()
    }

    /// Whether `session` runs something.
    pub fn is_busy(&self, session: &str) -> bool {
        self.lock().contains_key(session)
    }

    /// The busy sessions with their status (`GET /session/status`).
    pub fn statuses(&self) -> HashMap<String, Value> {
        self.lock().iter().map(|(session, run)| (session.clone(), run.status.clone())).collect()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Active>> {
        lock(&self.active)
    }
}

/// The registry, even if a thread panicked while holding it (every change
/// to it is a single insert or remove, so it is never half-made).
fn lock(active: &Mutex<HashMap<String, Active>>) -> MutexGuard<'_, HashMap<String, Active>> {
    active.lock().unwrap_or_else(|p| p.into_inner())
}

/// One session's run; the session is idle again when it ends or is dropped.
pub struct Run {
    id: u64,
    session: String,
    /// Fires when the run is aborted.
    pub cancel: CancelToken,
    done: watch::Sender<Option<Outcome>>,
    active: Arc<Mutex<HashMap<String, Active>>>,
}

impl Run {
    /// Whether the run was aborted.
    pub fn aborted(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Sets the session's status (`busy`, or `retry` with its details) and
    /// publishes it as `session.status`.
    pub fn report(&self, app: &App, workspace: &Workspace, status: Value) {
        if let Some(run) = lock(&self.active).get_mut(&self.session)
            && run.id == self.id
        {
            run.status = status.clone();
        }
        app.publish(workspace, "session.status", json!({ "sessionID": self.session, "status": status }));
    }

    /// Waits for this run's outcome.
    pub fn waiter(&self) -> Waiter {
        self.done.subscribe()
    }

    /// Leaves the session idle unless a prompt joined since the last call
    /// (then it returns false: the loop has another message to answer).
    /// Checking and leaving are one step, so a prompt either joins in time
    /// or finds the session idle and starts its own run.
    pub fn try_end(&self) -> bool {
        let mut active = lock(&self.active);
        match active.get_mut(&self.session) {
            Some(run) if run.id == self.id && run.joined && !run.cancel.is_cancelled() => {
                run.joined = false;
                false
            }
            Some(run) if run.id == self.id => {
                active.remove(&self.session);
                true
            }
            _ => true,
        }
    }

    /// Ends the run and hands its outcome to everyone waiting.
    pub fn finish(self, outcome: Outcome) {
        self.release();
        let _ = self.done.send(Some(outcome));
    }

    fn release(&self) {
        let mut active = lock(&self.active);
        if active.get(&self.session).is_some_and(|run| run.id == self.id) {
            active.remove(&self.session);
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.release();
        // A run dropped without an outcome (a panic) still releases its waiters.
        self.done.send_if_modified(|outcome| {
            if outcome.is_none() {
                *outcome = Some(Err("the run ended unexpectedly".into()));
                true
            } else {
                false
            }
        });
    }
}

/// Publishes that `session` is idle: `session.status`, then the deprecated
/// `session.idle` the reference still sends.
pub fn publish_idle(app: &App, workspace: &Workspace, session: &str) {
    app.publish(workspace, "session.status", json!({ "sessionID": session, "status": { "type": "idle" } }));
    app.publish(workspace, "session.idle", json!({ "sessionID": session }));
}

/// Waits for an outcome on `waiter`.
pub async fn wait(mut waiter: Waiter) -> Outcome {
    loop {
        if let Some(outcome) = waiter.borrow_and_update().clone() {
            return outcome;
        }
        if waiter.changed().await.is_err() {
            return waiter.borrow().clone().unwrap_or_else(|| Err("the run ended unexpectedly".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_session_refuses_shell_commands_and_lets_prompts_join() {
        let runs = Runs::default();
        let run = match runs.start_or_join("ses_a").unwrap() {
            Entry::Started(run) => run,
            Entry::Joined(_) => panic!("the session was idle"),
        };
        assert!(matches!(runs.start("ses_a"), Err(ApiError::Busy(_))));
        assert!(matches!(runs.start_or_join("ses_a").unwrap(), Entry::Joined(_)));
        assert!(!run.try_end(), "a prompt joined: the run goes on");
        assert!(runs.is_busy("ses_a"));
        assert!(run.try_end(), "nothing joined since: the run ends");
        assert!(!runs.is_busy("ses_a"));
        assert!(runs.start("ses_a").is_ok(), "the session is free again");
    }

    #[tokio::test]
    async fn joiners_get_the_outcome_and_a_dropped_run_releases_them() {
        let runs = Runs::default();
        let Entry::Started(run) = runs.start_or_join("ses_b").unwrap() else { panic!() };
        let Entry::Joined(waiter) = runs.start_or_join("ses_b").unwrap() else { panic!() };
        drop(run);
        assert!(wait(waiter).await.is_err());
        assert!(!runs.is_busy("ses_b"));
    }
}
