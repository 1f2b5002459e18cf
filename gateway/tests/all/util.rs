//! Fixtures shared by the tests: workspaces, sandboxes and the CLI.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;
use wasmgate::sandbox::{CallError, CompileCache, Grant, Limits, Sandbox, ToolOutput};

/// What the file outside every workspace contains. No test output may.
pub const SECRET: &str = "TOP-SECRET-OUTSIDE-THE-WORKSPACE";

/// The test-only component that misbehaves on purpose.
pub const HOSTILE: &str = env!("WASMGATE_COMPONENT_TEST_HOSTILE");

/// Limits small enough that limit tests finish fast.
pub const TEST_LIMITS: Limits = Limits {
    deadline: Duration::from_secs(2),
    memory: 64 << 20,
    output: 1 << 20,
    concurrency: 16,
    disk_write: 2 << 20,
};

/// A temporary folder holding a workspace `ws/` and, beside it, `outside.txt`
/// with [`SECRET`] in it.
pub struct Fixture {
    _dir: tempfile::TempDir,
    pub ws: PathBuf,
    pub outside: PathBuf,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let ws = dir.path().join("ws");
        std::fs::create_dir(&ws).unwrap();
        let outside = dir.path().join("outside.txt");
        std::fs::write(&outside, SECRET).unwrap();
        Fixture { ws: ws.canonicalize().unwrap(), outside: outside.canonicalize().unwrap(), _dir: dir }
    }

    /// Writes a file in the workspace, creating folders.
    pub fn file(&self, rel: &str, content: &str) -> PathBuf {
        let path = self.ws.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }

    pub fn read_write(&self) -> Grant {
        Grant::read_write(&self.ws).unwrap()
    }

    pub fn read_only(&self) -> Grant {
        Grant::read_only(&self.ws).unwrap()
    }

    /// Asserts the secret file outside is still exactly as it was.
    pub fn assert_outside_untouched(&self) {
        assert_eq!(std::fs::read_to_string(&self.outside).unwrap(), SECRET, "the file outside was changed");
        let siblings: Vec<_> = std::fs::read_dir(self.outside.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut siblings = siblings;
        siblings.sort();
        assert_eq!(siblings, ["outside.txt", "ws"], "something was created outside the workspace");
    }
}

/// The compile cache the tests share, inside cargo's target folder.
pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("component-cache")
}

/// A sandbox with the built-in tools and the hostile test component, under
/// [`TEST_LIMITS`]. Built once per test binary.
pub fn sandbox() -> Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX
        .get_or_init(|| {
            // Tests call this from inside their own runtime, which cannot
            // block on another: build on a thread of its own.
            std::thread::spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(
                    Sandbox::builder()
                        .limits(TEST_LIMITS)
                        .cache(CompileCache::at(cache_dir()))
                        .component("test-hostile", std::fs::read(HOSTILE).unwrap())
                        .build(),
                )
            })
            .join()
            .expect("building the test sandbox panicked")
            .expect("building the test sandbox")
        })
        .clone()
}

/// Calls a tool with a JSON value as arguments.
pub async fn call(tool: &str, arguments: serde_json::Value, grant: &Grant) -> Result<ToolOutput, CallError> {
    sandbox().call(tool, &arguments.to_string(), grant).await
}

/// Runs the `wasmgate` binary with the shared cache.
pub fn wasmgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasmgate"))
        .args(args)
        .env("WASMGATE_CACHE_DIR", cache_dir())
        .env_remove("RUST_LOG")
        .output()
        .expect("running wasmgate")
}

/// Asserts no text in `haystack` reveals the secret.
pub fn assert_no_secret(haystack: &str) {
    assert!(!haystack.contains(SECRET), "the secret leaked: {haystack}");
}

/// Percent-encodes a query value or header, as the SDK does.
pub fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
