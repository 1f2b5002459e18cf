// The official SDK (v2 client) against the real wasmgate binary.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createOpencodeClient } from "@opencode-ai/sdk/v2";
import { createOpencodeClient as createV1Client } from "@opencode-ai/sdk";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fixture, startWasmgate, eventually, config, opencodeBin, opencodeEnv, scratch } from "./lib/harness.mjs";
import { startModel } from "./lib/model.mjs";

let dir, model, server, client;

before(async () => {
  dir = fixture();
  model = await startModel();
  server = await startWasmgate(dir, { settings: config(model.url, { permission: { bash: { "*": "allow", "rm *": "ask" } } }) });
  client = createOpencodeClient({ baseUrl: server.url, directory: dir });
});

after(async () => {
  await server?.stop();
  await model?.stop();
});

/** Collects `/global/event` payloads until `done(payload)` is true. */
async function listen(done) {
  const events = await client.global.event();
  const seen = [];
  const finished = (async () => {
    for await (const event of events.stream) {
      if (event.payload?.type === "server.heartbeat") continue;
      seen.push(event.payload);
      if (done(event.payload)) break;
    }
  })();
  await eventually(() => seen.some((e) => e.type === "server.connected"), 10_000, "server.connected");
  return { seen, finished };
}

const idleOf = (session) => (e) => e.type === "session.idle" && e.properties.sessionID === session;

test("health, path, project, config, providers and agents", async () => {
  const health = await client.global.health({ throwOnError: true });
  assert.equal(health.data.healthy, true);
  const path = await client.path.get({ throwOnError: true });
  assert.equal(path.data.directory, dir);
  const project = await client.project.current({ throwOnError: true });
  assert.equal(project.data.id, "global");
  const providers = await client.config.providers({ throwOnError: true });
  assert.deepEqual(providers.data.providers.map((p) => p.id), ["mock"]);
  assert.equal(providers.data.default.mock, "m1");
  const agents = await client.app.agents({ throwOnError: true });
  assert.ok(agents.data.some((a) => a.name === "build" && a.mode === "primary"));
  const commands = await client.command.list({ throwOnError: true });
  const hello = commands.data.find((c) => c.name === "hello");
  assert.deepEqual(hello.hints, ["$ARGUMENTS"]);
});

test("sessions: create, list, get, update, children, delete", async () => {
  const created = (await client.session.create({ title: "first" }, { throwOnError: true })).data;
  assert.match(created.id, /^ses_/);
  assert.equal(created.directory, dir);
  const second = (await client.session.create({}, { throwOnError: true })).data;
  assert.match(second.title, /^New session - \d{4}-/);
  assert.ok(second.id < created.id, "newer sessions sort first by id");
  const child = (await client.session.create({ parentID: created.id }, { throwOnError: true })).data;
  assert.equal(child.parentID, created.id);

  const listed = (await client.session.list({}, { throwOnError: true })).data.map((s) => s.id);
  for (const id of [created.id, second.id, child.id]) assert.ok(listed.includes(id), `${id} listed`);
  const roots = (await client.session.list({ roots: true }, { throwOnError: true })).data.map((s) => s.id);
  assert.ok(!roots.includes(child.id), "roots=true leaves children out");
  const searched = (await client.session.list({ search: "FIRST" }, { throwOnError: true })).data;
  assert.deepEqual(searched.map((s) => s.id), [created.id]);

  const got = (await client.session.get({ sessionID: created.id }, { throwOnError: true })).data;
  assert.deepEqual(got, created);
  const renamed = (await client.session.update({ sessionID: created.id, title: "renamed" }, { throwOnError: true })).data;
  assert.equal(renamed.title, "renamed");
  assert.ok(renamed.time.updated >= created.time.updated);
  const children = (await client.session.children({ sessionID: created.id }, { throwOnError: true })).data;
  assert.deepEqual(children.map((s) => s.id), [child.id]);

  assert.equal((await client.session.delete({ sessionID: created.id }, { throwOnError: true })).data, true);
  const missing = await client.session.get({ sessionID: created.id });
  assert.equal(missing.response.status, 404);
  assert.equal(missing.error.name, "NotFoundError");
  const orphan = await client.session.get({ sessionID: child.id });
  assert.equal(orphan.response.status, 404, "deleting a session deletes its children");
});

