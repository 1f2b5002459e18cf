//! The search benchmark: the sandboxed `grep` against `rg -j1` over the same
//! 10,000-file tree, measured side by side in one run.
//!
//! The corpus is generated (deterministic pseudo-source, 100 folders of 100
//! files, a .gitignore, a few rare matches), so every machine searches the
//! same bytes. Each figure is the median of several full searches; the
//! pattern is rare enough that neither side stops early. `rg` must be on the
//! PATH (`apt-get install ripgrep`); without it the baseline is skipped.
//!
//! Run with `cargo bench --bench search` (or `just bench`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use wasmgate::sandbox::{CompileCache, Grant, PathKind, PathQuery, Sandbox};

const FOLDERS: usize = 100;
const FILES_PER_FOLDER: usize = 100;
const RUNS: usize = 9;

/// A small deterministic generator (xorshift), so the corpus is the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn word(&mut self) -> &'static str {
        const WORDS: &[&str] = &[
            "value", "count", "buffer", "index", "result", "state", "config", "handle", "request", "reply", "token",
            "offset", "length", "cursor", "parser", "reader", "writer", "entry", "record", "cache",
        ];
        WORDS[(self.next() % WORDS.len() as u64) as usize]
    }
}

/// Writes the corpus once into `dir`; returns how many files contain the needle.
fn corpus(dir: &Path) -> usize {
    let marker = dir.join(".complete");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut needles = 0;
    let exists = marker.exists();
    for folder in 0..FOLDERS {
        let folder_path = dir.join(format!("module_{folder:03}"));
        if !exists {
            std::fs::create_dir_all(&folder_path).unwrap();
        }
        for file in 0..FILES_PER_FOLDER {
            let mut text = String::new();
            let lines = 40 + rng.next() % 60;
            for line in 0..lines {
                let (a, b, c) = (rng.word(), rng.word(), rng.word());
                let n = rng.next() % 1000;
                text.push_str(&match line % 4 {
                    0 => format!("pub fn {a}_{b}(input: &{c}) -> usize {{\n"),
                    1 => format!("    let {a} = {b}.{c}({n});\n"),
                    2 => format!("    // {a} the {b} before the {c} ({n})\n"),
                    _ => "}\n".to_string(),
                });
            }
            if rng.next().is_multiple_of(200) {
                text.push_str("const NEEDLE_MATCH: &str = \"found\";\n");
                needles += 1;
            }
            if !exists {
                std::fs::write(folder_path.join(format!("file_{file:03}.rs")), text).unwrap();
            }
        }
    }
    if !exists {
        std::fs::write(dir.join(".gitignore"), "target/\n").unwrap();
        std::fs::write(&marker, "").unwrap();
    }
    needles
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn rg_available() -> bool {
    Command::new("rg").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Median time of `rg -j1` with `args` over `dir`, and its line count.
fn time_rg(dir: &Path, args: &[&str]) -> (Duration, usize) {
    let mut times = Vec::new();
    let mut lines = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = Command::new("rg").args(["-j1", "-n", "--no-messages"]).args(args).arg(dir).output().unwrap();
        times.push(start.elapsed());
        lines = out.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
    }
    (median(times), lines)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("search-corpus");
    let needles = corpus(&dir);
    let bytes: u64 = walk_size(&dir);
    println!(
        "wasmgate search benchmark: {} files, {:.1} MB, {needles} files with the needle",
        FOLDERS * FILES_PER_FOLDER,
        bytes as f64 / 1e6
    );
    let sandbox = Sandbox::builder().cache(CompileCache::at(dir.with_extension("cache"))).build().await.unwrap();
    let grant = Grant::read_only(&dir).unwrap();
    let have_rg = rg_available();
    if !have_rg {
        println!("  (rg is not on the PATH: install ripgrep for the baseline)");
    }

    let cases: [(&str, serde_json::Value, Vec<&str>); 3] = [
        ("literal", serde_json::json!({"pattern": "NEEDLE_MATCH"}), vec!["NEEDLE_MATCH"]),
        ("regex", serde_json::json!({"pattern": "NEEDLE_\\w+: &str"}), vec!["NEEDLE_\\w+: &str"]),
        (
            "case-insensitive",
            serde_json::json!({"pattern": "needle_match", "caseInsensitive": true}),
            vec!["-i", "needle_match"],
        ),
    ];
    println!("\n  {:<18} {:>12} {:>12} {:>10}", "pattern", "sandbox", "rg -j1", "ratio");
    for (name, args, rg_args) in cases {
        let arguments = args.to_string();
        let mut times = Vec::new();
        let mut matches = 0;
        for _ in 0..RUNS {
            let start = Instant::now();
            let out = sandbox.call("grep", &arguments, &grant).await.unwrap();
            times.push(start.elapsed());
            matches = out.metadata["matches"].as_u64().unwrap_or(0) as usize;
        }
        let ours = median(times);
        if have_rg {
            let (theirs, rg_lines) = time_rg(&dir, &rg_args);
            assert_eq!(matches, rg_lines, "{name}: the sandbox and rg disagree on the matches");
            let ratio = ours.as_secs_f64() / theirs.as_secs_f64();
            println!("  {name:<18} {:>9.1} ms {:>9.1} ms {:>9.2}x", ms(ours), ms(theirs), ratio);
        } else {
            println!("  {name:<18} {:>9.1} ms", ms(ours));
        }
    }

    let mut times = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let query = PathQuery { query: "mod42file7".into(), kind: PathKind::Files, limit: 20 };
        let found = sandbox.find_paths(&grant, &query).await.unwrap();
        times.push(start.elapsed());
        assert!(!found.is_empty());
    }
    println!("\n  fuzzy path search over every file: {:.1} ms", ms(median(times)));
    if have_rg {
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let start = Instant::now();
            Command::new("rg").args(["-j1", "--files"]).arg(&dir).output().unwrap();
            times.push(start.elapsed());
        }
        println!("  rg -j1 --files (listing only, baseline): {:.1} ms", ms(median(times)));
    }
}

fn walk_size(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() { walk_size(&entry.path()) } else { meta.len() };
    }
    total
}
