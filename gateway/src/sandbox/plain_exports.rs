//! Components written for other hosts: plain WIT exports, no
//! `wasmgate:tools` world (the convention of wassette and of most components
//! in the wild). Each exported function, at the top of the component or in
//! an exported interface, becomes a tool:
//!
//! - its name is the function's (`word-count`), or the interface's short
//!   name and the function's for an interface's (`text_upper`);
//! - its description is the function's WIT doc comment, where the component
//!   carries its package's docs (a `package-docs` custom section, as
//!   wassette's build adds with `wit-docs-inject`), else a sentence naming
//!   the function and its component;
//! - its arguments are an object of the function's parameters, and their
//!   JSON Schema is derived from the WIT types (records as objects, enums as
//!   strings, options as nullable, variants as `"case"` or `{"case": value}`,
//!   flags as arrays of names);
//! - its result is printed as JSON (a string as itself), and an `err` result
//!   is the tool's error.
//!
//! Such a component runs exactly as any other added component does: a fresh
//! instance per call, the same grant, limits and capabilities (none beyond
//! the workspace). A function whose types cannot be written in JSON
//! (resources, streams, futures) is not offered; a component with no other
//! function is refused.

use super::ToolInfo;
use super::bindings::{CONTRACT_VERSION, GuestError, ToolResult};
use super::state::CallState;
use serde_json::{Map, Value, json};
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Type, Val};
use wasmtime::{Engine, Store};

/// The functions of one plain component, ready to call.
pub(super) struct PlainExports {
    pre: InstancePre<CallState>,
    functions: Vec<Function>,
}

/// One exported function offered as a tool.
struct Function {
    tool: String,
    export: ComponentExportIndex,
    params: Vec<(String, Type)>,
}

/// Reads the exported functions of `component` (called `owner`) as tools.
pub(super) fn describe(
    engine: &Engine,
    component: &Component,
    bytes: &[u8],
    pre: InstancePre<CallState>,
    owner: &str,
) -> Result<(PlainExports, Vec<ToolInfo>), String> {
    let docs = WitDocs::read(bytes);
    // Written for wasmgate, but against another version of its contract:
    // refused by name rather than offered as `tool_describe` and `tool_invoke`.
    if let Some((name, _)) = component.component_type().exports(engine).find(|(n, _)| n.starts_with("wasmgate:tools/"))
    {
        return Err(format!(
            "component {owner}: it exports {name}, but this server speaks wasmgate:tools@{CONTRACT_VERSION}: \
             build it against this server's wit/tools.wit"
        ));
    }
    let mut functions = Vec::new();
    let mut tools = Vec::new();
    let mut skipped = Vec::new();
    let mut offer = |interface: Option<&str>, name: &str, export: Option<ComponentExportIndex>, ty: &ComponentFunc| {
        let Some(export) = export else { return };
        let tool = match interface {
            Some(interface) => format!("{}_{name}", short_name(interface)),
            None => name.to_string(),
        };
        let params: Vec<(String, Type)> = ty.params().map(|(n, t)| (n.to_string(), t)).collect();
        if !params.iter().all(|(_, t)| representable(t)) || !ty.results().all(|t| representable(&t)) {
            skipped.push(tool);
            return;
        }
        let properties: Map<String, Value> = params.iter().map(|(n, t)| (n.clone(), schema(t))).collect();
        let required: Vec<&str> =
            params.iter().filter(|(_, t)| !matches!(t, Type::Option(_))).map(|(n, _)| n.as_str()).collect();
        let description = match (docs.function(interface, name), interface) {
            (Some(docs), _) => docs,
            (None, Some(interface)) => format!("Calls the function {name} of {interface} in the component {owner}."),
            (None, None) => format!("Calls the function {name} of the component {owner}."),
        };
        let parameters =
            json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false });
        tools.push(ToolInfo {
            name: tool.clone(),
            description,
            parameters,
            component: owner.to_string(),
            policy: None,
        });
        functions.push(Function { tool, export, params });
    };
    for (name, export) in component.component_type().exports(engine) {
        match export.ty {
            ComponentItem::ComponentFunc(ty) => offer(None, name, component.get_export_index(None, name), &ty),
            ComponentItem::ComponentInstance(instance) => {
                let Some(index) = component.get_export_index(None, name) else { continue };
                for (function, export) in instance.exports(engine) {
                    if let ComponentItem::ComponentFunc(ty) = export.ty {
                        offer(Some(name), function, component.get_export_index(Some(&index), function), &ty);
                    }
                }
            }
            _ => {}
        }
    }
    if !skipped.is_empty() {
        tracing::warn!(component = owner, ?skipped, "functions not offered: their types have no JSON form");
    }
    if functions.is_empty() {
        return Err(format!(
            "component {owner}: it exports neither wasmgate:tools/tool nor a function whose types have a JSON form"
        ));
    }
    Ok((PlainExports { pre, functions }, tools))
}

