//! What a tenant's folders hold on disk, for its workspace disk quota.
//!
//! The figure is measured by walking the tenant's root handles (never
//! following a symlink, each folder and each hard-linked file counted once)
//! and kept current between walks by the growth its calls' writes cause (see
//! `disk_quota`). Deleting or truncating a file is not seen until the next
//! walk, so between walks the figure only errs upward: a write the quota
//! would refuse first walks again (unless walks would then take more than
//! a tenth of the time: a few milliseconds apart for a small workspace,
//! seconds apart for a huge one; but always after a call removed
//! something), and only a write that still does not fit is refused. A walk also happens
//! before a tenant's first writing call, and again once the figure is older
//! than [`STALE_AFTER`] (then in the background), to see changes made
//! outside the sandbox.

use cap_std::fs::{Dir, MetadataExt};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How old a figure may grow before a writing call measures again.
pub const STALE_AFTER: Duration = Duration::from_secs(60);

/// Walks take at most one part in this many of the time: after a walk of
/// `d`, the next refused write walks again only `d * (WALK_SHARE - 1)`
/// after it ended.
const WALK_SHARE: u32 = 10;

/// One tenant's bytes on disk.
#[derive(Debug, Default)]
pub struct DiskUsage {
    used: AtomicU64,
    /// The tenant's root folders, as handles.
    roots: Mutex<Vec<Arc<Dir>>>,
    /// When the folders were last walked and how long that took (`None`:
    /// never).
    measured: Mutex<Option<(Instant, Duration)>>,
    /// Whether a call removed something since the last walk.
    room_made: AtomicBool,
}

impl DiskUsage {
    /// Measures `roots` from now on (the folders a tenant's grants are
    /// opened beneath); the next writing call walks them.
    pub fn watch(&self, roots: Vec<Arc<Dir>>) {
        *self.roots.lock().unwrap_or_else(|p| p.into_inner()) = roots;
        *self.measured.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The bytes the folders hold, as last measured plus what calls grew
    /// them by since.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// How long ago the folders were walked (`None`: never).
    pub(super) fn age(&self) -> Option<Duration> {
        self.measured.lock().unwrap_or_else(|p| p.into_inner()).map(|(at, _)| at.elapsed())
    }

    /// Notes that a call removed a file or folder: the figure may be high
    /// by what it held, so the next refused write walks whenever it comes.
    pub(super) fn made_room(&self) {
        self.room_made.store(true, Ordering::Relaxed);
    }

    /// Whether a walk now keeps walks within their share of the time (or
    /// something was removed since the last).
    fn may_walk_again(&self) -> bool {
        if self.room_made.swap(false, Ordering::Relaxed) {
            return true;
        }
        match *self.measured.lock().unwrap_or_else(|p| p.into_inner()) {
            None => true,
            Some((at, took)) => at.elapsed() >= took * WALK_SHARE,
        }
    }

    /// Walks the folders now and keeps what they hold.
    pub(super) fn measure(&self) -> u64 {
        let roots = self.roots.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let began = Instant::now();
        // Marked first, so calls starting meanwhile do not walk too.
        *self.measured.lock().unwrap_or_else(|p| p.into_inner()) = Some((began, Duration::ZERO));
        let total = bytes_beneath(&roots);
        self.used.store(total, Ordering::Relaxed);
        *self.measured.lock().unwrap_or_else(|p| p.into_inner()) = Some((began, began.elapsed()));
        total
    }

    /// Counts `bytes` of growth if the folders stay within `limit`,
    /// walking them again first when the figure says no; what the folders
    /// hold when refused.
    pub(super) fn grow(&self, bytes: u64, limit: u64) -> Result<(), u64> {
        if self.try_grow(bytes, limit).is_ok() {
            return Ok(());
        }
        if self.may_walk_again() {
            self.measure();
        }
        self.try_grow(bytes, limit)
    }

    fn try_grow(&self, bytes: u64, limit: u64) -> Result<(), u64> {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|after| *after <= limit)
            })
            .map(drop)
    }

    /// Counts `bytes` given back (a file made shorter).
    pub(super) fn shrink(&self, bytes: u64) {
        let _ = self.used.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| Some(used.saturating_sub(bytes)));
    }
}

