//! What every [`Store`] backend must do, as one suite any backend can run:
//! `conformance::run(|| fresh_store()).await` panics, naming the check, at
//! the first thing the backend gets wrong. The SQLite backend runs it in the
//! integration tests; a PostgreSQL backend plugs into the same call.
//!
//! The checks go through the trait only, so they say what the domains rely
//! on: rows read back as written, pages in order with their parts, ids that
//! cannot be taken over, cascading deletes, typed errors, session changes
//! that never lose a concurrent one, and rows reached only by their tenant.

use super::{
    AuditQuery, AuditRecord, Blob, ChangeSelection, FileChange, Kept, SessionChange, SessionKey, SessionQuery, Store,
    StoreError,
};
use crate::ids::{self, Prefix};
use crate::model::{
    AssistantMessage, Message, MessagePath, MessageTime, ModelRef, Part, Session, SessionTime, Todo, Tokens,
    UserMessage,
};
use serde_json::json;
use std::future::Future;
use std::sync::Arc;

/// Runs every check, each on a fresh store from `fresh`.
pub async fn run<S, F, Fut>(fresh: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    sessions_read_back_as_written(Arc::new(fresh().await)).await;
    session_queries_filter_and_order(Arc::new(fresh().await)).await;
    session_changes_are_atomic_and_typed(Arc::new(fresh().await)).await;
    messages_page_in_order_with_their_parts(Arc::new(fresh().await)).await;
    ids_of_other_sessions_cannot_be_taken(Arc::new(fresh().await)).await;
    deleting_a_session_takes_its_descendants(Arc::new(fresh().await)).await;
    todos_and_unfinished_runs(Arc::new(fresh().await)).await;
    sessions_belong_to_their_tenant(Arc::new(fresh().await)).await;
    rows_of_a_session_are_reached_only_as_its_tenant(Arc::new(fresh().await)).await;
    the_audit_log_appends_filters_and_prunes(Arc::new(fresh().await)).await;
    file_changes_keep_their_order_their_blobs_and_their_tenant(Arc::new(fresh().await)).await;
}

/// A session as `POST /session` makes one.
pub fn session(title: &str, parent: Option<&str>) -> Session {
    let now = ids::now_millis();
    Session {
        id: ids::new(Prefix::Session),
        slug: "calm-otter".into(),
        project_id: "global".into(),
        directory: "/srv/project".into(),
        path: String::new(),
        parent_id: parent.map(str::to_string),
        summary: None,
        cost: 0.0,
        tokens: Tokens::default(),
        title: title.into(),
        agent: None,
        model: None,
        version: "test".into(),
        permission: None,
        metadata: None,
        revert: None,
        share: None,
        time: SessionTime { created: now, updated: now, ..Default::default() },
        tenant: None,
    }
}

fn user(session: &str) -> Message {
    Message::User(UserMessage {
        id: ids::new(Prefix::Message),
        session_id: session.into(),
        time: MessageTime { created: ids::now_millis(), completed: None },
        summary: None,
        agent: "build".into(),
        model: model(),
        system: None,
        tools: None,
        format: None,
        variant: None,
    })
}

fn model() -> ModelRef {
    ModelRef { provider_id: "p".into(), model_id: "m".into(), variant: None }
}

fn assistant(session: &str, parent: &str) -> AssistantMessage {
    let path = MessagePath { cwd: "/srv/project".into(), root: "/srv/project".into() };
    AssistantMessage::answering(session, parent, &model(), "build", path)
}

fn text(session: &str, message: &str, words: &str) -> Part {
    Part::new(session, message, json!({ "type": "text", "text": words }))
}

async fn sessions_read_back_as_written(store: Arc<impl Store>) {
    let original = session("first", None);
    store.put_session(&original).await.unwrap();
    assert_eq!(store.session(&original.id).await.unwrap(), Some(original.clone()), "a session reads back whole");
    assert_eq!(store.session(&ids::new(Prefix::Session)).await.unwrap(), None, "an unknown session is None");
    let mut replaced = original.clone();
    replaced.title = "replaced".into();
    store.put_session(&replaced).await.unwrap();
    assert_eq!(store.session(&original.id).await.unwrap().unwrap().title, "replaced", "put replaces");
}

