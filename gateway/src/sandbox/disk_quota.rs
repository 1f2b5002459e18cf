//! Bytes a call may add to files, counted at the host boundary.
//!
//! A guest that writes in a loop fills the host's disk long before its
//! deadline (gigabytes in seconds). Every way WASI offers to make a file
//! longer goes through here for every component: `descriptor.write`,
//! `descriptor.set-size`, and the streams of `write-via-stream` and
//! `append-via-stream`, which this module makes itself so each write is
//! counted before it reaches the disk. What counts is growth, the bytes a
//! file gains (rewriting a file in place costs nothing): against the call's
//! own budget, and for a tenant against its workspace disk quota (see
//! `disk_usage`). A write that would pass either fails as on a full disk
//! (`ENOSPC`), before anything is written; what was there stays, and the
//! call's result says which limit it met (see [`DiskBudget::refusal`]).

use super::disk_usage::DiskUsage;
use super::state::CallState;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::FsPerms;
use wasmtime_wasi::filesystem::Descriptor;
use wasmtime_wasi::p2::bindings::filesystem::types::ErrorCode;
use wasmtime_wasi::p2::{DynOutputStream, OutputStream, Pollable, StreamError, StreamResult};

/// The interface whose write functions are replaced.
const INTERFACE: &str = "wasi:filesystem/types@0.2.12";

/// What a stream offers to take at once (`check-write`).
const STREAM_CHUNK: usize = 1 << 20;

/// The growth one call may still cause, and its tenant's disk meter.
#[derive(Debug)]
pub(crate) struct DiskBudget {
    left: AtomicU64,
    cap: u64,
    /// The tenant's folders and the bytes they may hold (`None`: the
    /// server's own user, bound by the call's budget only).
    tenant: Option<(Arc<DiskUsage>, u64)>,
    /// Why a write was refused, the first time one was.
    refused: OnceLock<Refusal>,
}

/// Which limit refused a write, and what to tell the caller.
#[derive(Debug, Clone)]
pub(crate) enum Refusal {
    /// The call's own budget.
    Call(String),
    /// The tenant's workspace disk quota.
    Quota(String),
}

impl Refusal {
    /// What the caller is told.
    pub(crate) fn message(&self) -> &str {
        match self {
            Refusal::Call(why) | Refusal::Quota(why) => why,
        }
    }
}

impl DiskBudget {
    /// Tells the tenant's meter that the call removed something: the next
    /// write the figure would refuse measures again first.
    pub(crate) fn made_room(&self) {
        if let Some((usage, _)) = &self.tenant {
            usage.made_room();
        }
    }

    pub(crate) fn new(cap: u64, tenant: Option<(Arc<DiskUsage>, u64)>) -> Arc<Self> {
        Arc::new(DiskBudget { left: AtomicU64::new(cap), cap, tenant, refused: OnceLock::new() })
    }

    /// Why a write of the call was refused, if one was: what its result
    /// tells the caller.
    pub(crate) fn refusal(&self) -> Option<&Refusal> {
        self.refused.get()
    }

    /// Counts a file growing from `len` bytes to `end`, or refuses without
    /// counting anything.
    fn grow(&self, len: u64, end: u64) -> std::io::Result<()> {
        let bytes = end.saturating_sub(len);
        if bytes == 0 {
            return Ok(());
        }
        let taken = self.left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(bytes));
        if taken.is_err() {
            let why = format!("this call may add at most {} to files; nothing past it was written", size(self.cap));
            return self.refuse(Refusal::Call(why));
        }
        if let Some((usage, limit)) = &self.tenant
            && let Err(held) = usage.grow(bytes, *limit)
        {
            self.left.fetch_add(bytes, Ordering::Relaxed);
            return self.refuse(Refusal::Quota(format!(
                "the workspace disk quota is used up: the tenant's folders hold {} of {}, and this write needed {} \
                 more; nothing past the quota was written (delete files to make room, or ask the host to raise it)",
                size(held),
                size(*limit),
                size(bytes)
            )));
        }
        Ok(())
    }

    /// Counts a file shrinking from `len` bytes to `end`.
    fn shrink(&self, len: u64, end: u64) {
        if let Some((usage, _)) = &self.tenant {
            usage.shrink(len.saturating_sub(end));
        }
    }

    fn refuse(&self, why: Refusal) -> std::io::Result<()> {
        let _ = self.refused.set(why);
        Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
    }
}

/// `bytes` for a person: `512 bytes`, `1.5 MiB`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The length of `file` now.
fn length(file: &std::fs::File) -> std::io::Result<u64> {
    file.metadata().map(|m| m.len())
}

