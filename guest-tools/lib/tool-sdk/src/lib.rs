//! What every wasmgate tool component shares, so none of them copies it.
//!
//! - The bindings of the `wasmgate:tools` package, generated once here for
//!   the `tool-provider` world: a component of that world writes
//!   `wasmgate_tool_sdk::export!(MyTools with_types_in wasmgate_tool_sdk);`
//!   and needs no `generate!` of its own. A component of a wider world (the
//!   built-in file and search tools add a typed interface) generates only
//!   its exports and maps every shared interface here with `with`, so
//!   `ToolSpec`, `ToolError` and `CallContext` are one type everywhere.
//! - [`spec`]: a tool's argument schema derived from the very type its
//!   arguments are parsed into ([`parse`]), so the two cannot drift.
//! - [`workspace`]: the call's workspace, with path errors as `tool-error`
//!   and the host's `bulk-fs` listing.

wit_bindgen::generate!({
    world: "tool-provider",
    path: "../../../wit",
    pub_export_macro: true,
    default_bindings_module: "wasmgate_tool_sdk",
});

pub use exports::wasmgate::tools::tool::Guest;
pub use schemars::JsonSchema;
pub use wasmgate::tools::types::{CallContext, ToolError, ToolResult, ToolSpec};

use serde::de::DeserializeOwned;

/// A tool's spec: its name, what it does, and the JSON Schema of `A`, the
/// type its arguments are parsed into (descriptions come from the fields'
/// doc comments).
pub fn spec<A: JsonSchema>(name: &str, description: &str) -> ToolSpec {
    ToolSpec { name: name.into(), description: description.into(), parameters: schema_of::<A>().to_string() }
}

/// The JSON Schema of `A` as every provider takes a tool's parameters:
/// inline, without the meta-schema line, the type's own title and doc, an
/// optional field as its plain type (not `["string", "null"]`, which some
/// providers refuse), and no Rust-specific number formats (`uint`).
pub fn schema_of<A: JsonSchema>() -> serde_json::Value {
    let settings = schemars::generate::SchemaSettings::draft2020_12().with(|s| {
        s.inline_subschemas = true;
        s.meta_schema = None;
    });
    let mut schema = settings.into_generator().into_root_schema_for::<A>().to_value();
    if let Some(object) = schema.as_object_mut() {
        object.remove("title");
        object.remove("description");
    }
    simplify(&mut schema);
    schema
}

/// Gives an optional field its plain type (`"string"` for schemars'
/// `["string", "null"]`) and drops the `format` of Rust's number types.
fn simplify(schema: &mut serde_json::Value) {
    match schema {
        serde_json::Value::Object(object) => {
            if let Some(serde_json::Value::Array(types)) = object.get("type") {
                let plain: Vec<serde_json::Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                if let [single] = plain.as_slice() {
                    object.insert("type".into(), single.clone());
                }
            }
            if object.get("type").is_some_and(|t| t == "integer" || t == "number") {
                object.remove("format");
            }
            object.values_mut().for_each(simplify);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(simplify),
        _ => {}
    }
}

/// Parses a tool's JSON arguments into `A`, naming the field that is wrong.
pub fn parse<A: DeserializeOwned>(arguments: &str) -> Result<A, ToolError> {
    serde_json::from_str(arguments).map_err(|e| ToolError::InvalidArguments(format!("invalid arguments: {e}")))
}

/// A successful result.
pub fn result(title: String, output: String, metadata: serde_json::Value) -> Result<ToolResult, ToolError> {
    Ok(ToolResult { title, output, metadata: metadata.to_string() })
}

/// The workspace of one call, with path errors turned into `tool-error`.
pub mod workspace {
    use super::{CallContext, ToolError};
    pub use workspace_paths::{Access, Resolved, Workspace};

    /// The workspace the call context names.
    pub fn of(context: &CallContext) -> Workspace {
        Workspace::new(&context.workspace, context.writable)
    }

    workspace_paths::tool_error_from_path_error!(ToolError);

    workspace_walk::bulk_listing!(crate::wasmgate::tools::bulk_fs);

    /// The folder a tree-shaped tool works on (default: the root), which
    /// must exist.
    pub fn folder(ws: &Workspace, path: Option<&str>) -> Result<Resolved, ToolError> {
        let dir = ws.resolve(path.unwrap_or("."))?;
        let meta = std::fs::metadata(&dir.abs).map_err(|e| ws.io_error(Access::Read, &dir, e))?;
        if !meta.is_dir() {
            return Err(ToolError::InvalidArguments(format!("{} is not a directory", dir.abs)));
        }
        Ok(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// Arguments of a made-up tool.
    #[derive(Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Args {
        /// The path to the file
        file_path: String,
        /// Where to start (1-based)
        #[schemars(range(min = 1))]
        offset: Option<u32>,
        #[serde(default)]
        replace_all: bool,
    }

    #[test]
    fn the_schema_is_the_parsers_type() {
        let schema = schema_of::<Args>();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["required"], serde_json::json!(["filePath"]));
        assert_eq!(schema["properties"]["filePath"]["description"], "The path to the file");
        assert_eq!(schema["properties"]["offset"]["minimum"], 1);
        assert_eq!(schema["properties"]["offset"]["type"], "integer", "an optional field has its plain type");
        assert!(schema["properties"]["offset"].get("format").is_none(), "{schema}");
        for key in ["$schema", "title", "description"] {
            assert!(schema.get(key).is_none(), "{key}: {schema}");
        }
        assert!(parse::<Args>(r#"{"filePath": "a", "offset": 2}"#).is_ok());
        assert!(parse::<Args>(r#"{"offset": 2}"#).is_err(), "what the schema requires, the parser requires");
    }
}
