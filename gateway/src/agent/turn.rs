//! The prompt loop: one run per session, answering its latest user message
//! one model step at a time.
//!
//! A step is one model call. Its assistant message is stored and published
//! first; then `step-start`; then reasoning and text parts, each created by a
//! `message.part.updated` before its `message.part.delta`s; each tool call a
//! `tool` part going pending -> running -> completed or error; then
//! `step-finish` with tokens and cost, and the message completes. A step that
//! ended in tool calls is followed by another, until the model stops, a
//! person rejects a call, the step limit is reached or the run is aborted
//! (PROTOCOL.md §6 has the reference's order, which this follows).
//!
//! The loop runs in a task of its own, never in a request handler: a client
//! that disconnects does not stop a turn halfway. Callers wait on the run's
//! outcome instead (see [`crate::conversation::Runs`]).

use super::agents::{Agent, Rule};
use super::provider::{
    ChatMessage, ChatRequest, EventStream, FinishReason, ProviderError, StreamEvent, ToolCall, Usage, UserContent,
};
use super::providers::{Model, Provider};
use super::tools::{self, Outcome, Skills};
use super::{Assistant, TurnError, TurnResult, compaction, history, subtask, system, title};
use crate::conversation::changes;
use crate::conversation::{Busy, Entry, Run, Waiter};
use crate::events::Event;
use crate::ids;
use crate::model::{
    AssistantMessage, Message, MessageError, MessagePath, MessageWithParts, Part, Session, SessionStatus, Span,
    Started, Tokens, ToolState, UserMessage,
};
use crate::store::{SessionChange, SessionKey};
use crate::workspace::Workspace;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// The most steps of one turn when the agent sets no limit.
pub const DEFAULT_MAX_STEPS: u32 = 100;

/// How many times a failed model call is retried (rate limits, overload,
/// server faults, broken connections) before the turn ends with the error,
/// unless the config (`wasmgate.agent.retries`) says otherwise.
pub const MAX_RETRIES: u32 = 5;

/// The first retry's delay (`wasmgate.agent.retry_delay_ms`); each retry
/// doubles it, up to [`MAX_RETRY_DELAY`], unless the provider says how long
/// to wait.
const RETRY_DELAY: Duration = Duration::from_secs(2);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// The longest wait a provider's `retry-after` gets; a provider asking for
/// more is waited on this long and tried again.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// How many compactions one run may start by itself (before steps that
/// would overflow, after a provider refused a request as too long), so a
/// conversation that cannot be made to fit ends instead of compacting again
/// and again.
const MAX_AUTO_COMPACTIONS: u32 = 3;

/// What the model writing a summary is told it is.
const SUMMARIZER: &str = "You summarize a conversation between a person and a coding agent, so that another agent \
can continue the work from the summary alone. You do not call tools.";

/// What the model is told when its step budget is spent.
const LAST_STEP: &str = "This is the last step of this turn: the step limit is reached. Do not call tools; \
answer with what you have, and say what is left to do.";

/// Answers the session's latest user message: starts a run for it, or joins
/// the run in progress (which will answer it before ending). The waiter
/// yields the run's last assistant message.
pub fn answer(assistant: &Arc<Assistant>, workspace: Arc<Workspace>, session_id: &str) -> Result<Waiter, Busy> {
    match assistant.runs.start_or_join(session_id, workspace.scope())? {
        Entry::Joined(waiter) => Ok(waiter),
        Entry::Started(run) => {
            let waiter = run.waiter();
            let (assistant, session_id) = (assistant.clone(), session_id.to_string());
            // The turn's log lines carry the request that started it.
            let turn = async move {
                let outcome = run_turn(&assistant, &workspace, &session_id, &run).await;
                if let Err(error) = &outcome {
                    tracing::error!(session = session_id, "a turn failed: {error}");
                }
                run.finish(outcome.map_err(|e| e.to_string()));
            };
            tokio::spawn(turn.instrument(tracing::Span::current()));
            Ok(waiter)
        }
    }
}

