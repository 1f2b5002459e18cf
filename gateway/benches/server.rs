//! The server benchmark: wasmgate against the reference `opencode serve`,
//! measured side by side in one run on the same project.
//!
//! Figures: time from process start to the listening line, resident memory
//! when idle, requests per second on `GET /session` and `GET /file/content`
//! (a keep-alive loopback load generator, the same for both), and the delay
//! from publishing an event (`POST /session`) to its arrival at each of 1,000
//! `/global/event` subscribers. Then, wasmgate alone on two runtime workers:
//! `GET /global/health` latency while three tool calls keep it busy (two
//! host processes waiting on `sleep`, a shell loop spinning in the sandbox),
//! against the same latency idle, measured in the same run: busy tools must
//! not starve the server. Last, one read of a file through MCP
//! (`tools/call read` on `/wasmgate/mcp`) against the same read through the
//! OpenCode route (`GET /file/content`), one request at a time on one
//! connection, p50 and p99. The reference binary comes from the e2e
//! tests' npm install (`just e2e`, or `npm ci` in tests/e2e); without it the
//! reference column is skipped.
//!
//! Run with `cargo bench --bench server` (or `just bench`).

mod common;

use common::{
    Connection, find, print_header, read_frames, reference, reference_binary, reference_home, row, session_id, start,
    wasmgate,
};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const STARTS: usize = 5;
const LOAD_CONNECTIONS: usize = 32;
const LOAD_TIME: Duration = Duration::from_secs(3);
const SUBSCRIBERS: usize = 1000;
const EVENTS: usize = 5;

/// Resident memory of a process, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// Requests per second on `path` over [`LOAD_CONNECTIONS`] keep-alive connections.
async fn load(address: &str, path: &str) -> f64 {
    common::load(address, path, &[String::new()], LOAD_CONNECTIONS, LOAD_TIME).await
}

/// How event delivery to [`SUBSCRIBERS`] streams went.
struct FanOut {
    /// Milliseconds from `POST /session` to `session.created` at a stream:
    /// median, p99 and slowest over every delivery.
    median: f64,
    p99: f64,
    max: f64,
    /// Deliveries that arrived, of `SUBSCRIBERS * EVENTS`.
    delivered: usize,
}

