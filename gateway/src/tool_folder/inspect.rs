//! `wasmgate tool inspect`: what a component file is before anyone runs it
//! for real: its world (what it imports and exports, as WIT), its size, what
//! compiling it costs, and the tools it describes with their schemas.
//!
//! The world is read from the component's own type information by
//! `wit-component` (the Bytecode Alliance's decoder and printer), so it is
//! what the file says, whatever language it was written in. The tools come
//! from loading it in a sandbox exactly as a server would (no workspace, the
//! usual limits) and asking it to describe itself.

use crate::sandbox::{CompileTiming, Sandbox, ToolInfo, check_component_header, component_digest};
use std::fmt::Write;
use wit_parser::{WorldItem, WorldKey};

/// What `tool inspect` found.
#[derive(Debug, serde::Serialize)]
pub struct Inspection {
    /// The name it would be installed under.
    pub name: String,
    pub size: usize,
    /// SHA-256 of its bytes, in hex.
    pub digest: String,
    /// Its world, as WIT.
    pub world: String,
    /// What it imports: interfaces (`wasi:filesystem/types@0.2.6`) and functions.
    pub imports: Vec<String>,
    /// What it exports.
    pub exports: Vec<String>,
    /// Milliseconds to compile it.
    pub compile_ms: Option<f64>,
    /// Milliseconds to load its compiled code from the cache.
    pub cached_load_ms: Option<f64>,
    /// The tools it describes, when it loads.
    pub tools: Vec<ToolInfo>,
    /// Why it does not load, when it does not.
    pub error: Option<String>,
}

/// Reads the component `bytes` and loads it in `sandbox` to list its tools.
/// Bytes that are not a component at all are an error; one that is but
/// does not load is an [`Inspection`] with its `error` set.
pub async fn inspect(sandbox: &Sandbox, name: &str, bytes: &[u8]) -> Result<Inspection, String> {
    check_component_header(bytes)?;
    let decoded = wit_component::decode(bytes).map_err(|e| format!("not a WebAssembly component: {e:#}"))?;
    let wit_component::DecodedWasm::Component(resolve, world) = decoded else {
        return Err("a WIT package, not a component: build the tool into a component first".into());
    };
    let key_name = |key: &WorldKey| resolve.name_world_key(key);
    let item_name = |key: &WorldKey, item: &WorldItem| match item {
        WorldItem::Function(function) => format!("func {}", function.name),
        WorldItem::Type { .. } => format!("type {}", key_name(key)),
        WorldItem::Interface { .. } => key_name(key),
    };
    let imports = resolve.worlds[world].imports.iter().map(|(k, i)| item_name(k, i)).collect();
    let exports = resolve.worlds[world].exports.iter().map(|(k, i)| item_name(k, i)).collect();
    let package = resolve.worlds[world].package.ok_or("the component's world has no package")?;
    let mut printer = wit_component::WitPrinter::default();
    printer.emit_docs(false);
    printer.print(&resolve, package, &[]).map_err(|e| format!("printing its world: {e:#}"))?;
    let mut inspection = Inspection {
        name: name.to_string(),
        size: bytes.len(),
        digest: component_digest(bytes),
        world: printer.output.to_string(),
        imports,
        exports,
        compile_ms: None,
        cached_load_ms: None,
        tools: Vec::new(),
        error: None,
    };
    let millis = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    match sandbox.compile_timing(bytes) {
        Ok(CompileTiming { compile, cached }) => {
            inspection.compile_ms = Some(millis(compile));
            inspection.cached_load_ms = cached.map(millis);
        }
        Err(error) => inspection.error = Some(format!("it does not compile: {error}")),
    }
    if inspection.error.is_none() {
        match sandbox.describe_component(name, bytes).await {
            Ok(tools) => inspection.tools = tools,
            Err(error) => inspection.error = Some(error),
        }
    }
    Ok(inspection)
}

impl Inspection {
    /// The report `tool inspect` prints.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        let kib = self.size as f64 / 1024.0;
        let _ = writeln!(text, "component {}: {kib:.1} KiB, sha256 {}", self.name, self.digest);
        match (self.compile_ms, self.cached_load_ms) {
            (Some(compile), Some(cached)) => {
                let _ = writeln!(text, "compiles in {compile:.0} ms; loads from the compile cache in {cached:.2} ms");
            }
            (Some(compile), None) => {
                let _ = writeln!(text, "compiles in {compile:.0} ms (no compile cache)");
            }
            _ => {}
        }
        text += "\nworld:\n";
        for line in self.world.lines() {
            let _ = writeln!(text, "{}", format!("  {line}").trim_end());
        }
        match &self.error {
            Some(error) => {
                let _ = writeln!(text, "\nnot loadable: {error}");
            }
            None if self.tools.is_empty() => text += "\nno tools: it describes none\n",
            None => {
                text += "\ntools:\n";
                for tool in &self.tools {
                    let _ = writeln!(text, "  {}\n    {}", tool.name, tool.description);
                    let schema = serde_json::to_string_pretty(&tool.parameters).expect("a schema serializes");
                    for line in schema.lines() {
                        let _ = writeln!(text, "      {line}");
                    }
                }
            }
        }
        text
    }
}
