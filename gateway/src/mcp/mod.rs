//! The Model Context Protocol both ways, on `rmcp`, the protocol's official
//! Rust SDK: the sandbox's tools offered to any MCP client ([`server`]), on
//! stdio (`wasmgate mcp`) and over streamable HTTP (`/wasmgate/mcp` on
//! `serve`); and the MCP servers opencode.json names, whose tools and
//! prompts the agent is offered ([`client`]).

pub mod client;
pub mod server;