async fn run_turn(
    assistant: &Arc<Assistant>,
    workspace: &Arc<Workspace>,
    session_id: &str,
    run: &Run,
) -> TurnResult<MessageWithParts> {
    let key = SessionKey::new(workspace.tenant.as_deref(), session_id);
    let busy = || run.report(SessionStatus::Busy);
    busy();
    let mut last: Option<MessageWithParts> = None;
    let mut steps = 0;
    let mut answering = String::new();
    // Set when a person rejected a call without saying what to do instead:
    // the turn stops there, as the reference's does, and they speak next.
    let mut blocked = false;
    let mut compactions = 0;
    let skills = tokio::sync::OnceCell::new();
    let result = loop {
        let history = assistant.journal.store().messages(key, None, None).await?;
        let Some(user_at) = history.iter().rposition(|m| matches!(m.info, Message::User(_))) else {
            break Err(TurnError::Gone(format!("session {session_id} has no user message to answer")));
        };
        let Message::User(user) = &history[user_at].info else { unreachable!("found above") };
        if user.id != answering {
            (answering, steps) = (user.id.clone(), 0);
        }
        let done = history[user_at + 1..].iter().rev().find_map(|m| match &m.info {
            Message::Assistant(a) => {
                Some(a.error.is_some() || !matches!(a.finish.as_deref(), None | Some("tool-calls")))
            }
            Message::User(_) => None,
        });
        if done == Some(true) || blocked || run.aborted() {
            // A compaction's request is no turn of the person's: it gets no
            // `summary`, as the reference's gets none.
            if compaction::requested(&history[user_at]).is_none() {
                summarize(assistant, workspace, user).await?;
            }
            if assistant.compaction.prune {
                prune(assistant, workspace, &history).await?;
            }
            if run.try_end() {
                break Ok(());
            }
            // A prompt joined: answer it too.
            busy();
            blocked = false;
            continue;
        }
        steps += 1;
        let session = assistant.session(session_id).await?;
        if let Some(auto) = compaction::requested(&history[user_at]) {
            let step =
                Step::new(assistant, workspace, session.clone(), user.clone(), run, Purpose::Summary, &skills).await?;
            let ended = step.summarize(&history[..user_at]).await?;
            if compaction::is_summary(&ended.message) {
                assistant.journal.publish(workspace, Event::SessionCompacted { session_id });
                if auto {
                    ask(
                        assistant,
                        workspace,
                        user,
                        json!({ "type": "text", "text": compaction::CONTINUE, "synthetic": true }),
                    )
                    .await?;
                }
            }
            last = Some(ended.message);
            continue;
        }
        let visible = compaction::since_last_summary(&history);
        if compactions < MAX_AUTO_COMPACTIONS && outgrown(assistant, &session, user, visible) {
            compactions += 1;
            ask(assistant, workspace, user, json!({ "type": "compaction", "auto": true })).await?;
            continue;
        }
        if steps == 1 && history.iter().filter(|m| matches!(m.info, Message::User(_))).count() == 1 {
            title::generate(assistant, workspace, &session, user, &history[user_at]);
        }
        if let Some(pending) = subtask::pending(&history, user_at) {
            last = Some(subtask::run(assistant, workspace, user, pending, &run.cancel).await?);
            if !run.aborted() {
                let nudge = json!({ "type": "text", "text": subtask::CONTINUE, "synthetic": true });
                ask(assistant, workspace, user, nudge).await?;
            }
            continue;
        }
        let step = Step::new(assistant, workspace, session, user.clone(), run, Purpose::Answer, &skills).await?;
        let ended = step.run(visible, steps).await?;
        if ended.overflowed && compactions < MAX_AUTO_COMPACTIONS {
            compactions += 1;
            ask(assistant, workspace, user, json!({ "type": "compaction", "auto": true, "overflow": true })).await?;
            continue;
        }
        blocked = ended.blocked;
        last = Some(ended.message);
    };
    result?;
    match last {
        Some(message) => Ok(message),
        // Joined a run that had nothing left to do: the latest assistant message.
        None => assistant
            .journal
            .store()
            .messages(key, Some(1), None)
            .await?
            .pop()
            .ok_or_else(|| TurnError::Gone(format!("session {session_id} has no messages"))),
    }
}