async fn session_queries_filter_and_order(store: Arc<impl Store>) {
    let parent = session("Alpha plan", None);
    store.put_session(&parent).await.unwrap();
    let mut child = session("beta child", Some(&parent.id));
    child.time.updated += 10;
    store.put_session(&child).await.unwrap();
    let mut elsewhere = session("gamma", None);
    (elsewhere.project_id, elsewhere.directory) = ("other".into(), "/srv/other".into());
    store.put_session(&elsewhere).await.unwrap();

    let ids = |sessions: Vec<Session>| sessions.into_iter().map(|s| s.id).collect::<Vec<String>>();
    let global = SessionQuery { project_id: Some("global".into()), ..Default::default() };
    assert_eq!(
        ids(store.sessions(&global).await.unwrap()),
        [child.id.as_str(), parent.id.as_str()],
        "newest update first"
    );
    let roots = SessionQuery { roots_only: true, ..global.clone() };
    assert_eq!(ids(store.sessions(&roots).await.unwrap()), [parent.id.as_str()], "roots only");
    let search = SessionQuery { search: Some("alpha".into()), ..global.clone() };
    assert_eq!(ids(store.sessions(&search).await.unwrap()), [parent.id.as_str()], "title search ignores case");
    let limited = SessionQuery { limit: Some(1), ..global.clone() };
    assert_eq!(ids(store.sessions(&limited).await.unwrap()), [child.id.as_str()], "limit keeps the newest");
    let since = SessionQuery { updated_since: Some(child.time.updated), ..global.clone() };
    assert_eq!(ids(store.sessions(&since).await.unwrap()), [child.id.as_str()], "updated since");
    let directory = SessionQuery { directory: Some("/srv/other".into()), ..Default::default() };
    assert_eq!(ids(store.sessions(&directory).await.unwrap()), [elsewhere.id.as_str()], "by directory");
    assert_eq!(ids(store.children(&parent.id).await.unwrap()), [child.id.as_str()], "children");
}

async fn session_changes_are_atomic_and_typed(store: Arc<impl Store>) {
    let original = session("New session - 2026", None);
    store.put_session(&original).await.unwrap();

    let missing = store.update_session(&ids::new(Prefix::Session), SessionChange::Touch).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "changing an unknown session: {missing:?}");

    // Many steps adding usage at once lose none of it.
    let mut adding = Vec::new();
    for _ in 0..20 {
        let (store, id) = (store.clone(), original.id.clone());
        let tokens = Tokens { input: 3, output: 2, ..Default::default() };
        adding.push(tokio::spawn(async move {
            store.update_session(&id, SessionChange::AddUsage { tokens, cost: 0.5 }).await.unwrap()
        }));
    }
    for added in adding {
        assert!(added.await.unwrap().is_some(), "usage always applies");
    }
    let summed = store.session(&original.id).await.unwrap().unwrap();
    assert_eq!((summed.tokens.input, summed.tokens.output, summed.cost), (60, 40, 10.0), "no usage is lost");
    assert!(summed.time.updated >= original.time.updated, "a change never moves time.updated back");

    // A generated title waits for nobody having renamed the session.
    let edit = SessionChange::Edit { title: Some("Mine".into()), metadata: None, permission: None, archived: None };
    let edited = store.update_session(&original.id, edit).await.unwrap().unwrap();
    assert_eq!((edited.title.as_str(), edited.tokens.input), ("Mine", 60), "an edit keeps the usage");
    let retitle = SessionChange::Retitle { title: "Generated".into(), if_prefix: "New session - ".into() };
    assert_eq!(store.update_session(&original.id, retitle).await.unwrap(), None, "a renamed session keeps its name");
    assert_eq!(store.session(&original.id).await.unwrap().unwrap().title, "Mine");
    let archived = SessionChange::Edit { title: None, metadata: None, permission: None, archived: Some(Some(7)) };
    assert_eq!(store.update_session(&original.id, archived).await.unwrap().unwrap().time.archived, Some(7));
}