/// The doc comments of a component's WIT package, where a toolchain kept
/// them: the JSON of its top-level `package-docs` custom section (after a
/// version byte), as `wit-parser` writes it. Functions are found under the
/// package's interfaces, or any of its worlds (a component's own world name
/// is not what its source called it).
struct WitDocs(Value);

impl WitDocs {
    const SECTION: &str = "package-docs";

    /// The docs in `bytes`; none where there are none or they do not parse.
    fn read(bytes: &[u8]) -> Self {
        let mut depth = 0usize;
        for payload in wasmparser::Parser::new(0).parse_all(bytes) {
            match payload {
                Ok(wasmparser::Payload::ModuleSection { .. } | wasmparser::Payload::ComponentSection { .. }) => {
                    depth += 1
                }
                Ok(wasmparser::Payload::End(_)) => depth = depth.saturating_sub(1),
                Ok(wasmparser::Payload::CustomSection(section)) if depth == 0 && section.name() == Self::SECTION => {
                    let docs = section.data().get(1..).and_then(|json| serde_json::from_slice(json).ok());
                    return WitDocs(docs.unwrap_or(Value::Null));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        WitDocs(Value::Null)
    }

    /// The doc comment of function `name`, of the exported `interface` or
    /// of the world itself.
    fn function(&self, interface: Option<&str>, name: &str) -> Option<String> {
        // A function's entry is its docs (the first format) or `{"docs": ...}`.
        let docs_of = |funcs: &Value| {
            let entry = &funcs[name];
            entry.as_str().or(entry["docs"].as_str()).map(str::trim).filter(|d| !d.is_empty()).map(String::from)
        };
        let worlds = self.0["worlds"].as_object().into_iter().flat_map(|worlds| worlds.values());
        match interface {
            None => worlds.into_iter().find_map(|world| docs_of(&world["func_exports"]).or(docs_of(&world["funcs"]))),
            Some(interface) => {
                let short = short_name(interface);
                docs_of(&self.0["interfaces"][short]["funcs"]).or_else(|| {
                    worlds.into_iter().find_map(|world| {
                        docs_of(&world["interface_exports"][interface]["funcs"])
                            .or(docs_of(&world["interfaces"][interface]["funcs"]))
                    })
                })
            }
        }
    }
}

/// `wasi:cli/run@0.2.0` as `run`.
fn short_name(interface: &str) -> &str {
    let path = interface.split('@').next().unwrap_or(interface);
    path.rsplit(['/', ':']).next().unwrap_or(path)
}

impl PlainExports {
    /// Calls the function offered as `tool` with JSON `arguments`, in a
    /// fresh instance in `store`.
    pub(super) async fn invoke(
        &self,
        store: &mut Store<CallState>,
        tool: &str,
        arguments: &str,
    ) -> wasmtime::Result<Result<ToolResult, GuestError>> {
        let Some(function) = self.functions.iter().find(|f| f.tool == tool) else {
            return Ok(Err(GuestError::UnknownTool(tool.to_string())));
        };
        let params = match arguments_of(function, arguments) {
            Ok(params) => params,
            Err(message) => return Ok(Err(GuestError::InvalidArguments(message))),
        };
        let instance = self.pre.instantiate_async(&mut *store).await?;
        let func = instance
            .get_func(&mut *store, function.export)
            .ok_or_else(|| wasmtime::format_err!("the export of {tool} is not a function"))?;
        let mut results = vec![Val::Bool(false); func.ty(&*store).results().len()];
        func.call_async(&mut *store, &params, &mut results).await?;
        let output = match results.as_slice() {
            [] => String::new(),
            [Val::Result(Err(error))] => {
                let error = error.as_deref().map(to_json).unwrap_or(Value::Null);
                return Ok(Err(GuestError::Failed(printed(&error))));
            }
            [Val::Result(Ok(value))] => printed(&value.as_deref().map(to_json).unwrap_or(Value::Null)),
            [one] => printed(&to_json(one)),
            many => printed(&Value::Array(many.iter().map(to_json).collect())),
        };
        Ok(Ok(ToolResult { title: tool.to_string(), output, metadata: "{}".into() }))
    }
}

/// A string as itself, anything else as pretty JSON.
fn printed(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => serde_json::to_string_pretty(other).expect("a JSON value prints"),
    }
}

/// The call's parameters from its JSON arguments object.
fn arguments_of(function: &Function, arguments: &str) -> Result<Vec<Val>, String> {
    let arguments: Value = serde_json::from_str(arguments).map_err(|e| format!("the arguments are not JSON: {e}"))?;
    let Value::Object(mut arguments) = arguments else { return Err("the arguments must be an object".into()) };
    let params = function
        .params
        .iter()
        .map(|(name, ty)| to_val(arguments.remove(name).as_ref().unwrap_or(&Value::Null), ty, name))
        .collect::<Result<Vec<Val>, String>>()?;
    match arguments.keys().next() {
        Some(unknown) => Err(format!("{unknown}: no such parameter of {}", function.tool)),
        None => Ok(params),
    }
}

/// Whether values of `ty` can be written in JSON both ways.
fn representable(ty: &Type) -> bool {
    match ty {
        Type::Bool
        | Type::S8
        | Type::U8
        | Type::S16
        | Type::U16
        | Type::S32
        | Type::U32
        | Type::S64
        | Type::U64
        | Type::Float32
        | Type::Float64
        | Type::Char
        | Type::String
        | Type::Enum(_)
        | Type::Flags(_) => true,
        Type::List(list) => representable(&list.ty()),
        Type::FixedLengthList(list) => representable(&list.ty()),
        Type::Record(record) => record.fields().all(|f| representable(&f.ty)),
        Type::Tuple(tuple) => tuple.types().all(|t| representable(&t)),
        Type::Variant(variant) => variant.cases().all(|c| c.ty.as_ref().is_none_or(representable)),
        Type::Option(option) => representable(&option.ty()),
        Type::Result(result) => {
            result.ok().as_ref().is_none_or(representable) && result.err().as_ref().is_none_or(representable)
        }
        Type::Map(_) | Type::Own(_) | Type::Borrow(_) | Type::Future(_) | Type::Stream(_) | Type::ErrorContext => false,
    }
}

/// The JSON Schema of values of `ty`.
fn schema(ty: &Type) -> Value {
    let integer = |min: i128, max: i128| json!({ "type": "integer", "minimum": min, "maximum": max });
    match ty {
        Type::Bool => json!({ "type": "boolean" }),
        Type::S8 => integer(i8::MIN.into(), i8::MAX.into()),
        Type::U8 => integer(0, u8::MAX.into()),
        Type::S16 => integer(i16::MIN.into(), i16::MAX.into()),
        Type::U16 => integer(0, u16::MAX.into()),
        Type::S32 => integer(i32::MIN.into(), i32::MAX.into()),
        Type::U32 => integer(0, u32::MAX.into()),
        Type::S64 => integer(i64::MIN.into(), i64::MAX.into()),
        Type::U64 => integer(0, u64::MAX.into()),
        Type::Float32 | Type::Float64 => json!({ "type": "number" }),
        Type::Char => json!({ "type": "string", "minLength": 1, "maxLength": 1 }),
        Type::String => json!({ "type": "string" }),
        Type::List(list) => json!({ "type": "array", "items": schema(&list.ty()) }),
        Type::FixedLengthList(list) => {
            json!({ "type": "array", "items": schema(&list.ty()), "minItems": list.len(), "maxItems": list.len() })
        }
        Type::Record(record) => {
            let properties: Map<String, Value> = record.fields().map(|f| (f.name.to_string(), schema(&f.ty))).collect();
            let required: Vec<&str> =
                record.fields().filter(|f| !matches!(f.ty, Type::Option(_))).map(|f| f.name).collect();
            json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false })
        }
        Type::Tuple(tuple) => {
            let items: Vec<Value> = tuple.types().map(|t| schema(&t)).collect();
            let n = items.len();
            json!({ "type": "array", "prefixItems": items, "minItems": n, "maxItems": n })
        }
        Type::Variant(variant) => {
            let cases: Vec<Value> = variant
                .cases()
                .map(|case| match &case.ty {
                    None => json!({ "const": case.name }),
                    Some(ty) => json!({
                        "type": "object",
                        "properties": { case.name: schema(ty) },
                        "required": [case.name],
                        "additionalProperties": false,
                    }),
                })
                .collect();
            json!({ "oneOf": cases })
        }
        Type::Enum(names) => json!({ "type": "string", "enum": names.names().collect::<Vec<_>>() }),
        Type::Option(option) => json!({ "anyOf": [schema(&option.ty()), { "type": "null" }] }),
        Type::Result(result) => {
            let side = |name: &str, ty: Option<Type>| {
                let value = ty.as_ref().map_or(json!({ "type": "null" }), schema);
                json!({ "type": "object", "properties": { name: value }, "required": [name], "additionalProperties": false })
            };
            json!({ "oneOf": [side("ok", result.ok()), side("err", result.err())] })
        }
        Type::Flags(flags) => json!({
            "type": "array",
            "items": { "type": "string", "enum": flags.names().collect::<Vec<_>>() },
            "uniqueItems": true,
        }),
        Type::Map(_) | Type::Own(_) | Type::Borrow(_) | Type::Future(_) | Type::Stream(_) | Type::ErrorContext => {
            json!({})
        }
    }
}

