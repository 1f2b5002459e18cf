//! Model providers: the two wire protocols wasmgate speaks to language models.
//!
//! [`openai`] speaks OpenAI's chat completions (which OpenAI, Ollama, vLLM,
//! llama.cpp's server, LM Studio and OpenRouter all serve) and [`anthropic`]
//! speaks Anthropic's Messages API. Both stream: the agent loop gets a
//! [`StreamEvent`] per chunk as it arrives, never a buffered reply, so text
//! reaches the TUI while the model is still writing.
//!
//! Everything above this module sees one conversation shape ([`ChatRequest`])
//! and one event shape, whichever protocol is underneath; a provider's own
//! oddities (reasoning fields, tool-call fragments, usage chunks) are
//! translated here and nowhere else.

pub mod anthropic;
pub mod openai;
mod sse;

use crate::model::MessageError;
use futures_util::stream::BoxStream;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// One model call: the conversation so far and the tools the model may use.
#[derive(Debug, Clone, Default)]
pub struct ChatRequest {
    /// The model's id at the provider (`api.id` of the model).
    pub model: String,
    /// System instructions, in order.
    pub system: Vec<String>,
    /// The conversation, oldest first.
    pub messages: Vec<ChatMessage>,
    /// The tools the model may call.
    pub tools: Vec<ToolDefinition>,
    /// The most tokens the reply may have.
    pub max_tokens: Option<u64>,
    /// Sampling temperature, when the agent sets one.
    pub temperature: Option<f64>,
    /// Provider options from the config, merged into the request body as
    /// they are (e.g. `reasoning_effort`, `thinking`).
    pub options: Map<String, Value>,
}

/// A tool as the model is told about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDefinition {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: Value,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatMessage {
    /// What the user said (text, and images as data URLs).
    User(Vec<UserContent>),
    /// What the model answered in one step.
    Assistant {
        /// Its reasoning, passed back where the protocol needs it.
        reasoning: Option<Reasoning>,
        text: String,
        tool_calls: Vec<ToolCall>,
    },
    /// The result of one tool call.
    Tool { call_id: String, name: String, output: String, is_error: bool },
}

/// A piece of a user's message.
#[derive(Debug, Clone, PartialEq)]
pub enum UserContent {
    Text(String),
    /// An image as a `data:` URL.
    Image {
        mime: String,
        data_url: String,
    },
}

/// A step's reasoning, with the signature Anthropic needs to see it again.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reasoning {
    pub text: String,
    pub signature: Option<String>,
}

/// A tool call the model made.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The provider's id for the call, echoed with its result.
    pub id: String,
    pub name: String,
    /// The arguments as the model wrote them: a JSON object when it wrote
    /// valid JSON, the raw text (as a string) when it did not.
    pub input: Value,
}

/// Token counts of one model call.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub reasoning: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

/// What a model stream yields, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The model started thinking out loud.
    ReasoningStart,
    /// More of its reasoning.
    ReasoningDelta(String),
    /// The reasoning block ended (with Anthropic's signature, if any).
    ReasoningEnd { signature: Option<String> },
    /// More of its answer.
    TextDelta(String),
    /// A tool call was announced; its arguments are streaming.
    ToolInputStart { id: String, name: String },
    /// A tool call's arguments are complete.
    ToolCall(ToolCall),
    /// The step ended: why, and what it cost.
    Finish { reason: FinishReason, usage: Usage },
}

/// Why a step ended, in the AI SDK's words the reference stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    ToolCalls,
    Length,
    ContentFilter,
    Other,
}

impl FinishReason {
    /// The reference's `finish` string.
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::ToolCalls => "tool-calls",
            FinishReason::Length => "length",
            FinishReason::ContentFilter => "content-filter",
            FinishReason::Other => "other",
        }
    }
}

/// A stream of [`StreamEvent`]s.
pub type EventStream = BoxStream<'static, Result<StreamEvent, ProviderError>>;

/// Why a model call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// The provider answered with an error status.
    #[error("{message}")]
    Status {
        status: u16,
        /// The provider's own words, from its error body when it has one.
        message: String,
        body: String,
        headers: BTreeMap<String, String>,
        /// How long the provider asked us to wait before retrying.
        retry_after: Option<Duration>,
    },
    /// The provider could not be reached or the connection broke.
    #[error("{0}")]
    Connection(String),
    /// The stream was not what the protocol says.
    #[error("{0}")]
    Malformed(String),
    /// The provider reported an error in the middle of the stream.
    #[error("{message}")]
    InStream { message: String, retryable: bool },
}