/// Replaces WASI's file writes in a linker that already has wasmtime-wasi's.
pub(super) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut types = linker.instance(INTERFACE)?;
    types.func_wrap(
        "[method]descriptor.write",
        |mut store, (fd, bytes, offset): (Resource<Descriptor>, Vec<u8>, u64)| {
            let state: &mut CallState = store.data_mut();
            let file = match writable(state, &fd)? {
                Ok(file) => file,
                Err(code) => return Ok((Err(code),)),
            };
            let end = offset.saturating_add(bytes.len() as u64);
            let written =
                length(&file).and_then(|len| state.disk.grow(len, end)).and_then(|()| file.write_at(&bytes, offset));
            Ok((written.map(|n| n as u64).map_err(ErrorCode::from),))
        },
    )?;
    types.func_wrap("[method]descriptor.set-size", |mut store, (fd, end): (Resource<Descriptor>, u64)| {
        let state: &mut CallState = store.data_mut();
        let file = match writable(state, &fd)? {
            Ok(file) => file,
            Err(code) => return Ok((Err(code),)),
        };
        let resized = length(&file).and_then(|len| {
            state.disk.grow(len, end)?;
            file.set_len(end)?;
            state.disk.shrink(len, end);
            Ok(())
        });
        Ok((resized.map_err(ErrorCode::from),))
    })?;
    types
        .func_wrap("[method]descriptor.write-via-stream", |mut store, (fd, offset): (Resource<Descriptor>, u64)| {
            stream(store.data_mut(), &fd, Some(offset))
        })?;
    types.func_wrap("[method]descriptor.append-via-stream", |mut store, (fd,): (Resource<Descriptor>,)| {
        stream(store.data_mut(), &fd, None)
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The file behind `fd` if the grant lets it be written, or the error code
/// wasmtime-wasi answers; a trap for a handle that is not there, as there.
fn writable(state: &CallState, fd: &Resource<Descriptor>) -> wasmtime::Result<Result<Arc<std::fs::File>, ErrorCode>> {
    Ok(match state.table.get(fd)? {
        Descriptor::File(file) if file.perms == FsPerms::ReadWrite => Ok(file.file.clone()),
        Descriptor::File(_) => Err(ErrorCode::NotPermitted),
        Descriptor::Dir(_) => Err(ErrorCode::BadDescriptor),
    })
}

type StreamOutcome = wasmtime::Result<(Result<Resource<DynOutputStream>, ErrorCode>,)>;

fn stream(state: &mut CallState, fd: &Resource<Descriptor>, at: Option<u64>) -> StreamOutcome {
    let file = match writable(state, fd)? {
        Ok(file) => file,
        Err(code) => return Ok((Err(code),)),
    };
    let stream: DynOutputStream = Box::new(MeteredFile { file, at, budget: state.disk.clone() });
    Ok((Ok(state.table.push(stream)?),))
}

/// A file written through the call's budget, at a position (`Some`) or at
/// its end (`None`). Writes are done at once on the calling thread, as the
/// sandbox's other file calls are.
struct MeteredFile {
    file: Arc<std::fs::File>,
    at: Option<u64>,
    budget: Arc<DiskBudget>,
}

impl MeteredFile {
    fn append(&self, bytes: &[u8]) -> std::io::Result<()> {
        self.budget.grow(0, bytes.len() as u64)?;
        let mut rest = bytes;
        while !rest.is_empty() {
            let slice = libc::iovec { iov_base: rest.as_ptr() as *mut libc::c_void, iov_len: rest.len() };
            // SAFETY: one iovec over `rest`, which outlives the call.
            let written = unsafe { libc::pwritev2(self.file.as_raw_fd(), &slice, 1, -1, libc::RWF_APPEND) };
            if written < 0 {
                return Err(std::io::Error::last_os_error());
            }
            rest = &rest[written as usize..];
        }
        Ok(())
    }
}

impl OutputStream for MeteredFile {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        let failed = |e: std::io::Error| StreamError::LastOperationFailed(e.into());
        match self.at.as_mut() {
            Some(at) => {
                let end = at.saturating_add(bytes.len() as u64);
                length(&self.file).and_then(|len| self.budget.grow(len, end)).map_err(failed)?;
                self.file.write_all_at(&bytes, *at).map_err(failed)?;
                *at += bytes.len() as u64;
            }
            None => self.append(&bytes).map_err(failed)?,
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(STREAM_CHUNK)
    }
}

#[async_trait::async_trait]
impl Pollable for MeteredFile {
    async fn ready(&mut self) {}
}