/// Marks a user message as answered, as the reference does once a turn
/// ends: its `summary.diffs` (what the turn changed in the workspace) and
/// the session's `session.diff` (what the whole session changed).
async fn summarize(assistant: &Assistant, workspace: &Workspace, user: &UserMessage) -> TurnResult<()> {
    if user.summary.is_some() {
        return Ok(());
    }
    let store = assistant.journal.store();
    let key = SessionKey::new(workspace.tenant.as_deref(), &user.session_id);
    let records = store.file_changes(key).await?;
    let grant = &workspace.read_only;
    let this_turn = |c: &crate::store::FileChange| !c.redo && c.message_id > user.id;
    let [turn, session] = changes::diffs_since(store, grant, key, &records, [&this_turn, &|c| !c.redo]).await?;
    let mut user = user.clone();
    user.summary = Some(json!({ "diffs": turn }));
    assistant.journal.put_message(workspace, &Message::User(user.clone())).await?;
    assistant.journal.publish(workspace, Event::SessionDiff { session_id: &user.session_id, diff: &session });
    Ok(())
}

/// Whether the last finished step (not a summary) of `visible` used so
/// much of the window of the model `user` asks for that the next must
/// follow a compaction.
fn outgrown(assistant: &Assistant, session: &Session, user: &UserMessage, visible: &[MessageWithParts]) -> bool {
    let last = visible.iter().rev().find_map(|m| match &m.info {
        Message::Assistant(a) if a.finish.is_some() && a.error.is_none() => Some(a),
        _ => None,
    });
    let Some(last) = last.filter(|a| a.summary != Some(true)) else { return false };
    let Some(provider) = assistant.provider(session.tenant.as_deref(), &user.model.provider_id) else { return false };
    compaction::overflowing(&assistant.compaction, &last.tokens, &provider.model(&user.model.model_id))
}

/// Adds a user message in `user`'s name (its agent and model) holding one
/// part: a compaction request, or the synthetic nudge that follows one or
/// a subtask.
async fn ask(assistant: &Assistant, workspace: &Workspace, user: &UserMessage, part: Value) -> TurnResult<()> {
    let mut message = user.clone();
    message.id = ids::new(ids::Prefix::Message);
    message.time = crate::model::MessageTime { created: ids::now_millis(), completed: None };
    (message.summary, message.system, message.tools, message.format) = (None, None, None, None);
    assistant.journal.put_message(workspace, &Message::User(message.clone())).await?;
    assistant.journal.put_part(workspace, &Part::new(&message.session_id, &message.id, part)).await?;
    Ok(())
}

/// Clears old tool outputs the model no longer needs (see
/// [`compaction::prunable`]).
async fn prune(assistant: &Assistant, workspace: &Workspace, history: &[MessageWithParts]) -> TurnResult<()> {
    let now = ids::now_millis();
    for mut part in compaction::prunable(history) {
        compaction::clear(&mut part, now);
        assistant.journal.put_part(workspace, &part).await?;
    }
    Ok(())
}

/// What a step is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Answering the user: the agent's tools, system prompt and history.
    Answer,
    /// Writing the summary a compaction asked for: no tools.
    Summary,
}

/// How a step ended.
struct Ended {
    message: MessageWithParts,
    /// A call was rejected without feedback: the turn stops.
    blocked: bool,
    /// The provider refused the request as longer than the model's window.
    overflowed: bool,
}

/// One model call and the tool calls it makes.
struct Step<'a> {
    assistant: &'a Arc<Assistant>,
    workspace: &'a Arc<Workspace>,
    session: Session,
    user: UserMessage,
    run: &'a Run,
    agent: Agent,
    /// The agent's permission rules, then the session's own.
    rules: Vec<Rule>,
    /// The workspace's skills, found by the run's first step that offers them.
    skills: &'a Skills,
    /// The assistant message this step writes.
    reply: AssistantMessage,
    parts: Vec<Part>,
    /// The open text and reasoning parts (indices into `parts`).
    text: Option<usize>,
    reasoning: Option<usize>,
    /// Tool parts by call id.
    tools: HashMap<String, usize>,
}

