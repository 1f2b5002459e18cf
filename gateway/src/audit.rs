//! The audit log's writer: who did what, when, how long, with what outcome.
//!
//! Records come from the HTTP edge (every request, every refused
//! credential, every admin action) and from the sandbox (every tool call,
//! with its grant and a digest of its arguments, never the arguments), go
//! through a bounded channel, and are written to the store in batches by one
//! task, so recording costs a request a channel send, not a database write.
//!
//! The writer gathers what arrives within [`GATHER`], up to [`BATCH`]
//! records, into one transaction. Written as they came, a flood's records
//! cost a commit each: the flood's own reads ran a third slower, and a quiet
//! tenant's reads waited behind those commits for a core (p99 from 0.5 to
//! 5 ms). Batches stay small because one batch is one burst of work on a
//! thread of its own: 512 records took 5 ms, which the quiet tenant's reads
//! waited out too. A reader that must see everything recorded so far asks
//! for a [`Auditor::flush`] first. A full channel makes its senders wait
//! rather than drop a record. Records older than the retention are pruned
//! hourly.

use crate::sandbox::{Access, CallObserver, CallReport};
use crate::store::{AuditRecord, Store};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Records waiting to be written before senders wait.
const BACKLOG: usize = 8192;
/// The most records one write takes (about 0.4 ms of work).
const BATCH: usize = 64;
/// How long the writer gathers records into one write: the most a crash
/// can lose beyond what is waiting in the channel.
const GATHER: Duration = Duration::from_millis(50);
/// How often old records are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How long records are kept unless configured.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(90 * 86_400);

/// Sends records to the writer. Cheap to clone.
#[derive(Clone)]
pub struct Auditor {
    sender: Option<mpsc::Sender<Message>>,
}

/// What the writer is sent.
#[expect(clippy::large_enum_variant, reason = "nearly every message is a record; boxing would allocate for each")]
enum Message {
    Record(AuditRecord),
    /// Answered once everything sent before it is written.
    Flush(oneshot::Sender<()>),
}

impl Auditor {
    /// An auditor that writes nothing (no runtime to write from).
    pub fn off() -> Self {
        Auditor { sender: None }
    }

    /// Starts the writer and the pruner on the current runtime.
    pub fn start(store: Arc<dyn Store>, retention: Duration) -> Self {
        if tokio::runtime::Handle::try_current().is_err() {
            return Self::off();
        }
        let (sender, receiver) = mpsc::channel(BACKLOG);
        tokio::spawn(write(store.clone(), receiver));
        tokio::spawn(prune(store, retention));
        Auditor { sender: Some(sender) }
    }

    /// Records `record`, waiting if the writer is behind.
    pub async fn record(&self, record: AuditRecord) {
        if let Some(sender) = &self.sender {
            let _ = sender.send(Message::Record(record)).await;
        }
    }

    /// Waits until everything recorded before is in the store.
    pub async fn flush(&self) {
        if let Some(sender) = &self.sender {
            let (done, written) = oneshot::channel();
            if sender.send(Message::Flush(done)).await.is_ok() {
                let _ = written.await;
            }
        }
    }

    /// Records `record` from code that cannot wait; a full backlog drops
    /// it, said in the log.
    pub fn record_now(&self, record: AuditRecord) {
        if let Some(sender) = &self.sender
            && let Err(mpsc::error::TrySendError::Full(Message::Record(record))) =
                sender.try_send(Message::Record(record))
        {
            tracing::error!(action = record.action, "the audit log is behind; a record was dropped");
        }
    }
}

async fn write(store: Arc<dyn Store>, mut receiver: mpsc::Receiver<Message>) {
    let mut messages = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut messages, BATCH).await > 0 {
        // Gather until the batch is full, the window ends or a reader waits.
        let window = tokio::time::sleep(GATHER);
        tokio::pin!(window);
        while messages.len() < BATCH && !messages.iter().any(|m| matches!(m, Message::Flush(_))) {
            let room = BATCH - messages.len();
            tokio::select! {
                received = receiver.recv_many(&mut messages, room) => if received == 0 { break },
                () = &mut window => break,
            }
        }
        let (mut records, mut readers) = (Vec::with_capacity(messages.len()), Vec::new());
        for message in messages.drain(..) {
            match message {
                Message::Record(record) => records.push(record),
                Message::Flush(reader) => readers.push(reader),
            }
        }
        let count = records.len();
        if count > 0
            && let Err(error) = store.append_audit(records).await
        {
            tracing::error!(count, "cannot write audit records: {error}");
        }
        for reader in readers {
            let _ = reader.send(());
        }
    }
}

async fn prune(store: Arc<dyn Store>, retention: Duration) {
    let mut every = tokio::time::interval(PRUNE_EVERY);
    loop {
        every.tick().await;
        let before = crate::ids::now_millis() - retention.as_millis() as i64;
        match store.prune_audit(before).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "pruned old audit records"),
            Err(error) => tracing::error!("cannot prune the audit log: {error}"),
        }
    }
}

/// SHA-256 of `text`, in hex: what the log keeps of arguments.
pub fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl CallObserver for Auditor {
    fn observe(&self, report: CallReport<'_>) {
        let access = match report.grant.access() {
            Access::ReadOnly => "read-only",
            Access::ReadWrite => "read-write",
        };
        let (outcome, bytes) = match report.outcome {
            Ok(bytes) => ("ok".to_string(), bytes as u64),
            Err(error) => (error.kind().to_string(), 0),
        };
        self.record_now(AuditRecord {
            time: report.started,
            kind: "tool".into(),
            tenant: report.grant.tenant().map(str::to_string),
            action: report.tool.to_string(),
            session: report.session_id.map(str::to_string),
            digest: Some(digest(report.arguments)),
            grant: Some(format!("{} ({access})", report.grant.guest_path())),
            outcome,
            duration_ms: report.duration.as_millis() as u64,
            bytes,
            ..Default::default()
        });
    }
}
