//! The undo benchmark: what recording one step for undo costs, on a small
//! workspace and on one of 100,000 files, against the reference's own
//! mechanism on the same trees; and what a revert costs.
//!
//! The reference snapshots the whole worktree at every step with a shadow
//! git repository (`git add .` then `git write-tree`, `snapshot/index.ts`),
//! so its cost follows the size of the repository. wasmgate records, as the
//! sandbox makes each change, what the touched paths held before, so its
//! cost follows the bytes a step touches. Figures:
//!
//! - one `write` tool call (a 1 KiB file) with and without the recording,
//!   and the difference, on 10 and on 100,000 files;
//! - storing the step's records in SQLite;
//! - the reference's per-step snapshot on the same trees, by the same git
//!   commands (after its first snapshot, whose time is shown too);
//! - a revert of that step: reading what is there and putting it back.
//!
//! Run with `cargo bench --bench undo`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmgate::conversation::changes::StepRecorder;
use wasmgate::ids::{self, Prefix};
use wasmgate::sandbox::{CallOptions, ChangeSink, CompileCache, Grant, Restore, Sandbox, read_current, restore};
use wasmgate::store::{SessionKey, SqliteStore, Store, conformance};

const FILES_LARGE: usize = 100_000;

fn p50(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A workspace of `files` files of ~100 bytes, 100 to a folder.
fn workspace(root: &Path, files: usize) {
    for i in 0..files {
        let dir = root.join(format!("src/d{:04}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&dir).unwrap();
        }
        std::fs::write(dir.join(format!("f{i}.rs")), format!("// file {i}\nfn f{i}() -> u32 {{ {i} }}\n")).unwrap();
    }
}

/// The reference's snapshot of `ws` into the shadow repository `git_dir`.
fn git_snapshot(git_dir: &Path, ws: &Path) -> bool {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("--git-dir")
            .arg(git_dir)
            .arg("--work-tree")
            .arg(ws)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    git(&["add", "."]) && git(&["write-tree"])
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    println!("wasmgate undo benchmark ({} cores)", std::thread::available_parallelism().map_or(0, |n| n.get()));
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("component-cache");
    let sandbox = Sandbox::builder().cache(CompileCache::at(&cache)).build().await.unwrap();
    let has_git = Command::new("git").arg("--version").output().is_ok_and(|o| o.status.success());
    let mut overheads = Vec::new();
    for files in [10, FILES_LARGE] {
        let work = tempfile::tempdir().unwrap();
        let ws = work.path().join("ws");
        let made = Instant::now();
        workspace(&ws, files);
        println!("\n{files} files (made in {:.1} s)", made.elapsed().as_secs_f64());
        let grant = Grant::read_write(&ws).unwrap();
        let store = SqliteStore::open(&work.path().join("undo.db")).unwrap();
        let session = conformance::session("bench", None);
        store.put_session(&session).await.unwrap();
        let key = SessionKey::of(&session);

        let samples = if files > 1000 { 400 } else { 1000 };
        let content = |i: usize| {
            format!("{{\"filePath\":\"src/d0000/f1.rs\",\"content\":\"{}\"}}", "x".repeat(1000) + &i.to_string())
        };
        let mut plain = Vec::new();
        let mut recorded = Vec::new();
        let mut stored = Vec::new();
        for i in 0..samples + 50 {
            let start = Instant::now();
            sandbox.call("write", &content(i), &grant).await.unwrap();
            let without = start.elapsed();

            let recorder = Arc::new(StepRecorder::new(&ids::new(Prefix::Message), &ids::new(Prefix::Part)));
            let options = CallOptions { changes: Some(recorder.clone() as Arc<dyn ChangeSink>), ..Default::default() };
            let start = Instant::now();
            sandbox.call_with("write", &content(i + 1), &grant, options).await.unwrap();
            let with = start.elapsed();
            let (changes, blobs) = recorder.take();
            assert!(changes.iter().any(|c| c.path == "src/d0000/f1.rs"), "the written file is recorded");
            let start = Instant::now();
            store.put_file_changes(key, &changes, &blobs).await.unwrap();
            let put = start.elapsed();
            if i >= 50 {
                plain.push(without);
                recorded.push(with);
                stored.push(put);
            }
        }
        let (plain, recorded, stored) = (p50(plain), p50(recorded), p50(stored));
        let overhead = recorded.saturating_sub(plain) + stored;
        overheads.push(overhead);
        println!("  write 1 KiB, not recorded                    p50 {:>9.1} us", micros(plain));
        println!("  write 1 KiB, recorded for undo               p50 {:>9.1} us", micros(recorded));
        println!("  storing the step's records (SQLite)          p50 {:>9.1} us", micros(stored));
        println!("  undo's cost per step (recording + storing)   p50 {:>9.1} us", micros(overhead));

        if has_git {
            let git_dir = work.path().join("snapshot.git");
            Command::new("git").arg("init").arg("-q").arg("--bare").arg(&git_dir).status().unwrap();
            let start = Instant::now();
            assert!(git_snapshot(&git_dir, &ws), "git snapshot failed");
            let first = start.elapsed();
            let mut steps = Vec::new();
            for i in 0..if files > 1000 { 9 } else { 51 } {
                std::fs::write(ws.join("src/d0000/f1.rs"), format!("step {i}\n")).unwrap();
                let start = Instant::now();
                git_snapshot(&git_dir, &ws);
                steps.push(start.elapsed());
            }
            let step = p50(steps);
            println!("  reference: first snapshot (git add + write-tree)  {:>9.1} ms", first.as_secs_f64() * 1e3);
            println!(
                "  reference: snapshot per step                 p50 {:>9.1} us   ({:.0}x undo's cost)",
                micros(step),
                step.as_secs_f64() / overhead.as_secs_f64().max(1e-9)
            );
        }

        // Reverting one step: what is there now, then put it back.
        let paths = vec!["src/d0000/f1.rs".to_string()];
        let mut reverts = Vec::new();
        for _ in 0..200 {
            let before = Restore {
                path: paths[0].clone(),
                state: wasmgate::sandbox::Prior::File { bytes: b"before\n".to_vec(), mode: 0o644 },
            };
            let start = Instant::now();
            let now = read_current(&grant, &paths);
            let failed = restore(&grant, vec![before]);
            reverts.push(start.elapsed());
            assert!(failed.is_empty() && now.len() == 1);
        }
        println!("  revert of that step (read now + put back)    p50 {:>9.1} us", micros(p50(reverts)));
    }
    let (small, large) = (overheads[0], overheads[1]);
    println!(
        "\nundo's cost per step on {FILES_LARGE} files against 10 files: {:.2}x (goal: does not grow with the workspace)",
        large.as_secs_f64() / small.as_secs_f64().max(1e-9)
    );
}
