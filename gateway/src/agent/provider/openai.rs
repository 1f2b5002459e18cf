//! OpenAI's chat completions, streamed: what OpenAI, Ollama, vLLM, llama.cpp's
//! server, LM Studio and OpenRouter serve at `POST {base}/chat/completions`.
//!
//! The request asks for `stream: true` with `stream_options.include_usage`,
//! so the last chunk carries token counts. Chunks carry `delta.content`,
//! reasoning under `delta.reasoning_content` (DeepSeek, vLLM, llama.cpp) or
//! `delta.reasoning` (Ollama, OpenRouter), and tool calls in fragments keyed
//! by `index` whose `arguments` arrive a few characters at a time; a call is
//! complete when the step's `finish_reason` arrives.

use super::sse::{self, Decoder};
use super::{
    ChatMessage, ChatRequest, EventStream, FinishReason, ProviderError, StreamEvent, ToolCall, Usage, UserContent,
};
use eventsource_stream::Event;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A chat-completions endpoint.
#[derive(Debug, Clone)]
pub struct OpenAi {
    http: reqwest::Client,
    base_url: String,
    api_key: Option<String>,
    headers: Vec<(String, String)>,
}

impl OpenAi {
    /// A client of the API at `base_url` (e.g. `https://api.openai.com/v1`).
    pub fn new(http: reqwest::Client, base_url: &str, api_key: Option<String>, headers: Vec<(String, String)>) -> Self {
        Self { http, base_url: base_url.trim_end_matches('/').to_string(), api_key, headers }
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.authorized(self.http.post(format!("{}{path}", self.base_url)))
    }

