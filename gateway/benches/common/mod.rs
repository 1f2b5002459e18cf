//! What the server benchmarks share: starting wasmgate and the reference
//! `opencode serve` side by side, and a small HTTP/1.1 client that costs the
//! same against both.

#![allow(dead_code)] // each benchmark uses its own part of this

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The reference binary the e2e tests install from npm (`just e2e`, or
/// `npm install` in tests/e2e), when it is there.
pub fn reference_binary() -> Option<PathBuf> {
    let binary =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/node_modules/opencode-linux-x64/bin/opencode");
    binary.exists().then_some(binary)
}

/// Writes the reference's config into `home` (and keeps it off the network).
pub fn reference_home(home: &Path, config: &str) {
    std::fs::create_dir_all(home.join(".config/opencode")).unwrap();
    std::fs::write(home.join(".config/opencode/opencode.json"), config).unwrap();
}

pub struct Server {
    pub name: &'static str,
    pub child: Child,
    pub address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server and waits for `marker ... on http://ADDRESS`; returns it
/// with the time that took.
pub fn start(name: &'static str, mut command: Command, marker: &str) -> (Server, Duration) {
    let began = Instant::now();
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn server");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = loop {
        let line = lines.next().expect("the server exited before listening").unwrap();
        if line.contains(marker) {
            break line.rsplit("http://").next().unwrap().trim().to_string();
        }
    };
    let elapsed = began.elapsed();
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (Server { name, child, address }, elapsed)
}

pub fn wasmgate(project: &Path, data: &Path, config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wasmgate"));
    command.args(["serve", "--port", "0", "--data-dir"]).arg(data).arg("--config").arg(config).arg(project);
    command
}

pub fn reference(binary: &Path, project: &Path, home: &Path) -> Command {
    let mut command = Command::new(binary);
    command.args(["serve", "--hostname", "127.0.0.1", "--port", "0"]).current_dir(project);
    command.env("HOME", home);
    for (key, folder) in [
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".data"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".state"),
    ] {
        command.env(key, home.join(folder));
    }
    for key in [
        "OPENCODE_DISABLE_AUTOUPDATE",
        "OPENCODE_DISABLE_MODELS_FETCH",
        "OPENCODE_DISABLE_SHARE",
        "OPENCODE_DISABLE_LSP_DOWNLOAD",
        "OPENCODE_DISABLE_DEFAULT_PLUGINS",
        "OPENCODE_DISABLE_EXTERNAL_SKILLS",
        "OPENCODE_DISABLE_CLAUDE_CODE",
        "OPENCODE_PURE",
    ] {
        command.env(key, "1");
    }
    command
}

/// A minimal HTTP/1.1 keep-alive client: enough for a load generator that
/// must cost the same against both servers.
pub struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    pub async fn open(address: &str) -> Self {
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        Connection { stream, buffer: Vec::with_capacity(64 << 10) }
    }

    pub async fn request(&mut self, method: &str, path: &str, body: &str) -> (u16, Vec<u8>) {
        self.request_with(method, path, body, "").await
    }

    /// A request with more header lines (each ending in `\r\n`).
    pub async fn request_with(&mut self, method: &str, path: &str, body: &str, headers: &str) -> (u16, Vec<u8>) {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n{headers}content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream.write_all(request.as_bytes()).await.unwrap();
        let head_end = loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                break end + 4;
            }
            self.fill().await;
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).to_ascii_lowercase();
        let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        self.buffer.drain(..head_end);
        let length = head.lines().find_map(|l| l.strip_prefix("content-length:")).map(|v| v.trim().parse().unwrap());
        let body = match length {
            Some(length) => {
                while self.buffer.len() < length {
                    self.fill().await;
                }
                self.buffer.drain(..length).collect()
            }
            None => self.chunked().await,
        };
        (status, body)
    }

    async fn chunked(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(end) = find(&self.buffer, b"\r\n") {
                    break end;
                }
                self.fill().await;
            };
            let size =
                usize::from_str_radix(std::str::from_utf8(&self.buffer[..line_end]).unwrap().trim(), 16).unwrap();
            self.buffer.drain(..line_end + 2);
            while self.buffer.len() < size + 2 {
                self.fill().await;
            }
            body.extend(self.buffer.drain(..size));
            self.buffer.drain(..2);
            if size == 0 {
                return body;
            }
        }
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 16 << 10];
        let n = self.stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed the connection");
        self.buffer.extend_from_slice(&chunk[..n]);
    }
}

/// Requests per second of `GET path` over `connections` keep-alive
/// connections for `time`, the i-th sending `headers[i % len]` (header
/// lines, each ending in `\r\n`; `[String::new()]` for none).
pub async fn load(address: &str, path: &str, headers: &[String], connections: usize, time: Duration) -> f64 {
    let deadline = Instant::now() + time;
    let workers: Vec<_> = (0..connections)
        .map(|i| {
            let (address, path, header) = (address.to_string(), path.to_string(), headers[i % headers.len()].clone());
            tokio::spawn(async move {
                let mut connection = Connection::open(&address).await;
                let mut done = 0u64;
                while Instant::now() < deadline {
                    let (status, body) = connection.request_with("GET", &path, "", &header).await;
                    assert_eq!(status, 200, "GET {path}: {}", String::from_utf8_lossy(&body));
                    done += 1;
                }
                done
            })
        })
        .collect();
    let began = Instant::now();
    let mut total = 0;
    for worker in workers {
        total += worker.await.unwrap();
    }
    total as f64 / began.elapsed().as_secs_f64()
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The first `"id":"ses_..."` or `"sessionID":"ses_..."` in `bytes`.
pub fn session_id(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let start = text.find("\"ses_")? + 1;
    let end = start + text[start..].find('"')?;
    Some(text[start..end].to_string())
}

/// Reads Server-Sent Events from `stream` until it closes, handing each
/// frame (`data: ...\n\n`) to `on_frame` with the time its bytes arrived.
pub async fn read_frames(mut stream: TcpStream, mut on_frame: impl FnMut(&[u8], Instant)) {
    let mut pending = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let at = Instant::now();
        pending.extend_from_slice(&chunk[..n]);
        while let Some(end) = find(&pending, b"\n\n") {
            let frame: Vec<u8> = pending.drain(..end + 2).collect();
            on_frame(&frame, at);
        }
    }
}

/// Prints the header of a comparison table.
pub fn print_header() {
    println!("{:<42} {:>14} {:>14} {:>10}", "figure", "wasmgate", "reference", "ratio");
}

/// Prints one figure of wasmgate and the reference, with how many times
/// better wasmgate is (above 1.0 is better).
pub fn row(name: &str, ours: f64, theirs: Option<f64>, unit: &str, higher_is_better: bool) {
    let ratio = theirs.map(|t| if higher_is_better { ours / t } else { t / ours });
    println!(
        "{:<42} {:>11.1} {unit:<2} {:>11} {unit:<2} {:>9}",
        name,
        ours,
        theirs.map(|t| format!("{t:.1}")).unwrap_or_else(|| "-".into()),
        ratio.map(|r| format!("{r:.1}x")).unwrap_or_else(|| "-".into()),
    );
}
