//! Tools that misbehave on purpose, for the sandbox's tests and benchmarks.
//!
//! Every limit the host enforces (deadline, memory cap, output cap, the
//! filesystem preopen and its read-only grant) needs a guest that tries to
//! cross it. This component is that guest. It is built with the others but
//! never registered as a built-in: tests and benchmarks load it explicitly
//! with `--tools-dir` or `Sandbox::load_component`. It is also the shortest
//! example of a tool component on `wasmgate_tool_sdk`.

use serde_json::{Value, json};
use wasmgate_tool_sdk::wasmgate::tools::{bulk_fs, host, host_process};
use wasmgate_tool_sdk::{CallContext, Guest, ToolError, ToolResult, ToolSpec};

struct Hostile;

/// A spec with a hand-written schema: these tools take raw JSON on purpose.
fn spec(name: &str, description: &str, parameters: Value) -> ToolSpec {
    ToolSpec { name: name.into(), description: description.into(), parameters: parameters.to_string() }
}

fn done(output: impl Into<String>) -> Result<ToolResult, ToolError> {
    Ok(ToolResult { title: String::new(), output: output.into(), metadata: "{}".into() })
}

impl Guest for Hostile {
    fn describe() -> Vec<ToolSpec> {
        let none = json!({"type": "object", "properties": {}});
        vec![
            spec("noop", "Returns at once; measures the cost of a call.", none.clone()),
            spec("spin", "Loops forever.", none.clone()),
            spec("sleep", "Waits an hour in the host (a WASI clock poll).", none.clone()),
            spec("hog", "Allocates memory until something stops it.", none.clone()),
            spec("flood", "Prints to stdout forever.", none.clone()),
            spec("stream-flood", "Streams output through the host forever.", none.clone()),
            spec("panic", "Panics with a message.", none.clone()),
            spec(
                "huge-result",
                "Returns a result of `bytes` bytes.",
                json!({"type": "object", "properties": {"bytes": {"type": "integer"}}}),
            ),
            spec(
                "run",
                "Asks the host to run a process; says what the host answered.",
                json!({"type": "object", "required": ["argv"], "properties": {
                    "argv": {"type": "array", "items": {"type": "string"}}
                }}),
            ),
            spec(
                "http-get",
                "Asks the host to send a request (a GET unless `method` says) through wasi:http; says what came back: \
                 the status, the response's headers and its body.",
                json!({"type": "object", "required": ["authority"], "properties": {
                    "authority": {"type": "string"},
                    "path": {"type": "string"},
                    "method": {"type": "string"},
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}}
                }}),
            ),
            spec("env", "Prints every environment variable the guest sees, one NAME=value a line.", none.clone()),
            spec(
                "fs",
                "Performs one raw filesystem operation and reports what happened.",
                json!({"type": "object", "required": ["op", "path"], "properties": {
                    "op": {"enum": ["read", "write", "append", "set-size", "rename", "remove", "remove-dir", "mkdir", "symlink", "list", "bulk-read", "bulk-list"]},
                    "path": {"type": "string"},
                    "to": {"type": "string"},
                    "content": {"type": "string"}
                }}),
            ),
        ]
    }

    fn invoke(name: String, arguments: String, context: CallContext) -> Result<ToolResult, ToolError> {
        let args: Value = serde_json::from_str(&arguments).map_err(|e| ToolError::InvalidArguments(e.to_string()))?;
        match name.as_str() {
            "noop" => done(""),
            "spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                done("woke up")
            }
            "hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "flood" => loop {
                println!("{}", "flood ".repeat(100));
            },
            "stream-flood" => loop {
                host::emit_output(&"stream ".repeat(100));
            },
            "panic" => panic!("the hostile tool gave up on purpose"),
            "huge-result" => {
                let bytes = args["bytes"].as_u64().unwrap_or(1 << 20) as usize;
                done("x".repeat(bytes))
            }
            "fs" => filesystem(&args, &context),
            "http-get" => {
                let headers: Vec<(String, String)> = args["headers"]
                    .as_object()
                    .map(|h| h.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
                    .unwrap_or_default();
                done(http_request(
                    args["method"].as_str().unwrap_or("GET"),
                    args["authority"].as_str().unwrap_or_default(),
                    args["path"].as_str().unwrap_or("/"),
                    &headers,
                ))
            }
            "env" => done(std::env::vars().map(|(k, v)| format!("{k}={v}\n")).collect::<String>()),
            "run" => {
                let argv: Vec<String> = serde_json::from_value(args["argv"].clone())
                    .map_err(|e| ToolError::InvalidArguments(e.to_string()))?;
                match host_process::run(&argv, &[], "/", &[]) {
                    Ok(output) => done(format!("ran: {}", String::from_utf8_lossy(&output.stdout))),
                    Err(host_process::ProcessError::Disabled) => done("disabled"),
                    Err(host_process::ProcessError::NotFound) => done("not found"),
                    Err(host_process::ProcessError::Failed(why)) => done(format!("failed: {why}")),
                }
            }
            other => Err(ToolError::UnknownTool(other.into())),
        }
    }
}

