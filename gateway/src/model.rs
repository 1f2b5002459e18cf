//! The OpenCode data model as it goes over the wire and into the store.
//!
//! Field names and optionality follow the reference's schemas
//! (SCHEMAS-1.18.33.md): the TUI and the SDK read these objects as they are,
//! so a renamed or missing field is a protocol bug. Parts keep the fields
//! this server does not produce itself (file sources, subtasks, ...) in a
//! `serde_json::Value`, so whatever a client sends survives a round trip.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Token counts of a step, a message or a session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tokens {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    pub input: u64,
    pub output: u64,
    pub reasoning: u64,
    pub cache: CacheTokens,
}

/// Cached-token counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheTokens {
    pub read: u64,
    pub write: u64,
}

/// A model as a session or agent names it (`id`, as `POST /session` sends it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionModel {
    pub id: String,
    #[serde(rename = "providerID")]
    pub provider_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// A model as a message names it (`modelID`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRef {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    #[serde(rename = "modelID")]
    pub model_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// The times of a session, in milliseconds since the epoch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionTime {
    pub created: i64,
    pub updated: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compacting: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived: Option<i64>,
}

/// What a session changed in the workspace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    pub additions: u64,
    pub deletions: u64,
    pub files: u64,
}

/// One file's change, in OpenCode's `SnapshotFileDiff` shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileDiff {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    pub additions: u64,
    pub deletions: u64,
    pub status: String,
}

/// One conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub slug: String,
    #[serde(rename = "projectID")]
    pub project_id: String,
    pub directory: String,
    pub path: String,
    #[serde(rename = "parentID", skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<SessionSummary>,
    pub cost: f64,
    pub tokens: Tokens,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<SessionModel>,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revert: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share: Option<Value>,
    pub time: SessionTime,
    /// The tenant the session belongs to (`None`: the server's own user).
    /// Kept in its own column, never sent to clients.
    #[serde(skip)]
    pub tenant: Option<String>,
}

/// A message's times.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageTime {
    pub created: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<i64>,
}

/// Where an assistant message ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagePath {
    pub cwd: String,
    pub root: String,
}

/// A message's error, in OpenCode's `{name, data: {message, ...}}` shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageError {
    pub name: String,
    pub data: Value,
}

impl MessageError {
    /// An error with just a message.
    pub fn new(name: &str, message: impl Into<String>) -> Self {
        Self { name: name.to_string(), data: serde_json::json!({ "message": message.into() }) }
    }
}

/// What the user sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserMessage {
    pub id: String,
    #[serde(rename = "sessionID")]
    pub session_id: String,
    pub time: MessageTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Value>,
    pub agent: String,
    pub model: ModelRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// One step of the model's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessage {
    pub id: String,
    #[serde(rename = "sessionID")]
    pub session_id: String,
    pub time: MessageTime,
    #[serde(rename = "parentID")]
    pub parent_id: String,
    #[serde(rename = "modelID")]
    pub model_id: String,
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub mode: String,
    pub agent: String,
    pub path: MessagePath,
    pub cost: f64,
    pub tokens: Tokens,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<MessageError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl AssistantMessage {
    /// A new assistant message, not yet complete, that answers user message
    /// `parent_id` with `model` as `agent`, working in `path`.
    pub fn answering(session_id: &str, parent_id: &str, model: &ModelRef, agent: &str, path: MessagePath) -> Self {
        AssistantMessage {
            id: crate::ids::new(crate::ids::Prefix::Message),
            session_id: session_id.to_string(),
            time: MessageTime { created: crate::ids::now_millis(), completed: None },
            parent_id: parent_id.to_string(),
            model_id: model.model_id.clone(),
            provider_id: model.provider_id.clone(),
            mode: agent.to_string(),
            agent: agent.to_string(),
            path,
            cost: 0.0,
            tokens: Tokens::default(),
            finish: None,
            error: None,
            summary: None,
            variant: model.variant.clone(),
        }
    }
}

/// A message, told apart by its `role`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Message {
    User(UserMessage),
    Assistant(AssistantMessage),
}

impl Message {
    /// The message's id.
    pub fn id(&self) -> &str {
        match self {
            Message::User(m) => &m.id,
            Message::Assistant(m) => &m.id,
        }
    }

    /// The session it belongs to.
    pub fn session_id(&self) -> &str {
        match self {
            Message::User(m) => &m.session_id,
            Message::Assistant(m) => &m.session_id,
        }
    }
}

/// One piece of a message: text, a tool call, a step boundary, a file...
///
/// `type` and its own fields live in `body`, a JSON object, so every part type
/// of the protocol (and ones added later) is stored and served as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub id: String,
    #[serde(rename = "sessionID")]
    pub session_id: String,
    #[serde(rename = "messageID")]
    pub message_id: String,
    #[serde(flatten)]
    pub body: serde_json::Map<String, Value>,
}

