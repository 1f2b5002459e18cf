//! The search tools: `grep` for the model, typed text and path search for
//! the HTTP API.

use crate::util::{Fixture, SECRET, assert_no_secret, call, sandbox};
use serde_json::json;
use wasmgate::sandbox::{CallError, PathKind, PathQuery, TextQuery};

fn text_query(pattern: &str) -> TextQuery {
    TextQuery {
        pattern: pattern.into(),
        path: None,
        include_glob: None,
        case_insensitive: false,
        hidden: true,
        max_per_file: 10,
        limit: 100,
    }
}

#[tokio::test]
async fn grep_groups_matching_lines_by_file() {
    let fx = Fixture::new();
    fx.file("src/a.rs", "fn alpha() {}\nlet x = 1;\nfn beta() {}\n");
    fx.file("src/b.ts", "function gamma() {}\n");
    fx.file("notes.md", "nothing here\n");
    let grep = call("grep", json!({"pattern": "fn \\w+"}), &fx.read_only()).await.unwrap();
    let a = fx.ws.join("src/a.rs");
    assert!(grep.output.starts_with("Found 2 matches\n"), "{}", grep.output);
    assert!(
        grep.output.contains(&format!("{}:\n  Line 1: fn alpha() {{}}\n  Line 3: fn beta() {{}}\n", a.display())),
        "{}",
        grep.output
    );
    assert!(!grep.output.contains("gamma"));
    assert_eq!(grep.metadata["matches"], 2);
    assert_eq!(grep.title, "fn \\w+");
}

#[tokio::test]
async fn grep_filters_by_include_glob_case_and_path() {
    let fx = Fixture::new();
    fx.file("a.rs", "Needle\n");
    fx.file("b.ts", "needle\n");
    fx.file("sub/c.ts", "NEEDLE\n");
    let grant = fx.read_only();
    let ts = call("grep", json!({"pattern": "needle", "include": "*.ts"}), &grant).await.unwrap();
    assert_eq!(ts.metadata["matches"], 1, "{}", ts.output);
    let ci = call("grep", json!({"pattern": "needle", "caseInsensitive": true}), &grant).await.unwrap();
    assert_eq!(ci.metadata["matches"], 3, "{}", ci.output);
    let sub = call("grep", json!({"pattern": "(?i)needle", "path": "sub"}), &grant).await.unwrap();
    assert_eq!(sub.metadata["matches"], 1);
    assert!(sub.output.contains("c.ts"));
    let one = call("grep", json!({"pattern": "Needle", "path": "a.rs"}), &grant).await.unwrap();
    assert_eq!(one.metadata["matches"], 1);
}

#[tokio::test]
async fn grep_skips_ignored_hidden_and_binary_files() {
    let fx = Fixture::new();
    fx.file(".gitignore", "ignored/\n*.log\n");
    fx.file("ignored/x.rs", "target_word\n");
    fx.file("debug.log", "target_word\n");
    fx.file(".hidden/y.rs", "target_word\n");
    fx.file(".env", "target_word\n");
    std::fs::write(fx.ws.join("blob.bin"), b"target_word\0\x01\x02").unwrap();
    fx.file("kept.rs", "target_word\n");
    let grep = call("grep", json!({"pattern": "target_word"}), &fx.read_only()).await.unwrap();
    assert_eq!(grep.metadata["matches"], 1, "{}", grep.output);
    assert!(grep.output.contains("kept.rs"));
}

#[tokio::test]
async fn grep_caps_matches_per_file_and_in_total() {
    let fx = Fixture::new();
    fx.file("a-many.txt", &"hit\n".repeat(50));
    for i in 0..10 {
        fx.file(&format!("f{i}.txt"), &"hit\n".repeat(15));
    }
    let grep = call("grep", json!({"pattern": "hit"}), &fx.read_only()).await.unwrap();
    assert_eq!(grep.metadata["matches"], 100);
    assert_eq!(grep.metadata["truncated"], true);
    assert!(grep.output.contains("(more matches in this file not shown)"), "{}", grep.output);
    assert!(grep.output.contains("(Results are truncated."), "{}", grep.output);
    let per_file = grep.output.lines().filter(|l| l.starts_with("  Line ")).count();
    assert_eq!(per_file, 100);
}

#[tokio::test]
async fn grep_reports_bad_patterns_and_empty_results_clearly() {
    let fx = Fixture::new();
    fx.file("a.txt", "abc\n");
    let grant = fx.read_only();
    let bad = call("grep", json!({"pattern": "(unclosed"}), &grant).await.unwrap_err();
    assert!(matches!(bad, CallError::InvalidArguments(_)), "{bad:?}");
    assert!(bad.to_string().contains("invalid regular expression"), "{bad}");
    let none = call("grep", json!({"pattern": "zzz"}), &grant).await.unwrap();
    assert_eq!(none.output, "No files found");
    let empty = call("grep", json!({"pattern": ""}), &grant).await.unwrap_err();
    assert!(matches!(empty, CallError::InvalidArguments(_)));
}

