//! The hosting benchmark: one wasmgate serving 1,000 tenants on loopback,
//! every figure against a baseline measured in the same run.
//!
//! - memory: resident memory of the server per idle tenant (added, its
//!   folders opened by one request, one session) and per idle event stream
//!   (each tenant holding one `/global/event` open), against the server
//!   with no tenant (goal: <= 64 KiB per idle tenant with its stream);
//! - throughput: sandboxed calls per second (`GET /file/content`, a `read`
//!   in the sandbox) spread over 100 tenants against all from 1 tenant
//!   (goal: >= 90 %);
//! - fairness: the p50 and p99 latency of a quiet tenant's reads (made
//!   from a thread of their own) while another tenant floods the server
//!   with reads, against the same alone (goal: p99 <= 2x). The flood's
//!   client runs on the server's cores, as no remote flooder's would; two
//!   threads spinning outside the server show what that alone costs the
//!   quiet tenant's p99 (the scheduler's floor on this machine);
//! - auth: the cost of the token check per request, `GET /global/health`
//!   with a tenant's token against a server with no auth.
//!
//! Run with `cargo bench --bench tenants`.

mod common;

use common::{Connection, read_frames, start};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use wasmgate::tenant::{QuotaSettings, Quotas, Tenants};

const TENANTS: usize = 1000;
const ACTIVE: usize = 100;
const CONNECTIONS: usize = 32;
const LOAD_TIME: Duration = Duration::from_secs(3);
const QUIET_READS: usize = 1000;
const FAIRNESS_ROUNDS: usize = 5;

fn rss_kib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

fn bearer(token: &str) -> String {
    format!("authorization: Bearer {token}\r\n")
}

/// Requests per second of `GET path` over [`CONNECTIONS`] connections, the
/// i-th using `headers[i % len]`.
async fn load(address: &str, path: &str, headers: &[String]) -> f64 {
    common::load(address, path, headers, CONNECTIONS, LOAD_TIME).await
}

/// The latencies of [`QUIET_READS`] sequential reads by one tenant, made
/// from a thread and runtime of their own, so the flood's client tasks never
/// stand between the quiet tenant and its answers.
fn quiet_reads(address: &str, header: &str) -> Vec<Duration> {
    let (address, header) = (address.to_string(), header.to_string());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let mut connection = Connection::open(&address).await;
            let mut times = Vec::with_capacity(QUIET_READS);
            for _ in 0..QUIET_READS {
                let began = Instant::now();
                let (status, _) = connection.request_with("GET", "/file/content?path=README.md", "", &header).await;
                assert_eq!(status, 200);
                times.push(began.elapsed());
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            times
        })
    })
    .join()
    .unwrap()
}

/// The p50 and p99 of `times`.
fn percentiles(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[times.len() * 99 / 100])
}

/// One tenant flooding the server with reads over [`CONNECTIONS`]
/// connections, from a thread and runtime of its own (one core at most, as
/// a flood from another machine would cost this one none), until stopped.
struct Flood {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<f64>,
}

impl Flood {
    fn start(address: &str, header: &str) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (address, header, stopped) = (address.to_string(), header.to_string(), stop.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let began = Instant::now();
                let workers: Vec<_> = (0..CONNECTIONS)
                    .map(|_| {
                        let (address, header, stopped) = (address.clone(), header.clone(), stopped.clone());
                        tokio::spawn(async move {
                            let mut connection = Connection::open(&address).await;
                            let mut done = 0u64;
                            while !stopped.load(Ordering::Relaxed) {
                                let path = "/file/content?path=README.md";
                                assert_eq!(connection.request_with("GET", path, "", &header).await.0, 200);
                                done += 1;
                            }
                            done
                        })
                    })
                    .collect();
                let mut total = 0;
                for worker in workers {
                    total += worker.await.unwrap();
                }
                total as f64 / began.elapsed().as_secs_f64()
            })
        });
        Flood { stop, thread }
    }

    /// Stops the flood; its reads per second.
    fn stop(self) -> f64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// Threads spinning on the cores, outside the server: the latency the
/// machine's scheduler alone adds to a quiet client when every core is busy,
/// the floor under the flooded figure on a machine its load generator shares.
struct Spinning {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Spinning {
    fn start(threads: usize) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let threads = (0..threads)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        Spinning { stop, threads }
    }

    fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.threads.into_iter().for_each(|thread| thread.join().unwrap());
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let work = tempfile::tempdir().unwrap();
    let (project, data, roots) = (work.path().join("project"), work.path().join("data"), work.path().join("roots"));
    for dir in [&project, &data, &roots] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(project.join("README.md"), "hello\n").unwrap();
    let config = work.path().join("config.json");
    std::fs::write(&config, "{}").unwrap();
    let serve = |data: &Path| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wasmgate"));
        command.args(["serve", "--port", "0", "--data-dir"]).arg(data).arg("--config").arg(&config).arg(&project);
        command.env("RUST_LOG", "error");
        start("wasmgate", command, "wasmgate listening")
    };

    // Auth: the same route with no auth, then with a token.
    let (open, _) = serve(&work.path().join("open-data"));
    let no_auth = runtime.block_on(load(&open.address, "/global/health", &[String::new()]));
    drop(open);

    // 1,000 tenants, each with its own folder.
    let tenants = Tenants::open(&data, Quotas::default()).unwrap();
    let mut tokens = Vec::with_capacity(TENANTS);
    for i in 0..TENANTS {
        let root = roots.join(format!("t{i}"));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("README.md"), format!("tenant {i}\n")).unwrap();
        let settings = QuotaSettings { requests_per_minute: Some(1_000_000), ..Default::default() };
        tokens.push(tenants.add(&format!("t{i}"), &[root], settings).unwrap());
    }
    drop(tenants);
    let headers: Vec<String> = tokens.iter().map(|t| bearer(t)).collect();

    let (server, _) = serve(&data);
    let pid = server.child.id();
    let address = server.address.clone();
    std::thread::sleep(Duration::from_millis(500));
    let with_token = runtime.block_on(load(&address, "/global/health", &headers[..1]));
    let empty = rss_kib(pid);
    // Each tenant: one request (its folders opened), one session, one read.
    runtime.block_on(async {
        let mut connection = Connection::open(&address).await;
        for header in &headers {
            assert_eq!(connection.request_with("POST", "/session", "{}", header).await.0, 200);
            assert_eq!(connection.request_with("GET", "/file/content?path=README.md", "", header).await.0, 200);
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let idle_tenants = rss_kib(pid);
    // Each tenant holds one event stream open.
    let streams = runtime.block_on(async {
        let mut streams = Vec::with_capacity(TENANTS);
        for token in &tokens {
            let mut stream = TcpStream::connect(&address).await.unwrap();
            let request =
                format!("GET /global/event HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {token}\r\n\r\n");
            stream.write_all(request.as_bytes()).await.unwrap();
            streams.push(stream);
        }
        let (sender, mut connected) = tokio::sync::mpsc::unbounded_channel();
        let readers: Vec<_> = streams
            .into_iter()
            .map(|stream| {
                let sender = sender.clone();
                tokio::spawn(read_frames(stream, move |frame, _| {
                    if common::find(frame, b"server.connected").is_some() {
                        let _ = sender.send(());
                    }
                }))
            })
            .collect();
        for _ in 0..TENANTS {
            connected.recv().await.unwrap();
        }
        readers
    });
    std::thread::sleep(Duration::from_millis(300));
    let with_streams = rss_kib(pid);

    // Throughput: 100 tenants against 1.
    let one = runtime.block_on(load(&address, "/file/content?path=README.md", &headers[..1]));
    let hundred = runtime.block_on(load(&address, "/file/content?path=README.md", &headers[..ACTIVE]));

    // Fairness: a quiet tenant alone, beside a flood from another tenant,
    // and beside two threads spinning outside the server, in alternating
    // rounds so that the machine's own hiccups fall on all three.
    let (mut alone, mut flooded, mut spun, mut flood_rates) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..FAIRNESS_ROUNDS {
        alone.extend(quiet_reads(&address, &headers[1]));
        let flood = Flood::start(&address, &headers[2]);
        std::thread::sleep(Duration::from_millis(200));
        flooded.extend(quiet_reads(&address, &headers[1]));
        flood_rates.push(flood.stop());
        let spinning = Spinning::start(2);
        spun.extend(quiet_reads(&address, &headers[1]));
        spinning.stop();
    }
    let (alone, flooded, spun) = (percentiles(alone), percentiles(flooded), percentiles(spun));
    let flood_rate = flood_rates.iter().sum::<f64>() / flood_rates.len() as f64;
    let after_all = rss_kib(pid);
    for reader in streams {
        reader.abort();
    }

    println!("wasmgate with {TENANTS} tenants (each: a folder, a session, a read, an open event stream)\n");
    println!("{:<52} {:>12} {:>12} {:>8}", "figure", "measured", "baseline", "ratio");
    let line = |name: &str, ours: f64, base: f64, unit: &str, ratio: f64| {
        println!("{name:<52} {ours:>9.1} {unit:<2} {base:>9.1} {unit:<2} {ratio:>7.2}x");
    };
    let per_tenant = (idle_tenants - empty) / TENANTS as f64;
    let per_stream = (with_streams - idle_tenants) / TENANTS as f64;
    line("memory per idle tenant (vs the server before)", per_tenant, empty, "KiB", per_tenant / empty);
    line("memory per idle event stream", per_stream, per_tenant, "KiB", per_stream / per_tenant.max(0.1));
    println!("{:<52} {:>9.1} KiB  (goal <= 64)", "memory per idle tenant with its stream", per_tenant + per_stream);
    println!("{:<52} {:>9.1} MiB", "server resident memory at the end", after_all / 1024.0);
    line("sandboxed reads/s: 100 tenants vs 1 tenant", hundred, one, "/s", hundred / one);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for (name, flooded, alone) in [("p50", flooded.0, alone.0), ("p99", flooded.1, alone.1)] {
        let figure = format!("quiet tenant's read {name}: flooded vs alone (ms)");
        line(&figure, ms(flooded), ms(alone), "ms", ms(flooded) / ms(alone));
    }
    println!("{:<52} {:>9.1} /s  (the flooding tenant's reads)", "flood", flood_rate);
    let figure = "quiet tenant's read p99: 2 threads spinning vs alone";
    line(figure, ms(spun.1), ms(alone.1), "ms", ms(spun.1) / ms(alone.1));
    // Requests are served on every core: a request's CPU time is cores / rate.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let overhead_us = (cores * 1e6 / with_token - cores * 1e6 / no_auth).max(0.0);
    line("GET /global/health/s: token vs no auth", with_token, no_auth, "/s", with_token / no_auth);
    println!("{:<52} {:>9.1} us  (CPU per request)", "token check cost", overhead_us);
}
