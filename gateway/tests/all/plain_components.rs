//! Components written for another host (wassette's convention): plain WIT
//! exports, no `wasmgate:tools` world. `guest-tools/test-plain` exports
//! functions over records, enums, flags, variants, options, results, lists,
//! tuples and chars, at the top and in an interface; each becomes a tool
//! whose schema comes from its WIT types, whose JSON arguments are checked
//! against them, and which runs under the same grant and limits as any tool.

use crate::scripted_model::{Chunk, Reply, ScriptedModel, says};
use crate::served::Served;
use crate::util::{Fixture, SECRET, TEST_LIMITS, cache_dir};
use serde_json::{Value, json};
use wasmgate::sandbox::{CallError, CompileCache, Sandbox};

const PLAIN: &str = env!("WASMGATE_COMPONENT_TEST_PLAIN");

async fn sandbox() -> Sandbox {
    let sandbox = Sandbox::builder()
        .limits(TEST_LIMITS)
        .cache(CompileCache::at(cache_dir()))
        .component("units", std::fs::read(PLAIN).unwrap())
        .build()
        .await
        .unwrap();
    assert!(sandbox.load_failures().is_empty(), "{:?}", sandbox.load_failures());
    sandbox
}

#[tokio::test(flavor = "multi_thread")]
async fn each_exported_function_is_a_tool_typed_by_its_wit() {
    let fx = Fixture::new();
    let sandbox = sandbox().await;
    let tools = sandbox.tools();
    let names: Vec<&str> = tools.iter().filter(|t| t.component == "units").map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["convert", "area", "units-of", "styled", "spin", "read-file", "text_upper", "text_line-words"]);
    let convert = tools.iter().find(|t| t.name == "convert").unwrap();
    assert_eq!(convert.parameters["required"], json!(["quantity", "to"]));
    assert_eq!(convert.parameters["properties"]["quantity"]["required"], json!(["value", "unit"]));
    let units_of = tools.iter().find(|t| t.name == "units-of").unwrap();
    assert_eq!(units_of.parameters["properties"]["system"]["enum"], json!(["metric", "imperial"]));
    assert_eq!(units_of.parameters["required"], json!(["system"]), "an option may be left out");

    let call = async |tool: &str, arguments: Value| sandbox.call(tool, &arguments.to_string(), &fx.read_write()).await;
    let json_of = |output: wasmgate::sandbox::ToolOutput| serde_json::from_str::<Value>(&output.output).unwrap();
    let feet = json_of(call("convert", json!({ "quantity": { "value": 1, "unit": "ft" }, "to": "in" })).await.unwrap());
    assert_eq!(feet["unit"], "in");
    assert!((feet["value"].as_f64().unwrap() - 12.0).abs() < 1e-9, "{feet}");
    let unknown = call("convert", json!({ "quantity": { "value": 1, "unit": "furlong" }, "to": "m" })).await;
    assert_eq!(unknown, Err(CallError::Failed("unknown unit \"furlong\"".into())), "an err result is the tool's error");
    let circle = json_of(call("area", json!({ "shape": { "circle": 1.0 } })).await.unwrap());
    assert!((circle.as_f64().unwrap() - std::f64::consts::PI).abs() < 1e-12);
    assert_eq!(call("area", json!({ "shape": "point" })).await.unwrap().output, "0.0");
    assert_eq!(json_of(call("units-of", json!({ "system": "imperial" })).await.unwrap()), json!(["ft", "in"]));
    assert_eq!(json_of(call("units-of", json!({ "system": "metric", "first": 1 })).await.unwrap()), json!(["m"]));
    let styled = call("styled", json!({ "style": ["plural"], "count": -3, "sign": "+" })).await.unwrap();
    assert_eq!(json_of(styled), json!([false, true, "+-3"]));
    assert_eq!(call("text_upper", json!({ "text": "abc" })).await.unwrap().output, "ABC", "a string as itself");
    assert_eq!(json_of(call("text_line-words", json!({ "lines": ["a b", "c"] })).await.unwrap()), json!([2, 1]));

    // Arguments that do not fit the types are refused before the guest runs.
    for (tool, arguments, says) in [
        ("convert", json!({ "to": "m" }), "quantity: expected an object, got null"),
        (
            "convert",
            json!({ "quantity": { "value": "1", "unit": "m" }, "to": "m" }),
            "quantity.value: expected a number",
        ),
        ("convert", json!({ "quantity": { "value": 1, "unit": "m", "x": 1 }, "to": "m" }), "quantity.x: no such field"),
        (
            "convert",
            json!({ "quantity": { "value": 1, "unit": "m" }, "to": "m", "extra": 1 }),
            "extra: no such parameter",
        ),
        ("area", json!({ "shape": { "triangle": 1 } }), "expected one of circle, square, point"),
        ("area", json!({ "shape": "circle" }), "circle carries a value"),
        ("units-of", json!({ "system": "cubits" }), "expected one of metric, imperial"),
        ("units-of", json!({ "system": "metric", "first": 300 }), "an integer from 0 to 255"),
        ("styled", json!({ "style": ["loud"], "count": 1, "sign": "+" }), "\"loud\" is not one of short, plural"),
        ("styled", json!({ "style": [], "count": 1, "sign": "++" }), "sign: expected one character"),
        ("styled", json!({ "style": [], "count": 1u64 << 40, "sign": "+" }), "count: expected an integer"),
    ] {
        match call(tool, arguments.clone()).await {
            Err(CallError::InvalidArguments(message)) => assert!(message.contains(says), "{arguments}: {message}"),
            other => panic!("{arguments}: {other:?}"),
        }
    }
    assert!(matches!(sandbox.call("convert", "[1]", &fx.read_write()).await, Err(CallError::InvalidArguments(_))));

    // The same limits and grant as any tool.
    assert_eq!(call("spin", json!({})).await, Err(CallError::Timeout(TEST_LIMITS.deadline)));
    let inside = fx.file("notes.txt", "inside");
    assert_eq!(call("read-file", json!({ "path": inside })).await.unwrap().output, "inside");
    let outside = call("read-file", json!({ "path": fx.outside })).await;
    assert!(matches!(&outside, Err(CallError::Failed(m)) if !m.contains(SECRET)), "{outside:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_calls_a_plain_component_from_the_tools_folder() {
    let fx = Fixture::new();
    let tools = tempfile::tempdir().unwrap();
    std::fs::copy(PLAIN, tools.path().join("units.wasm")).unwrap();
    let arguments = json!({ "quantity": { "value": 100, "unit": "cm" }, "to": "m" });
    let model =
        ScriptedModel::start(vec![Reply::Stream(vec![Chunk::Call("c1", "convert", arguments)]), says("1 m")]).await;
    let config = crate::agent::config(&model, json!({}));
    let served = Served::start_with_config(&fx.ws, &config, &["--tools-dir", tools.path().to_str().unwrap()]);
    let id = served.new_session().await;
    let state = served.prompt_for_tool_state(&id, "100 cm in m?").await;
    assert_eq!(state["status"], "completed", "{state}");
    let output: Value = serde_json::from_str(state["output"].as_str().unwrap()).unwrap();
    assert_eq!(output, json!({ "value": 1.0, "unit": "m" }));
    let schema =
        model.requests()[0]["tools"].as_array().unwrap().iter().find(|t| t["function"]["name"] == "convert").cloned();
    let schema = schema.expect("the model is offered convert")["function"]["parameters"].clone();
    assert_eq!(schema["properties"]["quantity"]["type"], "object", "with the schema its WIT types give");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tool_built_against_another_contract_version_is_refused_by_name() {
    // The test component with its `wasmgate:tools/tool` export renamed to another version.
    let bytes = std::fs::read(crate::util::HOSTILE).unwrap();
    let (old, new) = (b"wasmgate:tools/tool@0.1.0", b"wasmgate:tools/tool@0.9.0");
    let mut renamed = Vec::with_capacity(bytes.len());
    let mut rest = bytes.as_slice();
    while let Some(at) = rest.windows(old.len()).position(|w| w == old) {
        renamed.extend_from_slice(&rest[..at]);
        renamed.extend_from_slice(new);
        rest = &rest[at + old.len()..];
    }
    renamed.extend_from_slice(rest);
    let sandbox =
        Sandbox::builder().cache(CompileCache::at(cache_dir())).component("future", renamed).build().await.unwrap();
    let failures = sandbox.load_failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].error.contains("exports wasmgate:tools/tool@0.9.0, but this server speaks wasmgate:tools@0.1.0"),
        "{}",
        failures[0].error
    );
    assert!(!sandbox.tools().iter().any(|t| t.component == "future"), "nothing of it is offered");
}

