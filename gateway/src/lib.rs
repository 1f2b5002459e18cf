//! wasmgate: an OpenCode-compatible server whose tools run as WebAssembly
//! components in wasmtime.
//!
//! This library is the host. [`sandbox`] runs tool components under per-call
//! grants and limits; [`cli`] is the command line over it. The HTTP API, the
//! event bus, the store and the agent build on the sandbox and never touch
//! the filesystem themselves.

pub mod builtin;
pub mod cli;
pub mod sandbox;