test("a shell command is recorded as the reference records it, and streamed on /global/event", async () => {
  const session = (await client.session.create({}, { throwOnError: true })).data;
  const events = await client.global.event();
  const seen = [];
  const reader = (async () => {
    for await (const event of events.stream) {
      seen.push(event);
      if (event.payload?.type === "session.idle" && event.payload.properties.sessionID === session.id) break;
    }
  })();
  await eventually(() => seen.some((e) => e.payload?.type === "server.connected"), 10_000, "server.connected");

  const reply = await client.session.shell(
    { sessionID: session.id, agent: "build", model: { providerID: "mock", modelID: "m1" }, command: "ls -1; echo done" },
    { throwOnError: true },
  );
  assert.equal(reply.data.info.role, "assistant");
  assert.ok(reply.data.info.time.completed, "the assistant message is complete");
  const [tool] = reply.data.parts;
  assert.equal(tool.type, "tool");
  assert.equal(tool.tool, "bash");
  assert.equal(tool.state.status, "completed");
  assert.equal(tool.state.output, "README.md\nbin.dat\nsrc\ndone\n");

  await reader;
  const types = seen.map((e) => e.payload.type).filter((t) => t !== "server.heartbeat");
  const sequence = types.slice(types.indexOf("session.status"));
  assert.deepEqual(sequence.slice(0, 5), [
    "session.status",
    "message.updated",
    "message.part.updated",
    "message.updated",
    "message.part.updated",
  ]);
  assert.deepEqual(sequence.slice(-2), ["session.status", "session.idle"]);
  for (const event of seen.filter((e) => e.payload.type !== "server.connected" && e.payload.type !== "server.heartbeat")) {
    assert.equal(event.directory, dir, "events carry their directory");
    assert.equal(event.project, "global");
    assert.match(event.payload.id, /^evt_/);
  }
  const parts = seen.filter((e) => e.payload.type === "message.part.updated").map((e) => e.payload.properties.part);
  const statuses = parts.filter((p) => p.type === "tool").map((p) => p.state.status);
  assert.equal(statuses[0], "running");
  assert.equal(statuses.at(-1), "completed");
  const eventIds = seen.map((e) => e.payload.id);
  assert.deepEqual([...eventIds].sort(), eventIds, "event ids ascend");

  const messages = (await client.session.messages({ sessionID: session.id }, { throwOnError: true })).data;
  assert.equal(messages.length, 2);
  assert.equal(messages[0].info.role, "user");
  assert.equal(messages[0].parts[0].synthetic, true);
  assert.equal(messages[1].parts[0].state.output, tool.state.output);
  const one = (await client.session.message({ sessionID: session.id, messageID: messages[1].info.id }, { throwOnError: true })).data;
  assert.deepEqual(one, messages[1]);
});

test("a shell command cannot leave the workspace", async () => {
  const session = (await client.session.create({}, { throwOnError: true })).data;
  const reply = await client.session.shell({ sessionID: session.id, agent: "build", command: "cat ../../../etc/passwd" }, { throwOnError: true });
  const [tool] = reply.data.parts;
  assert.match(tool.state.output, /^cat: /, "the shell reports the refusal");
  assert.doesNotMatch(tool.state.output ?? tool.state.error, /root:/);
});

