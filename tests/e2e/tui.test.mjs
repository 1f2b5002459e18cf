// The real OpenCode TUI (`opencode attach`) against the real wasmgate binary,
// driven under tmux: it must start, list sessions, run a `!` command, and
// talk to a (scripted) model: a streamed reply, a tool call behind a
// permission dialog, an abort; /undo and /redo, the question dialog, /init,
// a subagent's task, /compact, /diff and /review, /connect with a key, a
// web fetch the host's policy allows and one it refuses.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { createOpencodeClient } from "@opencode-ai/sdk/v2";
import { fixture, startWasmgate, opencodeBin, opencodeEnv, scratch, eventually, sleep, config } from "./lib/harness.mjs";
import { startModel } from "./lib/model.mjs";

const socket = `wasmgate-e2e-${process.pid}`;
const tmux = (...args) => execFileSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });
const screen = () => tmux("capture-pane", "-p", "-t", "tui");
const type = async (text) => {
  tmux("send-keys", "-t", "tui", "-l", text);
  await sleep(300);
  tmux("send-keys", "-t", "tui", "Enter");
};

let dir, model, server, client, pages, pagesPort, otherPages, otherPort;

/** A loopback web server answering every path with `html`; counts its requests. */
async function startPages(html) {
  const served = { hits: 0 };
  served.server = createServer((request, response) => {
    served.hits += 1;
    response.writeHead(200, { "content-type": "text/html" });
    response.end(html);
  });
  await new Promise((resolve) => served.server.listen(0, "127.0.0.1", resolve));
  return [served, served.server.address().port];
}

before(async () => {
  dir = fixture();
  model = await startModel();
  [pages, pagesPort] = await startPages("<html><body><h1>Fetched heading</h1><p>Body text.</p></body></html>");
  [otherPages, otherPort] = await startPages("<p>never to be read</p>");
  // The host's policy names the first page server only.
  const web = { allow: [`127.0.0.1:${pagesPort}`] };
  server = await startWasmgate(dir, {
    settings: config(model.url, { permission: { bash: "ask" }, wasmgate: { sandbox: { web } } }),
  });
  client = createOpencodeClient({ baseUrl: server.url, directory: dir });
});

after(async () => {
  try {
    tmux("kill-server");
  } catch {}
  await server?.stop();
  await model?.stop();
  pages?.server.close();
  otherPages?.server.close();
});

/** Starts `opencode attach` in a fresh tmux session and waits for its home screen. */
async function attach() {
  // A session that outlives the TUI's, so killing that one never ends the
  // tmux server while the next `new-session` talks to it.
  try {
    tmux("has-session", "-t", "keeper");
  } catch {
    tmux("new-session", "-d", "-s", "keeper", "sleep", "86400");
  }
  try {
    tmux("kill-session", "-t", "tui");
  } catch {}
  const env = opencodeEnv(scratch("tui-home"));
  const exports = Object.entries(env)
    .filter(([key]) => key.startsWith("OPENCODE_") || key.startsWith("XDG_") || key === "HOME")
    .map(([key, value]) => `${key}='${value}'`)
    .join(" ");
  const command = `env ${exports} '${opencodeBin}' attach '${server.url}' --dir '${dir}'; echo "TUI EXITED $?"; sleep 600`;
  tmux("new-session", "-d", "-s", "tui", "-x", "160", "-y", "45", "sh", "-c", command);
  await eventually(() => /Ask anything/.test(screen()), 60_000, "the home screen");
}

