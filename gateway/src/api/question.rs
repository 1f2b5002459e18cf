//! `/question`: the questions the model asked that wait for a person (the
//! TUI's question dialog lists them, answers or dismisses them).

use super::auth::Caller;
use super::error::{ApiError, ApiResult, Field};
use super::extract::{JsonBody, checked};
use crate::agent::question::ReplyError;
use crate::app::App;
use crate::ids::Prefix;
use crate::model::QuestionRequest;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/question", get(list))
        .route("/question/{requestID}/reply", post(reply))
        .route("/question/{requestID}/reject", post(reject))
}

async fn list(State(app): State<Arc<App>>, Caller(tenant): Caller) -> Json<Vec<QuestionRequest>> {
    Json(app.assistant.questions.list(tenant.name()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reply {
    /// One list of chosen labels per question.
    answers: Vec<Vec<String>>,
}

async fn reply(
    State(app): State<Arc<App>>,
    Caller(tenant): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Reply>,
) -> ApiResult<Json<bool>> {
    checked(Prefix::Question, &id)?;
    app.assistant.questions.reply(&app.bus, tenant.name(), &id, body.answers).map_err(|e| match e {
        ReplyError::NotFound(e) => ApiError::NotFound(e.to_string()),
        ReplyError::Unfit(e) => ApiError::bad(Field::Payload, e.to_string()),
    })?;
    Ok(Json(true))
}

async fn reject(State(app): State<Arc<App>>, Caller(tenant): Caller, Path(id): Path<String>) -> ApiResult<Json<bool>> {
    checked(Prefix::Question, &id)?;
    app.assistant.questions.reject(&app.bus, tenant.name(), &id).map_err(|e| ApiError::NotFound(e.to_string()))?;
    Ok(Json(true))
}