async fn messages_page_in_order_with_their_parts(store: Arc<impl Store>) {
    let owner = session("pages", None);
    store.put_session(&owner).await.unwrap();
    let mut written = Vec::new();
    for turn in 0..5 {
        let asked = user(&owner.id);
        store.put_message(None, &asked).await.unwrap();
        let answer = Message::Assistant(assistant(&owner.id, asked.id()));
        store.put_message(None, &answer).await.unwrap();
        for message in [&asked, &answer] {
            for n in 0..3 {
                store.put_part(None, &text(&owner.id, message.id(), &format!("{turn}.{n}"))).await.unwrap();
            }
        }
        written.push(asked);
        written.push(answer);
    }
    let all = store.messages(SessionKey::of(&owner), None, None).await.unwrap();
    let order: Vec<&str> = all.iter().map(|m| m.info.id()).collect();
    assert_eq!(order, written.iter().map(Message::id).collect::<Vec<_>>(), "oldest first");
    for entry in &all {
        assert_eq!(entry.parts.len(), 3, "every message has its parts");
        assert!(entry.parts.iter().all(|p| p.message_id == entry.info.id()), "only its own parts");
        assert!(entry.parts.windows(2).all(|w| w[0].id < w[1].id), "parts in order");
    }
    let last_two = store.messages(SessionKey::of(&owner), Some(2), None).await.unwrap();
    assert_eq!(last_two.iter().map(|m| m.info.id()).collect::<Vec<_>>(), &order[8..], "a limit keeps the newest");
    let before = store.messages(SessionKey::of(&owner), Some(3), Some(order[4])).await.unwrap();
    assert_eq!(before.iter().map(|m| m.info.id()).collect::<Vec<_>>(), &order[1..4], "a page before a message");
    assert!(before.iter().all(|m| m.parts.len() == 3), "a page carries its parts");

    let one = store.message(SessionKey::of(&owner), order[3]).await.unwrap().unwrap();
    assert_eq!((one.info.id(), one.parts.len()), (order[3], 3), "one message with its parts");
    assert_eq!(
        store.message(SessionKey::new(None, &ids::new(Prefix::Session)), order[3]).await.unwrap(),
        None,
        "only in its session"
    );

    let gone = one.parts[0].clone();
    assert!(store.delete_part(SessionKey::of(&owner), order[3], &gone.id).await.unwrap());
    assert!(!store.delete_part(SessionKey::of(&owner), order[3], &gone.id).await.unwrap(), "deleting twice");
    assert!(store.delete_message(SessionKey::of(&owner), order[0]).await.unwrap());
    assert!(!store.delete_message(SessionKey::of(&owner), order[0]).await.unwrap());
    assert_eq!(store.messages(SessionKey::of(&owner), None, None).await.unwrap().len(), 9);
}

async fn ids_of_other_sessions_cannot_be_taken(store: Arc<impl Store>) {
    let (mine, theirs) = (session("mine", None), session("theirs", None));
    store.put_session(&mine).await.unwrap();
    store.put_session(&theirs).await.unwrap();
    let message = user(&theirs.id);
    store.put_message(None, &message).await.unwrap();
    let part = text(&theirs.id, message.id(), "theirs");
    store.put_part(None, &part).await.unwrap();

    let mut stolen = message.clone();
    if let Message::User(m) = &mut stolen {
        m.session_id = mine.id.clone();
    }
    let refused = store.put_message(None, &stolen).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "a message id of another session: {refused:?}");
    let mut stolen_part = part.clone();
    stolen_part.session_id = mine.id.clone();
    let refused = store.put_part(None, &stolen_part).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "a part id of another session: {refused:?}");
    let kept = store.message(SessionKey::of(&theirs), message.id()).await.unwrap().unwrap();
    assert_eq!(kept.parts, std::slice::from_ref(&part), "the rows stay theirs");

    // Records written together are all written, or (one of them taken) none.
    let fresh = user(&mine.id);
    let refused =
        store.put_records(None, std::slice::from_ref(&fresh), &[text(&mine.id, fresh.id(), "mine"), stolen_part]).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "a batch with a taken id: {refused:?}");
    assert_eq!(
        store.message(SessionKey::of(&mine), fresh.id()).await.unwrap(),
        None,
        "nothing of a refused batch is kept"
    );
    let note = text(&mine.id, fresh.id(), "mine");
    store.put_records(None, std::slice::from_ref(&fresh), std::slice::from_ref(&note)).await.unwrap();
    assert_eq!(
        store.message(SessionKey::of(&mine), fresh.id()).await.unwrap().unwrap().parts,
        [note],
        "a batch is kept whole"
    );
}

