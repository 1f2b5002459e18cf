//! `PUT` and `DELETE /auth/{providerID}`: the caller's own key for a model
//! provider, as the TUI's `/connect` sets it.
//!
//! A key belongs to whoever set it, a tenant or the server's own user, and
//! is used for that owner's turns only (see [`crate::keyring`]). No route
//! serves a key back. Of the reference's three kinds of credential only an
//! API key can be set here: OAuth and well-known logins need the
//! reference's provider plugins, so they are refused with a clear message.

use super::auth::Caller;
use super::error::{ApiError, ApiResult, Field};
use super::extract::JsonBody;
use crate::app::App;
use crate::keyring::{Keyring, KeyringError};
use axum::extract::{Path, State};
use axum::routing::put;
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/auth/{provider}", put(set).delete(remove))
}

/// The reference's `Auth` body, by its `type`.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Credential {
    Api {
        key: String,
    },
    #[serde(rename = "oauth")]
    OAuth {},
    #[serde(rename = "wellknown")]
    WellKnown {},
}

async fn set(
    State(app): State<Arc<App>>,
    Caller(tenant): Caller,
    Path(provider): Path<String>,
    JsonBody(credential): JsonBody<Credential>,
) -> ApiResult<Json<bool>> {
    let key = match credential {
        Credential::Api { key } => key,
        Credential::OAuth {} | Credential::WellKnown {} => {
            return Err(ApiError::bad(
                Field::Payload,
                "only an API key can be set here ({\"type\":\"api\",\"key\":\"...\"}); OAuth and well-known logins \
                 are not supported by this server",
            ));
        }
    };
    let keyring = keyring(&app)?;
    let owner = tenant.name().map(str::to_string);
    blocking(move || keyring.set(owner.as_deref(), &provider, &key)).await?;
    Ok(Json(true))
}

async fn remove(
    State(app): State<Arc<App>>,
    Caller(tenant): Caller,
    Path(provider): Path<String>,
) -> ApiResult<Json<bool>> {
    let keyring = keyring(&app)?;
    let owner = tenant.name().map(str::to_string);
    blocking(move || keyring.remove(owner.as_deref(), &provider)).await?;
    Ok(Json(true))
}

fn keyring(app: &App) -> ApiResult<Arc<Keyring>> {
    app.keyring()
        .ok_or_else(|| ApiError::Unavailable("this server keeps no provider keys (it has no data folder)".into()))
}

/// Runs a keyring operation off the request threads.
async fn blocking<T: Send + 'static>(
    operation: impl FnOnce() -> Result<T, KeyringError> + Send + 'static,
) -> ApiResult<T> {
    match tokio::task::spawn_blocking(operation).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(KeyringError::Invalid(message))) => Err(ApiError::bad(Field::Payload, message)),
        Ok(Err(error @ KeyringError::Failed { .. })) => {
            // The detail names the data folder: the log's, not the caller's.
            tracing::error!("{error}");
            Err(ApiError::Internal("the provider key could not be kept; the server's log says why".into()))
        }
        Err(_) => Err(ApiError::Internal("the keyring task failed".into())),
    }
}
