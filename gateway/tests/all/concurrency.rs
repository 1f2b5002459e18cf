//! Many calls at once: every one gets its own instance and its own answer.

use crate::util::{Fixture, sandbox};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_calls_all_succeed() {
    let fx = Fixture::new();
    for i in 0..200 {
        fx.file(&format!("f{i}.txt"), &format!("file number {i}\n"));
    }
    let grant = fx.read_write();
    let handles: Vec<_> = (0..200)
        .map(|i| {
            let (sandbox, grant) = (sandbox(), grant.clone());
            tokio::spawn(async move { sandbox.call("read", &format!(r#"{{"filePath":"f{i}.txt"}}"#), &grant).await })
        })
        .collect();
    for (i, handle) in handles.into_iter().enumerate() {
        let output = handle.await.unwrap().unwrap_or_else(|e| panic!("call {i} failed: {e}"));
        assert!(output.output.contains(&format!("1: file number {i}\n")), "call {i} got {}", output.output);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_each_write_their_own_file() {
    let fx = Fixture::new();
    let grant = fx.read_write();
    let handles: Vec<_> = (0..64)
        .map(|i| {
            let (sandbox, grant) = (sandbox(), grant.clone());
            let args = serde_json::json!({"filePath": format!("out/{i}.txt"), "content": format!("writer {i}")});
            tokio::spawn(async move { sandbox.call("write", &args.to_string(), &grant).await })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
    for i in 0..64 {
        assert_eq!(std::fs::read_to_string(fx.ws.join(format!("out/{i}.txt"))).unwrap(), format!("writer {i}"));
    }
}
