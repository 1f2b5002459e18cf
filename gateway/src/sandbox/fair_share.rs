//! Shares the server's threads between the tenants whose calls run at once.
//!
//! A sandboxed call keeps one of the server's threads from start to end
//! (hundreds of microseconds of CPU for a read). A tenant with a call on
//! every thread holds them all, and another tenant's request waits behind
//! its calls however few it makes: on 2 cores, a quiet tenant's read went
//! from 1 ms to 14 ms at p99 while another tenant flooded the server, though
//! the flood stayed within its own quota of calls. So while other tenants
//! are active (started a call within [`ACTIVE_WINDOW`]), a tenant runs at
//! most its share of the threads, `threads / active tenants` and at least
//! one; a tenant alone runs as many as its quota allows. Calls past the
//! share wait in their tenant's queue (see [`super::Quota`]), so the waiting
//! is done by the tenant that floods; the calls admitted meanwhile run on
//! the lower-priority call threads (see `call_threads`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long after its last call a tenant still counts as active: long
/// enough to span the pauses of a tenant working at a human's or a model's
/// pace between bursts of calls.
pub const ACTIVE_WINDOW: Duration = Duration::from_millis(250);

/// The tenants active lately, over the threads there are.
#[derive(Debug)]
pub struct FairShare {
    threads: usize,
    /// When each tenant last started a call, and when the tenants quiet
    /// for longer than the window were last let go.
    active: Mutex<(HashMap<Arc<str>, Instant>, Instant)>,
}

/// How often the quiet tenants are let go: often enough that a tenant left
/// alone has the machine back soon after the window.
const PRUNE_EVERY: Duration = Duration::from_millis(25);

impl FairShare {
    /// Shares `threads` (the server's worker threads).
    pub fn new(threads: usize) -> Self {
        FairShare { threads: threads.max(1), active: Mutex::new((HashMap::new(), Instant::now())) }
    }

    /// Shares the machine's cores, one worker thread each.
    pub fn of_this_machine() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// How many calls `tenant` may run at once now; notes it active.
    pub fn share(&self, tenant: &Arc<str>) -> usize {
        let now = Instant::now();
        let mut guard = self.active.lock().unwrap_or_else(|p| p.into_inner());
        let (active, pruned) = &mut *guard;
        match active.get_mut(tenant) {
            Some(at) => *at = now,
            None => {
                active.insert(tenant.clone(), now);
            }
        }
        if active.len() > 1 && now.duration_since(*pruned) >= PRUNE_EVERY {
            active.retain(|_, at| now.duration_since(*at) < ACTIVE_WINDOW);
            *pruned = now;
        }
        match active.len() {
            0 | 1 => usize::MAX,
            tenants => (self.threads / tenants).max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_alone_is_unbounded_and_shares_once_others_are_active() {
        let share = FairShare::new(4);
        let (a, b, c): (Arc<str>, Arc<str>, Arc<str>) = ("a".into(), "b".into(), "c".into());
        assert_eq!(share.share(&a), usize::MAX);
        assert_eq!(share.share(&b), 2);
        assert_eq!(share.share(&a), 2);
        assert_eq!(share.share(&c), 1);
        // Others fall quiet: the whole machine again.
        let mut active = share.active.lock().unwrap();
        active.0.values_mut().for_each(|at| *at -= ACTIVE_WINDOW);
        active.1 -= PRUNE_EVERY;
        drop(active);
        assert_eq!(share.share(&a), usize::MAX);
    }
}
