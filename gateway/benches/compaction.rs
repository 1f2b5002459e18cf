//! The compaction benchmark: what compaction's rules add to every step, and
//! what finding skills adds, against what a step already does.
//!
//! Before each model call a step builds the conversation from the stored
//! messages (`history::conversation`); compaction adds finding where the
//! last summary starts (`since_last_summary`), and at the end of each turn
//! choosing the tool outputs to prune (`prunable`). A step also looks for
//! skills through the sandbox (a handful of `list-dir` calls), once a run.
//! Figures, on
//! sessions of 50 and 500 turns (each turn a prompt and an answer with a
//! 4 KiB tool output), p50:
//!
//! - building the conversation (the baseline);
//! - the compaction rules a step applies, and their ratio to the baseline;
//! - pruning's choice at a turn's end;
//! - finding skills in a workspace with none and with three, against one
//!   no-op sandbox call.
//!
//! The summary itself is one model call without tools, whose time is the
//! provider's.
//!
//! Run with `cargo bench --bench compaction`.

use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};
use wasmgate::agent::skills::{Place, discover};
use wasmgate::agent::{compaction, history};
use wasmgate::model::{
    AssistantMessage, Message, MessagePath, MessageTime, MessageWithParts, ModelRef, Part, UserMessage,
};
use wasmgate::sandbox::{CompileCache, Grant, Sandbox};

fn p50(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn time(runs: usize, mut work: impl FnMut()) -> Duration {
    p50((0..runs)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed()
        })
        .collect())
}

/// A session of `turns` turns: a prompt, and an answer with text and one
/// tool call whose output is 4 KiB.
fn session(turns: usize) -> Vec<MessageWithParts> {
    let model = ModelRef { provider_id: "p".into(), model_id: "m".into(), variant: None };
    let output = "x".repeat(4096);
    let mut messages = Vec::new();
    for turn in 0..turns {
        let user_id = format!("msg_{turn:06}a");
        let user = UserMessage {
            id: user_id.clone(),
            session_id: "ses_1".into(),
            time: MessageTime::default(),
            summary: None,
            agent: "build".into(),
            model: model.clone(),
            system: None,
            tools: None,
            format: None,
            variant: None,
        };
        let text = Part::new("ses_1", &user_id, json!({ "type": "text", "text": format!("do step {turn}") }));
        messages.push(MessageWithParts { info: Message::User(user), parts: vec![text] });
        let path = MessagePath { cwd: "/".into(), root: "/".into() };
        let mut answer = AssistantMessage::answering("ses_1", &user_id, &model, "build", path);
        answer.id = format!("msg_{turn:06}b");
        answer.finish = Some("stop".into());
        let parts = vec![
            Part::new("ses_1", &answer.id, json!({ "type": "text", "text": "Reading the file." })),
            Part::new(
                "ses_1",
                &answer.id,
                json!({ "type": "tool", "tool": "read", "callID": format!("c{turn}"), "state": {
                    "status": "completed", "input": { "filePath": "a.rs" }, "output": output, "title": "a.rs",
                    "metadata": {}, "time": { "start": 1, "end": 2 } } }),
            ),
        ];
        messages.push(MessageWithParts { info: Message::Assistant(answer), parts });
    }
    messages
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    println!("wasmgate compaction benchmark ({} cores)", std::thread::available_parallelism().map_or(0, |n| n.get()));
    println!("\n{:<44} {:>12} {:>12}", "per step, p50", "50 turns", "500 turns");
    let mut rows: Vec<(&str, Vec<f64>)> = vec![
        ("building the conversation (baseline)", Vec::new()),
        ("compaction's rules a step applies", Vec::new()),
        ("  ratio to the baseline", Vec::new()),
        ("pruning's choice at a turn's end", Vec::new()),
    ];
    for turns in [50, 500] {
        let messages = session(turns);
        let runs = if turns > 100 { 200 } else { 2000 };
        let baseline = time(runs, || {
            std::hint::black_box(history::conversation(&messages));
        });
        let settings = compaction::Settings::default();
        let rules = time(runs, || {
            let visible = compaction::since_last_summary(&messages);
            std::hint::black_box(compaction::requested(&visible[visible.len() - 1]));
            std::hint::black_box(settings.auto);
        });
        let prune = time(runs, || {
            std::hint::black_box(compaction::prunable(&messages));
        });
        rows[0].1.push(micros(baseline));
        rows[1].1.push(micros(rules));
        rows[2].1.push(rules.as_secs_f64() / baseline.as_secs_f64());
        rows[3].1.push(micros(prune));
    }
    for (label, values) in &rows {
        if label.contains("ratio") {
            println!("{label:<44} {:>11.4}x {:>11.4}x", values[0], values[1]);
        } else {
            println!("{label:<44} {:>10.1}us {:>10.1}us", values[0], values[1]);
        }
    }

    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("component-cache");
    let sandbox = Sandbox::builder().cache(CompileCache::at(&cache)).build().await.unwrap();
    let none = tempfile::tempdir().unwrap();
    let some = tempfile::tempdir().unwrap();
    for name in ["one", "two", "three"] {
        let dir = some.path().join(".opencode/skills").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("SKILL.md"), format!("---\nname: {name}\ndescription: The {name}.\n---\nDo {name}.\n"))
            .unwrap();
    }
    let mut figures = Vec::new();
    for root in [none.path(), some.path()] {
        let places = [Place::workspace(Grant::read_only(root).unwrap(), root)];
        let mut samples = Vec::new();
        for _ in 0..200 {
            let start = Instant::now();
            std::hint::black_box(discover(&sandbox, &places).await);
            samples.push(start.elapsed());
        }
        figures.push(p50(samples));
    }
    let grant = Grant::read_only(none.path()).unwrap();
    let mut samples = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        let _ = std::hint::black_box(sandbox.list_dir(&grant, ".").await);
        samples.push(start.elapsed());
    }
    let call = p50(samples);
    println!("\n{:<44} {:>12}", "finding skills, once a run, p50", "");
    println!(
        "{:<44} {:>10.1}us {:>10.1}x",
        "no skills",
        micros(figures[0]),
        figures[0].as_secs_f64() / call.as_secs_f64()
    );
    println!(
        "{:<44} {:>10.1}us {:>10.1}x",
        "three skills",
        micros(figures[1]),
        figures[1].as_secs_f64() / call.as_secs_f64()
    );
    println!("{:<44} {:>10.1}us {:>10}", "one list-dir sandbox call (the unit)", micros(call), "1.0x");
}
