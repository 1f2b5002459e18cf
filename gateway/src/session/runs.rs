//! What each session is running: one run at a time per session.
//!
//! A run is a shell command or a prompt turn. Starting one on a busy session
//! is refused (the reference's 409 `SessionBusyError`); aborting fires the
//! run's cancel token, which the sandbox turns into a stopped tool call. The
//! registry is in memory: after a restart nothing runs, and
//! [`super::recover`] closes what a crash left open.

use crate::api::error::{ApiError, ApiResult};
use crate::sandbox::CancelToken;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The sessions that are busy now.
#[derive(Default)]
pub struct Runs {
    active: Arc<Mutex<HashMap<String, CancelToken>>>,
}

impl Runs {
    /// Marks `session` busy until the returned [`Run`] is dropped.
    pub fn start(&self, session: &str) -> ApiResult<Run> {
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        if active.contains_key(session) {
            return Err(ApiError::Busy(session.to_string()));
        }
        let cancel = CancelToken::new();
        active.insert(session.to_string(), cancel.clone());
        Ok(Run { session: session.to_string(), cancel, active: self.active.clone() })
    }

    /// Stops what `session` runs; false when it runs nothing.
    pub fn abort(&self, session: &str) -> bool {
        let active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        active.get(session).map(CancelToken::cancel).is_some()
    }

    /// The busy sessions.
    pub fn busy(&self) -> Vec<String> {
        self.active.lock().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect()
    }
}

/// One session's run; the session is idle again when it is dropped.
pub struct Run {
    session: String,
    /// Fires when the run is aborted.
    pub cancel: CancelToken,
    active: Arc<Mutex<HashMap<String, CancelToken>>>,
}

impl Run {
    /// Whether the run was aborted.
    pub fn aborted(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.active.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.session);
    }
}