test("the TUI attaches, lists sessions and runs a shell command", async () => {
  await client.session.create({ title: "seeded by the e2e test" }, { throwOnError: true });
  await attach();
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

test("the TUI streams a reply, renders a tool call behind a permission dialog, and aborts", async () => {
  await attach();
  await type("hello there");
  await eventually(() => /Hello from the scripted model\./.test(screen()), 30_000, "the streamed reply");
  await eventually(() => /Scripted title/.test(screen()), 30_000, "the generated title");

  await type("USE_TOOL echo tool-ran-here");
  await eventually(() => /Permission required/.test(screen()) && /Allow once/.test(screen()), 30_000, "the permission dialog");
  assert.doesNotMatch(screen(), /The tool said/, "the command waits for the answer");
  tmux("send-keys", "-t", "tui", "Enter"); // "Allow once"
  await eventually(() => /The tool said: tool-ran-here/.test(screen()), 30_000, "the tool's result and the model's follow-up");
  assert.match(screen(), /\$ echo tool-ran-here/, "the bash call is rendered with its command");

  await type("SLOW please");
  await eventually(() => /tick2/.test(screen()), 30_000, "the slow reply streaming");
  tmux("send-keys", "-t", "tui", "Escape");
  await sleep(300);
  tmux("send-keys", "-t", "tui", "Escape");
  await eventually(() => /interrupted/.test(screen()), 20_000, "the interrupted turn");
  assert.doesNotMatch(screen(), /TUI EXITED/);
  const status = (await client.session.status({}, { throwOnError: true })).data;
  assert.deepEqual(status, {}, "nothing is left running");
  const sessions = (await client.session.list({}, { throwOnError: true })).data;
  const chat = sessions.find((s) => s.title === "Scripted title");
  const messages = (await client.session.messages({ sessionID: chat.id }, { throwOnError: true })).data;
  assert.equal(messages.at(-1).info.error.name, "MessageAbortedError");
  const tool = messages.flatMap((m) => m.parts).find((p) => p.type === "tool");
  assert.equal(tool.state.output, "tool-ran-here\n");
});

test("/undo puts back what the turn wrote and /redo brings it back", async () => {
  await attach();
  await type("USE_TOOL echo written-by-the-agent > undo-me.txt");
  await eventually(() => /Allow once/.test(screen()), 30_000, "the permission dialog");
  tmux("send-keys", "-t", "tui", "Enter"); // "Allow once"
  await eventually(() => /The tool said/.test(screen()), 30_000, "the turn's end");
  assert.equal(readFileSync(join(dir, "undo-me.txt"), "utf8"), "written-by-the-agent\n");

  tmux("send-keys", "-t", "tui", "-l", "/undo");
  await sleep(500);
  tmux("send-keys", "-t", "tui", "Enter");
  await eventually(() => !existsSync(join(dir, "undo-me.txt")), 20_000, "the file removed by /undo");
  await eventually(() => /reverted/i.test(screen()), 20_000, "the revert banner");
  assert.match(screen(), /USE_TOOL echo written-by-the-agent/, "the undone prompt is back in the box");

  tmux("send-keys", "-t", "tui", "C-c"); // clears the prompt box
  await sleep(300);
  tmux("send-keys", "-t", "tui", "-l", "/redo");
  await sleep(500);
  tmux("send-keys", "-t", "tui", "Enter");
  await eventually(() => existsSync(join(dir, "undo-me.txt")), 20_000, "the file back after /redo");
  assert.equal(readFileSync(join(dir, "undo-me.txt"), "utf8"), "written-by-the-agent\n");
  assert.doesNotMatch(screen(), /TUI EXITED/);
});

test("the question dialog answers the model's question", async () => {
  await attach();
  await type("ASK Which colour should the button be?");
  await eventually(() => /Which colour should the button be\?/.test(screen()) && /Blue/.test(screen()), 30_000, "the question dialog");
  tmux("send-keys", "-t", "tui", "Enter"); // the first answer, Red
  await eventually(() => /The tool said: User has answered/.test(screen()), 30_000, "the answer reaching the model");
  const pending = (await client.question.list({}, { throwOnError: true })).data;
  assert.deepEqual(pending, [], "nothing is left waiting");
  const sessions = (await client.session.list({}, { throwOnError: true })).data;
  const messages = (await client.session.messages({ sessionID: sessions[0].id }, { throwOnError: true })).data;
  const asked = messages.flatMap((m) => m.parts).find((p) => p.tool === "question");
  assert.deepEqual(asked.state.metadata.answers, [["Red"]]);
});

test("/init writes AGENTS.md through the model", async () => {
  await attach();
  tmux("send-keys", "-t", "tui", "-l", "/init");
  await sleep(500);
  tmux("send-keys", "-t", "tui", "Enter"); // picks /init from the list
  await sleep(500);
  tmux("send-keys", "-t", "tui", "Enter"); // runs it
  await eventually(() => existsSync(join(dir, "AGENTS.md")), 30_000, "AGENTS.md written");
  assert.equal(readFileSync(join(dir, "AGENTS.md"), "utf8"), "# AGENTS.md\n\nWritten by /init.\n");
  await eventually(() => /The tool said/.test(screen()), 30_000, "the turn's end");
  assert.doesNotMatch(screen(), /TUI EXITED/);
});

test("a task runs in a subagent's child session and its answer comes back", async () => {
  await attach();
  await type("TASK say hello from the subagent");
  await eventually(() => /The tool said: task_id: ses_/.test(screen()), 30_000, "the parent's answer after the task");
  const sessions = (await client.session.list({}, { throwOnError: true })).data;
  const child = sessions.find((s) => s.title === "Scripted task (@general subagent)");
  assert.ok(child?.parentID, JSON.stringify(sessions.map((s) => s.title)));
  const messages = (await client.session.messages({ sessionID: child.id }, { throwOnError: true })).data;
  assert.equal(messages[0].info.agent, "general");
  assert.match(messages.at(-1).parts.find((p) => p.type === "text").text, /Hello from the scripted model/);
  assert.doesNotMatch(screen(), /TUI EXITED/);
});

test("/compact writes a summary the TUI shows", async () => {
  await attach();
  await type("hello before compacting");
  await eventually(() => /Hello from the scripted model/.test(screen()), 30_000, "the first answer");
  tmux("send-keys", "-t", "tui", "-l", "/compact");
  await sleep(500);
  tmux("send-keys", "-t", "tui", "Enter"); // picks /compact from the list
  await sleep(500);
  if (/\/compact/.test(screen())) tmux("send-keys", "-t", "tui", "Enter");
  await eventually(() => /Summary: we said hello/.test(screen()), 30_000, "the summary");
  const sessions = (await client.session.list({}, { throwOnError: true })).data;
  const latest = sessions.sort((a, b) => b.time.updated - a.time.updated)[0];
  const messages = (await client.session.messages({ sessionID: latest.id }, { throwOnError: true })).data;
  assert.ok(messages.some((m) => m.parts.some((p) => p.type === "compaction")), "a compaction request was stored");
  assert.ok(messages.some((m) => m.info.summary === true), "a summary message was stored");
  assert.doesNotMatch(screen(), /TUI EXITED/);
});

test("/diff shows the working tree against git HEAD", async () => {
  const git = (...args) =>
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: dir, encoding: "utf8" });
  git("init", "-q");
  git("add", "-A");
  git("commit", "-q", "-m", "fixture");
  writeFileSync(join(dir, "README.md"), "hello world\na line the diff shows\nsecond line\n");
  writeFileSync(join(dir, "added-file.txt"), "brand new\n");
  await attach();
  tmux("send-keys", "-t", "tui", "-l", "/diff");
  await sleep(500);
  tmux("send-keys", "-t", "tui", "Enter");
  await eventually(() => /Diff working tree/.test(screen()), 20_000, "the diff viewer");
  await eventually(() => /a line the diff shows/.test(screen()), 20_000, "the changed line");
  assert.match(screen(), /README\.md/);
  assert.match(screen(), /added-file\.txt/);
  assert.match(screen(), /2 files/);
  assert.doesNotMatch(screen(), /TUI EXITED/);
});

