//! Anthropic's Messages API, streamed: `POST {base}/messages` with
//! `stream: true`.
//!
//! The stream is a sequence of typed events: `message_start` (input token
//! counts), then per content block a `content_block_start` (text, thinking
//! or tool_use), its deltas (`text_delta`, `thinking_delta`,
//! `signature_delta`, `input_json_delta`) and a `content_block_stop`; then
//! `message_delta` with the stop reason and output tokens, and
//! `message_stop`. An `error` event can arrive at any point (`overloaded_error`
//! is worth retrying).

use super::sse::{self, Decoder};
use super::{
    ChatMessage, ChatRequest, EventStream, FinishReason, ProviderError, StreamEvent, ToolCall, Usage, UserContent,
};
use eventsource_stream::Event;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The API version every request names.
const VERSION: &str = "2023-06-01";

/// Anthropic requires `max_tokens`; this is used when the model sets none.
const DEFAULT_MAX_TOKENS: u64 = 8192;

/// A Messages endpoint.
#[derive(Debug, Clone)]
pub struct Anthropic {
    http: reqwest::Client,
    base_url: String,
    api_key: Option<String>,
    headers: Vec<(String, String)>,
}

impl Anthropic {
    /// A client of the API at `base_url` (e.g. `https://api.anthropic.com/v1`).
    pub fn new(http: reqwest::Client, base_url: &str, api_key: Option<String>, headers: Vec<(String, String)>) -> Self {
        Self { http, base_url: base_url.trim_end_matches('/').to_string(), api_key, headers }
    }