/// The value of type `ty` that `json` writes; `at` names where, for errors.
fn to_val(json: &Value, ty: &Type, at: &str) -> Result<Val, String> {
    let wrong = |expected: &str| format!("{at}: expected {expected}, got {}", short(json));
    let int = |min: i128, max: i128| -> Result<i128, String> {
        let n = json.as_i64().map(i128::from).or_else(|| json.as_u64().map(i128::from));
        n.filter(|n| (min..=max).contains(n)).ok_or_else(|| wrong(&format!("an integer from {min} to {max}")))
    };
    Ok(match ty {
        Type::Bool => Val::Bool(json.as_bool().ok_or_else(|| wrong("true or false"))?),
        Type::S8 => Val::S8(int(i8::MIN.into(), i8::MAX.into())? as i8),
        Type::U8 => Val::U8(int(0, u8::MAX.into())? as u8),
        Type::S16 => Val::S16(int(i16::MIN.into(), i16::MAX.into())? as i16),
        Type::U16 => Val::U16(int(0, u16::MAX.into())? as u16),
        Type::S32 => Val::S32(int(i32::MIN.into(), i32::MAX.into())? as i32),
        Type::U32 => Val::U32(int(0, u32::MAX.into())? as u32),
        Type::S64 => Val::S64(int(i64::MIN.into(), i64::MAX.into())? as i64),
        Type::U64 => Val::U64(int(0, u64::MAX.into())? as u64),
        Type::Float32 => Val::Float32(json.as_f64().ok_or_else(|| wrong("a number"))? as f32),
        Type::Float64 => Val::Float64(json.as_f64().ok_or_else(|| wrong("a number"))?),
        Type::Char => {
            let text = json.as_str().ok_or_else(|| wrong("one character"))?;
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Val::Char(c),
                _ => return Err(wrong("one character")),
            }
        }
        Type::String => Val::String(json.as_str().ok_or_else(|| wrong("a string"))?.to_string()),
        Type::List(list) => Val::List(elements(json, &list.ty(), at, None).map_err(|()| wrong("an array"))??),
        Type::FixedLengthList(list) => {
            let size = list.len() as usize;
            let items = elements(json, &list.ty(), at, Some(size));
            Val::FixedLengthList(items.map_err(|()| wrong(&format!("an array of {size}")))??)
        }
        Type::Record(record) => {
            let Value::Object(object) = json else { return Err(wrong("an object")) };
            if let Some(unknown) = object.keys().find(|k| !record.fields().any(|f| f.name == k.as_str())) {
                return Err(format!("{at}.{unknown}: no such field"));
            }
            let fields = record.fields().map(|field| {
                let value = object.get(field.name).unwrap_or(&Value::Null);
                Ok((field.name.to_string(), to_val(value, &field.ty, &format!("{at}.{}", field.name))?))
            });
            Val::Record(fields.collect::<Result<_, String>>()?)
        }
        Type::Tuple(tuple) => {
            let types: Vec<Type> = tuple.types().collect();
            let items = json.as_array().filter(|a| a.len() == types.len());
            let items = items.ok_or_else(|| wrong(&format!("an array of {}", types.len())))?;
            let values = items.iter().zip(&types).enumerate().map(|(i, (v, t))| to_val(v, t, &format!("{at}[{i}]")));
            Val::Tuple(values.collect::<Result<_, String>>()?)
        }
        Type::Variant(variant) => {
            let names: Vec<&str> = variant.cases().map(|c| c.name).collect();
            let expected = format!("one of {}", names.join(", "));
            let (name, payload) = tagged(json).ok_or_else(|| wrong(&expected))?;
            let case = variant.cases().find(|c| c.name == name).ok_or_else(|| wrong(&expected))?;
            match (&case.ty, payload) {
                (None, None) => Val::Variant(name.to_string(), None),
                (Some(ty), Some(payload)) => {
                    let value = to_val(payload, ty, &format!("{at}.{name}"))?;
                    Val::Variant(name.to_string(), Some(Box::new(value)))
                }
                (None, Some(_)) => return Err(format!("{at}: {name} carries no value: write it as \"{name}\"")),
                (Some(_), None) => return Err(format!("{at}: {name} carries a value: write {{\"{name}\": ...}}")),
            }
        }
        Type::Enum(names) => {
            let name = json.as_str().filter(|n| names.names().any(|m| m == *n));
            let expected = format!("one of {}", names.names().collect::<Vec<_>>().join(", "));
            Val::Enum(name.ok_or_else(|| wrong(&expected))?.to_string())
        }
        Type::Option(option) => match json {
            Value::Null => Val::Option(None),
            value => Val::Option(Some(Box::new(to_val(value, &option.ty(), at)?))),
        },
        Type::Result(result) => {
            let (side, payload) = tagged(json).ok_or_else(|| wrong("{\"ok\": ...} or {\"err\": ...}"))?;
            let ty = match side {
                "ok" => result.ok(),
                "err" => result.err(),
                _ => return Err(wrong("{\"ok\": ...} or {\"err\": ...}")),
            };
            let value = match (ty, payload) {
                (Some(ty), Some(payload)) => Some(Box::new(to_val(payload, &ty, &format!("{at}.{side}"))?)),
                (None, None | Some(Value::Null)) => None,
                _ => return Err(wrong(&format!("{side} with the value its type says"))),
            };
            Val::Result(if side == "ok" { Ok(value) } else { Err(value) })
        }
        Type::Flags(flags) => {
            let items = json.as_array().ok_or_else(|| wrong("an array of flag names"))?;
            let names = items.iter().map(|item| {
                item.as_str().filter(|n| flags.names().any(|m| m == *n)).map(str::to_string).ok_or_else(|| {
                    let all: Vec<&str> = flags.names().collect();
                    format!("{at}: {} is not one of {}", short(item), all.join(", "))
                })
            });
            Val::Flags(names.collect::<Result<_, String>>()?)
        }
        Type::Map(_) | Type::Own(_) | Type::Borrow(_) | Type::Future(_) | Type::Stream(_) | Type::ErrorContext => {
            return Err(format!("{at}: this type has no JSON form"));
        }
    })
}

