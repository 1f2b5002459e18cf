//! The threads sandboxed calls run on: a runtime of their own, a notch
//! below the server's threads in the kernel's priority.
//!
//! A call keeps its thread for as long as it runs, and the kernel shares
//! the cores between every busy thread. When a tenant's flood keeps the
//! cores busy with calls, another tenant's request first needs a server
//! thread to read it, and a core for its own call; at equal priority both
//! wait for the kernel's next turn, which made a quiet tenant's p99 read a
//! few times its p99 alone. On threads of lower priority (`nice` +5), calls
//! give way at once to the threads answering requests, and the kernel's
//! weighting (about 3:1) still gives them the cores whenever nobody else
//! wants them, so a tenant alone loses nothing.

use std::future::Future;
use std::sync::OnceLock;
use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

/// How much lower than the server's threads calls run (`nice`).
const NICENESS: i32 = 5;

#[derive(Default)]
pub(super) struct CallThreads {
    /// Started by the first call that needs them: a server no two tenants
    /// use at once never does.
    runtime: OnceLock<Runtime>,
}

impl CallThreads {
    /// Runs `work` on the call threads (one per core) and waits for it;
    /// dropping the wait stops the work at its next yield (a call yields
    /// every epoch tick).
    pub(super) async fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, String> {
        let runtime = match self.runtime.get() {
            Some(runtime) => runtime,
            None => {
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
                let built = Builder::new_multi_thread()
                    .worker_threads(threads)
                    .thread_name("wasmgate-call")
                    .enable_all()
                    .on_thread_start(lower_priority)
                    .build()
                    .map_err(|error| format!("cannot start the call threads: {error}"))?;
                // Two first calls at once: one runtime is kept, the other
                // is let go.
                if let Err(spare) = self.runtime.set(built) {
                    spare.shutdown_background();
                }
                self.runtime.get().expect("just set")
            }
        };
        let mut task = AbortOnDrop(runtime.spawn(work));
        (&mut task.0).await.map_err(|error| format!("a call's thread failed: {error}"))
    }
}

impl Drop for CallThreads {
    fn drop(&mut self) {
        // A runtime may be dropped inside another's task only this way.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Aborts the task when the wait for it is dropped.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Lowers the calling thread's priority (Linux: `nice` is per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: a plain syscall on the calling thread; any thread may lower
    // its own priority.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, NICENESS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn work_runs_below_the_callers_priority() {
        // SAFETY: plain syscalls reading the calling thread's priority.
        let own = || unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let caller = own();
        let threads = CallThreads::default();
        let theirs = threads.run(async move { own() }).await.unwrap();
        assert_eq!(theirs, (caller + NICENESS).min(19));
    }

    #[tokio::test]
    async fn dropping_the_wait_stops_the_work() {
        let threads = CallThreads::default();
        let finished = Arc::new(AtomicBool::new(false));
        let work = {
            let finished = finished.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                finished.store(true, Ordering::Relaxed);
            }
        };
        let waited = tokio::time::timeout(Duration::from_millis(20), threads.run(work)).await;
        assert!(waited.is_err(), "the wait was dropped");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(!finished.load(Ordering::Relaxed), "the work stopped with it");
    }
}
