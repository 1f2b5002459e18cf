//! The Model Context Protocol, from the sandbox's side: its tools offered
//! to any MCP client ([`server`]), on stdio (`wasmgate mcp`) and over
//! streamable HTTP (`/wasmgate/mcp` on `serve`). Built on `rmcp`, the protocol's
//! official Rust SDK.

pub mod server;