test("a prompt streams the model's answer, with its events on /global/event", async () => {
  const session = (await client.session.create({}, { throwOnError: true })).data;
  const { seen, finished } = await listen(idleOf(session.id));
  const reply = await client.session.prompt(
    { sessionID: session.id, agent: "build", model: { providerID: "mock", modelID: "m1" }, parts: [{ type: "text", text: "hi there" }] },
    { throwOnError: true },
  );
  assert.equal(reply.data.info.role, "assistant");
  assert.equal(reply.data.info.finish, "stop");
  assert.ok(reply.data.info.time.completed);
  const text = reply.data.parts.find((p) => p.type === "text");
  assert.equal(text.text, "Hello from the scripted model.");
  await finished;
  const deltas = seen.filter((e) => e.type === "message.part.delta").map((e) => e.properties.delta);
  assert.deepEqual(deltas, ["Hello", " from", " the scripted model."]);
  const created = seen.findIndex((e) => e.type === "message.part.updated" && e.properties.part.id === text.id);
  const firstDelta = seen.findIndex((e) => e.type === "message.part.delta");
  assert.ok(created >= 0 && created < firstDelta, "the part is created before its deltas");
  await eventually(async () => (await client.session.get({ sessionID: session.id })).data.title === "Scripted title", 10_000, "the title");
  const messages = (await client.session.messages({ sessionID: session.id }, { throwOnError: true })).data;
  assert.deepEqual(messages.map((m) => m.info.role), ["user", "assistant"]);
});

test("a tool call runs in the sandbox, and an ask rule waits for the SDK's reply", async () => {
  const session = (await client.session.create({}, { throwOnError: true })).data;
  const reply = await client.session.prompt(
    { sessionID: session.id, parts: [{ type: "text", text: "USE_TOOL ls -1 src" }] },
    { throwOnError: true },
  );
  assert.equal(reply.data.parts.find((p) => p.type === "text").text, "The tool said: main.rs");
  const messages = (await client.session.messages({ sessionID: session.id }, { throwOnError: true })).data;
  const tool = messages[1].parts.find((p) => p.type === "tool");
  assert.equal(tool.state.status, "completed");
  assert.equal(tool.state.metadata.output, "main.rs\n");

  // `rm` asks first; the prompt waits while nothing is removed.
  const { seen, finished } = await listen(idleOf(session.id));
  const pending = client.session.promptAsync({ sessionID: session.id, parts: [{ type: "text", text: "USE_TOOL rm README.md" }] }, { throwOnError: true });
  await pending;
  const asked = await eventually(() => seen.find((e) => e.type === "permission.asked"), 20_000, "permission.asked");
  assert.deepEqual(asked.properties.patterns, ["rm README.md"]);
  assert.ok(readFileSync(join(dir, "README.md")), "nothing was removed while waiting");
  const listed = (await client.permission.list({}, { throwOnError: true })).data;
  assert.equal(listed[0].id, asked.properties.id);
  await client.permission.reply({ requestID: asked.properties.id, reply: "reject" }, { throwOnError: true });
  await finished;
  assert.ok(seen.some((e) => e.type === "permission.replied" && e.properties.reply === "reject"));
  assert.ok(readFileSync(join(dir, "README.md")), "the rejected command did not run");
});

test("the v1 export answers a permission through its own route", async () => {
  // The SDK's default export knows only `POST /session/{id}/permissions/{id}`.
  const v1 = createV1Client({ baseUrl: server.url, directory: dir });
  const session = (await v1.session.create({ body: {}, throwOnError: true })).data;
  const { seen, finished } = await listen(idleOf(session.id));
  const text = "USE_TOOL rm README.md";
  await v1.session.promptAsync({ path: { id: session.id }, body: { parts: [{ type: "text", text }] }, throwOnError: true });
  const asked = await eventually(() => seen.find((e) => e.type === "permission.asked" && e.properties.sessionID === session.id), 20_000, "permission.asked");
  const answered = await v1.postSessionIdPermissionsPermissionId({
    path: { id: session.id, permissionID: asked.properties.id },
    body: { response: "reject" },
    throwOnError: true,
  });
  assert.equal(answered.data, true);
  await finished;
  assert.ok(seen.some((e) => e.type === "permission.replied" && e.properties.reply === "reject"));
  assert.ok(readFileSync(join(dir, "README.md")), "the rejected command did not run");
});

