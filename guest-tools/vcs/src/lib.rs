//! wasmgate's version-control view, one WebAssembly component.
//!
//! It offers the model no tools; the host calls its typed `vcs` interface
//! for OpenCode's `/vcs/diff` and `/vcs/status`. The repository (`.git`,
//! packs, the index) is read by `git-read` through the call's read-only
//! preopen, so whatever a `.git` file, an alternates list or a hostile pack
//! names outside the workspace stays out of reach, and a parser bug costs a
//! failed call. No `git` program runs: a repository's config could make one
//! run anything (`core.fsmonitor`, filters, external diff drivers).

wit_bindgen::generate!({
    world: "vcs-tools",
    path: "../../wit",
    with: {
        "wasmgate:tools/types@0.1.0": wasmgate_tool_sdk::wasmgate::tools::types,
        "wasmgate:tools/host@0.1.0": wasmgate_tool_sdk::wasmgate::tools::host,
        "wasmgate:tools/bulk-fs@0.1.0": wasmgate_tool_sdk::wasmgate::tools::bulk_fs,
        "wasmgate:tools/host-process@0.1.0": wasmgate_tool_sdk::wasmgate::tools::host_process,
    },
});

mod diff;

use exports::wasmgate::tools::tool::Guest;
use exports::wasmgate::tools::vcs::{DiffQuery, FileChange};
use wasmgate_tool_sdk::{CallContext, ToolError, ToolResult, ToolSpec, workspace};

/// The component's one export type.
struct VcsTools;

impl Guest for VcsTools {
    fn describe() -> Vec<ToolSpec> {
        Vec::new()
    }

    fn invoke(name: String, _arguments: String, _context: CallContext) -> Result<ToolResult, ToolError> {
        Err(ToolError::UnknownTool(format!("the version-control view has no tool named {name:?}")))
    }
}

impl exports::wasmgate::tools::vcs::Guest for VcsTools {
    fn diff(query: DiffQuery, context: CallContext) -> Result<Vec<FileChange>, ToolError> {
        diff::run(&workspace::of(&context), query)
    }
}

export!(VcsTools);
