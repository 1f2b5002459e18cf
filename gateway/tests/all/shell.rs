//! The `bash` tool. Bash is the oracle: each script runs through real bash
//! and through the sandboxed shell, in identical copies of one fixture, and
//! the output, exit status and resulting files must match. Then the shell is
//! asked to leave the workspace and to run away, and must do neither.

use crate::util::{Fixture, TEST_LIMITS, assert_no_secret, call, wasmgate};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use wasmgate::sandbox::CallError;

/// Scripts whose output (stdout and stderr together), exit status and files
/// must be the same under bash and under the sandboxed shell.
const ORACLE: &[&str] = &[
    "echo hello world",
    "echo -n hi; echo",
    "echo \"a  b\"   c",
    "echo 'single $HOME' \"double $NOPE\"",
    "X=hello; echo \"$X world\" ${X} ${X}s",
    "echo $?; false; echo $?; true && echo yes || echo no",
    "false || echo recovered; false && echo never",
    "true; ! true; echo $?",
    "cat a.txt | wc -l",
    "wc -l a.txt; wc -l < a.txt; wc a.txt b.txt",
    "head -n 2 a.txt; tail -n 1 a.txt; head -1 a.txt; tail -n +2 a.txt",
    "cat a.txt | sort -r",
    "sort -n nums.txt; sort -rn nums.txt | head -2",
    "printf '%s-%d\\n' x 5 y 7",
    "printf '%5s|%-5s|%03d\\n' ab cd 7",
    "ls",
    "ls src notes",
    "ls -a",
    "ls -R",
    "mkdir -p x/y/z && touch x/y/z/f && ls x/y/z",
    "echo data > out.txt; echo more >> out.txt; cat out.txt",
    "cp a.txt c.txt && mv c.txt d.txt && ls",
    "rm b.txt; ls; rm -f nothing; echo $?",
    "cp -r src src2 && ls src2",
    "rm -r notes && ls",
    "grep beta a.txt",
    "grep -n a a.txt; grep -c a a.txt",
    "grep -i BETA a.txt; grep -v beta a.txt",
    "grep -r fn src | sort",
    "grep -l fn src/*.rs",
    "grep -E 'al|ga' a.txt; grep 'al\\|ga' a.txt; grep -F 'a.' a.txt; echo $?",
    "grep -o 'a[a-z]' a.txt; grep -w beta a.txt",
    "grep zzz a.txt; echo status=$?",
    "find . -name '*.rs' | sort",
    "find src -type f | sort; find . -maxdepth 1 -type d | sort",
    "cut -d, -f2 data.csv; cut -c1-3 a.txt",
    "echo hello | tr a-z A-Z; echo hello | tr -d l",
    "seq 3; seq 2 4; seq 10 -3 1",
    "sort data.csv | uniq -c; printf 'a\\na\\nb\\n' | uniq",
    "basename /a/b/c.txt .txt; dirname /a/b/c.txt; dirname c.txt; basename dir/",
    "[ -f a.txt ] && echo file; [ -d src ] && echo dir; test -z \"\" && echo empty; [ 3 -lt 5 ] && echo less",
    "[ -f nope ] || echo missing; [ abc = abc ] && echo same; [ ! -d a.txt ] && echo notdir",
    "if [ -e nope ]; then echo yes; elif [ -e a.txt ]; then echo elif; else echo no; fi",
    "for i in 1 2 3; do echo \"n=$i\"; done",
    "for f in src/*.rs; do echo \"== $f\"; head -1 \"$f\"; done",
    "n=0; while [ $n != 3 ]; do n=$(echo $n | tr 012 123); echo $n; done",
    "until [ -f made ]; do touch made; echo making; done; ls",
    "cd src && pwd && ls; pwd",
    "(cd src; echo inside; pwd); echo outside; pwd",
    "{ echo a; echo b; } > grouped.txt; cat grouped.txt",
    "echo one 2>/dev/null; cat a.txt 2>&1 | head -1",
    "export FOO=bar; echo $FOO",
    "nosuchcmd 2>/dev/null; echo $?",
    "cat nofile 2>/dev/null || echo missing",
    "echo *.txt; echo '*.txt'; echo nomatch*; echo src/*.rs; echo */",
    "tee copy.txt < a.txt | wc -l; cat copy.txt",
    "echo \"$(head -1 a.txt) and `tail -1 a.txt`\"",
    "X=v; cat <<EOF\nval=$X\nEOF\ncat <<'EOF'\nraw=$X\nEOF",
    "cat <<< 'here string'",
    "echo a; exit 3; echo b",
    "echo ~ ; cd ~ ; pwd",
    "echo a > f1 2>&1; ls f1 && cat f1",
    "printf '%s\\n' c b a | sort | head -2",
    "echo a b c | wc -w; echo abc | wc -c",
    "A=1 B=2; echo $A$B; unset A; echo \"[$A]\"",
    "sed 's/a/A/' a.txt; sed 's/a/A/g' a.txt",
    "sed -n '2p' a.txt; sed -n '/et/p' a.txt; sed '1d' a.txt; sed '2,3d' a.txt; sed -n '$p' a.txt",
    "sed -i 's/beta/BETA/' a.txt; cat a.txt",
    "sed -E 's/(al)(pha)/\\2\\1/' a.txt; sed 's/\\(be\\)ta/[\\1]/' a.txt",
    "echo 'x/y/z' | sed 's|/|-|g'; echo hello | sed 's/l*/<&>/'; sed -e 's/a/1/' -e 's/b/2/' a.txt",
    "diff a.txt a.txt; echo $?; printf 'alpha\\nBETA\\ngamma\\ndelta\\n' > c.txt; diff a.txt c.txt; echo $?",
    "printf 'alpha\\nBETA\\ngamma\\n' > c.txt; diff -u a.txt c.txt | tail -n +3",
    "printf 'zero\\nalpha\\ngamma\\n' > c.txt; diff a.txt c.txt",
    "ls *.txt | xargs wc -l; echo a b c | xargs -n 1 echo x; printf '1\\n2\\n' | xargs -I {} echo item-{}",
    "ln -s a.txt link.txt && cat link.txt; ls",
    "head -c 8 a.txt; echo",
];