#[tokio::test]
async fn grep_cannot_search_outside_the_workspace() {
    let fx = Fixture::new();
    std::os::unix::fs::symlink(fx.outside.parent().unwrap(), fx.ws.join("escape")).unwrap();
    std::os::unix::fs::symlink(&fx.outside, fx.ws.join("link.txt")).unwrap();
    let grant = fx.read_only();
    for args in
        [json!({"pattern": SECRET, "path": ".."}), json!({"pattern": SECRET, "path": fx.outside.to_str().unwrap()})]
    {
        let error = call("grep", args, &grant).await.unwrap_err();
        assert!(matches!(error, CallError::OutsideWorkspace(_)), "{error:?}");
        assert_no_secret(&error.to_string());
    }
    for args in [json!({"pattern": "TOP-SECRET"}), json!({"pattern": "TOP-SECRET", "path": "escape"})] {
        match call("grep", args, &grant).await {
            Ok(out) => {
                assert_no_secret(&out.output);
                assert_eq!(out.output, "No files found");
            }
            Err(error) => assert_no_secret(&error.to_string()),
        }
    }
    let typed = sandbox().find_text(&grant, &text_query("TOP-SECRET")).await.unwrap();
    assert!(typed.is_empty(), "{typed:?}");
    fx.assert_outside_untouched();
}

#[tokio::test]
async fn find_text_returns_ripgrep_shaped_records() {
    let fx = Fixture::new();
    fx.file("a.txt", "first line\nsay hello, hello\n");
    fx.file(".config/b.txt", "hello hidden\n");
    fx.file(".git/c.txt", "hello from git\n");
    let matches = sandbox().find_text(&fx.read_only(), &text_query("hello")).await.unwrap();
    let paths: Vec<_> = matches.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(paths, [".config/b.txt", "a.txt"]);
    let a = &matches[1];
    assert_eq!(a.line, "say hello, hello\n");
    assert_eq!(a.line_number, 2);
    assert_eq!(a.absolute_offset, 11);
    let spans: Vec<_> = a.submatches.iter().map(|s| (s.text.as_str(), s.start, s.end)).collect();
    assert_eq!(spans, [("hello", 4, 9), ("hello", 11, 16)]);

    let mut visible = text_query("hello");
    visible.hidden = false;
    visible.limit = 1;
    let one = sandbox().find_text(&fx.read_only(), &visible).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].path, "a.txt");
}

#[tokio::test]
async fn find_text_caps_lines_per_file() {
    let fx = Fixture::new();
    fx.file("a.txt", &"x\n".repeat(30));
    let mut query = text_query("x");
    query.max_per_file = 10;
    let matches = sandbox().find_text(&fx.read_only(), &query).await.unwrap();
    assert_eq!(matches.len(), 10);
    assert_eq!(matches[9].line_number, 10);
}

#[tokio::test]
async fn find_paths_ranks_files_and_folders() {
    let fx = Fixture::new();
    fx.file("src/main.rs", "");
    fx.file("src/lib.rs", "");
    fx.file("docs/maintenance.md", "");
    fx.file(".github/workflows/main.yml", "");
    fx.file("target/debug/main", "");
    fx.file(".gitignore", "target/\n");
    let grant = fx.read_only();
    let query = |q: &str, kind: PathKind| PathQuery { query: q.into(), kind, limit: 10 };
    let files = sandbox().find_paths(&grant, &query("main", PathKind::Files)).await.unwrap();
    assert_eq!(files[0], "src/main.rs");
    assert!(files.contains(&"docs/maintenance.md".to_string()));
    assert_eq!(files.last().unwrap(), ".github/workflows/main.yml", "hidden last: {files:?}");
    assert!(!files.iter().any(|f| f.starts_with("target/")), "{files:?}");

    let dirs = sandbox().find_paths(&grant, &query("", PathKind::Directories)).await.unwrap();
    assert_eq!(dirs, ["docs/", "src/", ".github/", ".github/workflows/"]);
    let both = sandbox().find_paths(&grant, &query("src", PathKind::Both)).await.unwrap();
    assert_eq!(both[0], "src/");
    let limited =
        sandbox().find_paths(&grant, &PathQuery { query: String::new(), kind: PathKind::Files, limit: 2 }).await;
    assert_eq!(limited.unwrap().len(), 2);
}
