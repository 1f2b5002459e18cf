//! Every event the server publishes, as one enum with typed payloads in the
//! reference's shapes (PROTOCOL.md §5), so a publisher cannot misspell an
//! event's name or leave out a field the TUI reads.
//!
//! Payloads borrow what they carry: publishing renders them once (see
//! [`super::Bus::publish`]) and keeps nothing.

use crate::model::{
    FileDiff, Message, MessageError, Part, PermissionRequest, QuestionRequest, Session, SessionStatus, Todo,
};
use serde::Serialize;

/// One event's `type` and `properties`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Event<'a> {
    /// `session.created`
    SessionCreated {
        #[serde(rename = "sessionID")]
        session_id: &'a str,
        info: &'a Session,
    },
    /// `session.updated`
    SessionUpdated {
        #[serde(rename = "sessionID")]
        session_id: &'a str,
        info: &'a Session,
    },
    /// `session.deleted`
    SessionDeleted {
        #[serde(rename = "sessionID")]
        session_id: &'a str,
        info: &'a Session,
    },
    /// `session.status`: busy, retrying or idle.
    SessionStatus {
        #[serde(rename = "sessionID")]
        session_id: &'a str,
        status: &'a SessionStatus,
    },
    /// `session.idle` (deprecated by the reference, still sent after idle).
    SessionIdle {
        #[serde(rename = "sessionID")]
        session_id: &'a str,
    },
    /// `session.diff`: the files the session (or a revert) changed.
    SessionDiff {
        #[serde(rename = "sessionID")]
        session_id: &'a str,
        diff: &'a [FileDiff],
    },
    /// `session.compacted`: a summary now stands for the conversation before it.
    SessionCompacted {
        #[serde(rename = "sessionID")]
        session_id: &'a str,
    },
    /// `session.error`
    SessionError {
        #[serde(rename = "sessionID")]
        session_id: &'a str,
        error: &'a MessageError,
    },
    /// `message.updated`
    MessageUpdated {
        #[serde(rename = "sessionID")]
        session_id: &'a str,
        info: &'a Message,
    },
    /// `message.removed`: a reverted message dropped by the next prompt.
    MessageRemoved {
        #[serde(rename = "sessionID")]
        session_id: &'a str,
        #[serde(rename = "messageID")]
        message_id: &'a str,
    },
    /// `message.part.removed`
    PartRemoved {
        #[serde(rename = "sessionID")]
        session_id: &'a str,
        #[serde(rename = "messageID")]
        message_id: &'a str,
        #[serde(rename = "partID")]
        part_id: &'a str,
    },
    /// `message.part.updated`
    PartUpdated {
        #[serde(rename = "sessionID")]
        session_id: &'a str,
        part: &'a Part,
        time: i64,
    },
    /// `message.part.delta`: a chunk of a streaming part's `field`.
    PartDelta {
        #[serde(rename = "sessionID")]
        session_id: &'a str,
        #[serde(rename = "messageID")]
        message_id: &'a str,
        #[serde(rename = "partID")]
        part_id: &'a str,
        field: &'a str,
        delta: &'a str,
    },
    /// `permission.asked`
    PermissionAsked(&'a PermissionRequest),
    /// `permission.replied`
    PermissionReplied {
        #[serde(rename = "sessionID")]
        session_id: &'a str,
        #[serde(rename = "requestID")]
        request_id: &'a str,
        reply: &'a str,
    },
    /// `question.asked`
    QuestionAsked(&'a QuestionRequest),
    /// `question.replied`: one list of chosen labels per question.
    QuestionReplied {
        #[serde(rename = "sessionID")]
        session_id: &'a str,
        #[serde(rename = "requestID")]
        request_id: &'a str,
        answers: &'a [Vec<String>],
    },
    /// `question.rejected`: dismissed, or withdrawn by an abort.
    QuestionRejected {
        #[serde(rename = "sessionID")]
        session_id: &'a str,
        #[serde(rename = "requestID")]
        request_id: &'a str,
    },
    /// `todo.updated`
    TodoUpdated {
        #[serde(rename = "sessionID")]
        session_id: &'a str,
        todos: &'a [Todo],
    },
    /// `file.edited`
    FileEdited { file: &'a str },
    /// `tui.toast.show`: a notice an attached TUI shows.
    TuiToastShow {
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<&'a str>,
        message: &'a str,
        variant: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        duration: Option<u64>,
    },
    /// `tui.prompt.append`: text an attached TUI adds to its prompt.
    TuiPromptAppend { text: &'a str },
    /// `tui.command.execute`: a command an attached TUI runs.
    TuiCommandExecute { command: &'a str },
    /// `tui.session.select`: a session an attached TUI opens.
    TuiSessionSelect {
        #[serde(rename = "sessionID")]
        session_id: &'a str,
    },
    /// `server.instance.disposed`: clients load the directory's state anew.
    InstanceDisposed { directory: &'a str },
    /// `global.disposed`: clients load everything anew.
    GlobalDisposed {},
    /// `command.executed`
    CommandExecuted {
        name: &'a str,
        #[serde(rename = "sessionID")]
        session_id: &'a str,
        arguments: &'a str,
        #[serde(rename = "messageID")]
        message_id: &'a str,
    },
}

impl Event<'_> {
    /// The event's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::SessionCreated { .. } => "session.created",
            Event::SessionUpdated { .. } => "session.updated",
            Event::SessionDeleted { .. } => "session.deleted",
            Event::SessionStatus { .. } => "session.status",
            Event::SessionIdle { .. } => "session.idle",
            Event::SessionDiff { .. } => "session.diff",
            Event::SessionCompacted { .. } => "session.compacted",
            Event::SessionError { .. } => "session.error",
            Event::MessageUpdated { .. } => "message.updated",
            Event::MessageRemoved { .. } => "message.removed",
            Event::PartRemoved { .. } => "message.part.removed",
            Event::PartUpdated { .. } => "message.part.updated",
            Event::PartDelta { .. } => "message.part.delta",
            Event::PermissionAsked(_) => "permission.asked",
            Event::PermissionReplied { .. } => "permission.replied",
            Event::QuestionAsked(_) => "question.asked",
            Event::QuestionReplied { .. } => "question.replied",
            Event::QuestionRejected { .. } => "question.rejected",
            Event::TodoUpdated { .. } => "todo.updated",
            Event::FileEdited { .. } => "file.edited",
            Event::TuiToastShow { .. } => "tui.toast.show",
            Event::TuiPromptAppend { .. } => "tui.prompt.append",
            Event::TuiCommandExecute { .. } => "tui.command.execute",
            Event::TuiSessionSelect { .. } => "tui.session.select",
            Event::InstanceDisposed { .. } => "server.instance.disposed",
            Event::GlobalDisposed {} => "global.disposed",
            Event::CommandExecuted { .. } => "command.executed",
        }
    }
}
