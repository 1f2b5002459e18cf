//! Names a new session after its first message, as the reference does: a
//! short model call (the config's `small_model`, else the prompt's model)
//! with the `title` agent's instructions, in the background while the turn
//! runs. A title the user set in the meantime is kept.

use super::Assistant;
use super::agents::TITLE_PROMPT;
use super::provider::{ChatMessage, ChatRequest, StreamEvent, UserContent};
use crate::model::{MessageWithParts, Session, UserMessage};
use crate::store::SessionChange;
use crate::workspace::Workspace;
use futures_util::StreamExt;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// How long a title may take before the session keeps its default one.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The longest title kept.
const MAX_CHARS: usize = 100;

/// The prefix of the title a session is created with.
pub const DEFAULT_PREFIX: &str = "New session - ";

/// Starts naming `session` after `first`, if it still has its default title.
pub fn generate(
    assistant: &Arc<Assistant>,
    workspace: &Arc<Workspace>,
    session: &Session,
    user: &UserMessage,
    first: &MessageWithParts,
) {
    if !session.title.starts_with(DEFAULT_PREFIX) || session.parent_id.is_some() {
        return;
    }
    let text: String = first
        .parts
        .iter()
        .filter(|p| p.kind() == "text" && p.body.get("synthetic").and_then(Value::as_bool) != Some(true))
        .filter_map(|p| p.body.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n");
    if text.trim().is_empty() {
        return;
    }
    let (provider_id, model_id) =
        assistant.providers.small_model((user.model.provider_id.clone(), user.model.model_id.clone()));
    let Some(provider) = assistant.provider(session.tenant.as_deref(), &provider_id) else { return };
    let model = provider.model(&model_id);
    let request = ChatRequest {
        model: model.api_id.clone(),
        system: vec![TITLE_PROMPT.to_string()],
        messages: vec![ChatMessage::User(vec![UserContent::Text(text)])],
        max_tokens: Some(100),
        options: model.options.clone(),
        ..Default::default()
    };
    let (assistant, workspace, session_id) = (assistant.clone(), workspace.clone(), session.id.clone());
    let naming = async move {
        let client = provider.client(assistant.providers.http());
        let written = tokio::time::timeout(TIMEOUT, async {
            let mut stream = client.stream(&request).await.ok()?;
            let mut text = String::new();
            while let Some(event) = stream.next().await {
                match event.ok()? {
                    StreamEvent::TextDelta(delta) => text.push_str(&delta),
                    StreamEvent::Finish { .. } => break,
                    _ => {}
                }
            }
            Some(text)
        })
        .await;
        let Some(title) = written.ok().flatten().and_then(|text| clean(&text)) else {
            tracing::debug!(session = session_id, "no title was generated");
            return;
        };
        // Only while nobody renamed the session meanwhile.
        let change = SessionChange::Retitle { title, if_prefix: DEFAULT_PREFIX.into() };
        if let Err(error) = assistant.journal.change_session(&workspace, &session_id, change).await {
            tracing::warn!(session = session_id, "cannot store the title: {error}");
        }
    };
    tokio::spawn(naming.instrument(tracing::Span::current()));
}

/// The first non-empty line, without thinking tags, quotes or a final period.
fn clean(text: &str) -> Option<String> {
    let text = match text.rfind("</think>") {
        Some(end) => &text[end + "</think>".len()..],
        None => text,
    };
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line = line.trim_matches(|c| matches!(c, '"' | '\'' | '`' | '*' | '#')).trim().trim_end_matches('.');
    if line.is_empty() {
        return None;
    }
    Some(line.chars().take(MAX_CHARS).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn titles_are_one_clean_line() {
        assert_eq!(super::clean("\n\"Fix the parser.\"\nmore").as_deref(), Some("Fix the parser"));
        assert_eq!(super::clean("<think>hmm</think>\nRename files").as_deref(), Some("Rename files"));
        assert_eq!(super::clean("  \n "), None);
    }
}
