//! `POST /session/{id}/summarize`: compaction on request (the TUI's
//! `/compact`). The request is a user message whose one part is
//! `compaction`; the session's run then writes the summary (see
//! [`crate::agent::compaction`]), and the route answers once it is written.

use super::{SessionError, SessionResult, Sessions, user_message};
use crate::conversation::{self, Busy};
use crate::model::{Message, ModelRef, Part, Session};
use crate::workspace::Workspace;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The body of `POST /session/{id}/summarize`.
#[derive(Debug, Deserialize)]
pub struct SummarizeRequest {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    #[serde(rename = "modelID")]
    pub model_id: String,
    /// Whether it counts as automatic (the model is then told to carry on).
    #[serde(default)]
    pub auto: bool,
}

impl Sessions {
    /// Compacts `session` with the model the request names; refused while
    /// the session runs.
    pub async fn compact(
        &self,
        workspace: Arc<Workspace>,
        mut session: Session,
        request: SummarizeRequest,
    ) -> SessionResult<bool> {
        if self.runs.is_busy(&session.id) {
            return Err(Busy(session.id).into());
        }
        let owner = session.tenant.as_deref();
        if let Some((message, suggestions)) =
            self.assistant.unknown_model(owner, &request.provider_id, &request.model_id)
        {
            return Err(SessionError::ModelNotFound {
                provider_id: request.provider_id,
                model_id: request.model_id,
                suggestions,
                message,
            });
        }
        let profile = self.assistant.profile(owner);
        let agent = session.agent.clone().unwrap_or_else(|| profile.default_agent.clone());
        let model = ModelRef { provider_id: request.provider_id, model_id: request.model_id, variant: None };
        // Compacting after a revert makes it final, as a prompt does.
        self.drop_reverted(&workspace, &mut session).await?;
        let message = user_message(&session, None, agent, model);
        self.journal.put_message(&workspace, &Message::User(message.clone())).await?;
        let part = Part::new(&session.id, &message.id, json!({ "type": "compaction", "auto": request.auto }));
        self.journal.put_part(&workspace, &part).await?;
        let waiter = crate::agent::turn::answer(&self.assistant, workspace, &session.id)?;
        conversation::wait(waiter).await.map_err(SessionError::Failed)?;
        Ok(true)
    }
}