test("undo and redo: revert, unrevert and the session diff through both exports", async () => {
  const session = (await client.session.create({}, { throwOnError: true })).data;
  const main = readFileSync(join(dir, "src/main.rs"), "utf8");
  await client.session.prompt(
    { sessionID: session.id, parts: [{ type: "text", text: "USE_TOOL echo undo-me > notes.txt && echo '// more' >> src/main.rs" }] },
    { throwOnError: true },
  );
  assert.equal(readFileSync(join(dir, "notes.txt"), "utf8"), "undo-me\n");
  const diff = (await client.session.diff({ sessionID: session.id }, { throwOnError: true })).data;
  const byFile = Object.fromEntries(diff.map((d) => [d.file, d]));
  assert.equal(byFile["notes.txt"].status, "added");
  assert.equal(byFile["src/main.rs"].additions, 1);
  assert.match(byFile["src/main.rs"].patch, /\+\/\/ more/);

  const messages = (await client.session.messages({ sessionID: session.id }, { throwOnError: true })).data;
  const user = messages.find((m) => m.info.role === "user").info.id;
  const reverted = (await client.session.revert({ sessionID: session.id, messageID: user }, { throwOnError: true })).data;
  assert.equal(reverted.revert.messageID, user);
  assert.equal(readFileSync(join(dir, "src/main.rs"), "utf8"), main);
  assert.throws(() => readFileSync(join(dir, "notes.txt")), /ENOENT/);
  const redone = (await client.session.unrevert({ sessionID: session.id }, { throwOnError: true })).data;
  assert.equal(redone.revert, undefined);
  assert.equal(readFileSync(join(dir, "notes.txt"), "utf8"), "undo-me\n");

  // The default (v1) export's routes are the same ones.
  const v1 = createV1Client({ baseUrl: server.url, directory: dir });
  await v1.session.revert({ path: { id: session.id }, body: { messageID: user }, throwOnError: true });
  assert.equal(readFileSync(join(dir, "src/main.rs"), "utf8"), main);
  await v1.session.unrevert({ path: { id: session.id }, throwOnError: true });
  assert.match(readFileSync(join(dir, "src/main.rs"), "utf8"), /\/\/ more/);
  await v1.session.revert({ path: { id: session.id }, body: { messageID: user }, throwOnError: true });
  assert.equal(readFileSync(join(dir, "src/main.rs"), "utf8"), main);
});

test("summarize compacts a session through both exports", async () => {
  const session = (await client.session.create({}, { throwOnError: true })).data;
  await client.session.prompt({ sessionID: session.id, parts: [{ type: "text", text: "hello" }] }, { throwOnError: true });
  const done = (
    await client.session.summarize({ sessionID: session.id, providerID: "mock", modelID: "m1" }, { throwOnError: true })
  ).data;
  assert.equal(done, true);
  let messages = (await client.session.messages({ sessionID: session.id }, { throwOnError: true })).data;
  const summary = messages.find((m) => m.info.summary === true);
  assert.equal(summary.info.agent, "compaction");
  assert.equal(summary.parts.find((p) => p.type === "text").text, "Summary: we said hello.");
  assert.equal(messages.find((m) => m.parts.some((p) => p.type === "compaction")).parts[0].auto, false);

  const v1 = createV1Client({ baseUrl: server.url, directory: dir });
  const again = await v1.session.summarize({
    path: { id: session.id },
    body: { providerID: "mock", modelID: "m1" },
    throwOnError: true,
  });
  assert.equal(again.data, true);
  messages = (await client.session.messages({ sessionID: session.id }, { throwOnError: true })).data;
  assert.equal(messages.filter((m) => m.info.summary === true).length, 2);
});

test("skills: listed through the SDK and run as a command", async () => {
  // Not in `.opencode/`, where the `opencode` CLI a later test runs would install packages.
  mkdirSync(join(dir, ".agents/skills/greet"), { recursive: true });
  writeFileSync(join(dir, ".agents/skills/greet/SKILL.md"), "---\nname: greet\ndescription: Greets people.\n---\nSay hello.\n");
  const skills = (await client.app.skills({}, { throwOnError: true })).data;
  const greet = skills.find((s) => s.name === "greet");
  assert.equal(greet.description, "Greets people.");
  assert.equal(greet.content, "Say hello.");
  assert.equal(greet.location, join(dir, ".agents/skills/greet/SKILL.md"));
  const commands = (await client.command.list({}, { throwOnError: true })).data;
  assert.equal(commands.find((c) => c.name === "greet").source, "skill");
  rmSync(join(dir, ".agents"), { recursive: true }); // later tests list the fixture as it was
});

