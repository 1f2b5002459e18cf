//! Typed bindings for the `wasmgate:tools` WIT package, and nothing else.
//!
//! `tool_provider` is the generic world every tool component implements.
//! `file_tools`, `search_tools` and `vcs_tools` add the typed interfaces of
//! the built-in file, search and version-control components and reuse the first module's `types`, `host`,
//! `bulk-fs` and `host-process` bindings, so a `CallContext` is one Rust type
//! whichever world a call goes through. Exports are async (calls run on
//! tokio, WASI file access inline); `host-process.run` is async (it waits on
//! a process without holding a worker thread), the other imports are sync
//! because none of them waits, and `emit-output` may trap to enforce the
//! output cap. The imports are implemented for the call state in `state`
//! (`host`), `bulk_fs` and `host_process`.

/// The version of the `wasmgate:tools` package these bindings speak
/// (`wit/tools.wit`).
pub const CONTRACT_VERSION: &str = "0.1.0";

pub mod tool_provider {
    wasmtime::component::bindgen!({
        world: "tool-provider",
        path: "../wit",
        imports: {
            "wasmgate:tools/host.emit-output": trappable,
            "wasmgate:tools/host-process.run": async | trappable,
        },
        exports: { default: async },
    });
}

/// A built-in world: the generic tools plus one typed interface, sharing
/// `tool_provider`'s `types`, `host` and `bulk-fs` bindings.
macro_rules! builtin_world {
    ($module:ident, $world:literal) => {
        pub mod $module {
            wasmtime::component::bindgen!({
                world: $world,
                path: "../wit",
                with: {
                    "wasmgate:tools/types": super::tool_provider::wasmgate::tools::types,
                    "wasmgate:tools/host": super::tool_provider::wasmgate::tools::host,
                    "wasmgate:tools/bulk-fs": super::tool_provider::wasmgate::tools::bulk_fs,
                    "wasmgate:tools/host-process": super::tool_provider::wasmgate::tools::host_process,
                },
                additional_derives: [PartialEq],
                exports: { default: async },
            });
        }
    };
}

builtin_world!(file_tools, "file-tools");
builtin_world!(search_tools, "search-tools");
builtin_world!(vcs_tools, "vcs-tools");

pub use file_tools::exports::wasmgate::tools::files::{Content, DirEntry, EntryKind, FileContent};
pub use search_tools::exports::wasmgate::tools::search::{PathKind, PathQuery, Submatch, TextMatch, TextQuery};
pub use tool_provider::wasmgate::tools::host::{Host, LogLevel};
pub use tool_provider::wasmgate::tools::types::Host as TypesHost;
pub use tool_provider::wasmgate::tools::types::{CallContext, ToolError as GuestError, ToolResult, ToolSpec};
pub use vcs_tools::exports::wasmgate::tools::vcs::{ChangeKind, DiffBase, DiffQuery, FileChange};

#[cfg(test)]
mod tests {
    #[test]
    fn the_contract_version_is_the_wit_package_s() {
        let wit = include_str!("../../../wit/tools.wit");
        assert!(wit.contains(&format!("package wasmgate:tools@{};", super::CONTRACT_VERSION)));
    }
}