/// The bytes of the regular files beneath `roots`: each folder walked once
/// (roots may nest), each hard-linked file counted once, symlinks never
/// followed. What cannot be read is skipped.
fn bytes_beneath(roots: &[Arc<Dir>]) -> u64 {
    let mut seen_dirs = HashSet::new();
    let mut seen_links = HashSet::new();
    let mut total = 0u64;
    let mut pending: Vec<Dir> = roots.iter().filter_map(|root| root.try_clone().ok()).collect();
    while let Some(dir) = pending.pop() {
        let Ok(meta) = dir.dir_metadata() else { continue };
        if !seen_dirs.insert((meta.dev(), meta.ino())) {
            continue;
        }
        let Ok(entries) = dir.entries() else { continue };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                // Beneath `dir` whatever the name is now (cap-std's rule);
                // a folder swapped for a symlink meanwhile is seen once.
                if let Ok(sub) = entry.open_dir() {
                    pending.push(sub);
                }
            } else if kind.is_file()
                && let Ok(meta) = entry.metadata()
                && (meta.nlink() <= 1 || seen_links.insert((meta.dev(), meta.ino())))
            {
                total = total.saturating_add(meta.len());
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use cap_std::ambient_authority;

    fn open(path: &std::path::Path) -> Arc<Dir> {
        Arc::new(Dir::open_ambient_dir(path, ambient_authority()).unwrap())
    }

    #[test]
    fn counts_files_once_and_never_follows_a_symlink() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("big"), vec![0u8; 10_000]).unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("sub")).unwrap();
        std::fs::write(root.path().join("a"), vec![0u8; 100]).unwrap();
        std::fs::write(root.path().join("sub/b"), vec![0u8; 20]).unwrap();
        std::fs::hard_link(root.path().join("a"), root.path().join("a-again")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("out")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("big"), root.path().join("big")).unwrap();
        let usage = DiskUsage::default();
        // The root twice, and its subfolder as a root of its own.
        usage.watch(vec![open(root.path()), open(root.path()), open(&root.path().join("sub"))]);
        assert_eq!(usage.measure(), 120);
    }

    #[test]
    fn a_refused_growth_walks_again_and_counts_what_was_deleted() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("a"), vec![0u8; 600]).unwrap();
        let usage = DiskUsage::default();
        usage.watch(vec![open(root.path())]);
        assert_eq!(usage.measure(), 600);
        assert_eq!(usage.grow(300, 1000), Ok(()));
        // Seen by the figure only after a walk; none while walks would
        // take more than their share of the time.
        std::fs::remove_file(root.path().join("a")).unwrap();
        *usage.measured.lock().unwrap() = Some((Instant::now(), Duration::from_secs(60)));
        assert_eq!(usage.grow(300, 1000), Err(900));
        *usage.measured.lock().unwrap() = Some((Instant::now(), Duration::ZERO));
        assert_eq!(usage.grow(300, 1000), Ok(()));
        assert_eq!(usage.used(), 300);
        usage.shrink(1000);
        assert_eq!(usage.used(), 0);
    }

    #[test]
    fn a_refused_growth_after_a_removal_walks_again_at_once() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("a"), vec![0u8; 600]).unwrap();
        let usage = DiskUsage::default();
        usage.watch(vec![open(root.path())]);
        assert_eq!(usage.measure(), 600);
        // A slow last walk would hold the next one back, but a call removed
        // a file since: the refused growth walks, and fits.
        std::fs::remove_file(root.path().join("a")).unwrap();
        usage.made_room();
        *usage.measured.lock().unwrap() = Some((Instant::now(), Duration::from_secs(60)));
        assert_eq!(usage.grow(700, 1000), Ok(()));
        assert_eq!(usage.used(), 700);
        // Once: the next refusal is held back again.
        std::fs::write(root.path().join("b"), vec![0u8; 10]).unwrap();
        *usage.measured.lock().unwrap() = Some((Instant::now(), Duration::from_secs(60)));
        assert_eq!(usage.grow(400, 1000), Err(700));
    }
}