test("questions: listed, answered and dismissed through the SDK", async () => {
  const session = (await client.session.create({}, { throwOnError: true })).data;
  for (const [answer, expected] of [["reply", "completed"], ["reject", "error"]]) {
    const { seen, finished } = await listen(idleOf(session.id));
    await client.session.promptAsync({ sessionID: session.id, parts: [{ type: "text", text: "ASK Red or blue?" }] }, { throwOnError: true });
    const asked = await eventually(() => seen.find((e) => e.type === "question.asked"), 20_000, "question.asked");
    const listed = (await client.question.list({}, { throwOnError: true })).data;
    assert.deepEqual(listed.map((q) => q.id), [asked.properties.id]);
    assert.equal(listed[0].questions[0].question, "Red or blue?");
    if (answer === "reply") {
      await client.question.reply({ requestID: asked.properties.id, answers: [["Blue"]] }, { throwOnError: true });
    } else {
      await client.question.reject({ requestID: asked.properties.id }, { throwOnError: true });
    }
    await finished;
    const messages = (await client.session.messages({ sessionID: session.id }, { throwOnError: true })).data;
    const part = messages.flatMap((m) => m.parts).filter((p) => p.tool === "question").at(-1);
    assert.equal(part.state.status, expected);
    if (answer === "reply") assert.deepEqual(part.state.metadata.answers, [["Blue"]]);
  }
});

test("abort stops a streaming answer and the session stays usable", async () => {
  const session = (await client.session.create({}, { throwOnError: true })).data;
  const { seen, finished } = await listen(idleOf(session.id));
  const running = client.session.prompt({ sessionID: session.id, parts: [{ type: "text", text: "SLOW please" }] });
  await eventually(() => seen.some((e) => e.type === "message.part.delta" && e.properties.delta === "tick1 "), 20_000, "streaming");
  assert.equal((await client.session.abort({ sessionID: session.id }, { throwOnError: true })).data, true);
  const reply = await running;
  assert.equal(reply.data.info.error.name, "MessageAbortedError");
  await finished;
  assert.ok(seen.some((e) => e.type === "session.error" && e.properties.error.name === "MessageAbortedError"));
  const again = await client.session.prompt({ sessionID: session.id, parts: [{ type: "text", text: "hi" }] }, { throwOnError: true });
  assert.equal(again.data.parts.find((p) => p.type === "text").text, "Hello from the scripted model.");
});

test("a provider that refuses the key gives a clear error", async () => {
  const session = (await client.session.create({}, { throwOnError: true })).data;
  const reply = await client.session.prompt({ sessionID: session.id, parts: [{ type: "text", text: "FAIL_AUTH now" }] }, { throwOnError: true });
  assert.equal(reply.data.info.error.name, "ProviderAuthError");
  assert.equal(reply.data.info.error.data.message, "Incorrect API key provided");
  const messages = (await client.session.messages({ sessionID: session.id }, { throwOnError: true })).data;
  assert.equal(messages[0].parts[0].text, "FAIL_AUTH now");
});