    fn authorized(&self, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request = request.header("anthropic-version", VERSION);
        if let Some(key) = self.api_key.as_deref().filter(|k| !k.is_empty()) {
            request = request.header("x-api-key", key);
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        request
    }

    /// Starts a streamed message.
    pub async fn stream(&self, request: &ChatRequest) -> Result<EventStream, ProviderError> {
        let post = self.authorized(self.http.post(format!("{}/messages", self.base_url)));
        let response = super::send(post.header("accept", "text/event-stream").json(&body(request))).await?;
        Ok(sse::decode(response, Events::default()))
    }

    /// The model ids `GET {base}/models` lists.
    pub async fn models(&self) -> Result<Vec<String>, ProviderError> {
        super::list_models(self.authorized(self.http.get(format!("{}/models?limit=100", self.base_url)))).await
    }
}

/// The request body. Tool results and the user's next words join one user
/// turn: the API wants user and assistant turns to alternate, with a call's
/// results in the turn right after it.
fn body(request: &ChatRequest) -> Value {
    let mut messages: Vec<Value> = Vec::with_capacity(request.messages.len());
    for message in &request.messages {
        match message {
            ChatMessage::User(content) => {
                let blocks: Vec<Value> = content
                    .iter()
                    .map(|piece| match piece {
                        UserContent::Text(text) => json!({ "type": "text", "text": text }),
                        UserContent::Image { mime, data_url } => {
                            let data = data_url.split_once(',').map(|(_, data)| data).unwrap_or("");
                            json!({ "type": "image", "source": { "type": "base64", "media_type": mime, "data": data } })
                        }
                    })
                    .collect();
                // Consecutive user turns (a tool result, then the next
                // prompt) become one, as the API wants turns to alternate.
                match messages.last_mut() {
                    Some(last) if last["role"] == "user" => {
                        last["content"].as_array_mut().expect("content is a list").extend(blocks);
                    }
                    _ => messages.push(json!({ "role": "user", "content": blocks })),
                }
            }
            ChatMessage::Assistant { reasoning, text, tool_calls } => {
                let mut blocks = Vec::new();
                // Thinking goes back only with its signature (the API rejects it otherwise).
                if let Some(reasoning) = reasoning
                    && let Some(signature) = &reasoning.signature
                {
                    blocks.push(json!({ "type": "thinking", "thinking": reasoning.text, "signature": signature }));
                }
                if !text.is_empty() {
                    blocks.push(json!({ "type": "text", "text": text }));
                }
                for call in tool_calls {
                    let input = if call.input.is_object() { call.input.clone() } else { json!({}) };
                    blocks.push(json!({ "type": "tool_use", "id": call.id, "name": call.name, "input": input }));
                }
                if blocks.is_empty() {
                    continue;
                }
                messages.push(json!({ "role": "assistant", "content": blocks }));
            }
            ChatMessage::Tool { call_id, output, is_error, .. } => {
                let result =
                    json!({ "type": "tool_result", "tool_use_id": call_id, "content": output, "is_error": is_error });
                match messages.last_mut() {
                    Some(last) if last["role"] == "user" && is_tool_results(last) => {
                        last["content"].as_array_mut().expect("content is a list").push(result);
                    }
                    _ => messages.push(json!({ "role": "user", "content": [result] })),
                }
            }
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert("max_tokens".into(), json!(request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)));
    if !request.system.is_empty() {
        body.insert("system".into(), json!(request.system.join("\n\n")));
    }
    body.insert("messages".into(), Value::Array(messages));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| json!({ "name": tool.name, "description": tool.description, "input_schema": tool.parameters }))
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(temperature) = request.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    body.insert("stream".into(), json!(true));
    for (key, value) in &request.options {
        body.insert(key.clone(), value.clone());
    }
    Value::Object(body)
}

fn is_tool_results(message: &Value) -> bool {
    message["content"].as_array().is_some_and(|blocks| blocks.iter().all(|b| b["type"] == "tool_result"))
}

/// A content block being streamed.
#[derive(Debug)]
enum Block {
    Text,
    Thinking { signature: Option<String> },
    ToolUse { id: String, name: String, json: String },
}

/// The state of one streamed message.
#[derive(Debug, Default)]
struct Events {
    blocks: BTreeMap<u64, Block>,
    usage: Usage,
    finish: Option<FinishReason>,
    called_tools: bool,
}

impl Decoder for Events {
    fn event(&mut self, event: &Event, out: &mut Vec<StreamEvent>) -> Result<bool, ProviderError> {
        if event.data.trim().is_empty() {
            return Ok(false);
        }
        let data: Value = serde_json::from_str(&event.data)
            .map_err(|e| ProviderError::Malformed(format!("a stream event is not JSON ({e}): {:.200}", event.data)))?;
        let kind = data.get("type").and_then(Value::as_str).unwrap_or(event.event.as_str());
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "message_start" => {
                let usage = data.pointer("/message/usage").unwrap_or(&Value::Null);
                let number = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
                self.usage.input = number("input_tokens");
                self.usage.cache_read = number("cache_read_input_tokens");
                self.usage.cache_write = number("cache_creation_input_tokens");
                self.usage.output = number("output_tokens");
            }
            "content_block_start" => {
                let block = data.get("content_block").unwrap_or(&Value::Null);
                let block = match block.get("type").and_then(Value::as_str) {
                    Some("thinking" | "redacted_thinking") => {
                        out.push(StreamEvent::ReasoningStart);
                        if let Some(text) = block.get("thinking").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                            out.push(StreamEvent::ReasoningDelta(text.to_string()));
                        }
                        Block::Thinking { signature: None }
                    }
                    Some("tool_use") => {
                        let id = block.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
                        let name = block.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
                        out.push(StreamEvent::ToolInputStart { id: id.clone(), name: name.clone() });
                        Block::ToolUse { id, name, json: String::new() }
                    }
                    _ => {
                        if let Some(text) = block.get("text").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                            out.push(StreamEvent::TextDelta(text.to_string()));
                        }
                        Block::Text
                    }
                };
                self.blocks.insert(index, block);
            }
            "content_block_delta" => {
                let delta = data.get("delta").unwrap_or(&Value::Null);
                let text = |key: &str| delta.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
                match (delta.get("type").and_then(Value::as_str), self.blocks.get_mut(&index)) {
                    (Some("text_delta"), _) => out.push(StreamEvent::TextDelta(text("text"))),
                    (Some("thinking_delta"), _) => out.push(StreamEvent::ReasoningDelta(text("thinking"))),
                    (Some("signature_delta"), Some(Block::Thinking { signature })) => {
                        signature.get_or_insert_default().push_str(&text("signature"));
                    }
                    (Some("input_json_delta"), Some(Block::ToolUse { json, .. })) => {
                        json.push_str(&text("partial_json"))
                    }
                    _ => {}
                }
            }
            "content_block_stop" => match self.blocks.remove(&index) {
                Some(Block::Thinking { signature }) => out.push(StreamEvent::ReasoningEnd { signature }),
                Some(Block::ToolUse { id, name, json: raw }) => {
                    self.called_tools = true;
                    let input = if raw.trim().is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(&raw).unwrap_or(Value::String(raw))
                    };
                    out.push(StreamEvent::ToolCall(ToolCall { id, name, input }));
                }
                _ => {}
            },
            "message_delta" => {
                if let Some(output) = data.pointer("/usage/output_tokens").and_then(Value::as_u64) {
                    self.usage.output = output;
                }
                if let Some(reason) = data.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.finish = Some(match reason {
                        "end_turn" | "stop_sequence" | "pause_turn" => FinishReason::Stop,
                        "tool_use" => FinishReason::ToolCalls,
                        "max_tokens" => FinishReason::Length,
                        "refusal" => FinishReason::ContentFilter,
                        _ => FinishReason::Other,
                    });
                }
            }
            "message_stop" => return Ok(true),
            "error" => {
                let error = data.get("error").unwrap_or(&Value::Null);
                let kind = error.get("type").and_then(Value::as_str).unwrap_or("error");
                let message = error.get("message").and_then(Value::as_str).unwrap_or(kind).to_string();
                return Err(ProviderError::InStream {
                    message,
                    retryable: matches!(kind, "overloaded_error" | "api_error" | "rate_limit_error"),
                });
            }
            _ => {} // ping, and types added later
        }
        Ok(false)
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        let Some(mut reason) = self.finish else {
            return Err(ProviderError::Connection("the stream ended before the model finished".into()));
        };
        if self.called_tools {
            reason = FinishReason::ToolCalls;
        }
        out.push(StreamEvent::Finish { reason, usage: self.usage });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(events: &[(&str, &str)]) -> Result<Vec<StreamEvent>, ProviderError> {
        let mut decoder = Events::default();
        let mut out = Vec::new();
        for (kind, data) in events {
            let event = Event { event: kind.to_string(), data: data.to_string(), ..Default::default() };
            if decoder.event(&event, &mut out)? {
                break;
            }
        }
        decoder.end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn thinking_text_and_tool_use() {
        let events = feed(&[
            ("message_start", r#"{"type":"message_start","message":{"usage":{"input_tokens":20,"output_tokens":1}}}"#),
            ("content_block_start", r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}"#),
            ("content_block_delta", r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Hm."}}"#),
            ("content_block_delta", r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig"}}"#),
            ("content_block_stop", r#"{"type":"content_block_stop","index":0}"#),
            ("content_block_start", r#"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#),
            ("content_block_delta", r#"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"On it."}}"#),
            ("content_block_stop", r#"{"type":"content_block_stop","index":1}"#),
            ("content_block_start", r#"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_1","name":"bash","input":{}}}"#),
            ("content_block_delta", r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"command\":"}}"#),
            ("content_block_delta", r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"\"ls\"}"}}"#),
            ("content_block_stop", r#"{"type":"content_block_stop","index":2}"#),
            ("message_delta", r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":15}}"#),
            ("message_stop", r#"{"type":"message_stop"}"#),
        ])
        .unwrap();
        assert_eq!(
            events,
            vec![
                StreamEvent::ReasoningStart,
                StreamEvent::ReasoningDelta("Hm.".into()),
                StreamEvent::ReasoningEnd { signature: Some("sig".into()) },
                StreamEvent::TextDelta("On it.".into()),
                StreamEvent::ToolInputStart { id: "toolu_1".into(), name: "bash".into() },
                StreamEvent::ToolCall(ToolCall {
                    id: "toolu_1".into(),
                    name: "bash".into(),
                    input: json!({"command":"ls"})
                }),
                StreamEvent::Finish {
                    reason: FinishReason::ToolCalls,
                    usage: Usage { input: 20, output: 15, reasoning: 0, cache_read: 0, cache_write: 0 }
                },
            ]
        );
    }

    #[test]
    fn an_overloaded_error_event_is_retryable() {
        let error =
            feed(&[("error", r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#)])
                .unwrap_err();
        assert_eq!(error.to_string(), "Overloaded");
        assert!(error.retryable());
    }

    #[test]
    fn tool_results_follow_their_call_in_one_user_turn() {
        let call = |id: &str| ToolCall { id: id.into(), name: "read".into(), input: json!({}) };
        let request = ChatRequest {
            model: "claude".into(),
            messages: vec![
                ChatMessage::User(vec![UserContent::Text("hi".into())]),
                ChatMessage::Assistant { reasoning: None, text: "x".into(), tool_calls: vec![call("a"), call("b")] },
                ChatMessage::Tool { call_id: "a".into(), name: "read".into(), output: "1".into(), is_error: false },
                ChatMessage::Tool { call_id: "b".into(), name: "read".into(), output: "2".into(), is_error: true },
            ],
            ..Default::default()
        };
        let first = body(&request);
        let messages = first["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[2]["content"].as_array().unwrap().len(), 2);
        let mut follow_up = request.clone();
        follow_up.messages.push(ChatMessage::User(vec![UserContent::Text("and now?".into())]));
        let body = super::body(&follow_up);
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3, "the next prompt joins the tool results' turn");
        assert_eq!(messages[2]["content"][2]["text"], "and now?");
        assert_eq!(messages[2]["content"][1]["is_error"], true);
        assert_eq!(first["max_tokens"], DEFAULT_MAX_TOKENS);
    }
}
