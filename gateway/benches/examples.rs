//! The example tools' benchmark: what a tool written in Rust, Python or
//! JavaScript costs per call, against the built-in tools and a Python
//! process in the same run.
//!
//! Python and JavaScript components are large (the interpreter or engine is
//! in them: ~18 MB and ~12 MB) and start from a heap their toolchain
//! initialised when it built them. It measures, for each example `examples/build` can
//! build here (its toolchain installed by `examples/install-toolchains`):
//!
//! - compiling it, and loading its compiled code back from the cache, as a
//!   restart does;
//! - `wasmgate tool list` with it in the tools folder and a warm cache (a
//!   process start to ready);
//! - a call's p50 and p99 of each (the Rust example `date_calc` is always
//!   built: cargo is here), against the Rust test component's `noop` and the
//!   built-in `read` (Rust) on the same file, and against `python3` spawned
//!   to do the same query (what running the script as a process costs),
//!   with the page faults a call takes (a fresh instance's memory is mapped
//!   copy-on-write from the component's initial heap, so each page a call
//!   touches there costs a fault: most of a Python call).
//!
//! Run with `cargo bench --bench examples`. Goal (issue 15): the Python
//! tool's p50 at most 500 us on this machine.

const README: &str = "# Guide\n\nSee [setup](#setup) and [code](src/lib.rs).\n\n## Setup\n\n### Two words\n";

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use wasmgate::sandbox::{CompileCache, Grant, Sandbox};

const HOSTILE: &str = env!("WASMGATE_COMPONENT_TEST_HOSTILE");
const WASMGATE: &str = env!("CARGO_BIN_EXE_wasmgate");

const CARGO_TOML: &str = "[package]\nname = \"demo\"\nversion = \"1.2.3\"\nedition = \"2024\"\n\n\
[dependencies]\nserde = { version = \"1\", features = [\"derive\"] }\ntokio = \"1\"\n";

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    (at(0.50), at(0.99))
}

/// The page faults this process took so far.
fn minor_faults() -> i64 {
    // SAFETY: getrusage writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage.ru_minflt
}

fn row(name: &str, (p50, p99): (f64, f64)) {
    println!("  {name:<48} p50 {p50:>9.1} us   p99 {p99:>9.1} us");
}

/// `samples` calls of `tool`, printed as `name` with the page faults they
/// took: their p50 and p99.
async fn calls(
    name: &str,
    sandbox: &Sandbox,
    grant: &Grant,
    tool: &str,
    arguments: &str,
    samples: usize,
) -> (f64, f64) {
    for _ in 0..samples / 10 {
        sandbox.call(tool, arguments, grant).await.unwrap();
    }
    let mut times = Vec::with_capacity(samples);
    let faults = minor_faults();
    for _ in 0..samples {
        let started = Instant::now();
        std::hint::black_box(sandbox.call(tool, arguments, grant).await.unwrap());
        times.push(started.elapsed());
    }
    let faults = (minor_faults() - faults) as f64 / samples as f64;
    let (p50, p99) = percentiles(times);
    println!("  {name:<48} p50 {p50:>9.1} us   p99 {p99:>9.1} us   {faults:>5.0} page faults");
    (p50, p99)
}