impl ProviderError {
    /// Whether the same request may succeed later: rate limits, overload,
    /// server faults and broken connections.
    pub fn retryable(&self) -> bool {
        match self {
            ProviderError::Status { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            ProviderError::Connection(_) => true,
            ProviderError::Malformed(_) => false,
            ProviderError::InStream { retryable, .. } => *retryable,
        }
    }

    /// The error as the assistant message and `session.error` carry it.
    pub fn to_message_error(&self, provider_id: &str) -> MessageError {
        match self {
            ProviderError::Status { status: 401 | 403, message, .. } => MessageError {
                name: "ProviderAuthError".into(),
                data: json!({ "providerID": provider_id, "message": message }),
            },
            ProviderError::Status { status, message, body, headers, .. } => MessageError {
                name: "APIError".into(),
                data: json!({
                    "message": message,
                    "statusCode": status,
                    "isRetryable": self.retryable(),
                    "responseHeaders": headers,
                    "responseBody": body,
                }),
            },
            other => MessageError {
                name: "APIError".into(),
                data: json!({ "message": other.to_string(), "isRetryable": other.retryable() }),
            },
        }
    }
}

/// The largest error body kept (it goes into events and the store).
const MAX_ERROR_BODY: usize = 8 << 10;

/// Turns a non-success response into a [`ProviderError`], reading the
/// provider's message out of its JSON error body when there is one.
async fn status_error(response: reqwest::Response) -> ProviderError {
    let status = response.status().as_u16();
    let headers: BTreeMap<String, String> = response
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_string(), value.to_str().ok()?.to_string())))
        .collect();
    let retry_after = retry_after(&headers);
    let mut body = response.text().await.unwrap_or_default();
    if body.len() > MAX_ERROR_BODY {
        let end = (0..=MAX_ERROR_BODY).rev().find(|&i| body.is_char_boundary(i)).unwrap_or(0);
        body.truncate(end);
    }
    let parsed: Option<Value> = serde_json::from_str(&body).ok();
    let from_body = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message").or_else(|| v.get("message")).or_else(|| v.get("error")).and_then(Value::as_str)
    });
    let message = match from_body {
        Some(message) => message.to_string(),
        None if !body.trim().is_empty() && body.len() < 500 => format!("{status}: {}", body.trim()),
        None => format!("the provider answered {status}"),
    };
    ProviderError::Status { status, message, body, headers, retry_after }
}

/// `retry-after-ms` (OpenAI) or `retry-after` in seconds.
fn retry_after(headers: &BTreeMap<String, String>) -> Option<Duration> {
    if let Some(ms) = headers.get("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        return Some(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    }
    headers.get("retry-after").and_then(|v| v.trim().parse::<f64>().ok()).map(|s| Duration::from_secs_f64(s.max(0.0)))
}

/// Sends `request`; an answer that is not a success becomes a [`ProviderError`].
async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, ProviderError> {
    let response = request.send().await.map_err(connection_error)?;
    if !response.status().is_success() {
        return Err(status_error(response).await);
    }
    Ok(response)
}

/// The model ids a `GET {base}/models` listing names: `data[].id` (OpenAI,
/// Anthropic, vLLM, llama.cpp, LM Studio) or `models[].name` (Ollama's own).
async fn list_models(request: reqwest::RequestBuilder) -> Result<Vec<String>, ProviderError> {
    let listing: Value = send(request)
        .await?
        .json()
        .await
        .map_err(|e| ProviderError::Malformed(format!("the model list is not JSON: {e}")))?;
    let data = listing.get("data").or_else(|| listing.get("models")).and_then(Value::as_array);
    Ok(data
        .into_iter()
        .flatten()
        .filter_map(|model| model.get("id").or_else(|| model.get("name")).and_then(Value::as_str))
        .map(str::to_string)
        .collect())
}

/// A request failure before any response: the connection, DNS, a timeout.
fn connection_error(error: reqwest::Error) -> ProviderError {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    ProviderError::Connection(message)
}

/// The HTTP client every provider shares: connection pooling, a connect
/// timeout, and a read timeout that resets with every chunk (a stream may
/// run for minutes, but not sit silent for that long).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(300))
        .user_agent(concat!("wasmgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client builds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_milliseconds_first() {
        let mut headers = BTreeMap::new();
        headers.insert("retry-after".into(), "3".into());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert("retry-after-ms".into(), "250".into());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
    }

    #[test]
    fn auth_failures_are_provider_auth_errors() {
        let error = ProviderError::Status {
            status: 401,
            message: "bad key".into(),
            body: String::new(),
            headers: BTreeMap::new(),
            retry_after: None,
        };
        assert!(!error.retryable());
        let shaped = error.to_message_error("openai");
        assert_eq!(shaped.name, "ProviderAuthError");
        assert_eq!(shaped.data["providerID"], "openai");
    }
}
