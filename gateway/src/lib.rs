//! wasmgate: an OpenCode-compatible server whose tools run as WebAssembly
//! components in wasmtime.
//!
//! This library is the host, in layers that import downwards only:
//!
//! - [`cli`], [`serve`], [`listen`]: the command line and the connections;
//! - [`api`]: OpenCode's HTTP surface over the [`app`] the builder assembles;
//!   it maps the domains' typed errors to responses at the edge;
//! - [`mcp`]: the Model Context Protocol both ways: the sandbox's tools to
//!   MCP clients (on stdio, and through `api` over HTTP), and the MCP
//!   servers opencode.json names, for the agent;
//! - [`tenant`]: who a request is made as, with its folders, token and
//!   quotas; [`keyring`]: the provider keys each owner set, sealed;
//! - [`session`] and [`agent`]: the domain (session operations, `!` shell
//!   commands, prompts answered turn by turn), each with its own errors;
//! - [`audit`]: the audit log's writer (records from the edge and the
//!   sandbox, written in batches);
//! - [`conversation`]: the journal (store, then publish) and the run
//!   registry both domains write through;
//! - [`store`], [`events`], [`sandbox`], [`workspace`], [`model`],
//!   [`config`], [`ids`]: persistence, the bus, the tool runtime, the
//!   directories served, the wire types; [`jail`]: the jail real processes
//!   run in, for the shell;
//! - [`tool_folder`]: the tool components an operator installs (added,
//!   removed, followed while serving); [`scaffold`]: a new tool's source in
//!   Rust, Python or JavaScript (`wasmgate tool new`).
//!
//! Nothing below `api` touches HTTP; nothing but the sandbox touches a
//! workspace's files.

pub mod agent;
pub mod api;
pub mod app;
pub mod audit;
pub mod builtin;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod conversation;
pub mod egress;
pub mod events;
pub mod ids;
pub mod jail;
pub mod keyring;
pub mod listen;
pub mod mcp;
pub mod memory;
pub mod model;
pub mod sandbox;
pub mod scaffold;
pub mod serve;
pub mod session;
pub mod store;
pub mod tenant;
pub mod tool_folder;
pub mod workspace;
