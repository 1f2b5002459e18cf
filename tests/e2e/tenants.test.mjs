// Two tenants on one real wasmgate, added with `wasmgate tenant add` while it
// runs: the official SDK with each tenant's token, and the real TUI attached
// with `opencode attach URL -p TOKEN`, as the README says. Neither sees the
// other's sessions, files or events.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { createOpencodeClient } from "@opencode-ai/sdk/v2";
import { startModel } from "./lib/model.mjs";
import {
  fixture, startWasmgate, wasmgateBin, opencodeBin, opencodeEnv, scratch, eventually, sleep, config, have,
} from "./lib/harness.mjs";

const socket = `wasmgate-e2e-tenants-${process.pid}`;
const tmux = (...args) => execFileSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });
const screen = () => tmux("capture-pane", "-p", "-t", "tui");

let model, server, alice, bob, aliceRoot, bobRoot, aliceToken, bobToken;

/** `wasmgate tenant ARGS` on the server's data folder; the token it printed. */
function tenant(...args) {
  const out = execFileSync(wasmgateBin, ["tenant", ...args, "--data-dir", server.dataDir], { encoding: "utf8" });
  return out.trim().split("\n").at(-1).trim();
}

const clientOf = (token, directory) =>
  createOpencodeClient({ baseUrl: server.url, directory, headers: { Authorization: `Bearer ${token}` } });

before(async () => {
  model = await startModel();
  server = await startWasmgate(fixture(), { settings: config(model.url) });
  aliceRoot = realpathSync(scratch("alice"));
  bobRoot = realpathSync(scratch("bob"));
  writeFileSync(join(aliceRoot, "secret.txt"), "alice's secret\n");
  writeFileSync(join(bobRoot, "notes.txt"), "bob's notes\n");
  aliceToken = tenant("add", "alice", "--root", aliceRoot);
  bobToken = tenant("add", "bob", "--root", bobRoot);
  alice = clientOf(aliceToken, aliceRoot);
  bob = clientOf(bobToken, bobRoot);
});

after(async () => {
  try {
    tmux("kill-server");
  } catch {}
  await server?.stop();
  await model?.stop();
});

test("without a token the SDK is refused", async () => {
  const anonymous = createOpencodeClient({ baseUrl: server.url });
  const listed = await anonymous.session.list({});
  assert.equal(listed.response.status, 401);
});

test("each tenant's SDK sees only its own sessions, files and events", async () => {
  // Closed at the end: the SDK's stream reconnects forever otherwise.
  const closing = new AbortController();
  const events = await bob.global.event({ signal: closing.signal });
  const bobSeen = [];
  const reading = (async () => {
    for await (const event of events.stream) {
      bobSeen.push(JSON.stringify(event));
    }
  })();

  const mine = (await alice.session.create({ title: "alice only" }, { throwOnError: true })).data;
  const shell = await alice.session.shell({ sessionID: mine.id, agent: "build", command: "cat secret.txt" }, { throwOnError: true });
  const tool = shell.data.parts.find((p) => p.type === "tool");
  assert.match(tool.state.output, /alice's secret/);

  const bobs = (await bob.session.list({}, { throwOnError: true })).data;
  assert.deepEqual(bobs.map((s) => s.id), [], "bob lists none of alice's sessions");
  const probe = await bob.session.get({ sessionID: mine.id });
  assert.equal(probe.response.status, 404);
  const messages = await bob.session.messages({ sessionID: mine.id });
  assert.equal(messages.response.status, 404);
  const deleted = await bob.session.delete({ sessionID: mine.id });
  assert.equal(deleted.response.status, 404);
  const file = await bob.file.read({ path: "secret.txt", directory: aliceRoot });
  assert.equal(file.response.status, 403);
  assert.doesNotMatch(JSON.stringify(file.data ?? file.error), /alice's secret/);
  const own = await bob.file.read({ path: "notes.txt" }, { throwOnError: true });
  assert.equal(own.data.content.trim(), "bob's notes");

  await sleep(1000);
  assert.ok(bobSeen.some((e) => e.includes("server.connected")), "bob's stream is live");
  assert.ok(!bobSeen.some((e) => e.includes(mine.id) || e.includes("alice")), `bob saw alice's events: ${bobSeen}`);
  const still = await alice.session.get({ sessionID: mine.id }, { throwOnError: true });
  assert.equal(still.data.title, "alice only");
  closing.abort();
  await reading.catch(() => {});
});

test("a tenant's own provider key (the SDK's auth.set) is used for its turns only, and never served back", async () => {
  const set = await alice.auth.set({ providerID: "mock", auth: { type: "api", key: "sk-alice-e2e" } }, { throwOnError: true });
  assert.equal(set.data, true);
  const prompt = async (client) => {
    const session = (await client.session.create({}, { throwOnError: true })).data;
    const reply = await client.session.prompt(
      { sessionID: session.id, model: { providerID: "mock", modelID: "m1" }, parts: [{ type: "text", text: "hi" }] },
      { throwOnError: true },
    );
    assert.equal(reply.data.parts.find((p) => p.type === "text")?.text, "Hello from the scripted model.");
  };
  const before = model.keys.length;
  await prompt(alice);
  await prompt(bob);
  assert.deepEqual(model.keys.slice(before), ["sk-alice-e2e", "sk-scripted"]);
  for (const client of [alice, bob]) {
    const providers = await client.provider.list({}, { throwOnError: true });
    assert.doesNotMatch(JSON.stringify(providers.data), /sk-alice-e2e/);
  }
  const removed = await alice.auth.remove({ providerID: "mock" }, { throwOnError: true });
  assert.equal(removed.data, true);
  await prompt(alice);
  assert.equal(model.keys.at(-1), "sk-scripted");
});

test("the TUI attaches with -p TOKEN and lists only its tenant's sessions", { skip: !have("tmux") && "tmux is missing" }, async () => {
  await bob.session.create({ title: "bob's own session" }, { throwOnError: true });
  await alice.session.create({ title: "alice's hidden session" }, { throwOnError: true });
  const env = opencodeEnv(scratch("tui-home"));
  const exports = Object.entries(env)
    .filter(([key]) => key.startsWith("OPENCODE_") || key.startsWith("XDG_") || key === "HOME")
    .map(([key, value]) => `${key}='${value}'`)
    .join(" ");
  const command = `env ${exports} '${opencodeBin}' attach '${server.url}' -p '${bobToken}' --dir '${bobRoot}'; echo "TUI EXITED $?"; sleep 600`;
  tmux("new-session", "-d", "-s", "tui", "-x", "160", "-y", "45", "sh", "-c", command);
  await eventually(() => /Ask anything/.test(screen()), 60_000, "the home screen");
  tmux("send-keys", "-t", "tui", "/sessions");
  await sleep(500);
  tmux("send-keys", "-t", "tui", "Enter");
  await eventually(() => /bob's own session/.test(screen()), 20_000, "bob's session in the list");
  assert.doesNotMatch(screen(), /alice/);
  assert.doesNotMatch(screen(), /TUI EXITED/);
});
