//! The conversation layer both sessions and the agent write through: the
//! [`Journal`] (store, then publish) and the [`Runs`] registry (one run per
//! session, with its status events), plus [`recover`], which closes what a
//! crash left open. It knows nothing of HTTP, agents or models.

mod journal;
mod recover;
mod runs;

pub use journal::Journal;
pub use recover::recover;
pub use runs::{Busy, Entry, Outcome, Run, Runs, Waiter, wait};
