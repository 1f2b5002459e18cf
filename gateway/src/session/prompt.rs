//! Prompts and slash commands: the user's message is stored and published,
//! then the model answers.
//!
//! The model side (providers, the agent loop, tool calls) is not here yet:
//! until a provider is configured, a prompt records the user's message and
//! ends the turn with an assistant message that carries a clear error, with
//! the same events a failed provider call produces in the reference
//! (`message.updated` with `error`, `session.error`, then idle).

use super::shell::{put_assistant, put_part};
use super::{get, touch};
use crate::api::error::{ApiError, ApiResult, Field};
use crate::app::App;
use crate::ids::{self, Prefix};
use crate::model::{
    AssistantMessage, Message, MessageError, MessagePath, MessageTime, MessageWithParts, ModelRef, Part, Session,
    Tokens, UserMessage,
};
use crate::workspace::Workspace;
use serde::Deserialize;
use serde_json::{Map, Value, json};

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

/// Stores the user's message and runs the turn; returns the last assistant
/// message (or, with `noReply`, the user message).
pub async fn prompt(
    app: &App,
    workspace: &Workspace,
    session_id: &str,
    request: PromptRequest,
) -> ApiResult<MessageWithParts> {
    let mut session = get(app, session_id).await?;
    let no_reply = request.no_reply;
    let user = record_user_message(app, workspace, &mut session, request).await?;
    if no_reply {
        return Ok(user);
    }
    answer(app, workspace, &session, &user).await
}

/// Expands a configured command's template and prompts with it.
pub async fn command(
    app: &App,
    workspace: &Workspace,
    session_id: &str,
    request: CommandRequest,
) -> ApiResult<MessageWithParts> {
    let template = app
        .config
        .get("command")
        .and_then(|commands| commands.get(&request.command))
        .and_then(|command| command.get("template"))
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::NotFound(format!("Command not found: {}", request.command)))?;
    let text = expand(template, &request.arguments);
    let model = match request.model.as_deref().map(parse_model).transpose()? {
        Some(model) => Some(model),
        None => configured_command_model(app, &request.command),
    };
    let mut parts = vec![Map::from_iter([("type".into(), json!("text")), ("text".into(), json!(text))])];
    parts.extend(request.parts);
    let prompt_request = PromptRequest {
        message_id: request.message_id,
        model,
        agent: request.agent,
        no_reply: false,
        tools: None,
        format: None,
        system: None,
        variant: request.variant,
        parts,
    };
    let mut session = get(app, session_id).await?;
    let user = record_user_message(app, workspace, &mut session, prompt_request).await?;
    let reply = answer(app, workspace, &session, &user).await?;
    app.publish(
        workspace,
        "command.executed",
        json!({ "name": request.command, "sessionID": session_id, "arguments": request.arguments, "messageID": user.info.id() }),
    );
    Ok(reply)
}

fn configured_command_model(app: &App, command: &str) -> Option<ModelRef> {
    let text = app.config.get("command")?.get(command)?.get("model")?.as_str()?;
    parse_model(text).ok()
}

