//! Jailed processes (`--processes jailed`): real programs run by the shell
//! reach the workspace, the system's programs and the configured toolchains,
//! and nothing else. Every boundary the jail draws is tried here from inside
//! it: files beside the workspace, in a home folder and in the server's own
//! folders, writes and links out, the host's loopback, other processes'
//! `/proc`, and processes that multiply, spin, outlive their call or fill
//! the disk. The same table in `off` mode runs nothing.

use crate::scripted_model::{Chunk, Reply, ScriptedModel, says};
use crate::served::Served;
use crate::util::{Fixture, SECRET, TEST_LIMITS, assert_no_secret, cache_dir, wasmgate};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wasmgate::egress::EgressPolicy;
use wasmgate::jail::{Jail, JailSettings};
use wasmgate::sandbox::{CallError, CompileCache, Limits, Processes, Sandbox};

/// Where rustup and cargo live on this machine.
fn rust_homes() -> (PathBuf, PathBuf) {
    let home = dirs::home_dir().expect("a home folder");
    let from = |name: &str, default: &str| std::env::var_os(name).map_or_else(|| home.join(default), PathBuf::from);
    (from("CARGO_HOME", ".cargo"), from("RUSTUP_HOME", ".rustup"))
}

fn settings() -> JailSettings {
    let (cargo, rustup) = rust_homes();
    JailSettings {
        helper: env!("CARGO_BIN_EXE_wasmgate").into(),
        env: vec![
            ("RUSTUP_HOME".into(), rustup.display().to_string()),
            ("CARGO_HOME".into(), cargo.display().to_string()),
        ],
        toolchains: vec![cargo, rustup],
        processes: Some(64),
        ..JailSettings::default()
    }
}

/// Limits for tests that time nothing: a loaded machine (the project test
/// compiling beside them) must not turn a slow start into a timeout.
const UNHURRIED: Limits = Limits { deadline: Duration::from_secs(20), ..TEST_LIMITS };

async fn jailed(limits: Limits) -> Sandbox {
    jailed_with(settings(), limits).await
}

async fn jailed_with(settings: JailSettings, limits: Limits) -> Sandbox {
    let mut jail = Jail::new(settings).unwrap();
    jail.probe().expect("this machine can build the jail");
    Sandbox::builder()
        .limits(limits)
        .cache(CompileCache::at(cache_dir()))
        .processes(Processes::Jailed(Arc::new(jail)))
        .build()
        .await
        .unwrap()
}

async fn bash(sandbox: &Sandbox, script: &str, grant: &wasmgate::sandbox::Grant) -> Result<String, CallError> {
    sandbox.call("bash", &json!({ "command": script }).to_string(), grant).await.map(|o| o.output)
}

/// `bash` in a call that records its changes, as a session's calls do: a
/// jailed program then writes into a layer applied when it ends.
async fn bash_recorded(sandbox: &Sandbox, script: &str, grant: &wasmgate::sandbox::Grant) -> Result<String, CallError> {
    use wasmgate::conversation::changes::StepRecorder;
    use wasmgate::sandbox::{CallOptions, ChangeSink};
    let recorder = Arc::new(StepRecorder::new("msg_1", "prt_1"));
    let options = CallOptions { changes: Some(recorder as Arc<dyn ChangeSink>), ..Default::default() };
    let arguments = json!({ "command": script }).to_string();
    sandbox.call_with("bash", &arguments, grant, options).await.map(|o| o.output)
}