test("OPENAI_BASE_URL alone gives a working agent whose commands stay in the folder", async () => {
  const project = fixture();
  const alone = await startWasmgate(project, { settings: {}, env: { OPENAI_BASE_URL: model.url } });
  try {
    const c = createOpencodeClient({ baseUrl: alone.url, directory: project });
    const providers = await eventually(async () => {
      const listed = (await c.config.providers({}, { throwOnError: true })).data;
      return listed.providers.find((p) => p.id === "openai" && p.models.m1) ? listed : null;
    }, 10_000, "the models listed by the local server");
    assert.equal(providers.default.openai, "m1");
    const session = (await c.session.create({}, { throwOnError: true })).data;
    const made = await c.session.prompt({ sessionID: session.id, parts: [{ type: "text", text: "USE_TOOL echo made > made.txt" }] }, { throwOnError: true });
    assert.equal(made.data.info.providerID, "openai");
    assert.equal(readFileSync(join(project, "made.txt"), "utf8"), "made\n");
    await c.session.prompt({ sessionID: session.id, parts: [{ type: "text", text: "USE_TOOL cat /etc/passwd ../../../../etc/passwd" }] }, { throwOnError: true });
    const messages = (await c.session.messages({ sessionID: session.id }, { throwOnError: true })).data;
    const tools = messages.flatMap((m) => m.parts).filter((p) => p.type === "tool");
    assert.equal(tools.length, 2);
    assert.doesNotMatch(JSON.stringify(tools[1].state), /root:/, "nothing outside the folder was read");
  } finally {
    await alone.stop();
  }
});

test("opencode run: a file attached with -f reaches the model, an unknown model fails as the reference fails", async () => {
  const run = (...args) => {
    const running = promisify(execFile)(opencodeBin, ["run", "--attach", server.url, "--dir", dir, ...args], {
      cwd: dir,
      env: opencodeEnv(scratch("run-home")),
      timeout: 60_000,
    });
    running.child.stdin.end(); // `run` reads a piped stdin to its end
    return running.then(
      (done) => ({ code: 0, out: done.stdout + done.stderr }),
      (failed) => ({ code: failed.code, out: `${failed.stdout}${failed.stderr}` }),
    );
  };
  const asked = model.requests.length;
  const attached = await run("what does this print?", "-f", join(dir, "src/main.rs"));
  assert.equal(attached.code, 0, attached.out);
  const request = JSON.stringify(model.requests.slice(asked));
  assert.match(request, /println!\(\\"hello\\"\)/, "the attached file's text reached the model");

  const unknown = await run("-m", "nope/none", "hi");
  assert.equal(unknown.code, 1, unknown.out);
  assert.match(unknown.out, /Model not found: nope\/none/);
});

test("files: list, read text and binary, refuse paths outside", async () => {
  const listed = (await client.file.list({ path: "" }, { throwOnError: true })).data;
  const names = listed.map((n) => n.name);
  assert.deepEqual([...names].sort(), ["README.md", "bin.dat", "src"]);
  assert.equal(names[0], "src", "directories come first");
  const src = listed.find((n) => n.name === "src");
  assert.equal(src.type, "directory");
  assert.equal(src.absolute, join(dir, "src"));

  const text = (await client.file.read({ path: "README.md" }, { throwOnError: true })).data;
  assert.deepEqual(text, { type: "text", content: readFileSync(join(dir, "README.md"), "utf8").trim() });
  const binary = (await client.file.read({ path: "bin.dat" }, { throwOnError: true })).data;
  assert.equal(binary.type, "binary");
  assert.deepEqual(Buffer.from(binary.content, "base64"), readFileSync(join(dir, "bin.dat")));
  const missing = (await client.file.read({ path: "nope.txt" }, { throwOnError: true })).data;
  assert.deepEqual(missing, { type: "text", content: "" });

  const outside = await client.file.read({ path: "../../../../etc/passwd" });
  assert.equal(outside.response.status, 403);
  assert.match(outside.error.data.message, /outside/);
  symlinkSync("/etc", join(dir, "etc-link"));
  const viaLink = await client.file.read({ path: "etc-link/passwd" });
  assert.ok([403, 404].includes(viaLink.response.status) || viaLink.data?.content === "", "a symlink does not lead out");
  assert.doesNotMatch(JSON.stringify(viaLink.data ?? viaLink.error), /root:/);
  const elsewhere = createOpencodeClient({ baseUrl: server.url, directory: "/etc" });
  const refused = await elsewhere.file.read({ path: "passwd" });
  assert.equal(refused.response.status, 403, "a directory outside the served folder is refused");
});

