//! `/tui/*`: what editor extensions and scripts use to drive an attached
//! TUI. Each route publishes a `tui.*` event on the caller's directory,
//! which every TUI attached there acts on (appends to its prompt, runs a
//! command, shows a notice, opens a session), and answers `true`, as the
//! reference does. The server keeps no TUI state of its own.

use super::auth::Caller;
use super::error::{ApiError, ApiResult, Field};
use super::extract::{Instance, JsonBody, checked_field};
use crate::app::App;
use crate::events::Event;
use crate::ids::Prefix;
use crate::store::SessionKey;
use crate::workspace::Workspace;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/tui/append-prompt", post(append_prompt))
        .route("/tui/open-help", post(|app, instance| command(app, instance, "help.show")))
        .route("/tui/open-sessions", post(|app, instance| command(app, instance, "session.list")))
        .route("/tui/open-themes", post(|app, instance| command(app, instance, "theme.switch")))
        .route("/tui/open-models", post(|app, instance| command(app, instance, "model.list")))
        .route("/tui/submit-prompt", post(|app, instance| command(app, instance, "prompt.submit")))
        .route("/tui/clear-prompt", post(|app, instance| command(app, instance, "prompt.clear")))
        .route("/tui/execute-command", post(execute_command))
        .route("/tui/show-toast", post(show_toast))
        .route("/tui/publish", post(publish))
        .route("/tui/select-session", post(select_session))
}

/// Publishes `event` to the TUIs attached to `workspace`.
fn tell(app: &App, workspace: &Workspace, event: Event<'_>) -> Json<bool> {
    app.bus.publish(&workspace.scope(), event);
    Json(true)
}

async fn command(State(app): State<Arc<App>>, Instance(workspace): Instance, command: &str) -> Json<bool> {
    tell(&app, &workspace, Event::TuiCommandExecute { command })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppendPrompt {
    text: String,
}

async fn append_prompt(
    State(app): State<Arc<App>>,
    Instance(workspace): Instance,
    JsonBody(body): JsonBody<AppendPrompt>,
) -> Json<bool> {
    tell(&app, &workspace, Event::TuiPromptAppend { text: &body.text })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecuteCommand {
    command: String,
}

/// The names older clients use for the TUI's commands.
fn current_name(command: &str) -> &str {
    match command {
        "session_new" => "session.new",
        "session_share" => "session.share",
        "session_interrupt" => "session.interrupt",
        "session_compact" => "session.compact",
        "messages_page_up" => "session.page.up",
        "messages_page_down" => "session.page.down",
        "messages_line_up" => "session.line.up",
        "messages_line_down" => "session.line.down",
        "messages_half_page_up" => "session.half.page.up",
        "messages_half_page_down" => "session.half.page.down",
        "messages_first" => "session.first",
        "messages_last" => "session.last",
        "agent_cycle" => "agent.cycle",
        other => other,
    }
}

async fn execute_command(
    State(app): State<Arc<App>>,
    Instance(workspace): Instance,
    JsonBody(body): JsonBody<ExecuteCommand>,
) -> Json<bool> {
    tell(&app, &workspace, Event::TuiCommandExecute { command: current_name(&body.command) })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Toast {
    title: Option<String>,
    message: String,
    variant: String,
    duration: Option<u64>,
}

async fn show_toast(
    State(app): State<Arc<App>>,
    Instance(workspace): Instance,
    JsonBody(toast): JsonBody<Toast>,
) -> ApiResult<Json<bool>> {
    toast_event(&app, &workspace, toast)
}

fn toast_event(app: &App, workspace: &Workspace, toast: Toast) -> ApiResult<Json<bool>> {
    if !matches!(toast.variant.as_str(), "info" | "success" | "warning" | "error") {
        return Err(ApiError::bad(Field::Payload, "variant must be \"info\", \"success\", \"warning\" or \"error\""));
    }
    if toast.duration == Some(0) {
        return Err(ApiError::bad(Field::Payload, "duration must be more than 0"));
    }
    let event = Event::TuiToastShow {
        title: toast.title.as_deref(),
        message: &toast.message,
        variant: &toast.variant,
        duration: toast.duration,
    };
    Ok(tell(app, workspace, event))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Published {
    #[serde(rename = "type")]
    kind: String,
    properties: Map<String, Value>,
}

/// Any of the four `tui.*` events, given whole.
async fn publish(
    State(app): State<Arc<App>>,
    caller: Caller,
    Instance(workspace): Instance,
    JsonBody(event): JsonBody<Published>,
) -> ApiResult<Json<bool>> {
    let properties = Value::Object(event.properties);
    let malformed = |e: serde_json::Error| ApiError::bad(Field::Payload, format!("{}: {e}", event.kind));
    match event.kind.as_str() {
        "tui.prompt.append" => {
            let body: AppendPrompt = serde_json::from_value(properties).map_err(malformed)?;
            Ok(tell(&app, &workspace, Event::TuiPromptAppend { text: &body.text }))
        }
        "tui.command.execute" => {
            let body: ExecuteCommand = serde_json::from_value(properties).map_err(malformed)?;
            Ok(tell(&app, &workspace, Event::TuiCommandExecute { command: current_name(&body.command) }))
        }
        "tui.toast.show" => toast_event(&app, &workspace, serde_json::from_value(properties).map_err(malformed)?),
        "tui.session.select" => {
            let body: SelectSession = serde_json::from_value(properties).map_err(malformed)?;
            selected(&app, &caller, &workspace, &body.session_id).await
        }
        other => Err(ApiError::bad(
            Field::Payload,
            format!(
                "type must be tui.prompt.append, tui.command.execute, tui.toast.show or tui.session.select, got {other:?}"
            ),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SelectSession {
    #[serde(rename = "sessionID")]
    session_id: String,
}

async fn select_session(
    State(app): State<Arc<App>>,
    caller: Caller,
    Instance(workspace): Instance,
    JsonBody(body): JsonBody<SelectSession>,
) -> ApiResult<Json<bool>> {
    selected(&app, &caller, &workspace, &body.session_id).await
}

/// Opens a session of the caller's in its TUIs; one it cannot see is not
/// found, whoever else's it is.
async fn selected(app: &App, caller: &Caller, workspace: &Workspace, session_id: &str) -> ApiResult<Json<bool>> {
    checked_field(Prefix::Session, session_id, "sessionID")?;
    let found = app.store.session(session_id).await?;
    let owner = caller.0.name();
    if found.is_none_or(|s| SessionKey::of(&s).owner != owner) {
        return Err(ApiError::NotFound(format!("Session not found: {session_id}")));
    }
    Ok(tell(app, workspace, Event::TuiSessionSelect { session_id }))
}
