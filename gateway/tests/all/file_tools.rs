//! The file tools behave like OpenCode's: output shapes, caps, errors.

use crate::util::{Fixture, call, sandbox};
use serde_json::json;
use wasmgate::sandbox::{CallError, Content, EntryKind};

#[tokio::test]
async fn read_numbers_lines_and_pages_with_offset_and_limit() {
    let fx = Fixture::new();
    let text: String = (1..=10).map(|i| format!("line {i}\n")).collect();
    fx.file("ten.txt", &text);
    let grant = fx.read_write();
    let all = call("read", json!({"filePath": "ten.txt"}), &grant).await.unwrap();
    let abs = fx.ws.join("ten.txt");
    assert!(
        all.output.starts_with(&format!("<path>{}</path>\n<type>file</type>\n<content>\n1: line 1\n", abs.display()))
    );
    assert!(all.output.ends_with("10: line 10\n\n(End of file - total 10 lines)\n</content>"), "{}", all.output);
    assert_eq!(all.title, "ten.txt");

    let page = call("read", json!({"filePath": "ten.txt", "offset": 4, "limit": 3}), &grant).await.unwrap();
    assert!(
        page.output.contains("4: line 4\n5: line 5\n6: line 6\n\n(Showing lines 4-6 of 10. Use offset=7 to continue.)"),
        "{}",
        page.output
    );
    assert!(!page.output.contains("3: line 3") && !page.output.contains("7: line 7"));
    assert_eq!(page.metadata["truncated"], true);

    let error = call("read", json!({"filePath": "ten.txt", "offset": 50}), &grant).await.unwrap_err();
    assert!(matches!(error, CallError::InvalidArguments(_)), "{error:?}");
}

#[tokio::test]
async fn read_caps_long_lines_and_large_files() {
    let fx = Fixture::new();
    fx.file("wide.txt", &format!("{}\n", "x".repeat(5000)));
    let lines: String = (0..20_000).map(|i| format!("row {i} {}\n", "y".repeat(40))).collect();
    fx.file("big.txt", &lines);
    let grant = fx.read_write();
    let wide = call("read", json!({"filePath": "wide.txt"}), &grant).await.unwrap();
    assert!(wide.output.contains("... (line truncated to 2000 chars)"));
    assert!(wide.output.len() < 2500);
    let big = call("read", json!({"filePath": "big.txt"}), &grant).await.unwrap();
    assert!(big.output.len() <= 51 * 1024, "read returned {} bytes", big.output.len());
    assert!(
        big.output.contains("(Output capped at 50 KB. Showing lines 1-"),
        "{}",
        &big.output[big.output.len() - 200..]
    );
}

#[tokio::test]
async fn read_refuses_binary_files_and_suggests_names_for_missing_ones() {
    let fx = Fixture::new();
    std::fs::write(fx.ws.join("blob.dat"), [0u8, 159, 146, 150, 0, 1]).unwrap();
    std::fs::write(fx.ws.join("noext"), [1u8, 0, 2, 3]).unwrap();
    fx.file("config.toml", "a = 1\n");
    let grant = fx.read_write();
    for name in ["blob.dat", "noext"] {
        let error = call("read", json!({"filePath": name}), &grant).await.unwrap_err();
        assert!(error.to_string().starts_with("Cannot read binary file"), "{error}");
    }
    let error = call("read", json!({"filePath": "config"}), &grant).await.unwrap_err();
    assert!(matches!(error, CallError::NotFound(_)), "{error:?}");
    assert!(
        error.to_string().contains("Did you mean one of these?") && error.to_string().contains("config.toml"),
        "{error}"
    );
}

#[tokio::test]
async fn read_of_a_folder_lists_it() {
    let fx = Fixture::new();
    fx.file("src/lib.rs", "");
    fx.file("README.md", "");
    let read = call("read", json!({"filePath": "."}), &fx.read_write()).await.unwrap();
    assert!(read.output.contains("<type>directory</type>\n<entries>\nREADME.md\nsrc/\n(2 entries)"), "{}", read.output);
}

#[tokio::test]
async fn write_creates_folders_and_reports_whether_the_file_existed() {
    let fx = Fixture::new();
    let grant = fx.read_write();
    let first = call("write", json!({"filePath": "a/b/c.txt", "content": "one"}), &grant).await.unwrap();
    assert_eq!(first.metadata["exists"], false);
    let second = call("write", json!({"filePath": "a/b/c.txt", "content": "two"}), &grant).await.unwrap();
    assert_eq!(second.metadata["exists"], true);
    assert_eq!(std::fs::read_to_string(fx.ws.join("a/b/c.txt")).unwrap(), "two");
    let error = call("write", json!({"filePath": "a", "content": "x"}), &grant).await.unwrap_err();
    assert!(error.to_string().contains("is a directory"), "{error}");
}