/// Sends one plain request through `wasi:http`, as any component could try.
fn http_request(method: &str, authority: &str, path: &str, headers: &[(String, String)]) -> String {
    use wasip2::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        other => Method::Other(other.into()),
    };
    let entries: Vec<(String, Vec<u8>)> = headers.iter().map(|(k, v)| (k.clone(), v.clone().into_bytes())).collect();
    let Ok(fields) = Fields::from_list(&entries) else { return "bad headers".into() };
    let request = OutgoingRequest::new(fields);
    let _ = request.set_method(&method);
    let _ = request.set_scheme(Some(&Scheme::Http));
    let _ = request.set_authority(Some(authority));
    let _ = request.set_path_with_query(Some(path));
    let Ok(body) = request.body() else { return "no body".into() };
    let future = match wasip2::http::outgoing_handler::handle(request, None) {
        Ok(future) => future,
        Err(error) => return format!("refused: {error:?}"),
    };
    let _ = OutgoingBody::finish(body, None);
    future.subscribe().block();
    match future.get() {
        Some(Ok(Ok(response))) => {
            let mut said = format!("status {}\n", response.status());
            for (name, value) in response.headers().entries() {
                said += &format!("{name}: {}\n", String::from_utf8_lossy(&value));
            }
            said.push('\n');
            if let Ok(body) = response.consume()
                && let Ok(stream) = body.stream()
            {
                while let Ok(chunk) = stream.blocking_read(64 << 10) {
                    said += &String::from_utf8_lossy(&chunk);
                }
            }
            said
        }
        Some(Ok(Err(error))) => format!("refused: {error:?}"),
        _ => "lost".into(),
    }
}

/// Runs one raw std::fs operation; the result says whether WASI allowed it.
fn filesystem(args: &Value, context: &CallContext) -> Result<ToolResult, ToolError> {
    let at = |key: &str| -> String {
        let p = args[key].as_str().unwrap_or_default();
        if p.starts_with('/') { p.to_string() } else { format!("{}/{}", context.workspace, p) }
    };
    let path = at("path");
    let content = args["content"].as_str().unwrap_or("pwned").to_string();
    let outcome: std::io::Result<String> = match args["op"].as_str().unwrap_or_default() {
        "read" => std::fs::read_to_string(&path),
        "write" => std::fs::write(&path, &content).map(|_| "written".into()),
        "append" => {
            use std::io::Write;
            std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .and_then(|mut f| f.write_all(content.as_bytes()))
                .map(|_| "appended".into())
        }
        "set-size" => std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .and_then(|f| f.set_len(args["size"].as_u64().unwrap_or_default()))
            .map(|_| "resized".into()),
        "rename" => std::fs::rename(&path, at("to")).map(|_| "renamed".into()),
        "remove" => std::fs::remove_file(&path).map(|_| "removed".into()),
        "remove-dir" => std::fs::remove_dir_all(&path).map(|_| "removed".into()),
        "mkdir" => std::fs::create_dir_all(&path).map(|_| "created".into()),
        "symlink" => {
            // `to` is the link's target text, used verbatim (it may point anywhere).
            let target = args["to"].as_str().unwrap_or_default();
            symlink(target, args["path"].as_str().unwrap_or_default())
        }
        "list" => std::fs::read_dir(&path).map(|entries| {
            let mut names: Vec<String> =
                entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            names.sort();
            names.join("\n")
        }),
        // The host's bulk interface, given the path verbatim (it expects paths
        // relative to the workspace, and must refuse everything else).
        "bulk-read" => bulk_fs::read_file(args["path"].as_str().unwrap_or_default(), 1 << 20)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .map_err(std::io::Error::other),
        "bulk-list" => bulk_fs::list_dir(args["path"].as_str().unwrap_or_default())
            .map(|entries| entries.into_iter().map(|e| e.name).collect::<Vec<_>>().join("\n"))
            .map_err(std::io::Error::other),
        other => return Err(ToolError::InvalidArguments(format!("unknown op {other}"))),
    };
    outcome.map_err(|e| ToolError::Failed(e.to_string())).and_then(done)
}

/// Creates a symlink through raw WASI calls (std has no stable API for it on
/// WASI). `link` is relative to the preopened workspace.
fn symlink(target: &str, link: &str) -> std::io::Result<String> {
    let (dir, _) = wasip2::filesystem::preopens::get_directories()
        .into_iter()
        .next()
        .ok_or_else(|| std::io::Error::other("no preopened directory"))?;
    dir.symlink_at(target, link.trim_start_matches('/'))
        .map(|_| "linked".to_string())
        .map_err(|code| std::io::Error::other(format!("{code:?}")))
}

wasmgate_tool_sdk::export!(Hostile with_types_in wasmgate_tool_sdk);
