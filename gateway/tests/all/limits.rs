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
async fn a_per_call_deadline_overrides_the_default() {
    let fx = Fixture::new();
    let options = CallOptions { deadline: Some(Duration::from_millis(200)), ..Default::default() };
    let started = Instant::now();
    let error = sandbox().call_with("spin", "{}", &fx.read_write(), options).await.unwrap_err();
    assert_eq!(error, CallError::Timeout(Duration::from_millis(200)));
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
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
