//! Giving freed memory back to the system.
//!
//! A server's memory comes in waves: a thousand event subscribers, a burst of
//! large prompts. glibc's allocator keeps what such a wave freed unless told
//! otherwise, so a server that once held 2,000 subscribers would go on
//! holding their memory after they left. Two settings fix that on glibc:
//!
//! - large blocks are always their own mapping, unmapped when freed: glibc
//!   would otherwise raise that size threshold to the first large block
//!   freed, after which such blocks come from the heap and stay there;
//! - every minute, free pages in the middle of the heaps are returned
//!   (`malloc_trim`), which glibc does on its own only at a heap's top.
//!
//! Elsewhere both do nothing.

use std::time::Duration;

/// How often freed pages are returned.
const TRIM_EVERY: Duration = Duration::from_secs(60);

/// Sets the allocator up; call first thing in `main`, before other threads.
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter, before any other
    // thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 10);
    }
}

/// Returns freed pages to the system every [`TRIM_EVERY`], for as long as
/// the server runs.
pub async fn trim_periodically() {
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + TRIM_EVERY, TRIM_EVERY);
    loop {
        every.tick().await;
        trim();
    }
}

/// Returns freed pages to the system now.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim walks the allocator's own free lists under its locks.
    unsafe {
        libc::malloc_trim(0);
    }
}
