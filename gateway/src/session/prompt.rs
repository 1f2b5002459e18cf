//! Prompts and slash commands: the user's message is stored and published,
//! then the agent answers it (see [`crate::agent`]).
//!
//! A file the user mentions with `@` arrives as a `file://` part; it is read
//! here, through the sandbox under a read-only grant, into a synthetic text
//! part beside it, so the model sees the file as it was when the prompt was
//! sent (as the reference does).

use super::{SessionError, SessionResult, Sessions, client_chosen, user_message};
use crate::agent::Assistant;
use crate::agent::agents::Agent;
use crate::agent::commands::{self, ReviewScope};
use crate::config::Command;
use crate::conversation::{self, Waiter};
use crate::events::Event;
use crate::ids::Prefix;
use crate::model::{Message, MessageWithParts, ModelRef, Part, Session, SessionModel, UserMessage};
use crate::sandbox::{DiffBase, DiffQuery};
use crate::store::{SessionChange, SessionKey};
use crate::workspace::Workspace;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The body of `POST /session/{id}/message` and `/prompt_async`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptRequest {
    #[serde(rename = "messageID")]
    pub message_id: Option<String>,
    pub model: Option<ModelRef>,
    pub agent: Option<String>,
    #[serde(default)]
    pub no_reply: bool,
    pub tools: Option<Value>,
    pub format: Option<Value>,
    pub system: Option<String>,
    pub variant: Option<String>,
    pub parts: Vec<Map<String, Value>>,
}

/// The body of `POST /session/{id}/command`.
#[derive(Debug, Deserialize)]
pub struct CommandRequest {
    #[serde(rename = "messageID")]
    pub message_id: Option<String>,
    pub agent: Option<String>,
    /// `"provider/model"`.
    pub model: Option<String>,
    pub command: String,
    #[serde(default)]
    pub arguments: String,
    pub variant: Option<String>,
    #[serde(default)]
    pub parts: Vec<Map<String, Value>>,
}

/// What submitting a prompt started.
pub enum Submitted {
    /// `noReply`: the message is stored and nothing answers it.
    Stored(Box<MessageWithParts>),
    /// The agent is answering; the waiter yields its last message.
    Answering(Waiter),
}

impl Sessions {
    /// Stores the user's message and sets the agent answering it.
    pub async fn submit(
        &self,
        workspace: Arc<Workspace>,
        mut session: Session,
        request: PromptRequest,
    ) -> SessionResult<Submitted> {
        let no_reply = request.no_reply;
        let user = self.record_user_message(&workspace, &mut session, request).await?;
        if no_reply {
            return Ok(Submitted::Stored(Box::new(user)));
        }
        Ok(Submitted::Answering(crate::agent::turn::answer(&self.assistant, workspace, &session.id)?))
    }

    /// Stores the user's message and waits for the turn that answers it; returns
    /// the last assistant message (or, with `noReply`, the user message).
    pub async fn prompt(
        &self,
        workspace: Arc<Workspace>,
        session: Session,
        request: PromptRequest,
    ) -> SessionResult<MessageWithParts> {
        match self.submit(workspace, session, request).await? {
            Submitted::Stored(user) => Ok(*user),
            Submitted::Answering(waiter) => conversation::wait(waiter).await.map_err(SessionError::Failed),
        }
    }

