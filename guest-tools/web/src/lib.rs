//! wasmgate's web fetch, one WebAssembly component: the `webfetch` tool.
//!
//! It reaches the network only through `wasi:http`, and only because the
//! host grants this built-in component the network: each request (each
//! redirect too) is checked by the host against its allow and deny lists,
//! with loopback and private addresses refused unless an entry names the
//! host. Parsing whatever a hostile page sends happens in here, under the
//! call's memory and time limits. It touches no file.

mod convert;
mod fetch;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use wasmgate_tool_sdk::{CallContext, Guest, ToolError, ToolResult, ToolSpec};

/// The largest response read.
const MAX_RESPONSE: usize = 5 * 1024 * 1024;
/// Seconds a fetch may take when the model names none, and at most.
const DEFAULT_TIMEOUT: f64 = 30.0;
const MAX_TIMEOUT: f64 = 120.0;

const DESCRIPTION: &str = "\
Fetches a URL and returns its content as Markdown (the default), plain text or HTML.

- The URL must be a fully formed http:// or https:// URL.
- HTML pages are converted to Markdown or text as asked; other text comes back as it is.
- Redirects are followed. Responses over 5 MB are refused.
- The host decides which hosts may be reached: a refusal says why, and asking again will not help.
- Read-only: it changes nothing, here or on the site.
- Use it to read documentation, an issue or an API reference the user points to.";

/// The arguments of `webfetch`.
#[derive(Deserialize, JsonSchema)]
struct Arguments {
    /// The URL to fetch content from
    url: String,
    /// The format to return the content in (text, markdown, or html). Defaults to markdown.
    #[serde(default)]
    format: Format,
    /// Optional timeout in seconds (max 120)
    timeout: Option<f64>,
}

#[derive(Deserialize, JsonSchema, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Format {
    Text,
    #[default]
    Markdown,
    Html,
}

impl Format {
    /// What to ask the server for, best first.
    fn accept(self) -> &'static str {
        match self {
            Format::Markdown => {
                "text/markdown;q=1.0, text/x-markdown;q=0.9, text/plain;q=0.8, text/html;q=0.7, */*;q=0.1"
            }
            Format::Text => "text/plain;q=1.0, text/markdown;q=0.9, text/html;q=0.8, */*;q=0.1",
            Format::Html => {
                "text/html;q=1.0, application/xhtml+xml;q=0.9, text/plain;q=0.8, text/markdown;q=0.7, */*;q=0.1"
            }
        }
    }
}

struct WebTools;

impl Guest for WebTools {
    fn describe() -> Vec<ToolSpec> {
        vec![wasmgate_tool_sdk::spec::<Arguments>("webfetch", DESCRIPTION)]
    }

    fn invoke(name: String, arguments: String, _context: CallContext) -> Result<ToolResult, ToolError> {
        match name.as_str() {
            "webfetch" => webfetch(wasmgate_tool_sdk::parse(&arguments)?),
            other => Err(ToolError::UnknownTool(other.to_string())),
        }
    }
}

fn webfetch(arguments: Arguments) -> Result<ToolResult, ToolError> {
    let url = url::Url::parse(&arguments.url)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .ok_or_else(|| ToolError::InvalidArguments("URL must start with http:// or https://".into()))?;
    let seconds = arguments.timeout.filter(|s| s.is_finite() && *s > 0.0).unwrap_or(DEFAULT_TIMEOUT).min(MAX_TIMEOUT);
    let fetched =
        fetch::get(url, arguments.format.accept(), (seconds * 1e9) as u64, MAX_RESPONSE).map_err(ToolError::Failed)?;
    if !(200..300).contains(&fetched.status) {
        return Err(ToolError::Failed(format!("Request failed with status code: {}", fetched.status)));
    }
    let mime = fetched.content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let title = format!("{} ({})", arguments.url, fetched.content_type);
    let metadata = json!({
        "statusCode": fetched.status,
        "contentType": fetched.content_type,
        "responseSize": fetched.body.len(),
        "url": fetched.url.as_str(),
    });
    let output = match String::from_utf8(fetched.body) {
        _ if mime.starts_with("image/") && mime != "image/svg+xml" => {
            format!("An image ({mime}, {} bytes): images are not passed on to the model yet.", metadata["responseSize"])
        }
        Ok(text) => match arguments.format {
            Format::Markdown if mime == "text/html" || mime == "application/xhtml+xml" => convert::to_markdown(&text),
            Format::Text if mime == "text/html" || mime == "application/xhtml+xml" => convert::to_text(&text),
            _ => text,
        },
        Err(bytes) if is_binary(bytes.as_bytes()) => {
            format!("Binary content ({mime}, {} bytes), not shown.", bytes.as_bytes().len())
        }
        Err(bytes) => String::from_utf8_lossy(bytes.as_bytes()).into_owned(),
    };
    wasmgate_tool_sdk::result(title, output, metadata)
}

/// Whether bytes that are not UTF-8 look like a binary file rather than
/// text in another encoding.
fn is_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8192).any(|&b| b == 0)
}

wasmgate_tool_sdk::export!(WebTools with_types_in wasmgate_tool_sdk);
