//! Bytes a call may write to files, counted at the host boundary.
//!
//! A guest that writes in a loop fills the host's disk long before its
//! deadline (gigabytes in seconds). Every way WASI offers to write file
//! contents goes through here for every component: `descriptor.write`, and
//! the streams of `write-via-stream` and `append-via-stream`, which this
//! module makes itself so each write is counted before it reaches the disk.
//! A write that would pass the call's budget fails (the guest sees an I/O
//! error, as from a full disk); what was written before it stays.

use super::state::CallState;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::FsPerms;
use wasmtime_wasi::filesystem::Descriptor;
use wasmtime_wasi::p2::bindings::filesystem::types::ErrorCode;
use wasmtime_wasi::p2::{DynOutputStream, OutputStream, Pollable, StreamError, StreamResult};

/// The interface whose write functions are replaced.
const INTERFACE: &str = "wasi:filesystem/types@0.2.12";

/// What a stream offers to take at once (`check-write`).
const STREAM_CHUNK: usize = 1 << 20;

/// The bytes one call may still write.
#[derive(Debug)]
pub(crate) struct DiskBudget {
    left: AtomicU64,
    cap: u64,
}

impl DiskBudget {
    pub(crate) fn new(cap: u64) -> Arc<Self> {
        Arc::new(DiskBudget { left: AtomicU64::new(cap), cap })
    }

    /// Takes `bytes` from the budget, or refuses without taking any.
    fn take(&self, bytes: usize) -> std::io::Result<()> {
        let bytes = bytes as u64;
        match self.left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(bytes)) {
            Ok(_) => Ok(()),
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                format!("this call may write at most {} bytes to files", self.cap),
            )),
        }
    }
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
            let written = state.disk.take(bytes.len()).and_then(|()| file.write_at(&bytes, offset));
            Ok((written.map(|n| n as u64).map_err(ErrorCode::from),))
        },
    )?;
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
        self.budget.take(bytes.len()).map_err(failed)?;
        match self.at.as_mut() {
            Some(at) => {
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