    /// Expands a configured command's template and prompts with it.
    pub async fn command(
        &self,
        workspace: Arc<Workspace>,
        session: Session,
        request: CommandRequest,
    ) -> SessionResult<MessageWithParts> {
        let session_id = session.id.clone();
        let profile = self.assistant.profile(session.tenant.as_deref());
        let skill = match profile.command(&request.command) {
            Some(_) => None,
            None => self.assistant.skills(&workspace).await.remove(&request.command),
        };
        let from_skill = skill.map(|skill| Command::prompt(skill.name, skill.content, Some(skill.description)));
        // An MCP server's prompt (`server:prompt`), of the session's servers.
        let from_mcp = match (&from_skill, profile.command(&request.command)) {
            (None, None) => match self.assistant.mcp.prompt_template(&workspace, &request.command).await {
                Some(Ok(template)) => Some(Command::prompt(request.command.clone(), template, None)),
                Some(Err(error)) => return Err(SessionError::Failed(error)),
                None => None,
            },
            _ => None,
        };
        let configured = profile.command(&request.command).or(from_skill.as_ref()).or(from_mcp.as_ref());
        let configured =
            configured.ok_or_else(|| SessionError::NotFound(format!("Command not found: {}", request.command)))?;
        let mut text = expand(&configured.template, &request.arguments);
        if from_skill.is_some() && !request.arguments.trim().is_empty() {
            // A skill's instructions have no placeholders: what was typed after
            // its name follows them.
            text = format!("{text}\n\n{}", request.arguments.trim());
        }
        if let Some(scope) = commands::review_scope(configured, &request.arguments) {
            text.push_str(&self.changes_to_review(&workspace, scope).await);
        }
        let model = match request.model.as_deref().or(configured.model.as_deref()) {
            Some(model) => Some(parse_model(model)?),
            None => None,
        };
        // As the reference: the command's agent first, and a command marked
        // `subtask` (or whose agent is a subagent, unless it says
        // `"subtask": false`) runs in a child session as a subtask.
        let agent = configured.agent.clone().or(request.agent.clone());
        let named = agent.clone().or_else(|| session.agent.clone()).unwrap_or_else(|| profile.default_agent.clone());
        let by_subagent = profile.agent(&named).is_some_and(|a| a.mode == "subagent");
        let subtask = configured.subtask.unwrap_or(by_subagent);
        let (parts, agent) = if subtask {
            let mut part = json!({
                "type": "subtask",
                "agent": named,
                "description": configured.description.clone().unwrap_or_default(),
                "command": request.command,
                "prompt": text,
            });
            if let Some(model) = &model {
                part["model"] = json!({ "providerID": model.provider_id, "modelID": model.model_id });
            }
            let Value::Object(part) = part else { unreachable!("built as an object") };
            // The person's message stays the person's agent's.
            (vec![part], request.agent.filter(|a| profile.agent(a).is_some_and(|a| a.mode != "subagent")))
        } else {
            let mut parts = vec![Map::from_iter([("type".into(), json!("text")), ("text".into(), json!(text))])];
            parts.extend(request.parts);
            (parts, agent)
        };
        let prompt_request = PromptRequest {
            message_id: request.message_id,
            model,
            agent,
            no_reply: false,
            tools: None,
            format: None,
            system: None,
            variant: request.variant,
            parts,
        };
        let reply = self.prompt(workspace.clone(), session, prompt_request).await?;
        let event = Event::CommandExecuted {
            name: &request.command,
            session_id: &session_id,
            arguments: &request.arguments,
            message_id: reply.info.id(),
        };
        self.journal.publish(&workspace, event);
        Ok(reply)
    }
}

impl Sessions {
    /// What a built-in `/review` reviews, read through the sandbox.
    async fn changes_to_review(&self, workspace: &Workspace, scope: ReviewScope) -> String {
        let base = match scope {
            ReviewScope::Uncommitted => DiffBase::Head,
            ReviewScope::Branch => DiffBase::BranchPoint,
        };
        let query = DiffQuery { base, context: Some(3), patches: true };
        match self.sandbox.vcs_diff(&workspace.read_only, &query).await {
            Ok(changes) => commands::attachment(scope, &changes),
            Err(error) => format!("\n\nThe changes could not be read ({error}); find them yourself.\n"),
        }
    }
}

/// `"provider/model"` as a [`ModelRef`].
fn parse_model(text: &str) -> SessionResult<ModelRef> {
    let (provider, model) = text
        .split_once('/')
        .ok_or_else(|| SessionError::Invalid(format!("model must be \"provider/model\", got {text:?}")))?;
    Ok(ModelRef { provider_id: provider.into(), model_id: model.into(), variant: None })
}