impl Part {
    /// A new part of `message` with the fields of `body` (which must hold `type`).
    pub fn new(session_id: &str, message_id: &str, body: Value) -> Self {
        let body = match body {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        Self {
            id: crate::ids::new(crate::ids::Prefix::Part),
            session_id: session_id.to_string(),
            message_id: message_id.to_string(),
            body,
        }
    }

    /// The part's `type`.
    pub fn kind(&self) -> &str {
        self.body.get("type").and_then(Value::as_str).unwrap_or("")
    }

    /// A tool part's `state`, when it has one that reads.
    pub fn tool_state(&self) -> Option<ToolState> {
        serde_json::from_value(self.body.get("state")?.clone()).ok()
    }

    /// Sets a tool part's `state`.
    pub fn set_tool_state(&mut self, state: &ToolState) {
        self.body.insert("state".into(), serde_json::to_value(state).expect("tool states serialize"));
    }
}

/// A tool call's state, as a tool part carries it: pending while the model
/// streams its arguments, running, then completed or error. Reading is
/// lenient (a stored state missing a field still reads), writing complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum ToolState {
    Pending {
        #[serde(default = "empty_object")]
        input: Value,
        #[serde(default)]
        raw: String,
    },
    Running {
        #[serde(default = "empty_object")]
        input: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        /// Live output (`metadata.output`) while it runs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<Value>,
        #[serde(default)]
        time: Started,
    },
    Completed {
        #[serde(default = "empty_object")]
        input: Value,
        output: String,
        #[serde(default)]
        title: String,
        #[serde(default = "empty_object")]
        metadata: Value,
        #[serde(default)]
        time: Span,
    },
    Error {
        #[serde(default = "empty_object")]
        input: Value,
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<Value>,
        #[serde(default)]
        time: Span,
    },
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// When a running call started (ms).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Started {
    pub start: i64,
}

/// When a finished call started and ended (ms).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub start: i64,
    pub end: i64,
}

impl ToolState {
    /// The call's arguments.
    pub fn input(&self) -> &Value {
        match self {
            ToolState::Pending { input, .. }
            | ToolState::Running { input, .. }
            | ToolState::Completed { input, .. }
            | ToolState::Error { input, .. } => input,
        }
    }

    /// When it started, once it runs.
    pub fn start(&self) -> Option<i64> {
        match self {
            ToolState::Pending { .. } => None,
            ToolState::Running { time, .. } => Some(time.start),
            ToolState::Completed { time, .. } | ToolState::Error { time, .. } => Some(time.start),
        }
    }

    /// Whether the call has not finished.
    pub fn is_open(&self) -> bool {
        matches!(self, ToolState::Pending { .. } | ToolState::Running { .. })
    }

    /// The state that ends an open call with `error` at `end`, keeping its
    /// input, start and what it had shown.
    pub fn failed(&self, error: impl Into<String>, end: i64) -> ToolState {
        let metadata = match self {
            ToolState::Running { metadata, .. } | ToolState::Error { metadata, .. } => metadata.clone(),
            _ => None,
        };
        ToolState::Error {
            input: self.input().clone(),
            error: error.into(),
            metadata,
            time: Span { start: self.start().unwrap_or(end), end },
        }
    }
}

/// What a session is doing, as `session.status` and `GET /session/status`
/// report it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SessionStatus {
    Idle,
    Busy,
    /// Waiting to retry a failed model call.
    Retry {
        attempt: u32,
        message: String,
        /// When the next attempt starts (ms).
        next: i64,
    },
}

/// A tool call waiting for a person's permission (`permission.asked`,
/// `GET /permission`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PermissionRequest {
    pub id: String,
    #[serde(rename = "sessionID")]
    pub session_id: String,
    /// `bash`, `edit`, `read`, ...
    pub permission: String,
    pub patterns: Vec<String>,
    pub metadata: Value,
    /// The patterns an `always` reply allows from then on.
    pub always: Vec<String>,
    pub tool: PermissionTool,
}

/// One question the model asks, with the answers it offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionInfo {
    pub question: String,
    /// A short label for it (at most 30 characters in the reference's schema).
    pub header: String,
    pub options: Vec<QuestionOption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiple: Option<bool>,
    /// Whether the person may type an answer of their own (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<bool>,
}

/// One answer a question offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionOption {
    pub label: String,
    pub description: String,
}

/// Questions waiting for a person (`question.asked`, `GET /question`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionRequest {
    pub id: String,
    #[serde(rename = "sessionID")]
    pub session_id: String,
    pub questions: Vec<QuestionInfo>,
    pub tool: PermissionTool,
}

/// The call a permission request is for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PermissionTool {
    #[serde(rename = "messageID")]
    pub message_id: String,
    #[serde(rename = "callID")]
    pub call_id: String,
}

/// A message with its parts, the shape of every message list and reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageWithParts {
    pub info: Message,
    pub parts: Vec<Part>,
}

/// One entry of a session's todo list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Todo {
    pub content: String,
    pub status: String,
    pub priority: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}