/// The elements of a JSON array as values of `ty` (exactly `size` of them
/// when given); `Err(())` when `json` is not such an array.
fn elements(json: &Value, ty: &Type, at: &str, size: Option<usize>) -> Result<Result<Vec<Val>, String>, ()> {
    let items = json.as_array().filter(|a| size.is_none_or(|n| a.len() == n)).ok_or(())?;
    Ok(items.iter().enumerate().map(|(i, item)| to_val(item, ty, &format!("{at}[{i}]"))).collect())
}

/// `"name"` as (name, none) and `{"name": value}` as (name, value).
fn tagged(json: &Value) -> Option<(&str, Option<&Value>)> {
    match json {
        Value::String(name) => Some((name, None)),
        Value::Object(object) if object.len() == 1 => object.iter().next().map(|(k, v)| (k.as_str(), Some(v))),
        _ => None,
    }
}

/// A value as JSON.
fn to_json(val: &Val) -> Value {
    match val {
        Val::Bool(b) => json!(b),
        Val::S8(n) => json!(n),
        Val::U8(n) => json!(n),
        Val::S16(n) => json!(n),
        Val::U16(n) => json!(n),
        Val::S32(n) => json!(n),
        Val::U32(n) => json!(n),
        Val::S64(n) => json!(n),
        Val::U64(n) => json!(n),
        Val::Float32(n) => json!(n),
        Val::Float64(n) => json!(n),
        Val::Char(c) => json!(c.to_string()),
        Val::String(s) => json!(s),
        Val::List(items) | Val::Tuple(items) | Val::FixedLengthList(items) => {
            Value::Array(items.iter().map(to_json).collect())
        }
        Val::Record(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
        Val::Variant(name, None) | Val::Enum(name) => json!(name),
        Val::Variant(name, Some(value)) => json!({ name: to_json(value) }),
        Val::Option(value) => value.as_deref().map_or(Value::Null, to_json),
        Val::Result(Ok(value)) => json!({ "ok": value.as_deref().map_or(Value::Null, to_json) }),
        Val::Result(Err(value)) => json!({ "err": value.as_deref().map_or(Value::Null, to_json) }),
        Val::Flags(names) => json!(names),
        Val::Map(_) | Val::Resource(_) | Val::Future(_) | Val::Stream(_) | Val::ErrorContext(_) => Value::Null,
    }
}

/// A JSON value shortened for an error message.
fn short(json: &Value) -> String {
    let text = json.to_string();
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_shorten_to_their_last_segment() {
        assert_eq!(short_name("example:units/text@1.0.0"), "text");
        assert_eq!(short_name("text"), "text");
        assert_eq!(short_name("wasi:cli/run"), "run");
    }

    #[test]
    fn values_print_as_json_and_strings_as_themselves() {
        assert_eq!(printed(&json!("plain")), "plain");
        let record = Val::Record(vec![("value".into(), Val::Float64(2.5)), ("unit".into(), Val::String("m".into()))]);
        assert_eq!(to_json(&record), json!({ "value": 2.5, "unit": "m" }));
        assert_eq!(to_json(&Val::Variant("circle".into(), Some(Box::new(Val::U32(3))))), json!({ "circle": 3 }));
        assert_eq!(to_json(&Val::Option(None)), Value::Null);
        assert_eq!(short(&json!("x".repeat(100))).chars().count(), 41);
    }
}