test("/review runs as a subtask in a child session and the conversation carries on", async () => {
  await attach();
  const before = (await client.session.list({}, { throwOnError: true })).data.length;
  tmux("send-keys", "-t", "tui", "-l", "/review");
  await sleep(500);
  tmux("send-keys", "-t", "tui", "Enter"); // picks /review from the list
  await sleep(500);
  if (/\/review/.test(screen())) tmux("send-keys", "-t", "tui", "Enter");
  await eventually(async () => {
    const sessions = (await client.session.list({}, { throwOnError: true })).data;
    return sessions.length > before && sessions.some((s) => s.parentID);
  }, 30_000, "the review's child session");
  const sessions = (await client.session.list({}, { throwOnError: true })).data;
  const child = sessions.find((s) => s.parentID && /review/i.test(s.title));
  assert.ok(child, JSON.stringify(sessions.map((s) => s.title)));
  const parent = sessions.find((s) => s.id === child.parentID);
  await eventually(async () => {
    const messages = (await client.session.messages({ sessionID: parent.id }, { throwOnError: true })).data;
    return messages.at(-1)?.info.role === "assistant" && messages.at(-1).info.time.completed && messages.length >= 4;
  }, 30_000, "the parent's answer after the subtask");
  const messages = (await client.session.messages({ sessionID: parent.id }, { throwOnError: true })).data;
  assert.equal(messages[0].parts[0].type, "subtask");
  assert.equal(messages[1].parts[0].tool, "task");
  assert.equal(messages[1].parts[0].state.status, "completed");
  assert.doesNotMatch(screen(), /TUI EXITED/);
});