/// Whether a process whose command line holds `marker` is alive, waiting a
/// little for the kernel to finish killing a jail.
fn still_running(marker: &str) -> bool {
    let alive = || {
        std::fs::read_dir("/proc").unwrap().filter_map(Result::ok).any(|entry| {
            std::fs::read(entry.path().join("cmdline"))
                .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " ").contains(marker))
                .unwrap_or(false)
        })
    };
    for _ in 0..50 {
        if !alive() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// A small Rust crate with a test, a Python script, in a git repository.
fn project(fx: &Fixture) {
    fx.file("Cargo.toml", "[package]\nname = \"fixture\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n");
    fx.file(
        "src/lib.rs",
        "pub fn add(a: i32, b: i32) -> i32 { a + b }\n\n#[test]\nfn adds() { assert_eq!(add(2, 3), 5); }\n",
    );
    fx.file("check.py", "import sys\nprint('python', sys.version_info[0], 6 * 7)\n");
    fx.file(".gitignore", "target/\n");
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&fx.ws)
            .output()
            .unwrap();
        assert!(status.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&status.stderr));
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "start"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn jailed_processes_build_test_and_diff_a_project() {
    let fx = Fixture::new();
    project(&fx);
    let sandbox = jailed(Limits { deadline: Duration::from_secs(120), disk_write: 1 << 30, ..TEST_LIMITS }).await;
    let grant = fx.read_write();
    let script = "cargo test --offline > log.txt 2>&1; echo status=$?; grep 'test result' log.txt";
    let tested = bash(&sandbox, script, &grant).await.unwrap();
    assert!(tested.contains("test result: ok. 1 passed"), "{tested}");
    assert!(tested.starts_with("status=0\n"), "{tested}");
    let python = bash(&sandbox, "python3 check.py; python3 -c 'import os; print(os.getcwd())'", &grant).await.unwrap();
    assert_eq!(python, format!("python 3 42\n{}\n", fx.ws.display()));
    let script = "echo 'pub fn sub() {}' >> src/lib.rs; git status --short; git diff --stat";
    let diff = bash(&sandbox, script, &grant).await.unwrap();
    assert!(diff.starts_with(" M src/lib.rs\n"), "{diff}");
    assert!(diff.contains("1 file changed, 1 insertion(+)"), "{diff}");
    // The script's exported variables reach the process; the server's never do.
    let env =
        bash(&sandbox, "export GREETING=hi; python3 -c 'import os; print(sorted(os.environ))'", &grant).await.unwrap();
    assert!(env.contains("'GREETING'") && env.contains("'RUSTUP_HOME'"), "{env}");
    assert!(!env.contains("CARGO_PKG") && !env.contains("WASMGATE"), "the server's environment leaked: {env}");
}