    fn authorized(&self, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(key) = self.api_key.as_deref().filter(|k| !k.is_empty()) {
            request = request.bearer_auth(key);
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        request
    }

    /// Starts a streamed completion.
    pub async fn stream(&self, request: &ChatRequest) -> Result<EventStream, ProviderError> {
        let body = body(request, self.is_openai());
        let response =
            super::send(self.post("/chat/completions").header("accept", "text/event-stream").json(&body)).await?;
        Ok(sse::decode(response, Chunks::default()))
    }

    /// The model ids `GET {base}/models` lists.
    pub async fn models(&self) -> Result<Vec<String>, ProviderError> {
        super::list_models(self.authorized(self.http.get(format!("{}/models", self.base_url)))).await
    }

    /// OpenAI's own API, which wants `max_completion_tokens`.
    fn is_openai(&self) -> bool {
        self.base_url.starts_with("https://api.openai.com")
    }
}

/// The request body.
fn body(request: &ChatRequest, openai: bool) -> Value {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if !request.system.is_empty() {
        messages.push(json!({ "role": "system", "content": request.system.join("\n\n") }));
    }
    for message in &request.messages {
        messages.push(match message {
            ChatMessage::User(content) => json!({ "role": "user", "content": user_content(content) }),
            ChatMessage::Assistant { text, tool_calls, .. } => {
                let mut assistant = json!({ "role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) } });
                if !tool_calls.is_empty() {
                    let calls: Vec<Value> = tool_calls
                        .iter()
                        .map(|call| {
                            let arguments = match &call.input {
                                Value::String(raw) => raw.clone(),
                                other => other.to_string(),
                            };
                            json!({ "id": call.id, "type": "function", "function": { "name": call.name, "arguments": arguments } })
                        })
                        .collect();
                    assistant["tool_calls"] = json!(calls);
                }
                assistant
            }
            ChatMessage::Tool { call_id, output, .. } => {
                json!({ "role": "tool", "tool_call_id": call_id, "content": output })
            }
        });
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), json!(true));
    body.insert("stream_options".into(), json!({ "include_usage": true }));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({ "type": "function", "function": { "name": tool.name, "description": tool.description, "parameters": tool.parameters } })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(max) = request.max_tokens {
        body.insert(if openai { "max_completion_tokens" } else { "max_tokens" }.into(), json!(max));
    }
    if let Some(temperature) = request.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    for (key, value) in &request.options {
        body.insert(key.clone(), value.clone());
    }
    Value::Object(body)
}

/// Plain text stays a string (every server takes that); images make it a list.
fn user_content(content: &[UserContent]) -> Value {
    if let [UserContent::Text(text)] = content {
        return json!(text);
    }
    Value::Array(
        content
            .iter()
            .map(|piece| match piece {
                UserContent::Text(text) => json!({ "type": "text", "text": text }),
                UserContent::Image { data_url, .. } => json!({ "type": "image_url", "image_url": { "url": data_url } }),
            })
            .collect(),
    )
}

/// A tool call whose fragments are still arriving.
#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
    announced: bool,
}

/// The state of one streamed completion.
#[derive(Debug, Default)]
struct Chunks {
    calls: BTreeMap<u64, PartialCall>,
    reasoning: bool,
    finish: Option<FinishReason>,
    usage: Usage,
}

impl Chunks {
    fn end_reasoning(&mut self, out: &mut Vec<StreamEvent>) {
        if std::mem::take(&mut self.reasoning) {
            out.push(StreamEvent::ReasoningEnd { signature: None });
        }
    }
}

impl Decoder for Chunks {
    fn event(&mut self, event: &Event, out: &mut Vec<StreamEvent>) -> Result<bool, ProviderError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            return Ok(true);
        }
        if data.is_empty() {
            return Ok(false);
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|e| ProviderError::Malformed(format!("a stream chunk is not JSON ({e}): {data:.200}")))?;
        if let Some(error) = chunk.get("error") {
            let message = error.get("message").and_then(Value::as_str).map(str::to_string);
            let code = error.get("code").and_then(Value::as_u64).unwrap_or(0);
            return Err(ProviderError::InStream {
                message: message.unwrap_or_else(|| error.to_string()),
                retryable: code == 429 || code >= 500,
            });
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = read_usage(usage);
        }
        let Some(choice) = chunk.get("choices").and_then(|c| c.get(0)) else { return Ok(false) };
        let delta = choice.get("delta").or_else(|| choice.get("message")).unwrap_or(&Value::Null);
        let reasoning = ["reasoning_content", "reasoning"]
            .iter()
            .find_map(|key| delta.get(*key).and_then(Value::as_str))
            .filter(|text| !text.is_empty());
        if let Some(text) = reasoning {
            if !self.reasoning {
                self.reasoning = true;
                out.push(StreamEvent::ReasoningStart);
            }
            out.push(StreamEvent::ReasoningDelta(text.to_string()));
        }
        if let Some(text) = delta.get("content").and_then(Value::as_str).filter(|t| !t.is_empty()) {
            self.end_reasoning(out);
            out.push(StreamEvent::TextDelta(text.to_string()));
        }
        for fragment in delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
            self.end_reasoning(out);
            let index = fragment.get("index").and_then(Value::as_u64).unwrap_or(self.calls.len() as u64);
            let call = self.calls.entry(index).or_default();
            if let Some(id) = fragment.get("id").and_then(Value::as_str).filter(|id| !id.is_empty()) {
                call.id = id.to_string();
            }
            let function = fragment.get("function").unwrap_or(&Value::Null);
            if let Some(name) = function.get("name").and_then(Value::as_str) {
                call.name.push_str(name);
            }
            if let Some(arguments) = function.get("arguments").and_then(Value::as_str) {
                call.arguments.push_str(arguments);
            }
            if !call.announced && !call.name.is_empty() {
                call.announced = true;
                if call.id.is_empty() {
                    call.id = format!("call_{index}");
                }
                out.push(StreamEvent::ToolInputStart { id: call.id.clone(), name: call.name.clone() });
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(match reason {
                "stop" | "end_turn" => FinishReason::Stop,
                "tool_calls" | "function_call" => FinishReason::ToolCalls,
                "length" => FinishReason::Length,
                "content_filter" => FinishReason::ContentFilter,
                _ => FinishReason::Other,
            });
        }
        Ok(false)
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        let Some(mut reason) = self.finish else {
            return Err(ProviderError::Connection("the stream ended before the model finished".into()));
        };
        self.end_reasoning(out);
        for (_, call) in std::mem::take(&mut self.calls) {
            if call.name.is_empty() {
                continue;
            }
            if !call.announced {
                out.push(StreamEvent::ToolInputStart { id: call.id.clone(), name: call.name.clone() });
            }
            out.push(StreamEvent::ToolCall(ToolCall {
                id: call.id,
                name: call.name,
                input: parse_arguments(&call.arguments),
            }));
            // Some servers say "stop" even when the step called tools.
            reason = FinishReason::ToolCalls;
        }
        out.push(StreamEvent::Finish { reason, usage: self.usage });
        Ok(())
    }
}

