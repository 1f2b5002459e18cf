//! Questions the model asks a person (the `question` tool): pending until
//! `POST /question/{id}/reply` or `/reject`, or until the run is aborted,
//! which withdraws them.
//!
//! A request lives only in memory, like a permission request: after a
//! restart nothing waits for it. Another tenant's request is not found,
//! exactly as a missing one.

use crate::events::{Bus, Event, Scope};
use crate::ids::{self, Prefix};
use crate::model::{PermissionTool, QuestionInfo, QuestionRequest};
use crate::workspace::Workspace;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// How a question ended: the chosen labels, one list per question, or
/// `None` when the person dismissed it (or the run was aborted).
pub type Answer = Option<Vec<Vec<String>>>;

struct Pending {
    request: QuestionRequest,
    scope: Scope,
    answer: oneshot::Sender<Answer>,
}

/// The questions waiting for an answer.
#[derive(Default)]
pub struct Questions {
    pending: Mutex<HashMap<String, Pending>>,
}

/// No such question where the caller may see it.
#[derive(Debug, thiserror::Error)]
#[error("Question not found: {0}")]
pub struct NotFound(pub String);

/// The reply does not fit the question.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unfit(pub String);

/// Why a reply was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error(transparent)]
    NotFound(#[from] NotFound),
    #[error(transparent)]
    Unfit(#[from] Unfit),
}

impl Questions {
    /// Publishes `question.asked` and returns the channel its answer
    /// arrives on.
    pub fn ask(
        &self,
        bus: &Bus,
        workspace: &Workspace,
        session_id: &str,
        questions: Vec<QuestionInfo>,
        tool: PermissionTool,
    ) -> oneshot::Receiver<Answer> {
        let id = ids::new(Prefix::Question);
        let request = QuestionRequest { id: id.clone(), session_id: session_id.to_string(), questions, tool };
        let (answer, receiver) = oneshot::channel();
        let pending = Pending { request: request.clone(), scope: workspace.scope(), answer };
        // Waiting before it is announced: a reply may come at once.
        self.lock().insert(id, pending);
        bus.publish(&workspace.scope(), Event::QuestionAsked(&request));
        receiver
    }

    /// Answers request `id` with one list of labels per question (a label
    /// the question does not offer is the person's own words, where the
    /// question takes them).
    pub fn reply(
        &self,
        bus: &Bus,
        tenant: Option<&str>,
        id: &str,
        answers: Vec<Vec<String>>,
    ) -> Result<(), ReplyError> {
        let mut pending = self.lock();
        let Some(found) = pending.get(id).filter(|p| visible(p, tenant)) else {
            return Err(NotFound(id.to_string()).into());
        };
        fits(&found.request.questions, &answers)?;
        let found = pending.remove(id).expect("looked up above");
        drop(pending);
        let request = &found.request;
        let event = Event::QuestionReplied { session_id: &request.session_id, request_id: id, answers: &answers };
        bus.publish(&found.scope, event);
        let _ = found.answer.send(Some(answers));
        Ok(())
    }

    /// Dismisses request `id`.
    pub fn reject(&self, bus: &Bus, tenant: Option<&str>, id: &str) -> Result<(), NotFound> {
        let mut pending = self.lock();
        if pending.get(id).is_none_or(|p| !visible(p, tenant)) {
            return Err(NotFound(id.to_string()));
        }
        let found = pending.remove(id).expect("looked up above");
        drop(pending);
        dismiss(bus, found);
        Ok(())
    }

    /// Withdraws every question of `session` (its run was aborted).
    pub fn withdraw(&self, bus: &Bus, session: &str) {
        let withdrawn: Vec<Pending> = {
            let mut pending = self.lock();
            let ids: Vec<String> =
                pending.iter().filter(|(_, p)| p.request.session_id == session).map(|(id, _)| id.clone()).collect();
            ids.iter().filter_map(|id| pending.remove(id)).collect()
        };
        for found in withdrawn {
            dismiss(bus, found);
        }
    }

    /// The questions waiting now (`GET /question`), oldest first.
    pub fn list(&self, tenant: Option<&str>) -> Vec<QuestionRequest> {
        let pending = self.lock();
        let mut list: Vec<&Pending> = pending.values().filter(|p| visible(p, tenant)).collect();
        list.sort_by(|a, b| a.request.id.cmp(&b.request.id));
        list.into_iter().map(|p| p.request.clone()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn visible(pending: &Pending, tenant: Option<&str>) -> bool {
    pending.scope.tenant().map(String::as_str) == tenant
}

/// Publishes `question.rejected` and wakes the call with no answer.
fn dismiss(bus: &Bus, found: Pending) {
    let request = &found.request;
    bus.publish(&found.scope, Event::QuestionRejected { session_id: &request.session_id, request_id: &request.id });
    let _ = found.answer.send(None);
}

/// Whether `answers` fit `questions`: one list each, one label unless the
/// question takes several, and only offered labels unless it takes the
/// person's own words.
fn fits(questions: &[QuestionInfo], answers: &[Vec<String>]) -> Result<(), Unfit> {
    if answers.len() != questions.len() {
        return Err(Unfit(format!("{} questions were asked, {} answered", questions.len(), answers.len())));
    }
    for (question, chosen) in questions.iter().zip(answers) {
        if chosen.len() > 1 && question.multiple != Some(true) {
            return Err(Unfit(format!("{:?} takes one answer, {} given", question.header, chosen.len())));
        }
        let offered = |label: &String| question.options.iter().any(|o| &o.label == label);
        if question.custom == Some(false)
            && let Some(other) = chosen.iter().find(|label| !offered(label))
        {
            return Err(Unfit(format!("{:?} offers no answer {other:?}", question.header)));
        }
    }
    Ok(())
}