fn fixture() -> Fixture {
    let fx = Fixture::new();
    fx.file("a.txt", "alpha\nbeta\ngamma\n");
    fx.file("b.txt", "second file\n");
    fx.file("nums.txt", "10\n9\n100\n-3\n");
    fx.file("data.csv", "name,age\nann,31\nbob,25\nann,31\n");
    fx.file("src/main.rs", "fn main() {}\n");
    fx.file("src/lib.rs", "pub fn lib() {}\n");
    fx.file("notes/todo.md", "- write tests\n");
    fx.file(".hidden", "secret-ish\n");
    fx
}

/// Every file under `dir`, relative path to content.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                files.insert(format!("{rel}/"), String::new());
                stack.push(path);
            } else {
                files.insert(rel, std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread")]
async fn bash_is_the_oracle() {
    let mut failures = Vec::new();
    for script in ORACLE {
        let theirs = fixture();
        let bash = std::process::Command::new("bash")
            .args(["-c", &format!("{{ {script}\n}} 2>&1")])
            .current_dir(&theirs.ws)
            .env_clear()
            .env("LC_ALL", "C")
            .env("HOME", &theirs.ws)
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap();
        let bash_out = String::from_utf8_lossy(&bash.stdout).replace(theirs.ws.to_str().unwrap(), "$ROOT");

        let ours = fixture();
        let result = call("bash", json!({"command": script}), &ours.read_write()).await.unwrap();
        let our_out = result.output.replace(ours.ws.to_str().unwrap(), "$ROOT");
        let our_status = result.metadata["exit"].as_i64().unwrap();

        let mut problems = Vec::new();
        if our_out != bash_out {
            problems.push(format!("output\n  bash: {bash_out:?}\n  ours: {our_out:?}"));
        }
        if Some(our_status as i32) != bash.status.code() {
            problems.push(format!("status: bash {:?}, ours {our_status}", bash.status.code()));
        }
        if snapshot(&ours.ws) != snapshot(&theirs.ws) {
            problems.push(format!("files\n  bash: {:?}\n  ours: {:?}", snapshot(&theirs.ws), snapshot(&ours.ws)));
        }
        if !problems.is_empty() {
            failures.push(format!("script {script:?}:\n{}", problems.join("\n")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scripts differ from bash:\n\n{}",
        failures.len(),
        ORACLE.len(),
        failures.join("\n\n")
    );
}

#[tokio::test]
async fn the_issue_example_works_and_writes_inside_only() {
    let fx = fixture();
    let out = wasmgate(&[
        "tool",
        "call",
        "bash",
        r#"{"command":"ls | wc -l && echo ok > out.txt"}"#,
        "--root",
        fx.ws.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "6\n");
    assert_eq!(std::fs::read_to_string(fx.ws.join("out.txt")).unwrap(), "ok\n");
    fx.assert_outside_untouched();
}

#[tokio::test]
async fn the_shell_cannot_leave_the_workspace() {
    let fx = fixture();
    let outside = fx.outside.to_str().unwrap();
    let scripts = [
        "cat ../outside.txt".to_string(),
        format!("cat {outside}"),
        "cd ..; ls; cat outside.txt".into(),
        "cd /; ls; cat etc/hostname".into(),
        "ln -s / root; cat root/etc/hostname".into(),
        "echo pwned > ../pwned.txt; echo pwned >> ../outside.txt".into(),
        format!("echo pwned > {outside}"),
        "cp ../outside.txt stolen.txt; cat stolen.txt".into(),
        "mv a.txt ../moved.txt; rm -rf ..; rm -rf /".into(),
        "grep -r SECRET ..; find .. -name outside.txt".into(),
        "mkdir ../made; touch ../touched; tee ../teed < a.txt".into(),
        "cat < ../outside.txt; echo *; echo ../*".into(),
    ];
    for script in &scripts {
        let result = call("bash", json!({"command": script}), &fx.read_write()).await.unwrap();
        assert_no_secret(&result.output);
        assert!(!result.output.contains("outside.txt\n") || script.contains("echo"), "{script}: {}", result.output);
    }
    fx.assert_outside_untouched();
    assert!(fx.ws.join("a.txt").exists(), "a.txt was moved out");
    let read_only =
        call("bash", json!({"command": "echo x > new.txt; rm a.txt; mkdir d; echo status=$?"}), &fx.read_only())
            .await
            .unwrap();
    assert!(read_only.output.ends_with("status=1\n"), "{}", read_only.output);
    assert!(!fx.ws.join("new.txt").exists() && fx.ws.join("a.txt").exists() && !fx.ws.join("d").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn runaway_scripts_are_stopped_and_the_next_one_runs() {
    let fx = fixture();
    let grant = fx.read_write();
    let spin = call("bash", json!({"command": "while true; do :; done"}), &grant).await.unwrap_err();
    assert_eq!(spin, CallError::Timeout(TEST_LIMITS.deadline));
    let flood = call("bash", json!({"command": "yes | head -c 100000000"}), &grant).await.unwrap_err();
    assert!(matches!(flood, CallError::MemoryLimit(_) | CallError::OutputLimit(_)), "{flood:?}");
    let direct = call("bash", json!({"command": "yes"}), &grant).await.unwrap_err();
    assert_eq!(direct, CallError::OutputLimit(TEST_LIMITS.output));
    let next = call("bash", json!({"command": "echo still fine"}), &grant).await.unwrap();
    assert_eq!(next.output, "still fine\n");
}

#[tokio::test]
async fn syntax_errors_and_unknown_commands_answer_like_bash() {
    let fx = fixture();
    let grant = fx.read_write();
    let syntax = call("bash", json!({"command": "if then fi ("}), &grant).await.unwrap();
    assert_eq!(syntax.metadata["exit"], 2);
    assert!(syntax.output.contains("syntax error"), "{}", syntax.output);
    let unknown = call("bash", json!({"command": "frobnicate --now"}), &grant).await.unwrap();
    assert_eq!(unknown.metadata["exit"], 127);
    assert_eq!(unknown.output, "bash: frobnicate: command not found\n");
}

/// A sandbox whose shell may run host processes (a trusted single-user host).
async fn trusted() -> wasmgate::sandbox::Sandbox {
    wasmgate::sandbox::Sandbox::builder()
        .limits(TEST_LIMITS)
        .cache(wasmgate::sandbox::CompileCache::at(crate::util::cache_dir()))
        .host_processes(true)
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn host_processes_run_only_where_allowed_and_inside_the_workspace() {
    let fx = fixture();
    let script = json!({"command": "mkdir -p sub; cd sub; uname -s; sh -c pwd; echo $?"}).to_string();
    let default = crate::util::sandbox().call("bash", &script, &fx.read_write()).await.unwrap();
    assert!(default.output.contains("bash: uname: command not found"), "{}", default.output);
    assert!(default.output.contains("bash: sh: command not found"), "{}", default.output);

    let sandbox = trusted().await;
    let allowed = sandbox.call("bash", &script, &fx.read_write()).await.unwrap();
    assert_eq!(allowed.output, format!("Linux\n{}/sub\n0\n", fx.ws.display()));
    let piped =
        sandbox.call("bash", &json!({"command": "printf 'b\\na\\n' | sh -c sort"}).to_string(), &fx.read_write()).await;
    assert_eq!(piped.unwrap().output, "a\nb\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn host_processes_keep_the_deadline_and_the_output_cap() {
    let fx = fixture();
    let sandbox = trusted().await;
    let started = std::time::Instant::now();
    let slow = sandbox.call("bash", &json!({"command": "sleep 30"}).to_string(), &fx.read_write()).await;
    assert_eq!(slow.unwrap_err(), CallError::Timeout(TEST_LIMITS.deadline));
    assert!(started.elapsed() < TEST_LIMITS.deadline * 3, "took {:?}", started.elapsed());
    let loud =
        sandbox.call("bash", &json!({"command": "sh -c 'yes | head -c 5000000'"}).to_string(), &fx.read_write()).await;
    match loud {
        Err(error) => assert_eq!(error, CallError::OutputLimit(TEST_LIMITS.output)),
        Ok(output) => panic!("expected the output cap, got {} bytes of output", output.output.len()),
    }
    let next = sandbox.call("bash", &json!({"command": "echo fine"}).to_string(), &fx.read_write()).await.unwrap();
    assert_eq!(next.output, "fine\n");
}

#[test]
fn tool_list_says_whether_host_processes_are_on() {
    let off = wasmgate(&["tool", "list"]);
    assert!(String::from_utf8_lossy(&off.stdout).starts_with("shell: built-in commands only (host processes off)"));
    let on = wasmgate(&["tool", "list", "--allow-host-processes"]);
    assert!(String::from_utf8_lossy(&on.stdout).starts_with("shell: built-in commands, and host processes"));
}

#[tokio::test(flavor = "multi_thread")]
async fn host_processes_never_run_under_a_read_only_grant() {
    let fx = fixture();
    let sandbox = trusted().await;
    for command in ["sh -c 'echo x > made.txt'", "/usr/bin/touch made.txt", "python3 -c \"open('made.txt','w')\""] {
        let script = json!({ "command": format!("{command}; echo status=$?") }).to_string();
        let result = sandbox.call("bash", &script, &fx.read_only()).await.unwrap();
        assert!(result.output.contains("read-only"), "{command}: {}", result.output);
        assert!(result.output.ends_with("status=126\n"), "{command}: {}", result.output);
        assert!(!fx.ws.join("made.txt").exists(), "{command} wrote under a read-only grant");
    }
}

/// Whether a process whose command line holds `marker` is alive.
fn running(marker: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().filter_map(Result::ok).any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " ").contains(marker))
            .unwrap_or(false)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_a_host_process_starts_outlives_its_call() {
    let fx = fixture();
    let sandbox = trusted().await;
    let started = std::time::Instant::now();
    // In the background, the call itself ends at once; at the deadline, the
    // whole group goes.
    for (command, marker) in
        [("sh -c 'sleep 97.31 & echo bg'", "sleep 97.31"), ("sh -c 'sleep 97.37 & sleep 60'", "sleep 97.37")]
    {
        let result = sandbox.call("bash", &json!({ "command": command }).to_string(), &fx.read_write()).await;
        assert!(started.elapsed() < TEST_LIMITS.deadline * 3, "{command} held the call: {:?}", started.elapsed());
        if command.contains("echo bg") {
            assert_eq!(result.unwrap().output, "bg\n");
        } else {
            assert_eq!(result.unwrap_err(), CallError::Timeout(TEST_LIMITS.deadline));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!running(marker), "{marker} outlived the call");
    }
}