/// Arguments as JSON when they parse (empty means no arguments), else the
/// raw text, so a malformed call reaches the tool as a clear error.
fn parse_arguments(raw: &str) -> Value {
    if raw.trim().is_empty() {
        return json!({});
    }
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

fn read_usage(usage: &Value) -> Usage {
    let number = |pointer: &str| usage.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
    let cached = number("/prompt_tokens_details/cached_tokens");
    let reasoning = number("/completion_tokens_details/reasoning_tokens");
    Usage {
        // OpenAI counts cached tokens inside prompt_tokens; OpenCode does not.
        input: number("/prompt_tokens").saturating_sub(cached),
        output: number("/completion_tokens").saturating_sub(reasoning),
        reasoning,
        cache_read: cached,
        cache_write: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(chunks: &[&str]) -> Result<Vec<StreamEvent>, ProviderError> {
        let mut decoder = Chunks::default();
        let mut out = Vec::new();
        for data in chunks {
            let event = Event { data: data.to_string(), ..Default::default() };
            if decoder.event(&event, &mut out)? {
                break;
            }
        }
        decoder.end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn text_reasoning_and_fragmented_tool_calls() {
        let events = feed(&[
            r#"{"choices":[{"delta":{"role":"assistant","reasoning_content":"Hm"}}]}"#,
            r#"{"choices":[{"delta":{"content":"Let me look."}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"read","arguments":"{\"filePath\""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":":\"a.txt\"}"}}]}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":2}}}"#,
            "[DONE]",
        ])
        .unwrap();
        assert_eq!(
            events,
            vec![
                StreamEvent::ReasoningStart,
                StreamEvent::ReasoningDelta("Hm".into()),
                StreamEvent::ReasoningEnd { signature: None },
                StreamEvent::TextDelta("Let me look.".into()),
                StreamEvent::ToolInputStart { id: "call_1".into(), name: "read".into() },
                StreamEvent::ToolCall(ToolCall {
                    id: "call_1".into(),
                    name: "read".into(),
                    input: json!({ "filePath": "a.txt" })
                }),
                StreamEvent::Finish {
                    reason: FinishReason::ToolCalls,
                    usage: Usage { input: 10, output: 5, reasoning: 0, cache_read: 2, cache_write: 0 }
                },
            ]
        );
    }

    #[test]
    fn a_stream_cut_short_is_an_error_and_garbage_is_malformed() {
        let cut = feed(&[r#"{"choices":[{"delta":{"content":"Hel"}}]}"#]).unwrap_err();
        assert!(cut.retryable(), "{cut}");
        let garbage = feed(&["{not json"]).unwrap_err();
        assert!(matches!(garbage, ProviderError::Malformed(_)), "{garbage}");
    }

    #[test]
    fn an_error_chunk_carries_the_providers_message() {
        let error = feed(&[r#"{"error":{"message":"model overloaded","code":503}}"#]).unwrap_err();
        assert_eq!(error.to_string(), "model overloaded");
        assert!(error.retryable());
    }

    #[test]
    fn the_body_streams_with_usage_and_names_tools() {
        let request = ChatRequest {
            model: "m1".into(),
            system: vec!["be brief".into()],
            messages: vec![
                ChatMessage::User(vec![UserContent::Text("hi".into())]),
                ChatMessage::Assistant {
                    reasoning: None,
                    text: String::new(),
                    tool_calls: vec![ToolCall { id: "c1".into(), name: "read".into(), input: json!({"filePath":"a"}) }],
                },
                ChatMessage::Tool { call_id: "c1".into(), name: "read".into(), output: "x".into(), is_error: false },
            ],
            tools: vec![super::super::ToolDefinition {
                name: "read".into(),
                description: "reads".into(),
                parameters: json!({"type":"object"}),
            }],
            max_tokens: Some(100),
            ..Default::default()
        };
        let body = body(&request, false);
        assert_eq!(body["stream"], true);
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(body["messages"][0]["role"], "system");
        assert_eq!(body["messages"][1]["content"], "hi");
        assert_eq!(body["messages"][2]["tool_calls"][0]["function"]["arguments"], r#"{"filePath":"a"}"#);
        assert_eq!(body["messages"][3]["tool_call_id"], "c1");
        assert_eq!(body["tools"][0]["function"]["name"], "read");
        assert_eq!(body["max_tokens"], 100);
    }
}