/// Fills `$ARGUMENTS` and `$1`, `$2`, ... of a command template.
pub fn expand(template: &str, arguments: &str) -> String {
    let words: Vec<&str> = arguments.split_whitespace().collect();
    let mut text = template.replace("$ARGUMENTS", arguments);
    for (index, word) in words.iter().enumerate().rev() {
        text = text.replace(&format!("${}", index + 1), word);
    }
    text
}

/// The model a prompt (or a `!` command) is recorded with: the one it
/// names, else the session's, the agent's, the config's default.
pub(super) fn model_for(
    assistant: &Assistant,
    session: &Session,
    agent: &Agent,
    requested: Option<ModelRef>,
) -> ModelRef {
    requested
        .or_else(|| {
            let model = session.model.as_ref()?;
            Some(ModelRef { provider_id: model.provider_id.clone(), model_id: model.id.clone(), variant: None })
        })
        .or_else(|| {
            let (provider, model) = agent.model.clone()?;
            Some(ModelRef { provider_id: provider, model_id: model, variant: None })
        })
        .or_else(|| {
            let (provider, model) = assistant.providers.default_model()?;
            Some(ModelRef { provider_id: provider, model_id: model, variant: None })
        })
        .unwrap_or_else(|| ModelRef { provider_id: String::new(), model_id: String::new(), variant: None })
}

impl Sessions {
    async fn record_user_message(
        &self,
        workspace: &Workspace,
        session: &mut Session,
        request: PromptRequest,
    ) -> SessionResult<MessageWithParts> {
        for part in &request.parts {
            match part.get("type").and_then(Value::as_str) {
                Some("text" | "file" | "agent" | "subtask") => {}
                Some(other) => {
                    return Err(SessionError::Invalid(format!(
                        "unknown part type {other:?}: a prompt's parts are text, file, agent or subtask"
                    )));
                }
                None => return Err(SessionError::Invalid("every part needs a \"type\"".into())),
            }
            // Checked before anything is stored.
            super::chosen_id(Prefix::Part, part.get("id").and_then(Value::as_str).map(str::to_string))?;
        }
        let message_id = super::chosen_id(Prefix::Message, request.message_id)?;
        if let Some(id) = &message_id
            && self.store().message(SessionKey::of(session), id).await?.is_some()
        {
            return Err(SessionError::Invalid(format!("message id {id} is taken")));
        }
        let profile = self.assistant.profile(session.tenant.as_deref());
        let agent = request.agent.or_else(|| session.agent.clone()).unwrap_or_else(|| profile.default_agent.clone());
        let Some(runs_as) = profile.agent(&agent) else {
            return Err(SessionError::Invalid(format!("no agent named {agent:?}")));
        };
        let model = model_for(&self.assistant, session, runs_as, request.model);
        if let Some((message, suggestions)) =
            self.assistant.unknown_model(session.tenant.as_deref(), &model.provider_id, &model.model_id)
        {
            return Err(SessionError::ModelNotFound {
                provider_id: model.provider_id,
                model_id: model.model_id,
                suggestions,
                message,
            });
        }
        // The session remembers what it was last prompted with.
        let variant = Some(request.variant.clone().unwrap_or_else(|| "default".into()));
        let used = SessionModel { id: model.model_id.clone(), provider_id: model.provider_id.clone(), variant };
        let prompted = SessionChange::Prompted { agent: agent.clone(), model: used };
        // A prompt after a revert makes it final.
        self.drop_reverted(workspace, session).await?;
        let message = Message::User(UserMessage {
            system: request.system,
            tools: request.tools,
            format: request.format,
            variant: request.variant,
            ..user_message(session, message_id, agent, model)
        });
        self.journal.put_message(workspace, &message).await.map_err(client_chosen)?;
        let mut parts = Vec::with_capacity(request.parts.len());
        for mut body in request.parts {
            let id = body.remove("id").and_then(|id| id.as_str().map(str::to_string));
            body.remove("sessionID");
            body.remove("messageID");
            let attachment = if body.get("type").and_then(Value::as_str) == Some("file") {
                self.read_attachment(workspace, &body).await
            } else {
                None
            };
            let mut part = Part::new(&session.id, message.id(), Value::Object(body));
            if let Some(id) = id.filter(|id| Prefix::Part.matches(id)) {
                part.id = id;
            }
            self.journal.put_part(workspace, &part).await.map_err(client_chosen)?;
            parts.push(part);
            if let Some(text) = attachment {
                let part =
                    Part::new(&session.id, message.id(), json!({ "type": "text", "text": text, "synthetic": true }));
                self.journal.put_part(workspace, &part).await?;
                parts.push(part);
            }
        }
        if let Some(touched) = self.journal.change_session(workspace, &session.id, prompted).await? {
            *session = touched;
        }
        Ok(MessageWithParts { info: message, parts })
    }