/// `"provider/model"` as a [`ModelRef`].
fn parse_model(text: &str) -> ApiResult<ModelRef> {
    let (provider, model) = text
        .split_once('/')
        .ok_or_else(|| ApiError::bad(Field::Payload, format!("model must be \"provider/model\", got {text:?}")))?;
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

/// The model a prompt uses: the one it names, the session's, the config's.
fn model_for(app: &App, session: &Session, requested: Option<ModelRef>) -> ModelRef {
    requested
        .or_else(|| {
            let model = session.model.as_ref()?;
            Some(ModelRef { provider_id: model.provider_id.clone(), model_id: model.id.clone(), variant: None })
        })
        .or_else(|| app.config.get("model").and_then(Value::as_str).and_then(|m| parse_model(m).ok()))
        .unwrap_or_else(|| ModelRef { provider_id: String::new(), model_id: String::new(), variant: None })
}

async fn record_user_message(
    app: &App,
    workspace: &Workspace,
    session: &mut Session,
    request: PromptRequest,
) -> ApiResult<MessageWithParts> {
    if request.parts.iter().any(|part| !part.get("type").is_some_and(Value::is_string)) {
        return Err(ApiError::bad(Field::Payload, "every part needs a \"type\""));
    }
    let message = Message::User(UserMessage {
        id: request.message_id.filter(|id| Prefix::Message.matches(id)).unwrap_or_else(|| ids::new(Prefix::Message)),
        session_id: session.id.clone(),
        time: MessageTime { created: ids::now_millis(), completed: None },
        summary: None,
        agent: request.agent.or_else(|| session.agent.clone()).unwrap_or_else(|| "build".into()),
        model: model_for(app, session, request.model),
        system: request.system,
        tools: request.tools,
        format: request.format,
        variant: request.variant,
    });
    app.store.put_message(&message).await?;
    app.publish(workspace, "message.updated", json!({ "sessionID": session.id, "info": message }));
    let mut parts = Vec::with_capacity(request.parts.len());
    for mut body in request.parts {
        let id = body.remove("id").and_then(|id| id.as_str().map(str::to_string));
        body.remove("sessionID");
        body.remove("messageID");
        let mut part = Part::new(&session.id, message.id(), Value::Object(body));
        if let Some(id) = id.filter(|id| Prefix::Part.matches(id)) {
            part.id = id;
        }
        put_part(app, workspace, &part).await?;
        parts.push(part);
    }
    touch(app, workspace, session).await?;
    Ok(MessageWithParts { info: message, parts })
}

/// The model's answer to `user`. No provider is wired in yet, so the turn
/// ends at once with an assistant message that says so.
async fn answer(
    app: &App,
    workspace: &Workspace,
    session: &Session,
    user: &MessageWithParts,
) -> ApiResult<MessageWithParts> {
    let Message::User(user_info) = &user.info else { unreachable!("answers follow user messages") };
    let run = app.runs.start(&session.id)?;
    let status = |kind: &str| json!({ "sessionID": session.id, "status": { "type": kind } });
    app.publish(workspace, "session.status", status("busy"));
    let now = ids::now_millis();
    let error = MessageError::new(
        "ProviderAuthError",
        "No model provider is configured. Add one under \"provider\" in the config file (opencode.json's format) \
         and pass it with --config; file, search and shell routes work without one.",
    );
    let mut error_data = error.data.clone();
    error_data["providerID"] = json!(user_info.model.provider_id);
    let error = MessageError { name: error.name, data: error_data };
    let assistant = AssistantMessage {
        id: ids::new(Prefix::Message),
        session_id: session.id.clone(),
        time: MessageTime { created: now, completed: Some(now) },
        parent_id: user.info.id().to_string(),
        model_id: user_info.model.model_id.clone(),
        provider_id: user_info.model.provider_id.clone(),
        mode: user_info.agent.clone(),
        agent: user_info.agent.clone(),
        path: MessagePath { cwd: workspace.directory.clone(), root: workspace.project.worktree.clone() },
        cost: 0.0,
        tokens: Tokens::default(),
        finish: None,
        error: Some(error.clone()),
        summary: None,
        variant: None,
    };
    put_assistant(app, workspace, &assistant).await?;
    app.publish(workspace, "session.error", json!({ "sessionID": session.id, "error": error }));
    drop(run);
    app.publish(workspace, "session.status", status("idle"));
    app.publish(workspace, "session.idle", json!({ "sessionID": session.id }));
    Ok(MessageWithParts { info: Message::Assistant(assistant), parts: Vec::new() })
}

#[cfg(test)]
mod tests {
    #[test]
    fn templates_take_all_arguments_and_positional_ones() {
        assert_eq!(super::expand("Say hello to $ARGUMENTS", "world"), "Say hello to world");
        assert_eq!(super::expand("$2 then $1", "a b"), "b then a");
    }
}
