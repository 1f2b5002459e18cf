//! Compaction: when a conversation nears the model's context window, the
//! model writes a summary of it, and later steps read the summary instead
//! of everything before it.
//!
//! It happens three ways, as in the reference: `POST /session/{id}/summarize`
//! (the TUI's `/compact`); automatically, before a step, when the last step
//! used nearly all of the window (`compaction.auto`, on unless the config or
//! `OPENCODE_DISABLE_AUTOCOMPACT` turns it off); and when the provider refuses
//! a request as too long, after which the step is tried once more on the
//! summary. Each inserts a user message whose one part is `compaction`, then
//! an assistant message marked `summary` (agent `compaction`), which the TUI
//! draws as its "Compaction" block; an automatic one adds a synthetic user
//! message telling the model to carry on.
//!
//! Pruning (`compaction.prune`) is the cheap half: at the end of a turn,
//! tool outputs older than the last two turns, past the newest 40,000 tokens
//! of them, are marked `compacted`, and the model is told they were cleared.
//!
//! This file holds the rules; the loop in [`super::turn`] applies them.

use super::provider::ProviderError;
use super::providers::Model;
use crate::config::Config;
use crate::model::{Message, MessageWithParts, Part, Tokens, ToolState};
use serde_json::Value;

/// What the model is asked for when it writes a summary.
pub const PROMPT: &str = include_str!("compaction.md");

/// What an automatic compaction tells the model once the summary is written.
pub const CONTINUE: &str =
    "Continue if you have next steps, or stop and ask for clarification if you are unsure how to proceed.";

/// How a compaction's user message reads to the model, before the summary.
pub const ASKED: &str = "What did we do so far?";

/// What the model reads in place of a pruned tool output.
pub const CLEARED: &str = "[Old tool result content cleared]";

/// Tokens kept free for the model's answer when the config names none.
const RESERVED: u64 = 20_000;
/// Tool output tokens, newest first, that pruning never touches.
const PRUNE_PROTECT: u64 = 40_000;
/// Pruning happens only when it frees at least this many tokens.
const PRUNE_MINIMUM: u64 = 20_000;
/// Tools whose outputs are never pruned (a skill's instructions stay).
const PRUNE_PROTECTED: [&str; 1] = ["skill"];

/// The `compaction` config key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Compact before a step that would overflow the window.
    pub auto: bool,
    /// Clear old tool outputs at the end of a turn.
    pub prune: bool,
    /// Tokens kept free for the answer (default: 20,000 or the model's
    /// output limit, whichever is less).
    pub reserved: Option<u64>,
}

impl Settings {
    /// From the config's `compaction` key and the reference's switches
    /// (`OPENCODE_DISABLE_AUTOCOMPACT`, `OPENCODE_DISABLE_PRUNE`).
    pub fn of(config: &Config, env: impl Fn(&str) -> Option<String>) -> Settings {
        let key = config.opencode.get("compaction");
        let flag = |name: &str| key.and_then(|k| k.get(name)).and_then(Value::as_bool);
        let set = |name: &str| env(name).is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        Settings {
            auto: flag("auto").unwrap_or(true) && !set("OPENCODE_DISABLE_AUTOCOMPACT"),
            prune: flag("prune").unwrap_or(true) && !set("OPENCODE_DISABLE_PRUNE"),
            reserved: key.and_then(|k| k.get("reserved")).and_then(Value::as_u64),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings { auto: true, prune: true, reserved: None }
    }
}

/// Whether a step that used `tokens` left too little of `model`'s window
/// for the next one.
pub fn overflowing(settings: &Settings, tokens: &Tokens, model: &Model) -> bool {
    if !settings.auto || model.context == 0 {
        return false;
    }
    let used = tokens.total.unwrap_or(tokens.input + tokens.output + tokens.cache.read + tokens.cache.write);
    used >= usable(settings, model)
}

/// The tokens of `model`'s window a request may fill, leaving room for the
/// answer (0 when the window is unknown).
fn usable(settings: &Settings, model: &Model) -> u64 {
    let reserved = settings.reserved.unwrap_or(RESERVED.min(model.output.unwrap_or(RESERVED)));
    model.context.saturating_sub(reserved)
}

/// How many tokens of conversation a summary request may carry, besides
/// its instructions (`None`: the model's window is unknown).
pub fn summary_budget(settings: &Settings, model: &Model) -> Option<u64> {
    (model.context > 0).then(|| usable(settings, model).saturating_sub(estimate_tokens(PROMPT) + 1_000))
}

/// Whether the provider refused the request for being longer than the
/// model's window (each provider says it its own way).
pub fn is_context_overflow(error: &ProviderError) -> bool {
    let text = match error {
        ProviderError::Status { status: 400 | 413 | 422, message, body, .. } => format!("{message} {body}"),
        ProviderError::InStream { message, .. } => message.clone(),
        _ => return false,
    };
    let text = text.to_ascii_lowercase();
    [
        "context_length_exceeded",
        "context length",
        "context window",
        "prompt is too long",
        "input is too long",
        "too many tokens",
        "maximum number of tokens",
        "exceeds the limit of",
        "request too large",
        "string_above_max_length",
    ]
    .iter()
    .any(|pattern| text.contains(pattern))
}

/// Whether a user message asks for a compaction, and if so whether it was
/// automatic.
pub fn requested(message: &MessageWithParts) -> Option<bool> {
    if !matches!(message.info, Message::User(_)) {
        return None;
    }
    let part = message.parts.iter().find(|p| p.kind() == "compaction")?;
    Some(part.body.get("auto").and_then(Value::as_bool).unwrap_or(false))
}

/// Whether `message` is a summary that was written out in full.
pub fn is_summary(message: &MessageWithParts) -> bool {
    matches!(&message.info, Message::Assistant(a) if a.summary == Some(true) && a.error.is_none() && a.finish.is_some())
}

/// The messages a model reads: from the last compaction that produced a
/// summary onwards (its request, its summary, what came after), or all.
pub fn since_last_summary(messages: &[MessageWithParts]) -> &[MessageWithParts] {
    let Some(summary) = messages.iter().rposition(is_summary) else { return messages };
    let start = messages[..summary].iter().rposition(|m| requested(m).is_some()).unwrap_or(summary);
    &messages[start..]
}

/// The tool parts to mark compacted: completed outputs before the last two
/// turns, once the newest [`PRUNE_PROTECT`] tokens of outputs are passed,
/// if that frees at least [`PRUNE_MINIMUM`]. The walk stops at a summary or
/// at an output already cleared (what lies before it was handled then).
pub fn prunable(messages: &[MessageWithParts]) -> Vec<Part> {
    let (mut total, mut freed, mut turns) = (0u64, 0u64, 0);
    let mut chosen = Vec::new();
    'messages: for message in messages.iter().rev() {
        if matches!(message.info, Message::User(_)) {
            turns += 1;
        }
        if turns < 2 {
            continue;
        }
        if is_summary(message) {
            break;
        }
        for part in message.parts.iter().rev() {
            let Some(ToolState::Completed { output, .. }) = part.tool_state() else { continue };
            let tool = part.body.get("tool").and_then(Value::as_str).unwrap_or_default();
            if PRUNE_PROTECTED.contains(&tool) {
                continue;
            }
            if is_cleared(part) {
                break 'messages;
            }
            let estimate = estimate_tokens(&output);
            total += estimate;
            if total > PRUNE_PROTECT {
                freed += estimate;
                chosen.push(part.clone());
            }
        }
    }
    if freed < PRUNE_MINIMUM {
        return Vec::new();
    }
    chosen
}