async fn deleting_a_session_takes_its_descendants(store: Arc<impl Store>) {
    let root = session("root", None);
    let child = session("child", Some(&root.id));
    let grandchild = session("grandchild", Some(&child.id));
    let other = session("other", None);
    for s in [&root, &child, &grandchild, &other] {
        store.put_session(s).await.unwrap();
        let message = user(&s.id);
        store.put_message(None, &message).await.unwrap();
        store.put_part(None, &text(&s.id, message.id(), "x")).await.unwrap();
        store.put_todos(SessionKey::of(s), &[todo()]).await.unwrap();
    }
    let deleted = store.delete_session(&root.id).await.unwrap();
    assert_eq!(deleted[0].id, root.id, "the session asked for comes first");
    assert_eq!(deleted.len(), 3, "with its descendants");
    for s in [&root, &child, &grandchild] {
        assert_eq!(store.session(&s.id).await.unwrap(), None);
        assert!(store.messages(SessionKey::of(s), None, None).await.unwrap().is_empty());
        assert!(store.todos(SessionKey::of(s)).await.unwrap().is_empty());
    }
    assert!(store.session(&other.id).await.unwrap().is_some(), "other sessions stay");
    assert_eq!(store.messages(SessionKey::of(&other), None, None).await.unwrap().len(), 1);
    assert!(store.delete_session(&root.id).await.unwrap().is_empty(), "deleting twice deletes nothing");
}

fn todo() -> Todo {
    Todo { content: "write it".into(), status: "pending".into(), priority: "high".into(), id: Some("1".into()) }
}

async fn todos_and_unfinished_runs(store: Arc<impl Store>) {
    let owner = session("runs", None);
    store.put_session(&owner).await.unwrap();
    assert!(store.todos(SessionKey::of(&owner)).await.unwrap().is_empty(), "no list yet");
    store.put_todos(SessionKey::of(&owner), &[todo(), todo()]).await.unwrap();
    store.put_todos(SessionKey::of(&owner), &[todo()]).await.unwrap();
    assert_eq!(store.todos(SessionKey::of(&owner)).await.unwrap(), [todo()], "a list is replaced whole");

    let asked = user(&owner.id);
    store.put_message(None, &asked).await.unwrap();
    let open = assistant(&owner.id, asked.id());
    store.put_message(None, &Message::Assistant(open.clone())).await.unwrap();
    let mut done = assistant(&owner.id, asked.id());
    done.time.completed = Some(ids::now_millis());
    store.put_message(None, &Message::Assistant(done.clone())).await.unwrap();
    let running = Part::new(
        &owner.id,
        &open.id,
        json!({ "type": "tool", "tool": "bash", "callID": "c1", "state": { "status": "running", "input": {} } }),
    );
    store.put_part(None, &running).await.unwrap();
    let finished = Part::new(
        &owner.id,
        &done.id,
        json!({ "type": "tool", "tool": "bash", "callID": "c2", "state": { "status": "completed", "input": {} } }),
    );
    store.put_part(None, &finished).await.unwrap();
    let (messages, parts) = store.unfinished().await.unwrap();
    assert_eq!(messages.iter().map(|m| m.row.id()).collect::<Vec<_>>(), [open.id.as_str()], "open assistant messages");
    assert_eq!(parts.iter().map(|p| p.row.id.as_str()).collect::<Vec<_>>(), [running.id.as_str()], "running tools");
    assert!(messages.iter().all(|m| m.owner.is_none()) && parts.iter().all(|p| p.owner.is_none()), "the host's rows");
}