impl<'a> Step<'a> {
    async fn new(
        assistant_of: &'a Arc<Assistant>,
        workspace: &'a Arc<Workspace>,
        session: Session,
        user: UserMessage,
        run: &'a Run,
        purpose: Purpose,
        skills: &'a Skills,
    ) -> TurnResult<Self> {
        let agent = assistant_of
            .profile(session.tenant.as_deref())
            .agent(&user.agent)
            .ok_or_else(|| TurnError::Gone(format!("no agent named {:?}", user.agent)))?
            .clone();
        let mut rules = agent.rules.clone();
        rules.extend(super::agents::rules_of(session.permission.as_ref()));
        let path = MessagePath { cwd: workspace.directory.clone(), root: workspace.project.worktree.clone() };
        let mut message = AssistantMessage::answering(&session.id, &user.id, &user.model, &agent.name, path);
        message.variant = user.variant.clone();
        if purpose == Purpose::Summary {
            (message.mode, message.agent, message.summary) = ("compaction".into(), "compaction".into(), Some(true));
        }
        assistant_of.journal.put_assistant(workspace, &message).await?;
        Ok(Step {
            assistant: assistant_of,
            workspace,
            session,
            user,
            run,
            agent,
            rules,
            skills,
            reply: message,
            parts: Vec::new(),
            text: None,
            reasoning: None,
            tools: HashMap::new(),
        })
    }

    async fn run(self, history: &[MessageWithParts], step: u32) -> TurnResult<Ended> {
        let owner = self.session.tenant.as_deref();
        let Some(provider) = self.assistant.provider(owner, &self.user.model.provider_id) else {
            let error = self.missing_provider();
            return self.fail(error).await;
        };
        let model = provider.model(&self.user.model.model_id);
        let switched_off: Vec<String> = self
            .user
            .tools
            .as_ref()
            .and_then(Value::as_object)
            .map(|tools| tools.iter().filter(|(_, on)| on.as_bool() == Some(false)).map(|(n, _)| n.clone()).collect())
            .unwrap_or_default();
        let last_step = step >= self.agent.steps.unwrap_or(DEFAULT_MAX_STEPS);
        let offered = if last_step || !model.tool_call {
            Vec::new()
        } else {
            let (owner, agent) = (self.session.tenant.as_deref(), &self.agent);
            tools::offered(self.assistant, self.workspace, owner, agent, &self.rules, &switched_off, self.skills).await
        };
        let mut system = system::prompt(self.assistant, self.workspace, &self.agent, self.user.system.as_deref()).await;
        if last_step {
            system.push(LAST_STEP.into());
        }
        let request = ChatRequest {
            model: model.api_id.clone(),
            system,
            messages: history::conversation(history),
            tools: offered.clone(),
            max_tokens: model.output,
            temperature: if model.temperature { self.agent.temperature } else { None },
            options: model.options.clone(),
        };
        self.call(&provider, &model, &request, &offered).await
    }

    /// Writes the summary of `history` (everything before the compaction's
    /// request) a compaction asked for. Old tool outputs are cleared for it
    /// as pruning would, and when the conversation is still larger than the
    /// model's window, its oldest turns are left out.
    async fn summarize(self, history: &[MessageWithParts]) -> TurnResult<Ended> {
        let owner = self.session.tenant.as_deref();
        let Some(provider) = self.assistant.provider(owner, &self.user.model.provider_id) else {
            let error = self.missing_provider();
            return self.fail(error).await;
        };
        let model = provider.model(&self.user.model.model_id);
        let mut visible = compaction::since_last_summary(history).to_vec();
        let cleared: Vec<String> = compaction::prunable(&visible).into_iter().map(|p| p.id).collect();
        for part in visible.iter_mut().flat_map(|m| m.parts.iter_mut()).filter(|p| cleared.contains(&p.id)) {
            compaction::clear(part, ids::now_millis());
        }
        let budget = compaction::summary_budget(&self.assistant.compaction, &model);
        let mut messages = history::conversation(compaction::fitting(&visible, budget));
        messages.push(ChatMessage::User(vec![UserContent::Text(compaction::PROMPT.into())]));
        let request = ChatRequest {
            model: model.api_id.clone(),
            system: vec![SUMMARIZER.into()],
            messages,
            tools: Vec::new(),
            max_tokens: model.output,
            temperature: None,
            options: model.options.clone(),
        };
        self.call(&provider, &model, &request, &[]).await
    }

