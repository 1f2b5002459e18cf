//! A session's stored messages as the conversation a model reads.
//!
//! User messages become user turns (text, synthetic text the server added,
//! images); each assistant message becomes an assistant turn (its text, its
//! reasoning where the protocol wants it back, its tool calls) followed by
//! one tool-result turn per call. A call that never finished (aborted,
//! interrupted by a restart) is answered with that fact, since providers
//! reject a tool call without a result. A compaction's request reads as a
//! question its summary answers, and a pruned tool output as cleared.

use super::provider::{ChatMessage, Reasoning, ToolCall, UserContent};
use super::{compaction, subtask};
use crate::model::{Message, MessageWithParts, Part, ToolState};
use serde_json::Value;

/// What the model is told about a call that printed nothing (some
/// providers refuse an empty result).
const NO_OUTPUT: &str = "(no output)";

/// What the model is told about a call that did not finish.
const INTERRUPTED: &str = "The tool call was interrupted before it finished.";

/// The conversation of `messages`, oldest first.
pub fn conversation(messages: &[MessageWithParts]) -> Vec<ChatMessage> {
    let mut conversation = Vec::with_capacity(messages.len() * 2);
    for entry in messages {
        match &entry.info {
            Message::User(_) => {
                let content: Vec<UserContent> = entry.parts.iter().filter_map(user_content).collect();
                if !content.is_empty() {
                    conversation.push(ChatMessage::User(content));
                }
            }
            Message::Assistant(_) => assistant_turn(&entry.parts, &mut conversation),
        }
    }
    conversation
}

fn user_content(part: &Part) -> Option<UserContent> {
    let text = |key: &str| part.body.get(key).and_then(Value::as_str);
    match part.kind() {
        "text" if part.body.get("ignored").and_then(Value::as_bool) != Some(true) => {
            text("text").filter(|t| !t.is_empty()).map(|t| UserContent::Text(t.to_string()))
        }
        "file" => {
            let (mime, url) = (text("mime")?, text("url")?);
            (mime.starts_with("image/") && url.starts_with("data:"))
                .then(|| UserContent::Image { mime: mime.to_string(), data_url: url.to_string() })
        }
        "agent" => text("name").map(|name| UserContent::Text(format!("Use the {name} agent for this."))),
        "compaction" => Some(UserContent::Text(compaction::ASKED.to_string())),
        // The subtask's work follows as the `task` call it became.
        "subtask" => Some(UserContent::Text(subtask::RAN.to_string())),
        _ => None,
    }
}

fn assistant_turn(parts: &[Part], conversation: &mut Vec<ChatMessage>) {
    let mut text = String::new();
    let mut reasoning: Option<Reasoning> = None;
    let mut calls = Vec::new();
    let mut results = Vec::new();
    for part in parts {
        let body = &part.body;
        match part.kind() {
            "text" => text.push_str(body.get("text").and_then(Value::as_str).unwrap_or_default()),
            "reasoning" => {
                let entry = reasoning.get_or_insert_with(Reasoning::default);
                entry.text.push_str(body.get("text").and_then(Value::as_str).unwrap_or_default());
                if let Some(signature) =
                    body.get("metadata").and_then(|m| m.pointer("/anthropic/signature")).and_then(Value::as_str)
                {
                    entry.signature = Some(signature.to_string());
                }
            }
            "tool" => {
                let (Some(id), Some(name)) =
                    (body.get("callID").and_then(Value::as_str), body.get("tool").and_then(Value::as_str))
                else {
                    continue;
                };
                let state = part.tool_state();
                let input = state.as_ref().map_or_else(|| Value::Object(Default::default()), |s| s.input().clone());
                let (output, is_error) = match &state {
                    Some(ToolState::Completed { .. }) if compaction::is_cleared(part) => {
                        (compaction::CLEARED.to_string(), false)
                    }
                    Some(ToolState::Completed { output, .. }) => {
                        (if output.is_empty() { NO_OUTPUT } else { output.as_str() }.to_string(), false)
                    }
                    Some(ToolState::Error { error, .. }) => (format!("Error: {error}"), true),
                    // Pending, running, or a state that does not read: the
                    // call never finished (the server stopped under it).
                    _ => (INTERRUPTED.to_string(), true),
                };
                calls.push(ToolCall { id: id.to_string(), name: name.to_string(), input });
                results.push(ChatMessage::Tool { call_id: id.to_string(), name: name.to_string(), output, is_error });
            }
            _ => {}
        }
    }
    if text.is_empty() && calls.is_empty() {
        return;
    }
    conversation.push(ChatMessage::Assistant { reasoning, text, tool_calls: calls });
    conversation.extend(results);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AssistantMessage, MessagePath, MessageTime, ModelRef, UserMessage};
    use serde_json::json;

    fn user(parts: Vec<Value>) -> MessageWithParts {
        let info = Message::User(UserMessage {
            id: "msg_1".into(),
            session_id: "ses_1".into(),
            time: MessageTime::default(),
            summary: None,
            agent: "build".into(),
            model: ModelRef { provider_id: "p".into(), model_id: "m".into(), variant: None },
            system: None,
            tools: None,
            format: None,
            variant: None,
        });
        MessageWithParts { info, parts: parts.into_iter().map(|p| Part::new("ses_1", "msg_1", p)).collect() }
    }

    fn assistant(parts: Vec<Value>) -> MessageWithParts {
        let model = ModelRef { provider_id: "p".into(), model_id: "m".into(), variant: None };
        let path = MessagePath { cwd: "/".into(), root: "/".into() };
        let mut assistant = AssistantMessage::answering("ses_1", "msg_1", &model, "build", path);
        assistant.id = "msg_2".into();
        let info = Message::Assistant(assistant);
        MessageWithParts { info, parts: parts.into_iter().map(|p| Part::new("ses_1", "msg_2", p)).collect() }
    }

    #[test]
    fn tool_calls_are_answered_even_when_they_never_finished() {
        let messages = vec![
            user(vec![json!({"type":"text","text":"hi"}), json!({"type":"text","text":"skip","ignored":true})]),
            assistant(vec![
                json!({"type":"step-start"}),
                json!({"type":"text","text":"Reading."}),
                json!({"type":"tool","callID":"c1","tool":"read","state":{"status":"completed","input":{"filePath":"a"},"output":"1: x"}}),
                json!({"type":"tool","callID":"c2","tool":"bash","state":{"status":"running","input":{"command":"sleep 9"}}}),
            ]),
        ];
        let conversation = conversation(&messages);
        assert_eq!(conversation.len(), 4);
        assert_eq!(conversation[0], ChatMessage::User(vec![UserContent::Text("hi".into())]));
        let ChatMessage::Assistant { tool_calls, text, .. } = &conversation[1] else { panic!() };
        assert_eq!((text.as_str(), tool_calls.len()), ("Reading.", 2));
        assert_eq!(
            conversation[3],
            ChatMessage::Tool { call_id: "c2".into(), name: "bash".into(), output: INTERRUPTED.into(), is_error: true }
        );
    }

    #[test]
    fn an_empty_failed_step_is_left_out() {
        let messages =
            vec![user(vec![json!({"type":"text","text":"hi"})]), assistant(vec![json!({"type":"step-start"})])];
        assert_eq!(conversation(&messages).len(), 1);
    }
}
