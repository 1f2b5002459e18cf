//! The `question` tool: the model asks the person one or more questions,
//! each with answers to choose from, and waits for the reply the TUI's
//! question dialog sends (see [`crate::agent::question`]). Dismissing it
//! ends the turn, as rejecting a permission does; an abort withdraws it.

use super::{Context, Outcome, ToolSource, failed};
use crate::agent::provider::{ToolCall, ToolDefinition};
use crate::model::{Part, PermissionTool, QuestionInfo};
use serde_json::{Value, json};

const NAME: &str = "question";
/// The most questions one call may ask, and answers one question may offer.
const MAX_QUESTIONS: usize = 10;
const MAX_OPTIONS: usize = 20;

/// The `question` tool.
pub struct QuestionTool;

#[async_trait::async_trait]
impl ToolSource for QuestionTool {
    async fn definitions(&self, _workspace: &crate::workspace::Workspace) -> Vec<ToolDefinition> {
        vec![ToolDefinition {
            name: NAME.into(),
            description: "Asks the user one or more questions and waits for the answers. Use it when a choice is \
                          theirs to make (a preference, an ambiguous instruction, a trade-off) rather than guessing. \
                          Offer the likely answers as options, recommended one first; the user may also type their own."
                .into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "questions": {
                        "type": "array",
                        "description": "The questions to ask",
                        "items": {
                            "type": "object",
                            "properties": {
                                "question": { "type": "string", "description": "The whole question" },
                                "header": { "type": "string", "description": "A very short label (at most 30 characters)" },
                                "options": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "label": { "type": "string", "description": "The answer, in 1-5 words" },
                                            "description": { "type": "string", "description": "What choosing it means" },
                                        },
                                        "required": ["label", "description"],
                                    },
                                },
                                "multiple": { "type": "boolean", "description": "Whether several answers may be chosen" },
                            },
                            "required": ["question", "header", "options"],
                        },
                    },
                },
                "required": ["questions"],
            }),
        }]
    }

    fn offers(&self, name: &str) -> bool {
        name == NAME
    }

    async fn run(&self, context: &Context<'_>, call: &ToolCall, _part: &Part) -> Outcome {
        let questions = match asked(&call.input) {
            Ok(questions) => questions,
            Err(error) => return failed(error),
        };
        let assistant = context.assistant;
        let tool = PermissionTool { message_id: context.message_id.to_string(), call_id: call.id.clone() };
        let waiting = assistant.questions.ask(
            assistant.journal.bus(),
            context.workspace,
            context.session_id,
            questions.clone(),
            tool,
        );
        let answers = tokio::select! {
            answer = waiting => answer.ok().flatten(),
            () = context.cancel.cancelled() => {
                assistant.questions.withdraw(assistant.journal.bus(), context.session_id);
                return Outcome::Aborted;
            }
        };
        let Some(answers) = answers else {
            return if context.cancel.is_cancelled() { Outcome::Aborted } else { Outcome::Dismissed };
        };
        let said: Vec<String> = questions
            .iter()
            .zip(&answers)
            .map(|(q, a)| {
                let answer = if a.is_empty() { "Unanswered".to_string() } else { a.join(", ") };
                format!("\"{}\"=\"{answer}\"", q.question)
            })
            .collect();
        let count = questions.len();
        Outcome::Completed {
            title: format!("Asked {count} question{}", if count == 1 { "" } else { "s" }),
            output: format!(
                "User has answered your questions: {}. You can now continue with the user's answers in mind.",
                said.join(", ")
            ),
            metadata: json!({ "answers": answers }),
        }
    }
}

/// The questions of a call, or why they cannot be asked.
fn asked(input: &Value) -> Result<Vec<QuestionInfo>, String> {
    let questions = input.get("questions").cloned().unwrap_or(Value::Null);
    let questions: Vec<QuestionInfo> = serde_json::from_value(questions)
        .map_err(|e| format!("The questions are not in the expected shape ({e}). Call question again with a list of {{question, header, options}}."))?;
    if questions.is_empty() || questions.len() > MAX_QUESTIONS {
        return Err(format!("Ask between 1 and {MAX_QUESTIONS} questions at once."));
    }
    if let Some(q) = questions.iter().find(|q| q.options.len() > MAX_OPTIONS) {
        return Err(format!("The question {:?} offers more than {MAX_OPTIONS} answers.", q.header));
    }
    Ok(questions)
}
