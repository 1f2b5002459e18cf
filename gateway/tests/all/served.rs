//! The real `wasmgate serve` binary on a loopback port, for the attacks that
//! need a whole process: its start, its descriptor limit, its listening.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long the server may take to say it listens.
const START: Duration = Duration::from_secs(60);

/// A running `wasmgate serve`, stopped when dropped.
pub struct Served {
    child: Child,
    pub url: String,
    client: reqwest::Client,
    data: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Serves `folder` with at most `descriptors` open files.
    pub fn start_with_limit(folder: &Path, descriptors: u64) -> Self {
        Self::try_start(folder, Some(descriptors), &[]).unwrap_or_else(|why| panic!("{why}"))
    }

    /// Serves `folder` with more flags.
    pub fn start_with(folder: &Path, flags: &[&str]) -> Self {
        Self::try_start(folder, None, flags).unwrap_or_else(|why| panic!("{why}"))
    }

    /// Serves `folder` with the configuration file `config` (its text, kept
    /// in the server's data folder) and more flags.
    pub fn start_with_config(folder: &Path, config: &str, flags: &[&str]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let file = data.path().join("config.json");
        std::fs::write(&file, config).unwrap();
        let flags = [&["--config", file.to_str().unwrap()][..], flags].concat();
        Self::launch(folder, data, None, &flags, &[]).unwrap_or_else(|why| panic!("{why}"))
    }

    /// The server's resident memory now, in bytes.
    pub fn resident(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
    }

    /// `POST uri` with a JSON body: the status.
    pub async fn post(&self, uri: &str, body: String) -> u16 {
        let response = self
            .client
            .post(format!("{}{uri}", self.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the server answers");
        response.status().as_u16()
    }

    /// Opens a session: its id.
    pub async fn new_session(&self) -> String {
        let response = self.client.post(format!("{}/session", self.url)).json(&serde_json::json!({})).send().await;
        let session: Value = response.unwrap().json().await.unwrap();
        session["id"].as_str().expect("a session id").to_string()
    }

    /// Prompts session `id` with `text` and waits for the turn to end: the
    /// state of the session's last tool part.
    pub async fn prompt_for_tool_state(&self, id: &str, text: &str) -> Value {
        let body = serde_json::json!({ "parts": [{ "type": "text", "text": text }] });
        let reply = self.client.post(format!("{}/session/{id}/message", self.url)).json(&body).send().await.unwrap();
        assert_eq!(reply.status(), 200);
        let messages: Value =
            self.client.get(format!("{}/session/{id}/message", self.url)).send().await.unwrap().json().await.unwrap();
        let mut parts = messages.as_array().unwrap().iter().flat_map(|m| m["parts"].as_array().unwrap());
        parts.rfind(|p| p["type"] == "tool").expect("a tool part")["state"].clone()
    }

    /// Sends the server process a signal.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: a plain syscall on our own child.
        assert_eq!(unsafe { libc::kill(self.child.id() as libc::pid_t, signal) }, 0);
    }

    /// Stops the server as a service manager does (`SIGTERM`) and waits for
    /// it to exit; whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        self.signal(libc::SIGTERM);
        self.child.wait().expect("the server exits").success()
    }

    /// The address it listens on, as `host:port`.
    pub fn address(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// The server's data folder (its database and tenants).
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// Serves `folder`, or says why it did not listen within [`START`].
    pub fn try_start(folder: &Path, descriptors: Option<u64>, flags: &[&str]) -> Result<Self, String> {
        Self::launch(folder, tempfile::tempdir().unwrap(), descriptors, flags, &[])
    }

    /// Serves `folder` from the data folder `data` with more flags and
    /// environment variables.
    pub fn launch(
        folder: &Path,
        data: tempfile::TempDir,
        descriptors: Option<u64>,
        flags: &[&str],
        environment: &[(&str, &str)],
    ) -> Result<Self, String> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wasmgate"));
        command
            .arg("serve")
            .arg(folder)
            .args(["--port", "0", "--data-dir"])
            .arg(data.path())
            .args(flags)
            .env("WASMGATE_CACHE_DIR", crate::util::cache_dir())
            .env("RUST_LOG", "warn")
            // Two runtime workers, as on a 2-core host, whatever runs the tests.
            .env("TOKIO_WORKER_THREADS", "2")
            .env_remove("OPENCODE_SERVER_PASSWORD")
            .env_remove("WASMGATE_CONFIG")
            .env_remove("WASMGATE_ADMIN_TOKEN")
            .envs(environment.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(limit) = descriptors {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe.
            unsafe {
                command.pre_exec(move || {
                    let limit = libc::rlimit { rlim_cur: limit, rlim_max: limit };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let mut child = command.spawn().map_err(|e| format!("starting wasmgate: {e}"))?;
        let stdout = child.stdout.take().unwrap();
        let (said, heard) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("wasmgate listening on ") {
                    let _ = said.send(url.to_string());
                }
            }
        });
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        match heard.recv_timeout(START) {
            Ok(url) => Ok(Served { child, url, client, data }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("wasmgate serve {} did not listen within {START:?}", folder.display()))
            }
        }
    }

    /// `GET uri`: the status and the body as JSON (or as a string).
    pub async fn get(&self, uri: &str) -> (u16, Value) {
        let response = self.client.get(format!("{}{uri}", self.url)).send().await.expect("the server answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        crate::util::assert_no_secret(&text);
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}