    /// Calls the model with `request` and runs the tool calls it makes.
    async fn call(
        mut self,
        provider: &Provider,
        model: &Model,
        request: &ChatRequest,
        offered: &[super::provider::ToolDefinition],
    ) -> TurnResult<Ended> {
        if let Some(refusal) = self.model_refused(&provider.id, &model.id) {
            return self.fail(MessageError::new("ModelNotAllowedError", refusal)).await;
        }
        if let Some(refusal) = self.over_allowance().await {
            return self.fail(MessageError::new("QuotaExceededError", refusal)).await;
        }
        let stream = match self.connect(provider, request).await {
            Ok(Some(stream)) => stream,
            Ok(None) => return self.abort().await,
            Err(error) => return self.fail_call(&error, &provider.id).await,
        };
        self.put(Part::new(&self.session.id, &self.reply.id, json!({ "type": "step-start" }))).await?;
        let (calls, reason, usage) = match self.consume(stream).await? {
            Consumed::Finished { calls, reason, usage } => (calls, reason, usage),
            Consumed::Aborted => return self.abort().await,
            Consumed::Failed(error) => return self.fail_call(&error, &provider.id).await,
        };
        self.close_open_parts().await?;
        let mut blocked = false;
        for call in &calls {
            match self.call_tool(call, offered).await? {
                Some(Outcome::Aborted) => return self.abort().await,
                Some(Outcome::Rejected { feedback: None } | Outcome::Dismissed) => blocked = true,
                _ => {}
            }
        }
        self.finish_step(reason, usage, model).await?;
        self.reply.time.completed = Some(ids::now_millis());
        self.assistant.journal.put_assistant(self.workspace, &self.reply).await?;
        Ok(Ended { message: self.message(), blocked, overflowed: false })
    }