/// Marks a completed tool part's output as cleared at `now`.
pub fn clear(part: &mut Part, now: i64) {
    if let Some(state) = part.body.get_mut("state").and_then(Value::as_object_mut)
        && let Some(time) = state.get_mut("time").and_then(Value::as_object_mut)
    {
        time.insert("compacted".into(), now.into());
    }
}

/// Whether a tool part's output was cleared by pruning.
pub fn is_cleared(part: &Part) -> bool {
    part.body.get("state").and_then(|s| s.pointer("/time/compacted")).is_some_and(|c| !c.is_null())
}

/// A rough token count of `text`: four characters a token.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}

/// The newest messages of `messages` whose estimated size fits in `budget`
/// tokens, starting at a user message (all of them without a budget). At
/// least the last message is kept.
pub fn fitting(messages: &[MessageWithParts], budget: Option<u64>) -> &[MessageWithParts] {
    let Some(budget) = budget else { return messages };
    let size = |m: &MessageWithParts| -> u64 {
        m.parts.iter().map(|p| estimate_tokens(&serde_json::to_string(&p.body).unwrap_or_default())).sum()
    };
    let mut total: u64 = messages.iter().map(size).sum();
    let mut start = 0;
    while total > budget && start + 1 < messages.len() {
        total -= size(&messages[start]);
        start += 1;
    }
    while start + 1 < messages.len() && !matches!(messages[start].info, Message::User(_)) {
        start += 1;
    }
    &messages[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn each_providers_too_long_is_recognised_and_nothing_else() {
        let refusal = |status: u16, message: &str| ProviderError::Status {
            status,
            message: message.into(),
            body: String::new(),
            headers: BTreeMap::new(),
            retry_after: None,
        };
        for (status, message) in [
            (400, "This model's maximum context length is 128000 tokens. (context_length_exceeded)"),
            (400, "prompt is too long: 210000 tokens > 200000 maximum"),
            (413, "Request too large for model"),
            (400, "Input is too long for requested model."),
        ] {
            assert!(is_context_overflow(&refusal(status, message)), "{message}");
        }
        assert!(!is_context_overflow(&refusal(400, "invalid tool schema")));
        assert!(!is_context_overflow(&refusal(429, "too many tokens per minute, slow down")), "a rate limit is not");
        assert!(!is_context_overflow(&ProviderError::Connection("context length".into())));
    }

    fn model(context: u64, output: Option<u64>) -> Model {
        let mut model = Model::named("m");
        (model.context, model.output) = (context, output);
        model
    }

    #[test]
    fn the_window_less_the_answer_is_what_a_step_may_use() {
        let settings = Settings::default();
        let used = |n: u64| Tokens { total: Some(n), ..Tokens::default() };
        let m = model(100_000, Some(8_000));
        assert!(!overflowing(&settings, &used(91_999), &m));
        assert!(overflowing(&settings, &used(92_000), &m));
        let big_output = model(200_000, Some(64_000));
        assert!(!overflowing(&settings, &used(179_999), &big_output), "at most 20,000 are kept for the answer");
        assert!(overflowing(&settings, &used(180_000), &big_output));
        assert!(!overflowing(&Settings { auto: false, ..settings }, &used(1_000_000), &m));
        assert!(!overflowing(&settings, &used(1_000_000), &model(0, None)), "an unknown window never overflows");
        let reserved = Settings { reserved: Some(50_000), ..settings };
        assert!(overflowing(&reserved, &used(50_000), &m));
    }
}
