//! Calls one tool in a loop, for profilers: `perf record` this, not the
//! benchmark. `cargo run --release --example call_loop -- TOOL ARGS DIR SECONDS`

use std::time::{Duration, Instant};
use wasmgate::sandbox::{Grant, Sandbox};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (tool, arguments, dir) = (&args[1], &args[2], &args[3]);
    let seconds: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(5);
    let sandbox = Sandbox::builder()
        .component("test-hostile", std::fs::read(env!("WASMGATE_COMPONENT_TEST_HOSTILE")).unwrap())
        .build()
        .await
        .unwrap();
    let grant = Grant::read_only(dir).unwrap();
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut calls = 0u64;
    while Instant::now() < until {
        sandbox.call(tool, arguments, &grant).await.expect("the call failed");
        calls += 1;
    }
    println!("{calls} calls, {:.1} us each", seconds as f64 * 1e6 / calls as f64);
}