    /// Starts the model call, retrying what is worth retrying with backoff
    /// (`session.status` says `retry` meanwhile). `None` when aborted.
    async fn connect(&self, provider: &Provider, request: &ChatRequest) -> Result<Option<EventStream>, ProviderError> {
        let client = provider.client(self.assistant.providers.http());
        let settings = &self.assistant.settings;
        let retries = settings.retries.unwrap_or(MAX_RETRIES);
        let first_delay = settings.retry_delay_ms.map(Duration::from_millis).unwrap_or(RETRY_DELAY);
        let mut attempt = 0;
        loop {
            let result = tokio::select! {
                result = client.stream(request) => result,
                () = self.run.cancel.cancelled() => return Ok(None),
            };
            // A stream that fails before its first event is retried like a
            // failed request; once output has been shown, it is not.
            let error = match result {
                Ok(stream) => {
                    let mut stream = stream.peekable();
                    let first = tokio::select! {
                        first = std::pin::Pin::new(&mut stream).peek() => first.map(|r| r.as_ref().err().cloned()),
                        () = self.run.cancel.cancelled() => return Ok(None),
                    };
                    match first {
                        Some(Some(error)) => error,
                        _ => return Ok(Some(stream.boxed())),
                    }
                }
                Err(error) => error,
            };
            attempt += 1;
            if !error.retryable() || attempt > retries {
                return Err(error);
            }
            let delay = match &error {
                ProviderError::Status { retry_after: Some(after), .. } => (*after).min(MAX_RETRY_AFTER),
                _ => first_delay.saturating_mul(2u32.saturating_pow(attempt - 1)).min(MAX_RETRY_DELAY),
            };
            let next = ids::now_millis() + delay.as_millis() as i64;
            tracing::warn!(provider = provider.id, attempt, "the model call failed, retrying: {error}");
            self.run.report(SessionStatus::Retry { attempt, message: error.to_string(), next });
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.run.cancel.cancelled() => return Ok(None),
            }
            self.run.report(SessionStatus::Busy);
        }
    }

    /// Reads the model's stream into parts until it finishes.
    async fn consume(&mut self, mut stream: EventStream) -> TurnResult<Consumed> {
        let mut calls = Vec::new();
        loop {
            let event = tokio::select! {
                event = stream.next() => event,
                () = self.run.cancel.cancelled() => return Ok(Consumed::Aborted),
            };
            let event = match event {
                Some(Ok(event)) => event,
                Some(Err(error)) => return Ok(Consumed::Failed(error)),
                None => return Ok(Consumed::Failed(ProviderError::Connection("the model stream ended early".into()))),
            };
            match event {
                StreamEvent::ReasoningStart => {
                    self.open(Streamed::Reasoning).await?;
                }
                StreamEvent::ReasoningDelta(delta) => {
                    let index = self.open(Streamed::Reasoning).await?;
                    self.append(index, &delta);
                }
                StreamEvent::ReasoningEnd { signature } => {
                    if let Some(index) = self.reasoning.take() {
                        if let Some(signature) = signature {
                            self.parts[index]
                                .body
                                .insert("metadata".into(), json!({ "anthropic": { "signature": signature } }));
                        }
                        self.end_part(index).await?;
                    }
                }
                StreamEvent::TextDelta(delta) => {
                    let index = self.open(Streamed::Text).await?;
                    self.append(index, &delta);
                }
                StreamEvent::ToolInputStart { id, name } => {
                    let mut part = Part::new(
                        &self.session.id,
                        &self.reply.id,
                        json!({ "type": "tool", "tool": name, "callID": id }),
                    );
                    part.set_tool_state(&ToolState::Pending { input: json!({}), raw: String::new() });
                    let index = self.put(part).await?;
                    self.tools.insert(id, index);
                }
                StreamEvent::ToolCall(call) => {
                    let index = match self.tools.get(&call.id) {
                        Some(&index) => index,
                        None => {
                            let part = json!({ "type": "tool", "tool": call.name, "callID": call.id });
                            let index = self.put(Part::new(&self.session.id, &self.reply.id, part)).await?;
                            self.tools.insert(call.id.clone(), index);
                            index
                        }
                    };
                    let input = if call.input.is_object() { call.input.clone() } else { json!({}) };
                    let time = Started { start: ids::now_millis() };
                    let running = ToolState::Running { input, title: None, metadata: None, time };
                    self.parts[index].set_tool_state(&running);
                    self.store_part(index).await?;
                    calls.push(call);
                }
                StreamEvent::Finish { reason, usage } => return Ok(Consumed::Finished { calls, reason, usage }),
            }
        }
    }

    /// Runs one tool call and records its end; `None` when the call's part
    /// is gone (it cannot be).
    async fn call_tool(
        &mut self,
        call: &ToolCall,
        offered: &[super::provider::ToolDefinition],
    ) -> TurnResult<Option<Outcome>> {
        let Some(&index) = self.tools.get(&call.id) else { return Ok(None) };
        if self.run.aborted() {
            return Ok(Some(Outcome::Aborted));
        }
        let context = tools::Context {
            assistant: self.assistant,
            workspace: self.workspace,
            agent: &self.agent,
            rules: &self.rules,
            offered,
            session_id: &self.session.id,
            message_id: &self.reply.id,
            cancel: &self.run.cancel,
        };
        let outcome = tools::run(&context, call, &self.parts[index]).await;
        let open = self.parts[index].tool_state();
        let input = open.as_ref().map_or_else(|| json!({}), |state| state.input().clone());
        let end = ids::now_millis();
        let time = Span { start: open.as_ref().and_then(ToolState::start).unwrap_or(end), end };
        self.parts[index].set_tool_state(&outcome.state(&input, time));
        self.store_part(index).await?;
        Ok(Some(outcome))
    }

    async fn finish_step(&mut self, reason: FinishReason, usage: Usage, model: &Model) -> TurnResult<()> {
        let tokens = Tokens {
            total: Some(usage.input + usage.output + usage.reasoning + usage.cache_read + usage.cache_write),
            input: usage.input,
            output: usage.output,
            reasoning: usage.reasoning,
            cache: crate::model::CacheTokens { read: usage.cache_read, write: usage.cache_write },
        };
        let cost = model.cost.of(&usage);
        let part = json!({ "type": "step-finish", "reason": reason.as_str(), "tokens": tokens, "cost": cost });
        self.put(Part::new(&self.session.id, &self.reply.id, part)).await?;
        self.reply.finish = Some(reason.as_str().to_string());
        self.reply.tokens = tokens;
        self.reply.cost = cost;
        self.assistant.journal.put_assistant(self.workspace, &self.reply).await?;
        // The session adds up what its steps used, in one store step (a
        // title or an edit arriving meanwhile is kept).
        let change = SessionChange::AddUsage { tokens: self.reply.tokens.clone(), cost };
        self.assistant.journal.change_session(self.workspace, &self.session.id, change).await?;
        if let (Some(allowance), Some(tenant)) = (&self.assistant.allowance, &self.workspace.tenant) {
            let used = usage.input + usage.output + usage.reasoning;
            let (allowance, tenant) = (allowance.clone(), tenant.clone());
            let _ = tokio::task::spawn_blocking(move || allowance.spend(&tenant, used)).await;
        }
        Ok(())
    }

    /// Why the session's tenant may not call the model now, if it may not.
    /// Why the tenant may not call this model, if the host pinned it to
    /// others.
    fn model_refused(&self, provider: &str, model: &str) -> Option<String> {
        let allowance = self.assistant.allowance.as_ref()?;
        allowance.refuse_model(self.workspace.tenant.as_deref()?, provider, model)
    }

    async fn over_allowance(&self) -> Option<String> {
        let allowance = self.assistant.allowance.clone()?;
        let tenant = self.workspace.tenant.clone()?;
        tokio::task::spawn_blocking(move || allowance.refuse(&tenant)).await.ok().flatten()
    }

    /// Ends the step with the provider's `error`; one that says the request
    /// was too long is a `ContextOverflowError`, which the loop answers with
    /// a compaction.
    async fn fail_call(self, error: &ProviderError, provider: &str) -> TurnResult<Ended> {
        if !compaction::is_context_overflow(error) {
            return self.fail(error.to_message_error(provider)).await;
        }
        let mut message = error.to_message_error(provider);
        message.name = "ContextOverflowError".into();
        let mut ended = self.fail(message).await?;
        ended.overflowed = true;
        Ok(ended)
    }

    /// Ends the step with `error`: on the message, and as `session.error`.
    async fn fail(mut self, error: MessageError) -> TurnResult<Ended> {
        self.close_open_parts().await?;
        self.end_running_tools("The model call failed before this tool ran.").await?;
        self.reply.error = Some(error.clone());
        self.reply.time.completed = Some(ids::now_millis());
        self.assistant.journal.put_assistant(self.workspace, &self.reply).await?;
        self.assistant
            .journal
            .publish(self.workspace, Event::SessionError { session_id: &self.session.id, error: &error });
        Ok(Ended { message: self.message(), blocked: false, overflowed: false })
    }

    /// Ends the step as aborted, keeping what was streamed.
    async fn abort(mut self) -> TurnResult<Ended> {
        let error = MessageError::new("MessageAbortedError", "Aborted");
        self.assistant
            .journal
            .publish(self.workspace, Event::SessionError { session_id: &self.session.id, error: &error });
        self.close_open_parts().await?;
        self.end_running_tools("Tool execution aborted").await?;
        self.reply.error = Some(error);
        self.reply.time.completed = Some(ids::now_millis());
        self.assistant.journal.put_assistant(self.workspace, &self.reply).await?;
        Ok(Ended { message: self.message(), blocked: false, overflowed: false })
    }

    fn missing_provider(&self) -> MessageError {
        let providers = self.assistant.providers.all();
        let message = if providers.is_empty() {
            "No model provider is configured. Set OPENAI_API_KEY, OPENAI_BASE_URL or ANTHROPIC_API_KEY, add one \
             under \"provider\" in the config file (opencode.json's format), or connect one with a key (`/connect` \
             in the TUI); file, search and shell routes work without one."
                .to_string()
        } else {
            let names: Vec<&str> = providers.iter().map(|p| p.id.as_str()).collect();
            format!(
                "Model not found: provider {:?} is not configured (configured: {}).",
                self.user.model.provider_id,
                names.join(", ")
            )
        };
        MessageError {
            name: "ProviderModelNotFoundError".into(),
            data: json!({
                "message": message,
                "providerID": self.user.model.provider_id,
                "modelID": self.user.model.model_id,
            }),
        }
    }

    /// Adds a part, stores and publishes it; returns its index.
    async fn put(&mut self, part: Part) -> TurnResult<usize> {
        self.parts.push(part);
        let index = self.parts.len() - 1;
        self.store_part(index).await?;
        Ok(index)
    }

    async fn store_part(&self, index: usize) -> TurnResult<()> {
        Ok(self.assistant.journal.put_part(self.workspace, &self.parts[index]).await?)
    }

    /// The open text or reasoning part (index into `parts`), created with
    /// empty text (and published, before any delta) when none is open.
    async fn open(&mut self, kind: Streamed) -> TurnResult<usize> {
        let open = match kind {
            Streamed::Text => self.text,
            Streamed::Reasoning => self.reasoning,
        };
        if let Some(index) = open {
            return Ok(index);
        }
        let name = match kind {
            Streamed::Text => "text",
            Streamed::Reasoning => "reasoning",
        };
        let part = json!({ "type": name, "text": "", "time": { "start": ids::now_millis() } });
        let index = self.put(Part::new(&self.session.id, &self.reply.id, part)).await?;
        match kind {
            Streamed::Text => self.text = Some(index),
            Streamed::Reasoning => self.reasoning = Some(index),
        }
        Ok(index)
    }

    /// Appends streamed text to a part and publishes the delta (the part is
    /// stored whole when it ends).
    fn append(&mut self, index: usize, delta: &str) {
        let part = &mut self.parts[index];
        if let Some(Value::String(text)) = part.body.get_mut("text") {
            text.push_str(delta);
        }
        self.assistant.journal.publish_delta(self.workspace, part, "text", delta);
    }

    /// Sets a text or reasoning part's `time.end` and stores it.
    async fn end_part(&mut self, index: usize) -> TurnResult<()> {
        self.parts[index].body["time"]["end"] = json!(ids::now_millis());
        self.store_part(index).await
    }

    async fn close_open_parts(&mut self) -> TurnResult<()> {
        if let Some(index) = self.reasoning.take() {
            self.end_part(index).await?;
        }
        if let Some(index) = self.text.take() {
            self.end_part(index).await?;
        }
        Ok(())
    }

    /// Marks tool parts that never finished as errors.
    async fn end_running_tools(&mut self, why: &str) -> TurnResult<()> {
        let now = ids::now_millis();
        let mut open: Vec<usize> = self.tools.values().copied().collect();
        open.sort_unstable();
        for index in open {
            // A part without a state that reads never started.
            let state =
                self.parts[index].tool_state().unwrap_or(ToolState::Pending { input: json!({}), raw: String::new() });
            if state.is_open() {
                self.parts[index].set_tool_state(&state.failed(why, now));
                self.store_part(index).await?;
            }
        }
        Ok(())
    }

    fn message(&self) -> MessageWithParts {
        MessageWithParts { info: Message::Assistant(self.reply.clone()), parts: self.parts.clone() }
    }
}

/// The parts a model streams text into.
#[derive(Clone, Copy)]
enum Streamed {
    Text,
    Reasoning,
}

/// How reading a model stream ended.
enum Consumed {
    Finished { calls: Vec<ToolCall>, reason: FinishReason, usage: Usage },
    Aborted,
    Failed(ProviderError),
}
