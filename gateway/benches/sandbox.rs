//! The sandbox benchmark: what a tool call costs, against baselines measured
//! in the same run.
//!
//! This machine is shared and noisy, so absolute numbers drift between runs;
//! the ratios against baselines taken minutes apart in the same process are
//! what to compare. It measures:
//!
//! - a component call that does nothing (`noop` of the test component);
//! - `read` of a 4 KiB file through the file tools component;
//! - the same read natively (open, read, number the lines) as the floor;
//! - `cat` of the same file as a child process, what a container-free
//!   "just spawn it" tool runner pays at the very least;
//! - `echo hi` through the sandboxed shell, against `bash -c 'echo hi'`
//!   spawned on the host; and `/bin/echo hi` run by the shell in a jail and
//!   as a plain host process, against spawning it directly;
//! - calls per second with one and with two concurrent callers;
//! - the time from process start to ready with a warm compile cache (the
//!   `wasmgate tool list` command, which builds the whole sandbox), and the
//!   in-process `Sandbox::build` behind it.
//!
//! Run with `cargo bench` (or `just bench`). It is a plain `harness = false`
//! program: each figure is a percentile over thousands of timed samples,
//! printed with the targets from the issue that asked for them.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmgate::conversation::changes::StepRecorder;
use wasmgate::jail::{Jail, JailSettings};
use wasmgate::sandbox::{CallOptions, ChangeSink, CompileCache, Grant, Processes, Sandbox};

const HOSTILE: &str = env!("WASMGATE_COMPONENT_TEST_HOSTILE");
const WASMGATE: &str = env!("CARGO_BIN_EXE_wasmgate");

/// Percentiles of a set of timings.
struct Stats {
    p50: Duration,
    p90: Duration,
    p99: Duration,
}

impl Stats {
    fn of(mut samples: Vec<Duration>) -> Stats {
        samples.sort();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
        Stats { p50: at(0.50), p90: at(0.90), p99: at(0.99) }
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn row(name: &str, stats: &Stats) {
    println!(
        "  {name:<44} p50 {:>9.1} us   p90 {:>9.1} us   p99 {:>9.1} us",
        micros(stats.p50),
        micros(stats.p90),
        micros(stats.p99)
    );
}

/// Times `f` `samples` times after `warmup` untimed runs.
async fn time_async<F, Fut>(warmup: usize, samples: usize, mut f: F) -> Stats
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..warmup {
        f().await;
    }
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        f().await;
        times.push(start.elapsed());
    }
    Stats::of(times)
}

fn time_sync(warmup: usize, samples: usize, mut f: impl FnMut()) -> Stats {
    for _ in 0..warmup {
        f();
    }
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        f();
        times.push(start.elapsed());
    }
    Stats::of(times)
}

/// What `read` does, natively: open, read, number the lines.
fn native_read(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = String::with_capacity(text.len() + 1024);
    let mut total = 0;
    for (i, line) in text.lines().enumerate() {
        out.push_str(&format!("{}: {line}\n", i + 1));
        total = i + 1;
    }
    out.push_str(&format!("\n(End of file - total {total} lines)\n"));
    out
}

/// Calls per second with `callers` tasks calling `tool` for `window`.
async fn throughput(sandbox: &Sandbox, grant: &Grant, tool: &'static str, args: &'static str, callers: usize) -> f64 {
    let window = Duration::from_secs(2);
    let until = Instant::now() + window;
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (sandbox, grant) = (sandbox.clone(), grant.clone());
            tokio::spawn(async move {
                let mut calls = 0u64;
                while Instant::now() < until {
                    sandbox.call(tool, args, &grant).await.unwrap();
                    calls += 1;
                }
                calls
            })
        })
        .collect();
    let started = Instant::now();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// The built-in tools, with the shell's other commands run as `processes`.