#[tokio::test]
async fn edit_applies_tolerant_matches_and_reports_a_diff() {
    let fx = Fixture::new();
    fx.file("lib.rs", "fn main() {\n        let x = 1;\n        run(x);\n}\n");
    let grant = fx.read_write();
    let edit = call(
        "edit",
        json!({"filePath": "lib.rs", "oldString": "let x = 1;\n    run(x);", "newString": "let x = 2;\n    run(x);"}),
        &grant,
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(fx.ws.join("lib.rs")).unwrap(),
        "fn main() {\n        let x = 2;\n        run(x);\n}\n"
    );
    let diff = edit.metadata["diff"].as_str().unwrap();
    assert!(diff.contains("-        let x = 1;\n+        let x = 2;\n"), "{diff}");
    assert_eq!(edit.metadata["filediff"]["additions"], 1);
    assert_eq!(edit.metadata["filediff"]["deletions"], 1);
}

#[tokio::test]
async fn edit_refuses_ambiguous_missing_and_identical_edits_without_writing() {
    let fx = Fixture::new();
    let original = "a();\nb();\na();\n";
    fx.file("x.rs", original);
    let grant = fx.read_write();
    let ambiguous =
        call("edit", json!({"filePath": "x.rs", "oldString": "a();", "newString": "c();"}), &grant).await.unwrap_err();
    assert!(ambiguous.to_string().contains("Found 2 matches"), "{ambiguous}");
    let missing =
        call("edit", json!({"filePath": "x.rs", "oldString": "zzz", "newString": "c"}), &grant).await.unwrap_err();
    assert!(missing.to_string().contains("oldString not found"), "{missing}");
    let same =
        call("edit", json!({"filePath": "x.rs", "oldString": "b();", "newString": "b();"}), &grant).await.unwrap_err();
    assert!(same.to_string().contains("identical"), "{same}");
    assert_eq!(std::fs::read_to_string(fx.ws.join("x.rs")).unwrap(), original);

    call("edit", json!({"filePath": "x.rs", "oldString": "a();", "newString": "c();", "replaceAll": true}), &grant)
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(fx.ws.join("x.rs")).unwrap(), "c();\nb();\nc();\n");
}

#[tokio::test]
async fn edit_keeps_crlf_line_endings_and_creates_files_from_an_empty_old_string() {
    let fx = Fixture::new();
    fx.file("win.txt", "one\r\ntwo\r\nthree\r\n");
    let grant = fx.read_write();
    call("edit", json!({"filePath": "win.txt", "oldString": "two\nthree", "newString": "2\n3"}), &grant).await.unwrap();
    assert_eq!(std::fs::read_to_string(fx.ws.join("win.txt")).unwrap(), "one\r\n2\r\n3\r\n");
    call("edit", json!({"filePath": "fresh/new.txt", "oldString": "", "newString": "hello"}), &grant).await.unwrap();
    assert_eq!(std::fs::read_to_string(fx.ws.join("fresh/new.txt")).unwrap(), "hello");
}

#[tokio::test]
async fn list_draws_a_tree_that_honours_gitignore_and_skips_build_folders() {
    let fx = Fixture::new();
    fx.file(".gitignore", "secret.env\nlogs-*/\n");
    fx.file("src/main.rs", "");
    fx.file("src/util/mod.rs", "");
    fx.file("README.md", "");
    fx.file("secret.env", "");
    fx.file("logs-today/x.log", "");
    fx.file("node_modules/pkg/index.js", "");
    fx.file("target/debug/out", "");
    fx.file(".hidden/file", "");
    let list = call("list", json!({"ignore": ["*.md"]}), &fx.read_write()).await.unwrap();
    let expected = format!("{}/\n  src/\n    util/\n      mod.rs\n    main.rs\n", fx.ws.display());
    assert_eq!(list.output, expected);
    assert_eq!(list.metadata["count"], 2);
}

#[tokio::test]
async fn list_stops_at_a_hundred_files() {
    let fx = Fixture::new();
    for i in 0..150 {
        fx.file(&format!("many/{i:03}.txt"), "");
    }
    let list = call("list", json!({"path": "many"}), &fx.read_write()).await.unwrap();
    assert_eq!(list.metadata["count"], 100);
    assert_eq!(list.metadata["truncated"], true);
    assert!(list.output.contains("(Truncated: showing the first 100 files."));
}

