//! wasmgate's search tools, one WebAssembly component.
//!
//! `grep` carries OpenCode's name, arguments and output, for the model. The
//! `search` interface offers the same engine as records (`find-text`, shaped
//! for OpenCode's `/find`) and a fuzzy path search (`find-paths`, for
//! `/find/file` and `@` mentions). Matching is ripgrep's own library crates
//! (`grep-regex`, `grep-searcher`), filtering is `ignore`'s matchers, and
//! files and folders are read through the host's `bulk-fs` interface, over
//! the same workspace as the preopen.
//!
//! Like every tool, it sees only the workspace the host preopened.

// Only this component's exports are generated here; the shared interfaces
// are the SDK's (see `wasmgate_tool_sdk`).
wit_bindgen::generate!({
    world: "search-tools",
    path: "../../wit",
    with: {
        "wasmgate:tools/types@0.1.0": wasmgate_tool_sdk::wasmgate::tools::types,
        "wasmgate:tools/host@0.1.0": wasmgate_tool_sdk::wasmgate::tools::host,
        "wasmgate:tools/bulk-fs@0.1.0": wasmgate_tool_sdk::wasmgate::tools::bulk_fs,
        "wasmgate:tools/host-process@0.1.0": wasmgate_tool_sdk::wasmgate::tools::host_process,
    },
});

mod engine;
mod grep;
mod paths;

use exports::wasmgate::tools::search::{PathQuery, TextMatch, TextQuery};
use exports::wasmgate::tools::tool::Guest;
use wasmgate_tool_sdk::{CallContext, ToolError, ToolResult, ToolSpec, parse, workspace};

/// The component's one export type.
struct SearchTools;

impl Guest for SearchTools {
    fn describe() -> Vec<ToolSpec> {
        vec![grep::spec()]
    }

    fn invoke(name: String, arguments: String, context: CallContext) -> Result<ToolResult, ToolError> {
        let ws = workspace::of(&context);
        match name.as_str() {
            "grep" => grep::run(&ws, parse(&arguments)?),
            other => Err(ToolError::UnknownTool(format!("the search tools have no tool named {other:?}"))),
        }
    }
}

impl exports::wasmgate::tools::search::Guest for SearchTools {
    fn find_text(query: TextQuery, context: CallContext) -> Result<Vec<TextMatch>, ToolError> {
        grep::find_text(&workspace::of(&context), query)
    }

    fn find_paths(query: PathQuery, context: CallContext) -> Result<Vec<String>, ToolError> {
        paths::find(&workspace::of(&context), query)
    }
}

export!(SearchTools);
