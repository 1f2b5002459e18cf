//! A tenant's running counters: its request rate (a token bucket) and its
//! open event streams.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A request the tenant's quota refuses, and when to try again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub message: String,
    pub retry_after: Duration,
}

/// What one tenant is using now.
#[derive(Debug, Default)]
pub struct Usage {
    bucket: Mutex<Option<Bucket>>,
    streams: AtomicU32,
    requests: AtomicU64,
    refused: AtomicU64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Usage {
    /// Takes a request from a bucket that holds `per_minute` and refills
    /// at that rate.
    pub fn admit_request(&self, per_minute: u32) -> Result<(), Refused> {
        let capacity = f64::from(per_minute.max(1));
        let rate = capacity / 60.0;
        let now = Instant::now();
        let mut bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = bucket.get_or_insert(Bucket { tokens: capacity, at: now });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            self.requests.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        self.refused.fetch_add(1, Ordering::Relaxed);
        let wait = Duration::from_secs_f64((1.0 - bucket.tokens) / rate);
        Err(Refused {
            message: format!("more than {per_minute} requests per minute; slow down"),
            retry_after: Duration::from_secs(wait.as_secs() + 1),
        })
    }

    /// Opens a stream if fewer than `limit` are open (`None`: no limit).
    pub fn open_stream(self: Arc<Self>, limit: Option<u32>) -> Result<StreamTicket, Refused> {
        let opened = self.streams.fetch_add(1, Ordering::AcqRel) + 1;
        let ticket = StreamTicket(self);
        match limit {
            Some(limit) if opened > limit => Err(Refused {
                message: format!("{limit} event streams are already open; close one first"),
                retry_after: Duration::from_secs(5),
            }),
            _ => Ok(ticket),
        }
    }

    /// Event streams open now.
    pub fn streams(&self) -> u32 {
        self.streams.load(Ordering::Relaxed)
    }

    /// Requests admitted since the server started.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requests refused for the rate since the server started.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// One open event stream; dropping it gives the stream back.
#[derive(Debug)]
pub struct StreamTicket(Arc<Usage>);

impl Drop for StreamTicket {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::AcqRel);
    }
}
