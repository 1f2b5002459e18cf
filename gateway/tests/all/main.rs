//! wasmgate's integration tests, compiled into one binary.
//!
//! They drive the public surface only: the `wasmgate` binary (as a user or a
//! script would) and the library's `Sandbox` (as the server will). Each test
//! gets its own temporary workspace with a secret file beside it, outside,
//! that no tool may ever read or change.

mod agent;
mod cache;
mod cli;
mod compaction;
mod concurrency;
mod edge;
mod edits;
mod escapes;
mod examples;
mod file_tools;
mod jail;
mod layers;
mod limits;
mod mcp;
mod mcp_client;
mod permissions;
mod plain_components;
mod policies;
mod project;
mod questions;
mod registry;
mod router;
mod scaffold;
mod scripted_model;
mod search;
mod served;
mod server;
mod shell;
mod skills;
mod special_files;
mod starvation;
mod store;
mod subagents;
mod swaps;
mod tenants;
mod tool_folder;
mod tui_routes;
mod undo;
mod util;
mod vcs;
mod webfetch;
