//! wasmgate: an OpenCode-compatible server whose tools run as WebAssembly
//! components in wasmtime.
//!
//! This library is the host. [`sandbox`] runs tool components under per-call
//! grants and limits. [`api`] is OpenCode's HTTP surface; it resolves every
//! directory through [`workspace`], keeps state in a [`store`], publishes on
//! the [`events`] bus and runs [`session`] work (shell commands, prompts
//! answered by the [`agent`]), and never touches the filesystem itself.
//! [`cli`] and [`serve`] are the command line over it, [`listen`] the
//! connections it accepts.

pub mod agent;
pub mod api;
pub mod app;
pub mod builtin;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod events;
pub mod ids;
pub mod listen;
pub mod memory;
pub mod model;
pub mod sandbox;
pub mod serve;
pub mod session;
pub mod store;
pub mod workspace;