test("find text and files", async () => {
  const found = (await client.find.text({ pattern: "hello" }, { throwOnError: true })).data;
  const readme = found.find((m) => m.path.text === "README.md");
  assert.deepEqual(readme, {
    path: { text: "README.md" },
    lines: { text: "hello world\n" },
    line_number: 1,
    absolute_offset: 0,
    submatches: [{ match: { text: "hello" }, start: 0, end: 5 }],
  });
  assert.ok(found.some((m) => m.path.text === "src/main.rs" && m.line_number === 2));
  const files = (await client.find.files({ query: "main" }, { throwOnError: true })).data;
  assert.equal(files[0], "src/main.rs");
  const dirs = (await client.find.files({ query: "sr", type: "directory" }, { throwOnError: true })).data;
  assert.deepEqual(dirs, ["src/"]);
  const bad = await client.find.text({ pattern: "(" });
  assert.equal(bad.response.status, 400);
});

test("auth: with a password set, requests need it", async () => {
  const guarded = await startWasmgate(fixture(), { env: { OPENCODE_SERVER_PASSWORD: "s3cret" } });
  try {
    const anonymous = createOpencodeClient({ baseUrl: guarded.url });
    const refused = await anonymous.global.health();
    assert.equal(refused.response.status, 401);
    assert.match(refused.response.headers.get("www-authenticate"), /^Basic/);
    const wrong = createOpencodeClient({ baseUrl: guarded.url, headers: { Authorization: `Basic ${btoa("opencode:nope")}` } });
    assert.equal((await wrong.session.list()).response.status, 401);
    const right = createOpencodeClient({ baseUrl: guarded.url, headers: { Authorization: `Basic ${btoa("opencode:s3cret")}` } });
    assert.equal((await right.global.health({ throwOnError: true })).data.healthy, true);
    const token = await fetch(`${guarded.url}/session?auth_token=${btoa("opencode:s3cret")}`);
    assert.equal(token.status, 200);
    const preflight = await fetch(`${guarded.url}/session`, {
      method: "OPTIONS",
      headers: { Origin: "http://localhost:3000", "Access-Control-Request-Method": "POST" },
    });
    assert.ok(preflight.status < 300, "CORS pre-flight is answered before auth");
    assert.equal(preflight.headers.get("access-control-allow-origin"), "http://localhost:3000");
  } finally {
    await guarded.stop();
  }
});

test("auth.set connects a provider with a key (the TUI's /connect); auth.remove disconnects it", async () => {
  const ids = async () => (await client.provider.list({}, { throwOnError: true })).data;
  // Listed for /connect, with its models, but not connected.
  const before = await ids();
  assert.ok(!before.connected.includes("anthropic"));
  for (const id of ["anthropic", "openai", "openrouter", "groq", "deepseek", "mistral", "xai", "togetherai", "fireworks-ai"]) {
    const listed = before.all.find((p) => p.id === id);
    assert.ok(listed && Object.keys(listed.models).length > 0, `${id} is in the /connect catalogue`);
  }
  const set = await client.auth.set({ providerID: "anthropic", auth: { type: "api", key: "sk-ant-e2e" } }, { throwOnError: true });
  assert.equal(set.data, true);
  const connected = await ids();
  assert.ok(connected.all.some((p) => p.id === "anthropic" && Object.keys(p.models).length > 0), JSON.stringify(connected));
  assert.ok(connected.connected.includes("anthropic"));
  assert.doesNotMatch(JSON.stringify(connected), /sk-ant-e2e/);
  const oauth = await client.auth.set({ providerID: "anthropic", auth: { type: "oauth", refresh: "r", access: "a", expires: 0 } });
  assert.equal(oauth.response.status, 400);
  await client.auth.remove({ providerID: "anthropic" }, { throwOnError: true });
  assert.ok(!(await ids()).connected.includes("anthropic"));
});

test("bad input gets OpenCode's error shapes and the server keeps serving", async () => {
  const malformed = await fetch(`${server.url}/session`, { method: "POST", body: "{not json", headers: { "content-type": "application/json" } });
  assert.equal(malformed.status, 400);
  assert.equal((await malformed.json()).name, "BadRequest");
  const unknown = await fetch(`${server.url}/no/such/route`);
  assert.equal(unknown.status, 404);
  assert.match(unknown.headers.get("content-type"), /application\/json/);
  const badId = await fetch(`${server.url}/session/nope`);
  assert.equal(badId.status, 400);
  const health = await client.global.health({ throwOnError: true });
  assert.equal(health.data.healthy, true);
});

