//! Runaway tools: each is stopped by its limit with a typed error, and the
//! very next call on the same sandbox works.

use crate::util::{Fixture, TEST_LIMITS, call, sandbox};
use serde_json::json;
use std::time::{Duration, Instant};
use wasmgate::sandbox::{CallError, CallOptions, CancelToken};

/// A normal call right after a limit was hit must succeed.
async fn assert_still_serving(fx: &Fixture) {
    fx.file("after.txt", "still here\n");
    let read = call("read", json!({"filePath": "after.txt"}), &fx.read_write()).await.unwrap();
    assert!(read.output.contains("1: still here"), "{}", read.output);
    call("noop", json!({}), &fx.read_write()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endless_loop_is_stopped_by_the_deadline() {
    let fx = Fixture::new();
    let started = Instant::now();
    let error = call("spin", json!({}), &fx.read_write()).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(error, CallError::Timeout(TEST_LIMITS.deadline));
    assert!(error.is_limit());
    assert!(took >= TEST_LIMITS.deadline && took < TEST_LIMITS.deadline * 3, "stopped after {took:?}");
    assert_still_serving(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_waiting_in_the_host_is_stopped_by_the_deadline() {
    // A WASI sleep runs no guest code, so the epoch callback never fires
    // while it waits: the call's watchdog must end it.
    let fx = Fixture::new();
    let started = Instant::now();
    let error = call("sleep", json!({}), &fx.read_write()).await.unwrap_err();
    assert_eq!(error, CallError::Timeout(TEST_LIMITS.deadline));
    assert!(started.elapsed() < TEST_LIMITS.deadline * 3, "stopped after {:?}", started.elapsed());
    assert_still_serving(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_waiting_in_the_host_can_be_cancelled() {
    let fx = Fixture::new();
    let cancel = CancelToken::new();
    let options = CallOptions { cancel: Some(cancel.clone()), ..Default::default() };
    let (grant, sandbox, started) = (fx.read_write(), sandbox(), Instant::now());
    let (result, ()) = tokio::join!(sandbox.call_with("sleep", "{}", &grant, options), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
    });
    assert_eq!(result.unwrap_err(), CallError::Cancelled);
    assert!(started.elapsed() < TEST_LIMITS.deadline, "cancel took {:?}", started.elapsed());
    assert_still_serving(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_per_call_deadline_overrides_the_default() {
    let fx = Fixture::new();
    let options = CallOptions { deadline: Some(Duration::from_millis(200)), ..Default::default() };
    let started = Instant::now();
    let error = sandbox().call_with("spin", "{}", &fx.read_write(), options).await.unwrap_err();
    assert_eq!(error, CallError::Timeout(Duration::from_millis(200)));
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_per_call_deadline_never_lengthens_the_limit() {
    // The model's `timeout` argument arrives here: it may only shorten.
    let fx = Fixture::new();
    let options = CallOptions { deadline: Some(Duration::from_secs(30)), ..Default::default() };
    let started = Instant::now();
    let error = sandbox().call_with("spin", "{}", &fx.read_write(), options).await.unwrap_err();
    assert_eq!(error, CallError::Timeout(TEST_LIMITS.deadline));
    assert!(started.elapsed() < TEST_LIMITS.deadline * 3, "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_call_stops() {
    let fx = Fixture::new();
    let cancel = CancelToken::new();
    let options = CallOptions { cancel: Some(cancel.clone()), ..Default::default() };
    let grant = fx.read_write();
    let sandbox = sandbox();
    let started = Instant::now();
    let (result, ()) = tokio::join!(sandbox.call_with("spin", "{}", &grant, options), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
    });
    assert_eq!(result.unwrap_err(), CallError::Cancelled);
    assert!(started.elapsed() < TEST_LIMITS.deadline, "cancel took {:?}", started.elapsed());
    assert_still_serving(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unbounded_allocation_is_refused_by_the_memory_cap() {
    let fx = Fixture::new();
    let error = call("hog", json!({}), &fx.read_write()).await.unwrap_err();
    assert_eq!(error, CallError::MemoryLimit(TEST_LIMITS.memory));
    assert!(error.to_string().contains("64 MiB"), "{error}");
    assert_still_serving(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn printing_without_bound_is_cut_by_the_output_cap() {
    let fx = Fixture::new();
    for tool in ["flood", "stream-flood"] {
        let error = call(tool, json!({}), &fx.read_write()).await.unwrap_err();
        assert_eq!(error, CallError::OutputLimit(TEST_LIMITS.output), "{tool}");
        assert_still_serving(&fx).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_result_over_the_output_cap_is_refused() {
    let fx = Fixture::new();
    let error = call("huge-result", json!({"bytes": TEST_LIMITS.output + 1}), &fx.read_write()).await.unwrap_err();
    assert_eq!(error, CallError::OutputLimit(TEST_LIMITS.output));
    let fits = call("huge-result", json!({"bytes": 1000}), &fx.read_write()).await.unwrap();
    assert_eq!(fits.output.len(), 1000);
}

#[tokio::test(flavor = "multi_thread")]
async fn streamed_output_reaches_the_caller_up_to_the_cap() {
    let fx = Fixture::new();
    let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = received.clone();
    let options = CallOptions {
        on_output: Some(Box::new(move |chunk: &str| {
            counter.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
        })),
        ..Default::default()
    };
    let error = sandbox().call_with("stream-flood", "{}", &fx.read_write(), options).await.unwrap_err();
    assert_eq!(error, CallError::OutputLimit(TEST_LIMITS.output));
    let got = received.load(std::sync::atomic::Ordering::Relaxed);
    assert!(got > TEST_LIMITS.output / 2 && got <= TEST_LIMITS.output, "streamed {got} bytes");
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_in_one_call_do_not_disturb_calls_running_beside_it() {
    let fx = Fixture::new();
    fx.file("a.txt", "alpha\n");
    let grant = fx.read_write();
    let sandbox = sandbox();
    let runaway = tokio::spawn({
        let (sandbox, grant) = (sandbox.clone(), grant.clone());
        async move { sandbox.call("hog", "{}", &grant).await }
    });
    for _ in 0..50 {
        let read = sandbox.call("read", r#"{"filePath":"a.txt"}"#, &grant).await.unwrap();
        assert!(read.output.contains("1: alpha"));
    }
    assert_eq!(runaway.await.unwrap().unwrap_err(), CallError::MemoryLimit(TEST_LIMITS.memory));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_panic_is_a_crash_report_and_the_next_call_works() {
    let fx = Fixture::new();
    let error = call("panic", json!({}), &fx.read_write()).await.unwrap_err();
    let CallError::Crashed(report) = &error else { panic!("expected a crash, got {error:?}") };
    assert!(report.contains("unreachable"), "{report}");
    assert!(report.contains("the hostile tool gave up on purpose"), "{report}");
    assert_still_serving(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tree_thousands_of_folders_deep_does_not_break_the_walkers() {
    let fx = Fixture::new();
    fx.file("top.txt", "needle\n");
    // Deeper than PATH_MAX allows naming from the root: built one folder at a time.
    let mut dir = cap_std::fs::Dir::open_ambient_dir(&fx.ws, cap_std::ambient_authority()).unwrap();
    dir.create_dir("deep").unwrap();
    dir = dir.open_dir("deep").unwrap();
    for _ in 0..3000 {
        dir.create_dir("d").unwrap();
        dir = dir.open_dir("d").unwrap();
    }
    dir.write("bottom.txt", "needle\n").unwrap();
    let grant = fx.read_write();
    let glob = call("glob", json!({"pattern": "**/*.txt"}), &grant).await.unwrap();
    assert!(glob.output.contains("top.txt"), "{}", glob.output);
    let grep = call("grep", json!({"pattern": "needle"}), &grant).await.unwrap();
    assert!(grep.output.contains("top.txt"), "{}", grep.output);
    let list = call("list", json!({}), &grant).await.unwrap();
    assert!(list.output.contains("top.txt"), "{}", list.output);
    for command in ["find . -name top.txt", "grep -r needle . | head -1"] {
        let found = call("bash", json!({ "command": command }), &grant).await.unwrap();
        assert!(found.output.contains("top.txt"), "{command}: {}", found.output);
    }
    let paths = sandbox()
        .find_paths(
            &fx.read_only(),
            &wasmgate::sandbox::PathQuery { query: "top".into(), kind: wasmgate::sandbox::PathKind::Files, limit: 10 },
        )
        .await
        .unwrap();
    assert!(paths.iter().any(|p| p.ends_with("top.txt")), "{paths:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_cannot_write_more_to_disk_than_its_budget() {
    let fx = Fixture::new();
    let grant = fx.read_write();
    let budget = TEST_LIMITS.disk_write;
    fx.file("big.txt", &"x".repeat(1 << 20));
    // Three copies by redirect, then more by append and by cp, past a 2 MiB budget.
    let script =
        "cat big.txt big.txt big.txt > c.txt; echo c=$?; cat big.txt >> d.txt; echo d=$?; cp big.txt e.txt; echo e=$?";
    let started = Instant::now();
    let result = call("bash", json!({ "command": script }), &grant).await.unwrap();
    assert!(result.output.contains("e=1"), "{}", result.output);
    let written: u64 = ["c.txt", "d.txt", "e.txt"]
        .iter()
        .filter_map(|name| std::fs::metadata(fx.ws.join(name)).ok())
        .map(|meta| meta.len())
        .sum();
    assert!(written <= budget, "{written} bytes written past a {budget}-byte budget");
    assert!(written >= budget / 2, "writes went on up to the budget: {written}");
    assert!(started.elapsed() < Duration::from_secs(30));
    // Raw WASI writes count too, and the next call has a budget of its own.
    let big = "x".repeat(budget as usize + 1);
    let raw = call("fs", json!({ "op": "write", "path": "raw.txt", "content": big }), &grant).await;
    assert!(raw.is_err() || !raw.as_ref().unwrap().output.contains("written"), "{raw:?}");
    assert!(std::fs::metadata(fx.ws.join("raw.txt")).map_or(0, |m| m.len()) <= budget);
    // Growing a file by its size counts as writing (a sparse terabyte is
    // no way around the budget), and the result says which limit it met.
    let sparse = call("fs", json!({ "op": "set-size", "path": "sparse.bin", "size": 1u64 << 40 }), &grant).await;
    let said = format!("{sparse:?}");
    assert!(said.contains("may add at most"), "{said}");
    assert!(std::fs::metadata(fx.ws.join("sparse.bin")).map_or(0, |m| m.len()) <= budget);
    // Rewriting a file in place adds nothing: the same megabyte five times.
    for round in 0..5 {
        let result = call("write", json!({ "filePath": "big.txt", "content": "y".repeat(1 << 20) }), &grant).await;
        assert!(result.is_ok(), "round {round}: {result:?}");
    }
    assert_still_serving(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flooding_tenant_runs_only_its_share_while_another_is_active() {
    use wasmgate::sandbox::{Quota, QuotaLimits};
    let fx = Fixture::new();
    let limits = QuotaLimits {
        concurrency: 4,
        memory: 64 << 20,
        deadline: Duration::from_secs(2),
        cpu_per_window: Duration::from_secs(3600),
        disk: u64::MAX,
        processes: false,
    };
    let (flooder, quiet) = (Quota::new(limits), Quota::new(limits));
    let flooding = fx.read_write().for_tenant("fair-flooder", flooder.clone());
    let quieter = fx.read_write().for_tenant("fair-quiet", quiet.clone());
    call("noop", json!({}), &quieter).await.unwrap();
    let flood: Vec<_> = (0..4)
        .map(|_| {
            let grant = flooding.clone();
            tokio::spawn(async move { call("spin", json!({}), &grant).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Two tenants active: each runs at most half the threads (at least one).
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let share = (threads / 2).max(1);
    assert!(flooder.running() <= share, "{} calls running past a share of {share}", flooder.running());
    assert!(flooder.running() >= 1, "the flood ran nothing");
    let began = Instant::now();
    call("noop", json!({}), &quieter).await.unwrap();
    assert!(began.elapsed() < Duration::from_secs(1), "the quiet tenant waited {:?}", began.elapsed());
    // Once the quiet one falls quiet, the flood gets the machine back and
    // every one of its calls runs (to its deadline).
    for call in flood {
        assert!(matches!(call.await.unwrap(), Err(CallError::Timeout(_))));
    }
}