async fn sandbox_with(cache: &Path, processes: Processes) -> Sandbox {
    Sandbox::builder().cache(CompileCache::at(cache)).processes(processes).build().await.unwrap()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let ws = work.path().join("ws");
    std::fs::create_dir(&ws).unwrap();
    let line = "The quick brown fox jumps over the lazy dog, 0123456789 abcdefghij\n";
    let text: String = line.repeat(4096 / line.len() + 1)[..4096].to_string();
    let file = ws.join("4k.txt");
    std::fs::write(&file, &text).unwrap();

    println!("wasmgate sandbox benchmark ({} cores)", std::thread::available_parallelism().map_or(0, |n| n.get()));
    let cold = Instant::now();
    let sandbox = Sandbox::builder()
        .cache(CompileCache::at(&cache))
        .component("test-hostile", std::fs::read(HOSTILE).unwrap())
        .build()
        .await
        .unwrap();
    let cold = cold.elapsed();
    let grant = Grant::read_only(&ws).unwrap();
    println!("  allocation: {:?}; first start (compiling): {:.0} ms\n", sandbox.allocation(), cold.as_secs_f64() * 1e3);

    println!("per call");
    let noop = time_async(500, 10_000, || async {
        sandbox.call("noop", "{}", &grant).await.unwrap();
    })
    .await;
    row("component call that does nothing", &noop);
    let read = time_async(500, 10_000, || async {
        let out = sandbox.call("read", r#"{"filePath":"4k.txt"}"#, &grant).await.unwrap();
        assert!(out.output.contains("1: The quick"));
    })
    .await;
    row("read 4 KiB through the sandbox", &read);
    let native = time_sync(500, 20_000, || {
        std::hint::black_box(native_read(&file));
    });
    row("read 4 KiB natively (baseline)", &native);
    let cat = time_sync(20, 500, || {
        let out = Command::new("cat").arg(&file).output().unwrap();
        assert_eq!(out.stdout.len(), 4096);
    });
    row("spawn `cat` on it (baseline)", &cat);
    // One shell command, `echo hi`: built into the sandboxed shell, against
    // `bash -c` spawned on the host (what running it as a process costs at
    // the least; a jailed process adds its confinement to that).
    let echo = time_async(200, 5_000, || async {
        let out = sandbox.call("bash", r#"{"command":"echo hi"}"#, &grant).await.unwrap();
        assert_eq!(out.output, "hi\n");
    })
    .await;
    row("`echo hi` in the sandboxed shell", &echo);
    let spawned = time_sync(20, 500, || {
        let out = Command::new("bash").args(["-c", "echo hi"]).output().unwrap();
        assert_eq!(out.stdout, b"hi\n");
    });
    row("`bash -c 'echo hi'` spawned (baseline)", &spawned);
    println!(
        "  {:<44} {:>9.2}x (goal: well under 1)",
        "sandboxed shell vs spawned bash, p50",
        echo.p50.as_secs_f64() / spawned.p50.as_secs_f64()
    );
    // The same command as a real program (`/bin/echo`, not the built-in),
    // run by the shell in a jail and as a plain host process.
    let writable = Grant::read_write(&ws).unwrap();
    let mut jail = Jail::new(JailSettings { helper: WASMGATE.into(), ..JailSettings::default() }).unwrap();
    jail.probe().unwrap();
    let jailed = sandbox_with(&cache, Processes::Jailed(Arc::new(jail))).await;
    let trusted = sandbox_with(&cache, Processes::Trusted).await;
    let program = r#"{"command":"/bin/echo hi"}"#;
    let in_jail = time_async(10, 300, || async {
        assert_eq!(jailed.call("bash", program, &writable).await.unwrap().output, "hi\n");
    })
    .await;
    row("`/bin/echo hi` jailed, through the shell", &in_jail);
    // As a session's call runs it: changes recorded, so the program writes
    // into a layer (an overlay mounted, then applied when it ends).
    let writer = r#"{"command":"/bin/sh -c 'echo hi > layered.txt; cat layered.txt'"}"#;
    let layered = time_async(10, 300, || async {
        let recorder = Arc::new(StepRecorder::new("msg_1", "prt_1"));
        let options = CallOptions { changes: Some(recorder.clone() as Arc<dyn ChangeSink>), ..Default::default() };
        assert_eq!(jailed.call_with("bash", writer, &writable, options).await.unwrap().output, "hi\n");
        assert_eq!(recorder.take().0.len(), 1, "the write is recorded");
    })
    .await;
    row("a write jailed in a layer, recorded for undo", &layered);
    let direct = time_async(10, 300, || async {
        assert_eq!(jailed.call("bash", writer, &writable).await.unwrap().output, "hi\n");
    })
    .await;
    row("the same write jailed, not recorded", &direct);
    let on_host = time_async(10, 300, || async {
        assert_eq!(trusted.call("bash", program, &writable).await.unwrap().output, "hi\n");
    })
    .await;
    row("`/bin/echo hi` trusted, through the shell", &on_host);
    let plain = time_sync(20, 500, || {
        assert_eq!(Command::new("/bin/echo").arg("hi").output().unwrap().stdout, b"hi\n");
    });
    row("`/bin/echo hi` spawned (baseline)", &plain);
    println!(
        "  {:<44} {:>9.2}x",
        "write layer vs none, jailed, p50",
        layered.p50.as_secs_f64() / direct.p50.as_secs_f64()
    );
    println!(
        "  {:<44} {:>9.2}x / {:.2}x / {:.2}x",
        "built-in / trusted / jailed vs spawned, p50",
        echo.p50.as_secs_f64() / plain.p50.as_secs_f64(),
        on_host.p50.as_secs_f64() / plain.p50.as_secs_f64(),
        in_jail.p50.as_secs_f64() / plain.p50.as_secs_f64()
    );

    println!("\nthroughput, calls per second");
    const READ: &str = r#"{"filePath":"4k.txt"}"#;
    let noop_one = throughput(&sandbox, &grant, "noop", "{}", 1).await;
    let noop_two = throughput(&sandbox, &grant, "noop", "{}", 2).await;
    let one = throughput(&sandbox, &grant, "read", READ, 1).await;
    let two = throughput(&sandbox, &grant, "read", READ, 2).await;
    println!("  {:<44} {noop_one:>10.0} /s", "call that does nothing, one caller");
    println!("  {:<44} {noop_two:>10.0} /s", "call that does nothing, two callers");
    println!("  {:<44} {one:>10.0} /s", "read 4 KiB, one caller");
    println!("  {:<44} {two:>10.0} /s", "read 4 KiB, two callers");

    println!("\nstart to ready, warm compile cache");
    let build = time_async(2, 30, || async {
        Sandbox::builder()
            .cache(CompileCache::at(&cache))
            .component("test-hostile", std::fs::read(HOSTILE).unwrap())
            .build()
            .await
            .unwrap();
    })
    .await;
    row("Sandbox::build, in process", &build);
    let process = time_sync(2, 30, || {
        let out =
            Command::new(WASMGATE).args(["tool", "list", "--json"]).env("WASMGATE_CACHE_DIR", &cache).output().unwrap();
        assert!(out.status.success());
    });
    row("`wasmgate tool list` process, start to exit", &process);
    let spawn = time_sync(5, 100, || {
        Command::new("true").output().unwrap();
    });
    row("spawn `true` (baseline)", &spawn);

    let read_p50 = micros(read.p50);
    let vs_cat = cat.p50.as_secs_f64() / read.p50.as_secs_f64();
    let vs_native = read.p50.as_secs_f64() / native.p50.as_secs_f64();
    let ready_ms = process.p50.as_secs_f64() * 1e3;
    println!("\nsummary (targets from issue 3)");
    summary("read 4 KiB through the sandbox, p50", format!("{read_p50:.1} us"), "<= 25 us", Some(read_p50 <= 25.0));
    summary("spawning cat / sandboxed read", format!("{vs_cat:.1}x"), ">= 40x", Some(vs_cat >= 40.0));
    summary("sandboxed read / native read", format!("{vs_native:.1}x"), "baseline", None);
    summary("read 4 KiB, two callers", format!("{two:.0}/s"), ">= 50,000/s", Some(two >= 50_000.0));
    summary("no-op call, two callers", format!("{noop_two:.0}/s"), ">= 50,000/s", Some(noop_two >= 50_000.0));
    summary("process start to ready, warm cache", format!("{ready_ms:.1} ms"), "<= 100 ms", Some(ready_ms <= 100.0));
}

/// One line of the summary: a figure, its target, and whether it meets it.
fn summary(what: &str, figure: String, target: &str, met: Option<bool>) {
    let verdict = match met {
        Some(true) => "meets target",
        Some(false) => "MISSES target",
        None => "",
    };
    println!("  {what:<40} {figure:>12}   ({target:<12}) {verdict}");
}
