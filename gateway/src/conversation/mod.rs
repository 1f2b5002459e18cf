//! The conversation layer both sessions and the agent write through: the
//! [`Journal`] (store, then publish) and the [`Runs`] registry (one run per
//! session, with its status events), plus [`recover`], which closes what a
//! crash left open, and the records of what each step changed in the
//! workspace ([`changes`]). It knows nothing of HTTP, agents or models.

pub mod changes;
mod journal;
mod recover;
mod runs;

pub use journal::Journal;
pub use recover::recover;
pub use runs::{Busy, Entry, Outcome, Run, Runs, Waiter, wait};
