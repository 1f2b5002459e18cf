// The real OpenCode TUI (`opencode attach`) against the real wasmgate binary,
// driven under tmux: it must start, list sessions, and run a `!` command.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createOpencodeClient } from "@opencode-ai/sdk/v2";
import { fixture, startWasmgate, opencodeBin, opencodeEnv, scratch, eventually, sleep } from "./lib/harness.mjs";

const socket = `wasmgate-e2e-${process.pid}`;
const tmux = (...args) => execFileSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });
const screen = () => tmux("capture-pane", "-p", "-t", "tui");

let dir, server, client;

before(async () => {
  dir = fixture();
  server = await startWasmgate(dir);
  client = createOpencodeClient({ baseUrl: server.url, directory: dir });
});

after(async () => {
  try {
    tmux("kill-server");
  } catch {}
  await server?.stop();
});

test("the TUI attaches, lists sessions and runs a shell command", async () => {
  await client.session.create({ title: "seeded by the e2e test" }, { throwOnError: true });
  const env = opencodeEnv(scratch("tui-home"));
  const exports = Object.entries(env)
    .filter(([key]) => key.startsWith("OPENCODE_") || key.startsWith("XDG_") || key === "HOME")
    .map(([key, value]) => `${key}='${value}'`)
    .join(" ");
  const command = `env ${exports} '${opencodeBin}' attach '${server.url}' --dir '${dir}'; echo "TUI EXITED $?"; sleep 600`;
  tmux("new-session", "-d", "-s", "tui", "-x", "160", "-y", "45", "sh", "-c", command);

  await eventually(() => /Ask anything/.test(screen()), 60_000, "the home screen");
  assert.match(screen(), /Mock 1/, "the footer shows the configured model");
  assert.doesNotMatch(screen(), /TUI EXITED/);

  tmux("send-keys", "-t", "tui", "/sessions");
  await sleep(500);
  tmux("send-keys", "-t", "tui", "Enter");
  await eventually(() => /seeded by the e2e test/.test(screen()), 20_000, "the session list");
  tmux("send-keys", "-t", "tui", "Escape");
  await sleep(500);

  tmux("send-keys", "-t", "tui", "!");
  await sleep(300);
  tmux("send-keys", "-t", "tui", "-l", "ls -1 src");
  await sleep(300);
  tmux("send-keys", "-t", "tui", "Enter");
  // The command's output, rendered from the events the server streamed.
  await eventually(() => /main\.rs/.test(screen()) && /\$ ls -1 src/.test(screen()), 30_000, "the command's output on screen");
  assert.doesNotMatch(screen(), /TUI EXITED/);

  const sessions = (await client.session.list({}, { throwOnError: true })).data;
  const used = sessions.find((s) => s.title !== "seeded by the e2e test");
  assert.ok(used, "the TUI created a session for the command");
  const messages = (await client.session.messages({ sessionID: used.id }, { throwOnError: true })).data;
  const tool = messages.at(-1).parts.find((p) => p.type === "tool");
  assert.equal(tool.tool, "bash");
  assert.match(tool.state.input.command, /^ls -1 src/);
  assert.match(tool.state.output, /main\.rs/);
});
