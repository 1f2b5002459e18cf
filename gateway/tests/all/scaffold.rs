//! `wasmgate tool new`: the scaffold in each language builds with its real
//! toolchain (cargo; componentize-py and componentize-js where
//! `examples/install-toolchains` put them), its own `test.sh` passes through
//! the real binary, and what it built installs and answers. A scaffold whose
//! behaviour is changed fails its `test.sh`, so the script can fail.

use crate::examples::{skipped, toolchains};
use crate::util::wasmgate;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `wasmgate tool new NAME --lang LANG --dir DIR`.
fn new_tool(name: &str, lang: &str, dir: &Path) -> Output {
    wasmgate(&["tool", "new", name, "--lang", lang, "--dir", dir.to_str().unwrap()])
}

/// Runs a scaffold's `test.sh` with this build's binary; whether it passed,
/// and what it said.
fn run_test_script(dir: &Path, env: &[(&str, &Path)]) -> (bool, String) {
    let mut command = Command::new(dir.join("test.sh"));
    command.env("WASMGATE", env!("CARGO_BIN_EXE_wasmgate"));
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("running test.sh");
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), said)
}

/// A scaffold's component, installed with `tool add` into a tools folder of
/// its own and called on the scaffold's README: what it printed.
fn install_and_call(name: &str, wasm: &Path, work: &Path) -> String {
    let tools = work.join("tools");
    let added =
        wasmgate(&["tool", "add", wasm.to_str().unwrap(), "--name", name, "--tools-dir", tools.to_str().unwrap()]);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let root = wasm.ancestors().find(|dir| dir.join("README.md").exists()).unwrap();
    let arguments = r#"{"path":"README.md"}"#;
    let called = wasmgate(&[
        "tool",
        "call",
        name,
        arguments,
        "--root",
        root.to_str().unwrap(),
        "--tools-dir",
        tools.to_str().unwrap(),
    ]);
    assert!(called.status.success(), "{}", String::from_utf8_lossy(&called.stderr));
    String::from_utf8_lossy(&called.stdout).into_owned()
}

#[test]
fn a_new_rust_tool_builds_passes_its_test_and_installs() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("line_count");
    let made = new_tool("line_count", "rust", &dir);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let said = String::from_utf8_lossy(&made.stdout);
    assert!(said.contains("wrote line_count (Rust)") && said.contains("./test.sh"), "{said}");
    // A target folder shared between runs keeps the build incremental.
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/scaffold-tests");
    let (passed, said) = run_test_script(&dir, &[("CARGO_TARGET_DIR", &target)]);
    assert!(passed && said.contains("line_count: all passed"), "{said}");
    let wasm = target.join("wasm32-wasip2/release/line_count.wasm");
    let copy = dir.join("line_count.wasm");
    std::fs::copy(&wasm, &copy).unwrap();
    let counted = install_and_call("line_count", &copy, work.path());
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert_eq!(
        counted,
        format!(
            "README.md: {} lines, {} words, {} bytes\n",
            readme.lines().count(),
            readme.split_whitespace().count(),
            readme.len()
        )
    );

    // Changed to say something else, it fails its own test.
    let source = dir.join("src/lib.rs");
    let changed = std::fs::read_to_string(&source).unwrap().replace("{lines} lines", "{lines} rows");
    std::fs::write(&source, changed).unwrap();
    let (passed, said) = run_test_script(&dir, &[("CARGO_TARGET_DIR", &target)]);
    assert!(!passed && said.contains("FAILED: {\"path\":\"hello.txt\"} gave ok: hello.txt: 2 rows"), "{said}");
}

#[test]
fn a_new_python_tool_builds_and_passes_its_test() {
    let python = toolchains().join("python/bin/python3");
    if !python.exists() {
        return skipped("a new Python tool");
    }
    let work = tempfile::tempdir().unwrap();
    // componentize-py through the toolchain's interpreter (its script names
    // the folder the virtual environment was made in).
    let componentize_py = work.path().join("componentize-py");
    std::fs::write(
        &componentize_py,
        format!(
            "#!/bin/sh\nexec '{}' -c 'import sys; from componentize_py import script; sys.argv[0] = \"componentize-py\"; sys.exit(script())' \"$@\"\n",
            python.display()
        ),
    )
    .unwrap();
    let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&componentize_py, executable).unwrap();
    let dir = work.path().join("py_count");
    assert!(new_tool("py_count", "python", &dir).status.success());
    let (passed, said) = run_test_script(&dir, &[("COMPONENTIZE_PY", &componentize_py)]);
    assert!(passed && said.contains("py_count: all passed"), "{said}");
    let counted = install_and_call("py_count", &dir.join("py_count.wasm"), work.path());
    assert!(counted.starts_with("README.md: ") && counted.ends_with(" bytes\n"), "{counted}");
}

#[test]
fn a_new_javascript_tool_builds_and_passes_its_test() {
    let node_modules = toolchains().join("node/node_modules");
    if !node_modules.join("@bytecodealliance/componentize-js").exists() {
        return skipped("a new JavaScript tool");
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("js_count");
    assert!(new_tool("js_count", "js", &dir).status.success());
    // The packages `npm install` would fetch, from the toolchains folder.
    std::os::unix::fs::symlink(&node_modules, dir.join("node_modules")).unwrap();
    let (passed, said) = run_test_script(&dir, &[]);
    assert!(passed && said.contains("js_count: all passed"), "{said}");
    let counted = install_and_call("js_count", &dir.join("js_count.wasm"), work.path());
    assert!(counted.starts_with("README.md: ") && counted.ends_with(" bytes\n"), "{counted}");
}

#[test]
fn a_new_tool_needs_a_plain_free_name_and_an_empty_folder() {
    let work = tempfile::tempdir().unwrap();
    let refused = |name: &str, dir: &PathBuf, reason: &str| {
        let output = new_tool(name, "rust", dir);
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && said.contains(reason), "{name}: {said}");
    };
    for bad in ["Word-Count", "../up", "2x", ""] {
        refused(bad, &work.path().join("x"), "is not a tool name for a new tool");
    }
    refused("read", &work.path().join("x"), "read is already a tool here (of component files)");
    assert!(!work.path().join("x").exists(), "nothing written for a refused name");
    let occupied = work.path().join("occupied");
    std::fs::create_dir(&occupied).unwrap();
    std::fs::write(occupied.join("keep.txt"), "mine").unwrap();
    refused("fine_name", &occupied, "is not empty");
    assert_eq!(std::fs::read_dir(&occupied).unwrap().count(), 1, "nothing written into an occupied folder");
    assert_eq!(std::fs::read_to_string(occupied.join("keep.txt")).unwrap(), "mine");
    let bad_lang = wasmgate(&["tool", "new", "fine_name", "--lang", "cobol"]);
    assert!(!bad_lang.status.success() && String::from_utf8_lossy(&bad_lang.stderr).contains("rust, python, js"));
}
