//! Where two lines of history meet: the merge base `GET /vcs/diff?mode=branch`
//! diffs against.

use crate::{Oid, Repository, Result, corrupt};
use std::collections::{BinaryHeap, HashSet};

/// The most commits walked before giving up.
const MAX_COMMITS: usize = 1_000_000;

/// The newest commit both `a` and `b` descend from (by committer time: the
/// common ancestor a walk back from `b` meets first), if any.
pub fn merge_base(repo: &Repository, a: Oid, b: Oid) -> Result<Option<Oid>> {
    let mut of_a = HashSet::new();
    let mut pending = vec![a];
    while let Some(oid) = pending.pop() {
        if of_a.len() > MAX_COMMITS {
            return corrupt("history too long to walk");
        }
        if of_a.insert(oid) {
            pending.extend(repo.commit(oid)?.parents);
        }
    }
    let mut seen = HashSet::new();
    let mut queue = BinaryHeap::from([(repo.commit(b)?.time, b)]);
    while let Some((_, oid)) = queue.pop() {
        if of_a.contains(&oid) {
            return Ok(Some(oid));
        }
        if !seen.insert(oid) || seen.len() > MAX_COMMITS {
            continue;
        }
        for parent in repo.commit(oid)?.parents {
            queue.push((repo.commit(parent)?.time, parent));
        }
    }
    Ok(None)
}