/// The `package-docs` section `wit-parser` 0.254's `PackageMetadata::encode`
/// writes for `guest-tools/test-plain/wit/units.wit` (what wassette's
/// `wit-docs-inject` adds to a component): a version byte, then JSON.
const UNITS_DOCS: &str = r#"{"docs":"A component as a host other than wasmgate would load it.","worlds":{"units":{"func_exports":{"convert":{"docs":"Converts a length between m, cm, ft and in."},"area":{"docs":"The area of a shape, in square units."},"units-of":{"docs":"The length units of a measuring system, optionally only the first few."},"spin":{"docs":"Loops forever (the sandbox's deadline stops it)."},"read-file":{"docs":"Reads a file through the preopened workspace (the grant applies)."}}}},"interfaces":{"text":{"funcs":{"upper":{"docs":"Upper-cases a text."},"line-words":{"docs":"Counts the words of each line."}}}}}"#;

/// `component` with a custom section `name` holding `data` appended.
fn with_custom_section(component: &[u8], name: &str, data: &[u8]) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            out.push(if n == 0 { byte } else { byte | 0x80 });
            if n == 0 {
                return;
            }
        }
    }
    let mut body = Vec::new();
    leb(name.len(), &mut body);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(data);
    let mut out = component.to_vec();
    out.push(0);
    leb(body.len(), &mut out);
    out.extend(body);
    out
}