/// The escape table: each script tries one boundary from inside the jail.
fn escapes(fx: &Fixture, home_secret: &std::path::Path, port: u16) -> Vec<String> {
    let outside = fx.outside.display();
    let home = home_secret.display();
    let cache = cache_dir();
    let cache = cache.display();
    let pid = std::process::id();
    vec![
        format!("sh -c 'cat ../outside.txt; cat {outside}; echo status=$?'"),
        format!("sh -c 'cat {home}; ls $(dirname {home}); ls /root; echo status=$?'"),
        format!("sh -c 'ls {cache}; cat /etc/shadow; echo status=$?'"),
        format!("sh -c 'echo pwned > ../pwned.txt; echo pwned >> {outside}; touch /tmp/pwned-by-jail; echo status=$?'"),
        format!("sh -c 'ln -s {outside} link; cat link; ln {outside} hard; cat hard; echo status=$?'"),
        format!("sh -c 'mkdir d; cd d; ln -s ../.. up; cat up/outside.txt; echo status=$?'"),
        format!(
            "python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)\" 2>&1 | tail -1"
        ),
        "python3 -c \"import socket; socket.socket(socket.AF_UNIX)\" 2>&1 | tail -1".into(),
        format!("sh -c 'cat /proc/{pid}/environ; ls /proc | grep -c [0-9]; echo status=$?'"),
        "sh -c 'kill -9 1; kill -9 -1; echo status=$?'".into(),
        "python3 -c \"import ctypes; print(ctypes.CDLL(None).unshare(0x10000000))\"".into(),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_inside_the_jail_reaches_outside() {
    let fx = Fixture::new();
    fx.file("a.txt", "alpha\n");
    let home = tempfile::tempdir().unwrap();
    let home_secret = home.path().join("secret.txt");
    std::fs::write(&home_secret, SECRET).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let sandbox = jailed(UNHURRIED).await;
    let grant = fx.read_write();
    // Once writing to the workspace directly, once into a write layer.
    for recorded in [false, true] {
        let mut outputs = Vec::new();
        for script in escapes(&fx, &home_secret, port) {
            let output = match recorded {
                false => bash(&sandbox, &script, &grant).await.unwrap(),
                true => bash_recorded(&sandbox, &script, &grant).await.unwrap(),
            };
            assert_no_secret(&output);
            outputs.push((script, output));
        }
        escapes_refused(&outputs, &listener);
        for leftover in ["link", "hard", "d"] {
            let _ =
                std::fs::remove_dir_all(fx.ws.join(leftover)).or_else(|_| std::fs::remove_file(fx.ws.join(leftover)));
        }
    }
    fx.assert_outside_untouched();
    assert_eq!(std::fs::read_to_string(&home_secret).unwrap(), SECRET);
    assert!(!std::path::Path::new("/tmp/pwned-by-jail").exists());
    assert_eq!(bash(&sandbox, "sh -c 'cat a.txt'", &grant).await.unwrap(), "alpha\n", "the next call works");
}

/// What each script of the escape table must have met.
fn escapes_refused(outputs: &[(String, String)], listener: &std::net::TcpListener) {
    let said = |i: usize| &outputs[i].1;
    for (script, output) in outputs {
        eprintln!("$ {script}\n{output}");
    }
    assert!(said(0).contains("status=1\n") && said(0).contains("Permission denied"), "{}", said(0));
    assert!(said(1).contains("Permission denied") && !said(1).contains("secret.txt\n"), "{}", said(1));
    assert!(said(1).contains("cannot open directory '/root'"), "{}", said(1));
    assert!(said(2).contains("Permission denied") && !said(2).contains("root:"), "{}", said(2));
    assert!(said(3).contains("Permission denied"), "{}", said(3));
    assert!(said(4).contains("Permission denied"), "{}", said(4));
    assert!(said(5).contains("Permission denied"), "{}", said(5));
    assert!(said(6).contains("ConnectionRefusedError"), "{}", said(6));
    assert!(listener.accept().is_err(), "the jail reached the host's loopback");
    assert!(said(7).contains("PermissionError"), "{}", said(7));
    // The jail's /proc shows the jail's processes: a handful, never the server.
    let counted: u32 = said(8).lines().next().unwrap().trim().parse().unwrap();
    assert!(counted < 10 && said(8).contains("No such file"), "{}", said(8));
    assert!(said(9).contains("No such process"), "nothing outside can be signalled: {}", said(9));
    assert_eq!(said(10).trim(), "-1", "unshare is refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn traps_laid_in_one_call_catch_nothing_in_the_next() {
    // The model as the attacker across two calls: the first plants links
    // out, a FIFO and a delayed thief; between the calls a folder the model
    // made is swapped for a link to what lies beside the workspace (as
    // another process on the host might); the second call walks into all of it,
    // through the shell's own commands and through jailed programs.
    let fx = Fixture::new();
    let sandbox = jailed(UNHURRIED).await;
    let grant = fx.read_write();
    let plant = "sh -c 'ln -s ../outside.txt trap; ln -s / root; mkfifo fifo; mkdir sub; \
                 (setsid sh -c \"sleep 2; cat ../outside.txt > stolen; cp trap stolen2\" &); echo planted'";
    assert_eq!(bash(&sandbox, plant, &grant).await.unwrap(), "planted\n");
    std::fs::remove_dir(fx.ws.join("sub")).unwrap();
    std::os::unix::fs::symlink(fx.outside.parent().unwrap(), fx.ws.join("sub")).unwrap();

    let builtins = "cat trap; cat root/etc/hostname; cat fifo; cat sub/outside.txt; cd sub; echo status=$?";
    let output = bash(&sandbox, builtins, &grant).await.unwrap();
    assert_no_secret(&output);
    assert!(output.contains("not a regular file") && output.ends_with("status=1\n"), "{output}");
    assert_eq!(output.matches("Permission denied").count(), 3, "{output}");
    let programs = "sh -c 'cat trap; cat root/etc/shadow; cat sub/outside.txt; ls sub; cp trap copy; echo status=$?'";
    let output = bash(&sandbox, programs, &grant).await.unwrap();
    assert_no_secret(&output);
    assert!(output.contains("status=1\n"), "{output}");
    assert_eq!(output.matches("Permission denied").count(), 5, "{output}");
    assert!(!output.contains("outside.txt\n"), "the jail listed the folder outside: {output}");

    std::thread::sleep(Duration::from_millis(2500));
    assert!(!fx.ws.join("stolen").exists() && !fx.ws.join("stolen2").exists(), "the delayed thief ran");
    assert!(!fx.ws.join("copy").exists() || std::fs::read_to_string(fx.ws.join("copy")).unwrap() != SECRET);
    fx.assert_outside_untouched();
    assert_eq!(bash(&sandbox, "sh -c 'echo fine'", &grant).await.unwrap(), "fine\n", "the next call works");
}

#[tokio::test(flavor = "multi_thread")]
async fn egress_goes_only_where_the_host_allows_and_only_through_its_proxy() {
    // An echo server on the host's loopback, which the policy names.
    let echo = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = echo.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in echo.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = stream.try_clone().unwrap();
                let _ = std::io::copy(&mut reader, &mut &stream);
            });
        }
    });
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other_port = other.local_addr().unwrap().port();
    let policy = EgressPolicy {
        allow: vec![format!("127.0.0.1:{port}"), "*.example.invalid".into()],
        ports: vec![],
        deny: vec![],
    };
    let sandbox = jailed_with(JailSettings { egress: Some(policy), ..settings() }, UNHURRIED).await;
    let fx = Fixture::new();
    // Asks the jail's proxy (as `HTTPS_PROXY` names it) for `argv[1]`, prints
    // the status line and body, then, through an open tunnel, an echo.
    fx.file(
        "probe.py",
        r#"import os, socket, sys
port = int(os.environ["HTTPS_PROXY"].rsplit(":", 1)[1])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(sys.argv[1].encode() + b"\r\n\r\n")
reply = b""
while b"\r\n\r\n" not in reply or b" 200 " not in reply.split(b"\r\n")[0]:
    chunk = s.recv(1000)
    if not chunk:
        break
    reply += chunk
head, _, body = reply.partition(b"\r\n\r\n")
print(head.split(b"\r\n")[0].decode(), body.decode().strip())
if b" 200 " in head:
    s.sendall(b"ping")
    print(s.recv(10).decode())
"#,
    );
    let ask = |request: String| format!("python3 probe.py '{request}'");
    let grant = fx.read_write();
    let allowed = bash(&sandbox, &ask(format!("CONNECT 127.0.0.1:{port} HTTP/1.1")), &grant).await.unwrap();
    assert_eq!(allowed, "HTTP/1.1 200 Connection established \nping\n", "{allowed}");
    for (target, why) in [
        (format!("127.0.0.1:{other_port}"), "not in the host's allow list"),
        (format!("localhost:{port}"), "not in the host's allow list"),
        ("10.0.0.1:443".into(), "not in the host's allow list"),
        ("www.example.invalid:443".into(), "does not resolve"),
    ] {
        let refused = bash(&sandbox, &ask(format!("CONNECT {target} HTTP/1.1")), &grant).await.unwrap();
        assert!(
            refused.starts_with("HTTP/1.1 403 Forbidden wasmgate: ") && refused.contains(why),
            "{target}: {refused}"
        );
        assert_eq!(refused.lines().count(), 1, "no tunnel: {refused}");
    }
    let plain = bash(&sandbox, &ask(format!("GET http://127.0.0.1:{port}/ HTTP/1.1")), &grant).await.unwrap();
    assert!(plain.starts_with("HTTP/1.1 405"), "plain HTTP is not proxied: {plain}");
    // Tunnels held open hold threads outside the jail's process limit: a
    // jail gets 64 at once.
    fx.file(
        "hoard.py",
        r#"import os, socket, sys
port = int(os.environ["HTTPS_PROXY"].rsplit(":", 1)[1])
held, statuses = [], []
for _ in range(70):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(("CONNECT 127.0.0.1:%s HTTP/1.1\r\n\r\n" % sys.argv[1]).encode())
    statuses.append(s.recv(100).split(b" ")[1].decode())
    held.append(s)
print(statuses.count("200"), statuses.count("429"))
"#,
    );
    let hoard = bash(&sandbox, &format!("python3 hoard.py {port}"), &grant).await.unwrap();
    assert_eq!(hoard, "64 6\n", "{hoard}");
    // Around the proxy, the host's loopback is still another network.
    let direct = format!(
        "python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)\" 2>&1 | tail -1"
    );
    let direct = bash(&sandbox, &direct, &grant).await.unwrap();
    assert!(direct.contains("ConnectionRefusedError"), "{direct}");
    assert!(other.set_nonblocking(true).is_ok() && other.accept().is_err(), "the unlisted port was reached");
}