/// Publishes [`EVENTS`] events (`POST /session`) to [`SUBSCRIBERS`]
/// `/global/event` streams and times each delivery. Every stream reports the
/// `session.created` frames it sees with their session id, so a late or
/// missing delivery is counted as such rather than taken for another event.
async fn fan_out(address: &str) -> FanOut {
    let mut streams = Vec::with_capacity(SUBSCRIBERS);
    for _ in 0..SUBSCRIBERS {
        let mut stream = TcpStream::connect(address).await.expect("subscribe");
        stream.write_all(b"GET /global/event HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: */*\r\n\r\n").await.unwrap();
        streams.push(stream);
    }
    // Every stream must be connected (its first frame read) before timing.
    let (arrivals, mut collected) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let mut readers = Vec::new();
    for mut stream in streams {
        let mut seen = Vec::new();
        while find(&seen, b"server.connected").is_none() {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "a subscriber was disconnected");
            seen.extend_from_slice(&chunk[..n]);
        }
        let arrivals = arrivals.clone();
        readers.push(tokio::spawn(read_frames(stream, move |frame, at| {
            if find(frame, b"\"type\":\"session.created\"").is_some()
                && let Some(id) = session_id(frame)
            {
                let _ = arrivals.send((id, at));
            }
        })));
    }
    drop(arrivals);
    let mut client = Connection::open(address).await;
    let mut published = std::collections::HashMap::new();
    for _ in 0..EVENTS {
        let at = Instant::now();
        let (status, body) = client.request("POST", "/session", "{}").await;
        assert_eq!(status, 200);
        let id = session_id(&body).expect("the new session's id");
        published.insert(id, at);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Give late deliveries a while, then stop listening.
    let mut delays = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while delays.len() < SUBSCRIBERS * EVENTS {
        match tokio::time::timeout_at(deadline, collected.recv()).await {
            Ok(Some((id, arrived))) => {
                if let Some(sent) = published.get(&id) {
                    delays.push(arrived.saturating_duration_since(*sent).as_secs_f64() * 1000.0);
                }
            }
            _ => break,
        }
    }
    readers.iter().for_each(|r| r.abort());
    delays.sort_by(f64::total_cmp);
    let at = |q: f64| if delays.is_empty() { f64::NAN } else { delays[((delays.len() - 1) as f64 * q) as usize] };
    FanOut { median: at(0.5), p99: at(0.99), max: at(1.0), delivered: delays.len() }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

struct Figures {
    start: Duration,
    idle_mib: f64,
    sessions_rps: f64,
    content_rps: f64,
    fan_out: FanOut,
}

fn measure(
    name: &'static str,
    command: impl Fn() -> Command,
    marker: &str,
    runtime: &tokio::runtime::Runtime,
) -> Figures {
    // One start to warm caches (compiled components, the OS page cache).
    drop(start(name, command(), marker));
    let start_time = median((0..STARTS).map(|_| start(name, command(), marker).1).collect());
    let (server, _) = start(name, command(), marker);
    std::thread::sleep(Duration::from_secs(2));
    let idle_mib = rss_mib(server.child.id());
    let address = server.address.clone();
    let (sessions_rps, content_rps, fan_out) = runtime.block_on(async {
        let mut client = Connection::open(&address).await;
        for _ in 0..20 {
            client.request("POST", "/session", "{}").await;
        }
        let sessions = load(&address, "/session").await;
        let content = load(&address, "/file/content?path=src/lib.rs").await;
        (sessions, content, fan_out(&address).await)
    });
    eprintln!("{}: measured", server.name);
    Figures { start: start_time, idle_mib, sessions_rps, content_rps, fan_out }
}

/// `GET /global/health` latency (median, slowest of [`HEALTH_PROBES`]).
async fn health(address: &str) -> (Duration, Duration) {
    let mut connection = Connection::open(address).await;
    let mut took = Vec::with_capacity(HEALTH_PROBES);
    for _ in 0..HEALTH_PROBES {
        let asked = Instant::now();
        let (status, _) = connection.request("GET", "/global/health", "").await;
        took.push(asked.elapsed());
        assert_eq!(status, 200);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let slowest = *took.iter().max().unwrap();
    (median(took), slowest)
}

const HEALTH_PROBES: usize = 100;

/// Health latency idle, then while three tool calls keep two workers busy.
fn busy(project: &Path, data: &Path, config: &Path, runtime: &tokio::runtime::Runtime) -> [(Duration, Duration); 2] {
    let mut command = wasmgate(project, data, config);
    command.args(["--allow-host-processes", "--timeout", "30"]).env("TOKIO_WORKER_THREADS", "2");
    let (server, _) = start("wasmgate", command, "wasmgate listening");
    let address = server.address.clone();
    runtime.block_on(async move {
        health(&address).await; // warms the connection path up
        let idle = health(&address).await;
        let mut control = Connection::open(&address).await;
        let (mut sessions, mut calls) = (Vec::new(), Vec::new());
        for command in ["sh -c 'sleep 20'", "sh -c 'sleep 20'", "while true; do :; done"] {
            let (_, created) = control.request("POST", "/session", "{}").await;
            let id = session_id(&created).expect("a session");
            let body = serde_json::json!({ "agent": "build", "command": command }).to_string();
            let (address, path) = (address.clone(), format!("/session/{id}/shell"));
            calls.push(tokio::spawn(
                async move { Connection::open(&address).await.request("POST", &path, &body).await },
            ));
            sessions.push(id);
        }
        // Every call running before the probes start.
        while control.request("GET", "/session/status", "").await.1.windows(6).filter(|w| w == b"\"busy\"").count() < 3
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let busy = health(&address).await;
        for id in sessions {
            control.request("POST", &format!("/session/{id}/abort"), "").await;
        }
        for call in calls {
            assert_eq!(call.await.unwrap().0, 200, "an aborted command answers");
        }
        [idle, busy]
    })
}

/// Reads measured per side in [`mcp_against_route`].
const READS: usize = 500;

/// p50 and p99 of reading `src/lib.rs` through `GET /file/content`, then
/// through MCP's `tools/call read` (a stateless JSON request), on one
/// keep-alive connection each.
fn mcp_against_route(
    project: &Path,
    data: &Path,
    config: &Path,
    runtime: &tokio::runtime::Runtime,
) -> ((Duration, Duration), (Duration, Duration)) {
    let (server, _) = start("wasmgate", wasmgate(project, data, config), "wasmgate listening");
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read","arguments":{"filePath":"src/lib.rs"}}}"#;
    let headers = "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-06-18\r\n";
    runtime.block_on(async {
        let mut connection = Connection::open(&server.address).await;
        let (mut route, mut mcp) = (Vec::with_capacity(READS), Vec::with_capacity(READS));
        for i in 0..READS + 20 {
            let began = Instant::now();
            let (status, body) = connection.request("GET", "/file/content?path=src/lib.rs", "").await;
            let between = began.elapsed();
            assert!(status == 200 && find(&body, b"function_99").is_some(), "the route answered {status}");
            let began = Instant::now();
            let (status, body) = connection.request_with("POST", "/wasmgate/mcp", call, headers).await;
            let through_mcp = began.elapsed();
            assert!(
                status == 200 && find(&body, b"function_99").is_some(),
                "MCP answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
            // The first reads warm the caches.
            if i >= 20 {
                route.push(between);
                mcp.push(through_mcp);
            }
        }
        (percentiles(route), percentiles(mcp))
    })
}

/// The p50 and p99 of `times`.
fn percentiles(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[times.len() * 99 / 100])
}

fn project(dir: &Path) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("README.md"), "# bench\n").unwrap();
    let source: String = (0..100).map(|i| format!("pub fn function_{i}(x: u32) -> u32 {{ x + {i} }}\n")).collect();
    std::fs::write(dir.join("src/lib.rs"), source).unwrap();
}