async fn sessions_belong_to_their_tenant(store: Arc<impl Store>) {
    let host = session("the host's", None);
    let mut alice = session("alice's", None);
    alice.tenant = Some("alice".into());
    let mut bob = session("bob's", None);
    bob.tenant = Some("bob".into());
    for s in [&host, &alice, &bob] {
        store.put_session(s).await.expect("put");
    }
    let read = store.session(&alice.id).await.expect("read").expect("there");
    assert_eq!(read.tenant.as_deref(), Some("alice"), "a session's tenant reads back");
    let changed = store.update_session(&alice.id, SessionChange::Touch).await.expect("update").expect("applies");
    assert_eq!(changed.tenant.as_deref(), Some("alice"), "a change keeps the tenant");
    let listed = |tenant: Option<&str>| {
        let query = SessionQuery { tenant: tenant.map(str::to_string), ..Default::default() };
        let store = store.clone();
        async move { store.sessions(&query).await.expect("list").into_iter().map(|s| s.id).collect::<Vec<_>>() }
    };
    assert_eq!(listed(Some("alice")).await, vec![alice.id.clone()], "a tenant lists only its own");
    assert_eq!(listed(None).await, vec![host.id.clone()], "the host lists only its own");
    assert_eq!(listed(Some("carol")).await, Vec::<String>::new());
    assert_eq!(store.count_sessions(Some("bob")).await.expect("count"), 1);
    assert_eq!(store.count_sessions(None).await.expect("count"), 1);
    let mut child = session("alice's child", Some(&alice.id));
    child.tenant = Some("alice".into());
    store.put_session(&child).await.expect("put");
    let deleted = store.delete_session(&alice.id).await.expect("delete");
    assert!(deleted.iter().all(|s| s.tenant.as_deref() == Some("alice")), "deleted sessions name their tenant");
    assert_eq!(deleted.len(), 2);
}

async fn rows_of_a_session_are_reached_only_as_its_tenant(store: Arc<impl Store>) {
    let mut alices = session("alice's", None);
    alices.tenant = Some("alice".into());
    store.put_session(&alices).await.expect("put");
    let alice = SessionKey::of(&alices);
    let asked = user(&alices.id);
    store.put_message(Some("alice"), &asked).await.expect("alice writes to her session");
    let note = text(&alices.id, asked.id(), "alice's");
    store.put_part(Some("alice"), &note).await.expect("alice writes a part");
    store.put_todos(alice, &[todo()]).await.expect("alice writes her todos");
    assert_eq!(store.messages(alice, None, None).await.expect("read")[0].parts, std::slice::from_ref(&note));
    let tenant_of = |row: &Option<String>| row.as_deref() == Some("alice");
    let open = assistant(&alices.id, asked.id());
    store.put_message(Some("alice"), &Message::Assistant(open)).await.expect("put");
    let (unfinished, _) = store.unfinished().await.expect("unfinished");
    assert!(unfinished.iter().all(|m| tenant_of(&m.owner)), "an unfinished row names its tenant");

    // Bob, and the host, naming alice's session id: nothing read, nothing
    // written, nothing deleted.
    for stranger in [Some("bob"), None] {
        let theirs = SessionKey::new(stranger, &alices.id);
        assert!(store.messages(theirs, None, None).await.expect("read").is_empty(), "{stranger:?} lists nothing");
        assert_eq!(store.message(theirs, asked.id()).await.expect("read"), None, "{stranger:?} reads nothing");
        assert!(store.todos(theirs).await.expect("read").is_empty(), "{stranger:?} reads no todos");
        let planted = user(&alices.id);
        let refused = store.put_message(stranger, &planted).await;
        assert!(matches!(refused, Err(StoreError::NotFound(_))), "{stranger:?} writes a message: {refused:?}");
        let refused = store.put_part(stranger, &text(&alices.id, asked.id(), "planted")).await;
        assert!(matches!(refused, Err(StoreError::NotFound(_))), "{stranger:?} writes a part: {refused:?}");
        let refused = store.put_records(stranger, std::slice::from_ref(&planted), &[]).await;
        assert!(matches!(refused, Err(StoreError::NotFound(_))), "{stranger:?} writes records: {refused:?}");
        let mut rewritten = note.clone();
        rewritten.body["text"] = json!("rewritten");
        let refused = store.put_part(stranger, &rewritten).await;
        assert!(matches!(refused, Err(StoreError::NotFound(_))), "{stranger:?} rewrites a part: {refused:?}");
        let refused = store.put_todos(theirs, &[]).await;
        assert!(matches!(refused, Err(StoreError::NotFound(_))), "{stranger:?} clears the todos: {refused:?}");
        assert!(!store.delete_part(theirs, asked.id(), &note.id).await.expect("delete"), "{stranger:?}");
        assert!(!store.delete_message(theirs, asked.id()).await.expect("delete"), "{stranger:?}");
    }
    let kept = store.messages(alice, None, None).await.expect("read");
    assert_eq!(kept.len(), 2, "alice's messages are all there");
    assert_eq!(kept[0].parts, [note], "and her part, unchanged");
    assert_eq!(store.todos(alice).await.expect("read"), [todo()], "and her todos");
    // A session that does not exist takes no rows either.
    let nowhere = user(&ids::new(Prefix::Session));
    assert!(matches!(store.put_message(None, &nowhere).await, Err(StoreError::NotFound(_))));
}