/// Builds the examples whose toolchains are here into `out`.
fn build_examples(out: &Path) -> Vec<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/build");
    let built = Command::new(script).arg(out).output().expect("running examples/build");
    assert!(built.status.success(), "examples/build: {}", String::from_utf8_lossy(&built.stderr));
    eprint!("{}", String::from_utf8_lossy(&built.stderr));
    String::from_utf8_lossy(&built.stdout).lines().map(PathBuf::from).collect()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let work = tempfile::tempdir().unwrap();
    let (out, cache, ws) = (work.path().join("tools"), work.path().join("cache"), work.path().join("ws"));
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("Cargo.toml"), CARGO_TOML).unwrap();
    std::fs::write(ws.join("README.md"), README).unwrap();
    println!(
        "wasmgate example tools benchmark ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let built = build_examples(&out);
    let example = |file: &str| built.iter().find(|p| p.ends_with(file));
    let sandbox = Sandbox::builder()
        .cache(CompileCache::at(&cache))
        .component("test-hostile", std::fs::read(HOSTILE).unwrap())
        .tools_dir(&out)
        .unwrap()
        .build()
        .await
        .unwrap();
    assert!(sandbox.load_failures().is_empty(), "{:?}", sandbox.load_failures());
    let (python, javascript) = (example("data_query.wasm"), example("md_outline.wasm"));
    for (what, path) in [
        ("the Rust tool (date_calc", example("date_calc.wasm")),
        ("the Python tool (data_query", python),
        ("the JavaScript tool (md_outline", javascript),
    ] {
        let Some(path) = path else { continue };
        let bytes = std::fs::read(path).unwrap();
        let timing = sandbox.compile_timing(&bytes).unwrap();
        println!("\n{what}, {:.1} MB)", bytes.len() as f64 / 1e6);
        println!("  {:<48} {:>9.0} ms", "compile", timing.compile.as_secs_f64() * 1e3);
        println!("  {:<48} {:>9.1} ms", "load from the compile cache", timing.cached.unwrap().as_secs_f64() * 1e3);
    }
    let mut starts = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let listed = Command::new(WASMGATE)
            .args(["tool", "list", "--tools-dir"])
            .arg(&out)
            .env("WASMGATE_CACHE_DIR", &cache)
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&listed.stdout).contains("date_calc"));
        starts.push(started.elapsed());
    }
    starts.sort();
    println!("\n  {:<48} {:>9.1} ms", "`wasmgate tool list` with them, warm cache, p50", starts[5].as_secs_f64() * 1e3);

    println!("\nper call");
    let grant = Grant::read_only(&ws).unwrap();
    let query = r#"{"path":"Cargo.toml","query":"dependencies.serde.features"}"#;
    let dates = r#"{"date":"2026-12-03","add":"3 weeks","until":"2027-01-01","in_time_zone":"Asia/Tokyo"}"#;
    let measure = async |name: &str, tool: &str, arguments: &str, samples: usize| {
        calls(name, &sandbox, &grant, tool, arguments, samples).await
    };
    let rust = measure("Rust date_calc: add, until, another time zone", "date_calc", dates, 5000).await;
    let py = match python {
        Some(_) => {
            let out = sandbox.call("data_query", query, &grant).await.unwrap();
            assert!(out.output.contains("derive"), "{}", out.output);
            let py = measure("Python data_query: a TOML file, one key", "data_query", query, 2000).await;
            measure("Python data_query: inline {}", "data_query", r#"{"text":"{}"}"#, 2000).await;
            Some(py)
        }
        None => None,
    };
    let outline = r#"{"path":"README.md"}"#;
    let js = match javascript {
        Some(_) => Some(measure("JavaScript md_outline: a small README", "md_outline", outline, 2000).await),
        None => None,
    };
    let noop = measure("Rust noop (the test component)", "noop", "{}", 5000).await;
    let same_file = r#"{"filePath":"Cargo.toml"}"#;
    let read = measure("Rust read (the built-in file tools), same file", "read", same_file, 5000).await;
    let script = "import tomllib,json;print(json.dumps(tomllib.load(open('Cargo.toml','rb'))['dependencies']['serde']['features']))";
    let mut spawned = Vec::new();
    for _ in 0..100 {
        let started = Instant::now();
        let printed = Command::new("python3").args(["-c", script]).current_dir(&ws).output().unwrap();
        assert!(printed.status.success());
        spawned.push(started.elapsed());
    }
    let spawned = percentiles(spawned);
    row("python3 spawned to do the same (baseline)", spawned);
    println!("  {:<48} {:>9.2}x / {:.2}x", "Rust tool vs Rust read / noop, p50", rust.0 / read.0, rust.0 / noop.0);
    if let Some(py) = py {
        println!(
            "  {:<48} {:>9.2}x / {:.2}x / {:.3}x (goal: p50 <= 500 us)",
            "Python tool vs Rust read / noop / python3, p50",
            py.0 / read.0,
            py.0 / noop.0,
            py.0 / spawned.0
        );
    }
    if let Some(js) = js {
        println!(
            "  {:<48} {:>9.2}x / {:.2}x",
            "JavaScript tool vs Rust read / noop, p50",
            js.0 / read.0,
            js.0 / noop.0
        );
    }
}