    /// An attachment's content as the text the model sees: a `file://`
    /// one read through the sandbox, a `data:` one decoded (as the reference
    /// does for `opencode run -f`); `None` for images, which travel as they are.
    async fn read_attachment(&self, workspace: &Workspace, part: &Map<String, Value>) -> Option<String> {
        let url = part.get("url")?.as_str()?;
        let mime = part.get("mime").and_then(Value::as_str).unwrap_or("text/plain");
        if mime.starts_with("image/") {
            return None;
        }
        if let Some(data) = url.strip_prefix("data:") {
            let name = part.get("filename").and_then(Value::as_str).unwrap_or("the attachment");
            let said = format!("Called the Read tool with the following input: {}", json!({ "filePath": name }));
            return Some(match decode_data_url(data) {
                Some(text) => format!("{said}\n\n{text}"),
                None => format!("{said}\n\n[Binary content: {mime}; not sent to the model]"),
            });
        }
        let encoded = url.strip_prefix("file://")?;
        let path = percent_encoding::percent_decode_str(encoded).decode_utf8_lossy().into_owned();
        let (tool, arguments) = if mime == "application/x-directory" {
            ("list", json!({ "path": path }))
        } else {
            ("read", json!({ "filePath": path }))
        };
        let said = format!("Called the {tool} tool with the following input: {arguments}");
        Some(match self.sandbox.call(tool, &arguments.to_string(), &workspace.read_only).await {
            Ok(result) => format!("{said}\n\n{}", result.output),
            Err(error) => format!("{said}\n\nIt failed: {error}"),
        })
    }
}

/// The text a `data:` URL (after the scheme) carries, or `None` when it is
/// malformed or not text (not UTF-8, or holding NUL bytes).
fn decode_data_url(data: &str) -> Option<String> {
    use base64::Engine;
    let (header, payload) = data.split_once(',')?;
    let bytes = if header.split(';').any(|p| p.eq_ignore_ascii_case("base64")) {
        let clean: String = payload.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let clean = percent_encoding::percent_decode_str(&clean).decode_utf8().ok()?.into_owned();
        base64::engine::general_purpose::STANDARD_NO_PAD.decode(clean.trim_end_matches('=')).ok()?
    } else {
        percent_encoding::percent_decode_str(payload).collect()
    };
    let text = String::from_utf8(bytes).ok()?;
    (!text.contains('\0')).then_some(text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn data_urls_decode_to_their_text() {
        assert_eq!(super::decode_data_url("text/plain;base64,aGVsbG8K").as_deref(), Some("hello\n"));
        assert_eq!(super::decode_data_url("text/plain;base64,aGk=").as_deref(), Some("hi"));
        assert_eq!(super::decode_data_url("text/plain,a%20b").as_deref(), Some("a b"));
        assert_eq!(super::decode_data_url(";base64,AAEC"), None, "binary is not text");
        assert_eq!(super::decode_data_url("no comma"), None);
    }

    #[test]
    fn templates_take_all_arguments_and_positional_ones() {
        assert_eq!(super::expand("Say hello to $ARGUMENTS", "world"), "Say hello to world");
        assert_eq!(super::expand("$2 then $1", "a b"), "b then a");
    }
}