async fn the_audit_log_appends_filters_and_prunes(store: Arc<impl Store>) {
    let record = |time: i64, tenant: Option<&str>, action: &str| AuditRecord {
        time,
        kind: "request".into(),
        tenant: tenant.map(str::to_string),
        action: action.into(),
        outcome: "200".into(),
        ..Default::default()
    };
    store
        .append_audit(vec![record(1_000, Some("alice"), "first"), record(2_000, Some("bob"), "second")])
        .await
        .expect("append");
    store.append_audit(vec![record(3_000, Some("alice"), "third")]).await.expect("append");
    let read = |query: AuditQuery| {
        let store = store.clone();
        async move { store.audit(&query).await.expect("read").into_iter().map(|r| r.action).collect::<Vec<_>>() }
    };
    assert_eq!(read(AuditQuery::default()).await, ["first", "second", "third"], "oldest first");
    let alice = AuditQuery { tenant: Some("alice".into()), ..Default::default() };
    assert_eq!(read(alice.clone()).await, ["first", "third"]);
    assert_eq!(read(AuditQuery { since: Some(2_000), ..Default::default() }).await, ["second", "third"]);
    assert_eq!(read(AuditQuery { limit: Some(1), ..alice }).await, ["third"], "the newest, when limited");
    assert_eq!(store.prune_audit(2_500).await.expect("prune"), 2);
    assert_eq!(read(AuditQuery::default()).await, ["third"]);
}

/// A change of `path` in `message`'s part `part`.
fn change(message: &str, part: &str, path: &str, kept: Kept) -> FileChange {
    FileChange { message_id: message.into(), part_id: part.into(), path: path.into(), kept, redo: false }
}