fn main() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    project(&root.join("project"));
    let config = root.join("wasmgate.json");
    std::fs::write(&config, "{}").unwrap();
    let home = root.join("home");
    reference_home(&home, r#"{"autoupdate":false,"share":"disabled"}"#);
    // Room for 1,000 subscribers on each side.
    let limit = libc::rlimit { rlim_cur: 16_384, rlim_max: 16_384 };
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let project_dir = root.join("project");
    let ours =
        measure("wasmgate", || wasmgate(&project_dir, &root.join("data"), &config), "wasmgate listening", &runtime);
    let theirs = reference_binary().map(|binary| {
        measure("reference", || reference(&binary, &project_dir, &home), "opencode server listening", &runtime)
    });

    println!(
        "\nserver benchmark: {LOAD_CONNECTIONS} connections x {}s of load, {SUBSCRIBERS} subscribers x {EVENTS} events",
        LOAD_TIME.as_secs()
    );
    print_header();
    row(
        "start to listening line",
        ours.start.as_secs_f64() * 1000.0,
        theirs.as_ref().map(|t| t.start.as_secs_f64() * 1000.0),
        "ms",
        false,
    );
    row("idle memory (RSS)", ours.idle_mib, theirs.as_ref().map(|t| t.idle_mib), "MiB", false);
    row("GET /session", ours.sessions_rps, theirs.as_ref().map(|t| t.sessions_rps), "/s", true);
    row("GET /file/content", ours.content_rps, theirs.as_ref().map(|t| t.content_rps), "/s", true);
    row(
        "event to 1,000 subscribers, median",
        ours.fan_out.median,
        theirs.as_ref().map(|t| t.fan_out.median),
        "ms",
        false,
    );
    row("event to 1,000 subscribers, p99", ours.fan_out.p99, theirs.as_ref().map(|t| t.fan_out.p99), "ms", false);
    row("event to 1,000 subscribers, slowest", ours.fan_out.max, theirs.as_ref().map(|t| t.fan_out.max), "ms", false);
    let sent = (SUBSCRIBERS * EVENTS) as f64;
    row(
        "events delivered within 10 s",
        ours.fan_out.delivered as f64 / sent * 100.0,
        theirs.as_ref().map(|t| t.fan_out.delivered as f64 / sent * 100.0),
        "%",
        true,
    );
    println!("(ratio: how many times better wasmgate is; above 1.0 is better)");

    let [idle, loaded] = busy(&project_dir, &root.join("busy-data"), &config, &runtime);
    println!("\nwasmgate on 2 workers, GET /global/health x {HEALTH_PROBES}, idle and with 3 busy tool calls");
    println!("{:<42} {:>14} {:>14} {:>10}", "figure", "busy", "idle", "busy/idle");
    for (name, busy, idle) in [("median", loaded.0, idle.0), ("slowest", loaded.1, idle.1)] {
        let (busy, idle) = (busy.as_secs_f64() * 1000.0, idle.as_secs_f64() * 1000.0);
        println!("{:<42} {busy:>11.2} ms {idle:>11.2} ms {:>9.1}x", format!("health, {name}"), busy / idle);
    }
    let (route, mcp) = mcp_against_route(&project_dir, &root.join("mcp-data"), &config, &runtime);
    println!("\nwasmgate, one file read x {READS} on one connection: MCP against the OpenCode route");
    println!("{:<42} {:>14} {:>14} {:>10}", "figure", "MCP", "route", "MCP/route");
    for (name, mcp, route) in [("p50", mcp.0, route.0), ("p99", mcp.1, route.1)] {
        let (mcp, route) = (mcp.as_secs_f64() * 1e6, route.as_secs_f64() * 1e6);
        println!("{:<42} {mcp:>11.1} us {route:>11.1} us {:>9.2}x", format!("read src/lib.rs, {name}"), mcp / route);
    }
    if theirs.is_none() {
        println!("the reference server is not installed: run `just e2e` (or `npm ci` in tests/e2e) to compare");
    }
}