test("/connect stores a key the next prompt streams with, and never shows it again", async () => {
  await attach();
  tmux("send-keys", "-t", "tui", "-l", "/connect");
  await sleep(500);
  tmux("send-keys", "-t", "tui", "Enter");
  await eventually(() => /Connect a provider/.test(screen()), 20_000, "the /connect dialog");
  assert.match(screen(), /Anthropic/);
  assert.match(screen(), /OpenRouter/);
  tmux("send-keys", "-t", "tui", "-l", "Mock");
  await sleep(500);
  tmux("send-keys", "-t", "tui", "Enter");
  await eventually(() => /API key/.test(screen()), 20_000, "the key prompt");
  tmux("send-keys", "-t", "tui", "-l", "sk-typed-in-connect");
  await sleep(300);
  tmux("send-keys", "-t", "tui", "Enter");
  await eventually(() => /Mock 1/.test(screen()) && /Search/.test(screen()), 20_000, "the model picker");
  tmux("send-keys", "-t", "tui", "Enter");
  await sleep(500);
  await type("hello with the new key");
  await eventually(() => model.keys.at(-1) === "sk-typed-in-connect", 30_000, "a request with the key");
  await eventually(() => /Hello from the scripted model/.test(screen()), 30_000, "the streamed answer");
  const providers = await (await fetch(`${server.url}/provider`)).text();
  assert.doesNotMatch(providers, /sk-typed-in-connect/);
  assert.doesNotMatch(screen(), /TUI EXITED/);
});

test("a web fetch reaches the page the host allows and is refused the one it does not", async () => {
  await attach();
  await type(`FETCH http://127.0.0.1:${pagesPort}/docs`);
  await eventually(() => /The tool said: # Fetched heading/.test(screen()), 30_000, "the fetched page's first line");
  assert.match(screen(), new RegExp(`127\\.0\\.0\\.1:${pagesPort}/docs`), "the TUI shows the fetch");
  assert.equal(pages.hits, 1);

  await type(`FETCH http://127.0.0.1:${otherPort}/secret`);
  await eventually(() => /not in the host's allow list/.test(screen()), 30_000, "the refusal");
  assert.equal(otherPages.hits, 0, "the page outside the policy was never asked for");
  assert.doesNotMatch(screen(), /TUI EXITED/);
});