#[tokio::test]
async fn glob_matches_names_anywhere_or_paths_from_the_root() {
    let fx = Fixture::new();
    fx.file("a.rs", "");
    fx.file("src/b.rs", "");
    fx.file("src/deep/c.rs", "");
    fx.file("src/d.txt", "");
    fx.file("ignored/e.rs", "");
    fx.file(".gitignore", "ignored/\n");
    let grant = fx.read_write();
    let names = |output: &str| {
        let mut v: Vec<String> = output.lines().map(|l| l.rsplit('/').next().unwrap().to_string()).collect();
        v.sort();
        v
    };
    let any = call("glob", json!({"pattern": "*.rs"}), &grant).await.unwrap();
    assert_eq!(names(&any.output), ["a.rs", "b.rs", "c.rs"]);
    assert!(any.output.lines().all(|l| l.starts_with(fx.ws.to_str().unwrap())));
    let rooted = call("glob", json!({"pattern": "src/*.rs"}), &grant).await.unwrap();
    assert_eq!(names(&rooted.output), ["b.rs"]);
    let under = call("glob", json!({"pattern": "**/*.rs", "path": "src"}), &grant).await.unwrap();
    assert_eq!(names(&under.output), ["b.rs", "c.rs"]);
    let none = call("glob", json!({"pattern": "*.py"}), &grant).await.unwrap();
    assert_eq!(none.output, "No files found");
    let bad = call("glob", json!({"pattern": "a[", "path": "."}), &grant).await.unwrap_err();
    assert!(matches!(bad, CallError::InvalidArguments(_)), "{bad:?}");
}

#[tokio::test]
async fn bad_arguments_and_unknown_tools_are_clear_errors() {
    let fx = Fixture::new();
    let grant = fx.read_write();
    let missing = call("read", json!({}), &grant).await.unwrap_err();
    assert!(missing.to_string().contains("missing field `filePath`"), "{missing}");
    let wrong_type = call("read", json!({"filePath": 7}), &grant).await.unwrap_err();
    assert!(matches!(wrong_type, CallError::InvalidArguments(_)));
    let unknown = sandbox().call("nope", "{}", &grant).await.unwrap_err();
    assert_eq!(unknown, CallError::UnknownTool("nope".into()));
    let not_json = sandbox().call("read", "{not json", &grant).await.unwrap_err();
    assert!(matches!(not_json, CallError::InvalidArguments(_)));
}

#[tokio::test]
async fn typed_list_dir_and_read_file_return_records() {
    let fx = Fixture::new();
    fx.file(".gitignore", "*.log\n");
    fx.file("src/lib.rs", "pub fn f() {}\n");
    fx.file("debug.log", "noise\n");
    std::fs::write(fx.ws.join("image.png"), [0x89u8, b'P', b'N', b'G', 0, 0]).unwrap();
    std::os::unix::fs::symlink("src/lib.rs", fx.ws.join("alias.rs")).unwrap();
    let grant = fx.read_only();
    let entries = sandbox().list_dir(&grant, ".").await.unwrap();
    let names: Vec<_> = entries.iter().map(|e| (e.name.as_str(), e.kind, e.ignored)).collect();
    assert_eq!(
        names,
        [
            ("src", EntryKind::Directory, false),
            (".gitignore", EntryKind::File, false),
            ("alias.rs", EntryKind::Symlink, false),
            ("debug.log", EntryKind::File, true),
            ("image.png", EntryKind::File, false),
        ]
    );
    let inner = sandbox().list_dir(&grant, "src").await.unwrap();
    assert_eq!(inner[0].path, "src/lib.rs");

    let text = sandbox().read_file(&grant, "src/lib.rs").await.unwrap();
    assert_eq!(text.content, Content::Text("pub fn f() {}\n".into()));
    assert_eq!(text.size, 14);
    let binary = sandbox().read_file(&grant, "image.png").await.unwrap();
    assert!(matches!(binary.content, Content::Binary(ref b) if b.len() == 6));
    let missing = sandbox().read_file(&grant, "nope.rs").await.unwrap_err();
    assert!(matches!(missing, CallError::NotFound(_)));
    let outside = sandbox().list_dir(&grant, "..").await.unwrap_err();
    assert!(matches!(outside, CallError::OutsideWorkspace(_)));
}
