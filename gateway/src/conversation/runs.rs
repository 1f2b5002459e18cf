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
//! A run publishes its own `session.status` changes, and the session going
//! idle when it ends, however it ends (finished, aborted, or dropped by a
//! panic), so a client never sees a session stay busy.
//!
//! The registry is in memory: after a restart nothing runs, and
//! [`super::recover`] closes what a crash left open.

use crate::events::{Bus, Event, Scope};
use crate::model::{MessageWithParts, SessionStatus};
use crate::sandbox::CancelToken;
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
    /// What `GET /session/status` reports (busy, or retrying) once the run
    /// has said it: a poller never sees a run before the event stream does.
    status: Option<SessionStatus>,
    done: Waiter,
    /// The tenant the session belongs to.
    tenant: Option<String>,
}

/// The session is running something else (the reference's 409).
#[derive(Debug, thiserror::Error)]
#[error("Session is busy: {0}")]
pub struct Busy(pub String);

/// The sessions that are busy now.
pub struct Runs {
    active: Arc<Mutex<HashMap<String, Active>>>,
    next_id: AtomicU64,
    bus: Bus,
}

impl Runs {
    /// A registry whose runs publish their status on `bus`.
    pub fn new(bus: Bus) -> Self {
        Self { active: Arc::default(), next_id: AtomicU64::new(0), bus }
    }

    /// Starts a run that nothing may join (a shell command); refused while
    /// the session runs anything. Its status events go to `scope`.
    pub fn start(&self, session: &str, scope: Scope) -> Result<Run, Busy> {
        let mut active = self.lock();
        if active.contains_key(session) {
            return Err(Busy(session.to_string()));
        }
        Ok(self.insert(&mut active, session, false, scope))
    }

    /// Starts a prompt run, or joins the prompt run in progress. A session
    /// running a shell command is busy.
    pub fn start_or_join(&self, session: &str, scope: Scope) -> Result<Entry, Busy> {
        let mut active = self.lock();
        match active.get_mut(session) {
            Some(run) if run.prompt => {
                run.joined = true;
                Ok(Entry::Joined(run.done.clone()))
            }
            Some(_) => Err(Busy(session.to_string())),
            None => Ok(Entry::Started(self.insert(&mut active, session, true, scope))),
        }
    }

    fn insert(&self, active: &mut HashMap<String, Active>, session: &str, prompt: bool, scope: Scope) -> Run {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let cancel = CancelToken::new();
        let (done, waiter) = watch::channel(None);
        active.insert(
            session.to_string(),
            Active {
                id,
                cancel: cancel.clone(),
                prompt,
                joined: false,
                status: None,
                done: waiter,
                tenant: scope.tenant().cloned(),
            },
        );
        Run {
            id,
            session: session.to_string(),
            cancel,
            done,
            active: self.active.clone(),
            bus: self.bus.clone(),
            scope,
        }
    }

    /// Stops what `session` runs; false when it runs nothing.
    pub fn abort(&self, session: &str) -> bool {
        self.lock().get(session).map(|run| run.cancel.cancel()).is_some()
    }

    /// Whether `session` runs something.
    pub fn is_busy(&self, session: &str) -> bool {
        self.lock().contains_key(session)
    }

    /// The busy sessions of `tenant` with their status (`GET /session/status`).
    pub fn statuses(&self, tenant: Option<&str>) -> HashMap<String, SessionStatus> {
        let active = self.lock();
        active
            .iter()
            .filter(|(_, run)| run.tenant.as_deref() == tenant)
            .filter_map(|(session, run)| Some((session.clone(), run.status.clone()?)))
            .collect()
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
    bus: Bus,
    scope: Scope,
}

impl Run {
    /// Whether the run was aborted.
    pub fn aborted(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Sets the session's status (`busy`, or `retry` with its details) and
    /// publishes it as `session.status`.
    pub fn report(&self, status: SessionStatus) {
        if let Some(run) = lock(&self.active).get_mut(&self.session)
            && run.id == self.id
        {
            run.status = Some(status.clone());
        }
        self.bus.publish(&self.scope, Event::SessionStatus { session_id: &self.session, status: &status });
    }

    /// Waits for this run's outcome.
    pub fn waiter(&self) -> Waiter {
        self.done.subscribe()
    }

    /// Leaves the session idle (and publishes that) unless a prompt joined
    /// since the last call (then it returns false: the loop has another
    /// message to answer). Checking and leaving are one step, so a prompt
    /// either joins in time or finds the session idle and starts its own run.
    pub fn try_end(&self) -> bool {
        let mut active = lock(&self.active);
        match active.get_mut(&self.session) {
            Some(run) if run.id == self.id && run.joined && !run.cancel.is_cancelled() => {
                run.joined = false;
                false
            }
            Some(run) if run.id == self.id => {
                active.remove(&self.session);
                drop(active);
                self.publish_idle();
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

    /// Leaves the session idle, once: publishes it when this call did.
    fn release(&self) {
        let mut active = lock(&self.active);
        if active.get(&self.session).is_some_and(|run| run.id == self.id) {
            active.remove(&self.session);
            drop(active);
            self.publish_idle();
        }
    }

    /// `session.status` idle, then the deprecated `session.idle` the
    /// reference still sends.
    fn publish_idle(&self) {
        let session = &self.session;
        self.bus.publish(&self.scope, Event::SessionStatus { session_id: session, status: &SessionStatus::Idle });
        self.bus.publish(&self.scope, Event::SessionIdle { session_id: session });
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        // A run dropped while registered (a panic, a task cancelled) still
        // leaves its session idle, and says so.
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

    fn runs() -> Runs {
        Runs::new(Bus::new())
    }

    #[test]
    fn a_busy_session_refuses_shell_commands_and_lets_prompts_join() {
        let runs = runs();
        let run = match runs.start_or_join("ses_a", Scope::GLOBAL).unwrap() {
            Entry::Started(run) => run,
            Entry::Joined(_) => panic!("the session was idle"),
        };
        assert!(matches!(runs.start("ses_a", Scope::GLOBAL), Err(Busy(_))));
        assert!(matches!(runs.start_or_join("ses_a", Scope::GLOBAL).unwrap(), Entry::Joined(_)));
        assert!(!run.try_end(), "a prompt joined: the run goes on");
        assert!(runs.is_busy("ses_a"));
        assert!(run.try_end(), "nothing joined since: the run ends");
        assert!(!runs.is_busy("ses_a"));
        assert!(runs.start("ses_a", Scope::GLOBAL).is_ok(), "the session is free again");
    }

    #[tokio::test]
    async fn joiners_get_the_outcome_and_a_dropped_run_releases_them() {
        let runs = runs();
        let mut events = runs.bus.global_stream(None);
        let Entry::Started(run) = runs.start_or_join("ses_b", Scope::GLOBAL).unwrap() else { panic!() };
        let Entry::Joined(waiter) = runs.start_or_join("ses_b", Scope::GLOBAL).unwrap() else { panic!() };
        drop(run);
        assert!(wait(waiter).await.is_err());
        assert!(!runs.is_busy("ses_b"));
        // The dropped run said the session is idle.
        use futures_util::StreamExt;
        let _connected = events.next().await;
        let status = String::from_utf8(events.next().await.unwrap().unwrap().to_vec()).unwrap();
        assert!(status.contains("\"session.status\"") && status.contains("\"idle\""), "{status}");
        let idle = String::from_utf8(events.next().await.unwrap().unwrap().to_vec()).unwrap();
        assert!(idle.contains("\"session.idle\""), "{idle}");
    }
}