#[tokio::test(flavor = "multi_thread")]
async fn runaway_processes_end_with_their_call() {
    let fx = Fixture::new();
    let sandbox = jailed(TEST_LIMITS).await;
    let grant = fx.read_write();
    // A fork bomb meets the process limit, then the deadline.
    let bomb = bash(&sandbox, "sh -c ': bomb-7f3a; f() { f | f & }; f; wait'", &grant).await;
    assert!(matches!(bomb, Ok(_) | Err(CallError::Timeout(_))), "{bomb:?}");
    assert!(!still_running("bomb-7f3a"), "the fork bomb outlived its call");
    // A child that spins is stopped at the deadline.
    let spin = bash(&sandbox, "sh -c ': spin-7f3a; while :; do :; done'", &grant).await;
    assert_eq!(spin.unwrap_err(), CallError::Timeout(TEST_LIMITS.deadline));
    assert!(!still_running("spin-7f3a"));
    // A process that leaves its group and its parent still ends with the jail.
    let escaped = bash(&sandbox, "sh -c '(setsid sleep 987654 &); echo started'", &grant).await.unwrap();
    assert_eq!(escaped, "started\n");
    assert!(!still_running("sleep 987654"), "a double fork outlived its call");
    // A file cannot grow past what one call may write.
    let big = bash(&sandbox, "sh -c 'head -c 10000000000 /dev/zero > big'; echo status=$?", &grant).await.unwrap();
    assert!(big.ends_with("status=153\n"), "killed by SIGXFSZ: {big}");
    let size = std::fs::metadata(fx.ws.join("big")).unwrap().len();
    assert!(size <= TEST_LIMITS.disk_write, "{size} bytes written");
    assert_eq!(bash(&sandbox, "sh -c 'echo fine'", &grant).await.unwrap(), "fine\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_grant_jails_processes_read_only() {
    let fx = Fixture::new();
    fx.file("a.txt", "alpha\n");
    let sandbox = jailed(TEST_LIMITS).await;
    let script = "sh -c 'cat a.txt; echo x > made.txt; rm a.txt; mkdir d; echo status=$?'";
    let output = bash(&sandbox, script, &fx.read_only()).await.unwrap();
    assert!(output.starts_with("alpha\n") && output.contains("Permission denied"), "{output}");
    assert!(output.contains("status=1\n"), "{output}");
    assert!(!fx.ws.join("made.txt").exists() && fx.ws.join("a.txt").exists() && !fx.ws.join("d").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn with_processes_off_the_same_table_runs_nothing() {
    let fx = Fixture::new();
    let home = tempfile::tempdir().unwrap();
    let sandbox = crate::util::sandbox();
    for script in escapes(&fx, &home.path().join("secret.txt"), 9) {
        let output = bash(&sandbox, &script, &fx.read_write()).await.unwrap();
        assert!(output.contains("command not found"), "{script}: {output}");
    }
    for script in ["cargo test", "python3 -c 'print(1)'", "git status"] {
        let output = bash(&sandbox, script, &fx.read_write()).await.unwrap();
        assert!(output.contains("command not found"), "{script}: {output}");
    }
    fx.assert_outside_untouched();
}

/// The configuration a jailed server or `tool call` reads.
pub(crate) fn config_file(dir: &std::path::Path, extra: Value) -> PathBuf {
    let settings = settings();
    let mut config = json!({
        "wasmgate": { "sandbox": { "processes": "jailed", "jail": {
            "toolchains": settings.toolchains,
            "env": settings.env.into_iter().map(|(k, v)| (k, Value::from(v))).collect::<serde_json::Map<String, Value>>(),
        } } }
    });
    for (key, value) in extra.as_object().unwrap() {
        config[key] = value.clone();
    }
    let path = dir.join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// A jailed server in `fx`'s workspace whose model answers `replies` (and
/// the folder of its configuration, kept while it serves).
async fn jailed_server(fx: &Fixture, replies: Vec<Reply>) -> (ScriptedModel, Served, tempfile::TempDir) {
    let model = ScriptedModel::start(replies).await;
    let dir = tempfile::tempdir().unwrap();
    let model_config: Value = serde_json::from_str(&crate::agent::config(&model, json!({}))).unwrap();
    let config = config_file(dir.path(), model_config);
    let served = Served::start_with(&fx.ws, &["--config", config.to_str().unwrap()]);
    (model, served, dir)
}

#[test]
fn tool_call_runs_jailed_processes_from_the_command_line() {
    let fx = Fixture::new();
    fx.file("a.txt", "alpha\n");
    let config = tempfile::tempdir().unwrap();
    let config = config_file(config.path(), json!({}));
    let ws = fx.ws.to_str().unwrap();
    let arguments = json!({ "command": "python3 -c 'print(6 * 7)'; sh -c 'cat ../outside.txt'" }).to_string();
    let output = wasmgate(&["tool", "call", "bash", &arguments, "--root", ws, "--config", config.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("42\n") && stdout.contains("Permission denied"), "{stdout}");
    assert_no_secret(&stdout);
    let listed = wasmgate(&["tool", "list", "--processes", "jailed", "--config", config.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&listed.stdout).starts_with("shell: built-in commands, and jailed processes"));
    // A jail that cannot be built refuses to start, never runs unconfined.
    let broken = config_file(fx.ws.parent().unwrap(), json!({}));
    let text = std::fs::read_to_string(&broken).unwrap().replace(&rust_homes().0.display().to_string(), "/nonexistent");
    std::fs::write(&broken, text).unwrap();
    let refused = wasmgate(&["tool", "list", "--config", broken.to_str().unwrap()]);
    assert!(!refused.status.success(), "{}", String::from_utf8_lossy(&refused.stderr));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--processes jailed"));
    std::fs::remove_file(broken).unwrap();
}

#[tokio::test]
async fn the_agent_checks_its_work_in_the_jail() {
    let fx = Fixture::new();
    project(&fx);
    let command = "python3 check.py && git status --short && sh -c 'cat ../outside.txt'";
    let replies =
        vec![Reply::Stream(vec![Chunk::Call("call_1", "bash", json!({ "command": command }))]), says("checked")];
    let (model, served, _config) = jailed_server(&fx, replies).await;
    let client = reqwest::Client::new();
    let session: Value =
        client.post(format!("{}/session", served.url)).json(&json!({})).send().await.unwrap().json().await.unwrap();
    let id = session["id"].as_str().unwrap();
    let body = json!({ "parts": [{ "type": "text", "text": "check it" }] });
    let reply = client.post(format!("{}/session/{id}/message", served.url)).json(&body).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    let messages: Value =
        client.get(format!("{}/session/{id}/message", served.url)).send().await.unwrap().json().await.unwrap();
    let parts = messages[1]["parts"].as_array().unwrap();
    let tool = parts.iter().find(|p| p["type"] == "tool").expect("a tool part");
    let output = tool["state"]["output"].as_str().unwrap();
    assert!(output.starts_with("python 3 42\n"), "{output}");
    assert!(output.contains("Permission denied"), "{output}");
    assert_no_secret(output);
    let system = model.requests()[0]["messages"][0]["content"].as_str().unwrap_or_default().to_string();
    assert!(system.contains("in a jail"), "the model is told: {system}");
}

#[tokio::test]
async fn the_host_decides_which_tenants_run_jailed_processes() {
    use crate::tenants::{As, tenant, token_of};
    let (host, alice_root, bob_root) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(bob_root.path().join("notes.txt"), "bob's notes").unwrap();
    let model = ScriptedModel::start(vec![says("ok"), says("ok")]).await;
    let model_config: Value = serde_json::from_str(&crate::agent::config(&model, json!({}))).unwrap();
    let config = config_file(host.path(), model_config);
    let served = Served::start_with(host.path(), &["--config", config.to_str().unwrap()]);
    let data = served.data_dir().to_path_buf();
    let alice = ["add", "alice", "--root", alice_root.path().to_str().unwrap(), "--host-processes", "true"];
    let alice = As::new(&served, &token_of(&tenant(&data, &alice)));
    let bob = As::new(&served, &token_of(&tenant(&data, &["add", "bob", "--root", bob_root.path().to_str().unwrap()])));
    let bob_notes = bob_root.path().join("notes.txt");
    let script = format!("python3 -c 'print(6 * 7)'; sh -c 'cat {}'", bob_notes.display());
    let run = async |user: &As| {
        let (_, session) = user.post("/session", json!({})).await;
        let id = session["id"].as_str().unwrap().to_string();
        let body = json!({ "agent": "build", "command": script.clone() });
        let (status, reply) = user.post(&format!("/session/{id}/shell"), body).await;
        assert_eq!(status, 200, "{reply}");
        reply["parts"].as_array().unwrap().iter().find(|p| p["type"] == "tool").unwrap()["state"]["output"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let allowed = run(&alice).await;
    assert!(allowed.starts_with("42\n") && allowed.contains("Permission denied"), "{allowed}");
    assert!(!allowed.contains("bob's notes"), "{allowed}");
    let refused = run(&bob).await;
    assert!(refused.contains("bash: python3: command not found"), "{refused}");
    // Each is told what its own grant allows.
    for user in [&alice, &bob] {
        let (_, session) = user.post("/session", json!({})).await;
        let id = session["id"].as_str().unwrap().to_string();
        let (status, _) =
            user.post(&format!("/session/{id}/message"), json!({ "parts": [{ "type": "text", "text": "hi" }] })).await;
        assert_eq!(status, 200);
    }
    let system = |i: usize| model.requests()[i]["messages"][0]["content"].as_str().unwrap_or_default().to_string();
    assert!(system(0).contains("in a jail"), "alice is told: {}", system(0));
    assert!(system(1).contains("are not available"), "bob is told: {}", system(1));
}

/// The workspace as `undo::tree` shows it.
fn worktree(fx: &Fixture) -> std::collections::BTreeMap<String, String> {
    crate::undo::tree(&fx.ws)
}

#[tokio::test]
async fn undo_puts_back_what_jailed_programs_changed() {
    let fx = Fixture::new();
    project(&fx);
    fx.file("old/a.txt", "A\n");
    fx.file("old/deeper/b.txt", "B\n");
    fx.file("swap/o.txt", "O\n");
    fx.file("run.sh", "echo run\n");
    let before = worktree(&fx);
    // One program changes, adds, removes and replaces files and folders,
    // builds into an ignored folder, stages in git, and leaves a FIFO and a
    // set-user-id file.
    let script = "echo changed > src/lib.rs && echo new > new.txt && rm old/a.txt && rm -r old/deeper \
        && rm -r swap && mkdir swap && echo fresh > swap/n.txt && chmod 6755 run.sh && ln -s new.txt link \
        && mkdir -p target/debug && echo artifact > target/debug/out && git add new.txt && mkfifo pipe && echo ok";
    let command = format!("sh -c '{script}'");
    let replies =
        vec![Reply::Stream(vec![Chunk::Call("call_1", "bash", json!({ "command": command }))]), says("changed")];
    let (_model, served, _config) = jailed_server(&fx, replies).await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", served.url);
    let session: Value = client.post(url("/session")).json(&json!({})).send().await.unwrap().json().await.unwrap();
    let id = session["id"].as_str().unwrap();
    let body = json!({ "parts": [{ "type": "text", "text": "change it" }] });
    let reply = client.post(url(&format!("/session/{id}/message"))).json(&body).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    let messages: Value =
        client.get(url(&format!("/session/{id}/message"))).send().await.unwrap().json().await.unwrap();
    let tool = messages[1]["parts"].as_array().unwrap().iter().find(|p| p["type"] == "tool").unwrap().clone();
    let output = tool["state"]["output"].as_str().unwrap();
    assert!(output.starts_with("ok\n"), "{output}");
    assert!(output.contains("not applied: pipe"), "a FIFO stays in the jail: {output}");

    // The program's writes reached the workspace when it ended.
    let after = worktree(&fx);
    let expected_after = {
        let mut tree = before.clone();
        tree.insert("src/lib.rs".into(), "changed\n".into());
        tree.insert("new.txt".into(), "new\n".into());
        tree.remove("old/a.txt");
        tree.remove("old/deeper");
        tree.remove("old/deeper/b.txt");
        tree.remove("swap/o.txt");
        tree.insert("swap/n.txt".into(), "fresh\n".into());
        tree.insert("run.sh".into(), "echo run\n +x".into());
        tree.insert("link".into(), "-> new.txt".into());
        for (path, shown) in [("target", "/"), ("target/debug", "/"), ("target/debug/out", "artifact\n")] {
            tree.insert(path.into(), shown.into());
        }
        tree
    };
    assert_eq!(after, expected_after);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(fx.ws.join("run.sh")).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o755, "set-user-id and set-group-id stay in the jail");

    // The session's diff names every file whose content changed, but not the
    // ignored build or git's own (the link and the mode are undone below).
    let diff: Value = client.get(url(&format!("/session/{id}/diff"))).send().await.unwrap().json().await.unwrap();
    let mut files: Vec<&str> = diff.as_array().unwrap().iter().map(|d| d["file"].as_str().unwrap()).collect();
    files.sort();
    assert_eq!(files, ["new.txt", "old/a.txt", "old/deeper/b.txt", "src/lib.rs", "swap/n.txt", "swap/o.txt"]);

    // Undo puts every path back; the ignored build output stays, as the
    // reference's snapshots leave it.
    let user = messages[0]["info"]["id"].as_str().unwrap();
    let reverted = client.post(url(&format!("/session/{id}/revert"))).json(&json!({ "messageID": user })).send().await;
    assert_eq!(reverted.unwrap().status(), 200);
    let mut expected_before = before.clone();
    for (path, shown) in [("target", "/"), ("target/debug", "/"), ("target/debug/out", "artifact\n")] {
        expected_before.insert(path.into(), shown.into());
    }
    assert_eq!(worktree(&fx), expected_before);
    // Redo brings the program's work back, exactly.
    let redone = client.post(url(&format!("/session/{id}/unrevert"))).json(&json!({})).send().await.unwrap();
    assert_eq!(redone.status(), 200);
    assert_eq!(worktree(&fx), expected_after);
    fx.assert_outside_untouched();
}

#[tokio::test(flavor = "multi_thread")]
async fn links_planted_around_a_write_layer_carry_nothing_out() {
    // The model as the attacker across two calls, with writes held in a
    // layer: the first call plants links out; between the calls a folder is
    // swapped for a link outside; while the second program runs, a folder it
    // is making in its layer is planted in the workspace as a link outside
    // too (as another process on the host might). Its writes land in the
    // workspace, and nothing reaches what lies beside it.
    let fx = Fixture::new();
    // A deadline long past the program's own two seconds, however loaded
    // the machine (a timeout here would hide what the test looks for).
    let sandbox = jailed(Limits { deadline: Duration::from_secs(90), ..TEST_LIMITS }).await;
    let grant = fx.read_write();
    let plant = "sh -c 'ln -s ../outside.txt trap; ln -s / root; mkdir sub; echo planted'";
    assert_eq!(bash_recorded(&sandbox, plant, &grant).await.unwrap(), "planted\n");
    assert!(fx.ws.join("trap").is_symlink() && fx.ws.join("sub").is_dir(), "the first call's writes landed");
    std::fs::remove_dir(fx.ws.join("sub")).unwrap();
    let beside = fx.outside.parent().unwrap().to_path_buf();
    std::os::unix::fs::symlink(&beside, fx.ws.join("sub")).unwrap();

    let program = "sh -c 'echo y > trap; echo z > root/tmp/pwned-by-layer; echo x > sub/pwned; cat sub/outside.txt; \
                   mkdir late && echo mine > late/outside.txt && sleep 2; rm sub && mkdir sub && echo new > sub/new; \
                   echo status=$?'";
    let running = {
        let (sandbox, grant) = (sandbox.clone(), grant.clone());
        tokio::spawn(async move { bash_recorded(&sandbox, program, &grant).await })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    std::os::unix::fs::symlink(&beside, fx.ws.join("late")).unwrap();
    let output = running.await.unwrap().unwrap();
    assert_no_secret(&output);
    assert_eq!(output.matches("Permission denied").count(), 4, "{output}");
    assert!(output.starts_with("status=0\n"), "{output}");
    // The planted `late` link was replaced by the program's folder, never
    // followed; `sub` is the program's new folder; the trap still leads out
    // and was never written through.
    assert!(fx.ws.join("late").is_dir() && !fx.ws.join("late").is_symlink());
    assert_eq!(std::fs::read_to_string(fx.ws.join("late/outside.txt")).unwrap(), "mine\n");
    assert!(fx.ws.join("sub").is_dir() && !fx.ws.join("sub").is_symlink());
    assert_eq!(std::fs::read_to_string(fx.ws.join("sub/new")).unwrap(), "new\n");
    assert!(fx.ws.join("trap").is_symlink());
    assert!(!std::path::Path::new("/tmp/pwned-by-layer").exists());
    fx.assert_outside_untouched();
}