test("sessions and messages survive a restart, and a kill -9 mid-command", async () => {
  const project = fixture();
  const first = await startWasmgate(project);
  const c1 = createOpencodeClient({ baseUrl: first.url, directory: project });
  const session = (await c1.session.create({ title: "durable" }, { throwOnError: true })).data;
  await c1.session.shell({ sessionID: session.id, agent: "build", command: "echo kept" }, { throwOnError: true });
  // A command that never ends, then the server dies under it.
  const hanging = c1.session.shell({ sessionID: session.id, agent: "build", command: "while true; do :; done" });
  await eventually(async () => {
    const status = (await c1.session.status({}, { throwOnError: true })).data;
    return status[session.id]?.type === "busy";
  }, 10_000, "the session to be busy");
  first.child.kill("SIGKILL");
  await hanging.catch(() => {});

  const second = await startWasmgate(project, { dataDir: first.dataDir });
  try {
    const c2 = createOpencodeClient({ baseUrl: second.url, directory: project });
    const again = (await c2.session.get({ sessionID: session.id }, { throwOnError: true })).data;
    assert.equal(again.title, "durable");
    const messages = (await c2.session.messages({ sessionID: session.id }, { throwOnError: true })).data;
    assert.equal(messages.length, 4, "both commands' messages are there");
    assert.equal(messages[1].parts[0].state.output, "kept\n");
    const interrupted = messages[3];
    assert.ok(interrupted.info.time.completed, "the interrupted message was closed at start");
    assert.equal(interrupted.info.error.name, "MessageAbortedError");
    assert.equal(interrupted.parts[0].state.status, "error");
    const status = (await c2.session.status({}, { throwOnError: true })).data;
    assert.deepEqual(status, {});
    const after = await c2.session.shell({ sessionID: session.id, agent: "build", command: "echo usable" }, { throwOnError: true });
    assert.equal(after.data.parts[0].state.output, "usable\n");
  } finally {
    await second.stop();
  }
});

test("part.update, part.delete, session.deleteMessage, app.log, tool.ids, vcs.diff.raw and instance.dispose", async () => {
  const session = (await client.session.create({}, { throwOnError: true })).data;
  const prompt = { sessionID: session.id, model: { providerID: "mock", modelID: "m1" }, parts: [{ type: "text", text: "hello" }] };
  const answer = (await client.session.prompt(prompt, { throwOnError: true })).data;
  const [user] = (await client.session.messages({ sessionID: session.id }, { throwOnError: true })).data;
  const part = { ...user.parts[0], text: "hello, edited" };
  const ids = { sessionID: session.id, messageID: user.info.id, partID: part.id };
  const updated = await client.part.update({ ...ids, part }, { throwOnError: true });
  assert.equal(updated.data.text, "hello, edited");
  assert.equal((await client.part.delete(ids, { throwOnError: true })).data, true);
  const deleted = await client.session.deleteMessage({ sessionID: session.id, messageID: answer.info.id }, { throwOnError: true });
  assert.equal(deleted.data, true);
  const left = (await client.session.messages({ sessionID: session.id }, { throwOnError: true })).data;
  assert.deepEqual(left.map((m) => [m.info.id, m.parts.length]), [[user.info.id, 0]]);

  assert.equal((await client.app.log({ service: "e2e", level: "info", message: "from the SDK" }, { throwOnError: true })).data, true);
  const tools = (await client.tool.ids({}, { throwOnError: true })).data;
  assert.ok(["read", "bash", "webfetch", "task"].every((t) => tools.includes(t)), JSON.stringify(tools));
  const raw = await client.vcs.diff2.raw({});
  assert.equal(raw.response.status, 200);
  assert.equal((await client.instance.dispose({}, { throwOnError: true })).data, true);
});
