//! The store as a seam: the SQLite backend passes the conformance suite
//! every backend must pass, and a database written by the wasmgate before
//! schema versions existed (`tests/fixtures/store-v0.db`: sessions, a child,
//! a fork, a `!` command's tool part, a todo list) upgrades in place.

use wasmgate::model::Message;
use wasmgate::store::{SCHEMA_VERSION, SessionChange, SessionKey, SessionQuery, SqliteStore, Store, conformance};

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_passes_the_store_conformance_suite() {
    let data = tempfile::tempdir().unwrap();
    let made = std::sync::atomic::AtomicUsize::new(0);
    conformance::run(|| {
        let n = made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = data.path().join(format!("store-{n}.db"));
        async move { SqliteStore::open(&path).unwrap() }
    })
    .await;
}

/// The fixture's sessions, by id.
const ROOT: &str = "ses_dcc2059dbffeckTsjvyIdW6svm";
const CHILD: &str = "ses_dcc2058d2ffeFO74qiixG16LY8";
const FORK: &str = "ses_dcc20580cffeJQlQMBLjUSZ2Pd";

fn user_version(path: &std::path::Path) -> usize {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_from_before_schema_versions_upgrades_in_place() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("wasmgate.db");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/store-v0.db"), &path).unwrap();
    assert_eq!(user_version(&path), 0, "the fixture predates versions");

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION, "opening upgraded the schema");
    let sessions = store.sessions(&SessionQuery::default()).await.unwrap();
    let mut titles: Vec<&str> = sessions.iter().map(|s| s.title.as_str()).collect();
    titles.sort_unstable();
    assert_eq!(titles, ["child", "fixture one (fork)", "fixture renamed"]);
    assert_eq!(store.children(ROOT).await.unwrap()[0].id, CHILD);

    for session in [ROOT, FORK] {
        let messages = store.messages(SessionKey::new(None, session), None, None).await.unwrap();
        let roles: Vec<&str> = messages
            .iter()
            .map(|m| match m.info {
                Message::User(_) => "user",
                Message::Assistant(_) => "assistant",
            })
            .collect();
        assert_eq!(roles, ["user", "user", "assistant"], "{session}");
        let tool = &messages[2].parts[0];
        assert_eq!((tool.kind(), tool.body["state"]["output"].as_str()), ("tool", Some("hello\n")), "{session}");
        assert_eq!(messages.iter().map(|m| m.parts.len()).sum::<usize>(), 3, "{session}");
        // A page from before the upgrade reads with its parts too.
        let page = store.messages(SessionKey::new(None, session), Some(1), Some(messages[2].info.id())).await.unwrap();
        assert_eq!(page[0].parts, messages[1].parts);
    }
    let todos = store.todos(SessionKey::new(None, ROOT)).await.unwrap();
    assert_eq!((todos.len(), todos[0].content.as_str()), (1, "write the migration"));

    // The upgraded database takes writes, and opening it again changes nothing.
    let usage = wasmgate::model::Tokens { input: 5, ..Default::default() };
    store.update_session(ROOT, SessionChange::AddUsage { tokens: usage, cost: 1.0 }).await.unwrap();
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    let root = store.session(ROOT).await.unwrap().unwrap();
    assert_eq!((root.title.as_str(), root.tokens.input, root.cost), ("fixture renamed", 5, 1.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_from_a_newer_wasmgate_is_refused_not_misread() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("wasmgate.db");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1))
        .unwrap();
    let error = SqliteStore::open(&path).err().expect("a newer schema is refused");
    assert!(error.to_string().contains("schema"), "{error}");
}