/// `component` installed alone in a tools folder, as `wasmgate tool list
/// --json` describes its tools: each tool's description, by name.
fn descriptions(name: &str, component: &[u8]) -> std::collections::BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(format!("{name}.wasm")), component).unwrap();
    let listed = crate::util::wasmgate(&["tool", "list", "--json", "--tools-dir", dir.path().to_str().unwrap()]);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let tools: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let ours = tools.as_array().unwrap().iter().filter(|t| t["component"] == name);
    ours.map(|t| (t["name"].as_str().unwrap().to_string(), t["description"].as_str().unwrap().to_string())).collect()
}

#[test]
fn wit_doc_comments_describe_the_tools() {
    let plain = std::fs::read(PLAIN).unwrap();
    let mut docs = vec![1u8];
    docs.extend_from_slice(UNITS_DOCS.as_bytes());
    let described = descriptions("units", &with_custom_section(&plain, "package-docs", &docs));
    assert_eq!(described["convert"], "Converts a length between m, cm, ft and in.");
    assert_eq!(described["text_upper"], "Upper-cases a text.");
    assert_eq!(described["text_line-words"], "Counts the words of each line.");
    // A function without a comment is named, as in a component without docs.
    assert_eq!(described["styled"], "Calls the function styled of the component units.");
    // Docs that do not parse leave the plain descriptions; the tools load.
    let garbled = descriptions("garbled", &with_custom_section(&plain, "package-docs", b"\x01{not json"));
    assert_eq!(garbled["convert"], "Calls the function convert of the component garbled.");
    assert_eq!(garbled.len(), 8);
}
