//! The built-in tool components, compiled by `build.rs` and embedded in the
//! binary, so `wasmgate` is one file that needs nothing beside it.

/// The file tools: read, write, edit, list, glob, and the typed `files` interface.
pub const FILES: &[u8] = include_bytes!(env!("WASMGATE_COMPONENT_FILES"));

/// The search tools: grep, and the typed `search` interface.
pub const SEARCH: &[u8] = include_bytes!(env!("WASMGATE_COMPONENT_SEARCH"));

/// The shell: the `bash` tool, a POSIX-subset shell with built-in commands.
pub const SHELL: &[u8] = include_bytes!(env!("WASMGATE_COMPONENT_SHELL"));

/// Every built-in component, by name, in load order.
pub const COMPONENTS: &[(&str, &[u8])] = &[("files", FILES), ("search", SEARCH), ("shell", SHELL)];