async fn file_changes_keep_their_order_their_blobs_and_their_tenant(store: Arc<impl Store>) {
    let mut alices = session("alice's", None);
    alices.tenant = Some("alice".into());
    store.put_session(&alices).await.expect("put");
    let alice = SessionKey::of(&alices);
    let blob = Blob { hash: "aa".repeat(32), bytes: b"before\n".to_vec() };
    let file = Kept::File { blob: blob.hash.clone(), size: 7, mode: 0o644 };
    let first = [change("msg_1", "prt_1", "a.txt", file.clone()), change("msg_1", "prt_2", "b", Kept::Absent)];
    store.put_file_changes(alice, &first, std::slice::from_ref(&blob)).await.expect("put");
    let later = [
        change("msg_2", "prt_3", "a.txt", Kept::Symlink { target: "x".into() }),
        FileChange { redo: true, ..change("msg_2", "", "a.txt", Kept::Directory) },
    ];
    store.put_file_changes(alice, &later, &[]).await.expect("put");
    let read = store.file_changes(alice).await.expect("read");
    let expected: Vec<FileChange> = first.iter().chain(&later).cloned().collect();
    assert_eq!(read, expected, "file changes read back in the order they were put");
    assert_eq!(store.blob(alice, &blob.hash).await.expect("blob"), Some(blob.bytes.clone()));

    // Nobody else reads, writes or deletes them.
    for stranger in [Some("bob"), None] {
        let theirs = SessionKey::new(stranger, &alices.id);
        assert!(store.file_changes(theirs).await.expect("read").is_empty(), "{stranger:?} lists no changes");
        assert_eq!(store.blob(theirs, &blob.hash).await.expect("blob"), None, "{stranger:?} reads no blob");
        let refused = store.put_file_changes(theirs, &first, &[]).await;
        assert!(matches!(refused, Err(StoreError::NotFound(_))), "{stranger:?} writes changes: {refused:?}");
        let all = ChangeSelection::From { message_id: String::new(), part_id: None };
        assert_eq!(store.delete_file_changes(theirs, &all).await.expect("delete"), 0, "{stranger:?} deletes");
    }

    // Deleting the redo set, then the steps from a part on.
    assert_eq!(store.delete_file_changes(alice, &ChangeSelection::Redo).await.expect("delete"), 1);
    let from = ChangeSelection::From { message_id: "msg_1".into(), part_id: Some("prt_2".into()) };
    assert_eq!(store.delete_file_changes(alice, &from).await.expect("delete"), 2);
    assert_eq!(store.file_changes(alice).await.expect("read"), first[..1], "the change before the part stays");
    assert!(store.blob(alice, &blob.hash).await.expect("blob").is_some(), "a blob still referred to stays");
    let everything = ChangeSelection::From { message_id: "msg_1".into(), part_id: None };
    assert_eq!(store.delete_file_changes(alice, &everything).await.expect("delete"), 1);
    assert_eq!(store.blob(alice, &blob.hash).await.expect("blob"), None, "an unreferenced blob goes");

    // Pruning keeps the newest contents within the bytes given, never redo's.
    let sized = |n: u8, size: u64| Kept::File { blob: format!("{n:02x}").repeat(32), size, mode: 0o644 };
    let blobs: Vec<Blob> = (1..=3).map(|n| Blob { hash: format!("{n:02x}").repeat(32), bytes: vec![n; 10] }).collect();
    let steps = [
        change("msg_5", "prt_1", "old", sized(1, 10)),
        FileChange { redo: true, ..change("msg_5", "", "redo", sized(1, 10)) },
        change("msg_6", "prt_1", "mid", sized(2, 10)),
        change("msg_7", "prt_1", "new", sized(3, 10)),
    ];
    store.put_file_changes(alice, &steps, &blobs).await.expect("put");
    assert_eq!(store.prune_file_changes(alice, 25, "pruned").await.expect("prune"), 1);
    let kept = store.file_changes(alice).await.expect("read");
    let by_path = |path: &str| kept.iter().find(|c| c.path == path).unwrap().kept.clone();
    assert_eq!(by_path("old"), Kept::Unkept { reason: "pruned".into() }, "the oldest content goes first");
    assert_eq!(by_path("redo"), sized(1, 10), "redo records are never pruned");
    assert_eq!((by_path("mid"), by_path("new")), (sized(2, 10), sized(3, 10)));
    assert!(store.blob(alice, &blobs[0].hash).await.expect("blob").is_some(), "still the redo record's");
    store.delete_file_changes(alice, &ChangeSelection::Redo).await.expect("delete");
    assert_eq!(store.blob(alice, &blobs[0].hash).await.expect("blob"), None);

    // Deleting the session takes its changes.
    store.put_file_changes(alice, &first, std::slice::from_ref(&blob)).await.expect("put");
    store.delete_session(&alices.id).await.expect("delete");
    assert!(store.file_changes(alice).await.expect("read").is_empty(), "a deleted session keeps no changes");
}
