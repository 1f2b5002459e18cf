// The same requests to the reference `opencode serve` and to wasmgate, in
// the same project: every route both implement must answer with the same
// status and the same shape (keys and value types, recursively).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { fixture, startWasmgate, startReference, config } from "./lib/harness.mjs";
import { startModel } from "./lib/model.mjs";
import { shape, differences } from "./lib/shape.mjs";

let dir, model, reference, wasmgate, pages, pagesPort;

before(async () => {
  dir = fixture();
  // A git project with uncommitted work, for the /vcs routes.
  const git = (...args) =>
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main", ...args], { cwd: dir });
  git("init", "-q");
  git("add", "-A");
  git("commit", "-q", "-m", "fixture");
  writeFileSync(join(dir, "README.md"), "hello world\nan uncommitted line\nsecond line\n");
  writeFileSync(join(dir, "untracked.txt"), "one\ntwo\n");
  // A skill where wasmgate looks and the reference (its external skills
  // switched off here) does not, so each lists one (the reference its
  // built-in): in `.opencode/` the reference would install packages.
  mkdirSync(join(dir, ".agents/skills/greet"), { recursive: true });
  writeFileSync(join(dir, ".agents/skills/greet/SKILL.md"), "---\nname: greet\ndescription: Greets people.\n---\nSay hello.\n");
  model = await startModel();
  // A page on loopback for the web fetch: wasmgate's policy names it (the
  // reference has no policy and fetches anything).
  pages = createServer((request, response) => {
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end("<html><body><h1>Fetched heading</h1><p>Some <b>bold</b> text.</p></body></html>");
  });
  await new Promise((resolve) => pages.listen(0, "127.0.0.1", resolve));
  pagesPort = pages.address().port;
  const settings = config(model.url);
  const ours = { ...settings, wasmgate: { sandbox: { web: { allow: [`127.0.0.1:${pagesPort}`] } } } };
  [reference, wasmgate] = await Promise.all([startReference(dir, settings), startWasmgate(dir, { settings: ours })]);
});

after(async () => {
  await Promise.all([reference?.stop(), wasmgate?.stop()]);
  await model?.stop();
  pages?.close();
});

/** A request as the SDK sends it: the directory in the query and header. */
async function call(base, method, path, body) {
  const url = `${base}${path}${path.includes("?") ? "&" : "?"}directory=${encodeURIComponent(dir)}`;
  const response = await fetch(url, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: { "content-type": "application/json", "x-opencode-directory": encodeURIComponent(dir) },
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, body: json };
}

/** Only the test provider: the reference also lists its whole built-in catalogue. */
const mockOnly = {
  "/config/providers": (b) => ({ ...b, providers: b.providers.filter((p) => p.id === "mock"), default: { mock: b.default.mock } }),
  "/provider": (b) => ({ ...b, all: b.all.filter((p) => p.id === "mock"), default: { mock: b.default.mock }, connected: ["mock"] }),
  // Built-in agents and commands differ by design; compare the ones both have.
  "/agent": (b) => b.filter((a) => ["build", "plan", "title", "general", "explore"].includes(a.name)),
  "/command": (b) => b.filter((c) => c.name === "hello"),
};

/**
 * Fields of the reference that wasmgate leaves out on purpose: the git
 * snapshot hashes of its internal snapshot repository, which wasmgate does
 * not keep.
 */
const leftOut = [/\.snapshot: only in reference$/];

function assertSameShape(route, ours, theirs) {
  assert.equal(ours.status, theirs.status, `${route}: status`);
  const pick = mockOnly[route.split("?")[0]] ?? ((b) => b);
  const lines = differences(shape(pick(theirs.body)), shape(pick(ours.body))).filter((l) => !leftOut.some((r) => r.test(l)));
  assert.deepEqual(lines, [], `${route}: shapes differ`);
}

const reads = [
  "/global/health",
  "/path",
  "/project",
  "/project/current",
  "/vcs",
  "/vcs/diff?mode=git",
  "/vcs/diff?mode=git&context=1",
  "/vcs/diff?mode=branch",
  "/vcs/diff?mode=sideways",
  "/vcs/status",
  "/vcs/diff/raw",
  "/experimental/tool/ids",
  "/config",
  "/config/providers",
  "/provider",
  "/provider/auth",
  "/agent",
  "/command",
  "/skill",
  "/mcp",
  "/lsp",
  "/formatter",
  "/experimental/resource",
  "/session/status",
  "/permission",
  "/file?path=",
  "/file?path=src",
  "/file/content?path=README.md",
  "/file/content?path=bin.dat",
  "/file/content?path=missing.txt",
  "/file/status",
  "/find?pattern=hello",
  "/find/file?query=main",
  "/find/file?query=&type=directory",
  "/find/symbol?query=x",
  "/api/fs/find?query=main",
  "/session/ses_doesnotexist000000000000",
];

for (const route of reads) {
  test(`GET ${route}`, async () => {
    const [theirs, ours] = await Promise.all([call(reference.url, "GET", route), call(wasmgate.url, "GET", route)]);
    assertSameShape(route, ours, theirs);
  });
}

test("/vcs/diff and /vcs/status name the same changes as the reference", async () => {
  for (const route of ["/vcs/diff?mode=git", "/vcs/status"]) {
    const [theirs, ours] = await Promise.all([call(reference.url, "GET", route), call(wasmgate.url, "GET", route)]);
    const summary = (list) => list.map(({ file, status, additions, deletions }) => ({ file, status, additions, deletions }));
    assert.deepEqual(summary(ours.body), summary(theirs.body), route);
    const files = ours.body.map((c) => c.file);
    assert.ok(files.includes("README.md") && files.includes("untracked.txt"), `${route}: ${JSON.stringify(files)}`);
  }
});

test("a session's life: create, shell, messages, update, fork, abort, delete", async () => {
  const [theirs, ours] = await Promise.all([call(reference.url, "POST", "/session", {}), call(wasmgate.url, "POST", "/session", {})]);
  assertSameShape("POST /session", ours, theirs);
  const steps = [
    ["POST", "/shell", { agent: "build", model: { providerID: "mock", modelID: "m1" }, command: "ls" }],
    ["GET", "/message"],
    ["GET", "/message?limit=1"],
    ["GET", ""],
    ["PATCH", "", { title: "renamed" }],
    ["GET", "/todo"],
    ["GET", "/diff"],
    ["GET", "/children"],
    ["POST", "/fork", {}],
    ["POST", "/abort"],
    ["GET", "/message/msg_doesnotexist000000000000"],
  ];
  for (const [method, suffix, body] of steps) {
    const route = `${method} /session/{id}${suffix}`;
    const [a, b] = await Promise.all([
      call(reference.url, method, `/session/${theirs.body.id}${suffix}`, body),
      call(wasmgate.url, method, `/session/${ours.body.id}${suffix}`, body),
    ]);
    assertSameShape(route, b, a);
  }
  const [listTheirs, listOurs] = await Promise.all([call(reference.url, "GET", "/session"), call(wasmgate.url, "GET", "/session")]);
  assertSameShape("GET /session", listOurs, listTheirs);
  const [deleteTheirs, deleteOurs] = await Promise.all([
    call(reference.url, "DELETE", `/session/${theirs.body.id}`),
    call(wasmgate.url, "DELETE", `/session/${ours.body.id}`),
  ]);
  assertSameShape("DELETE /session/{id}", deleteOurs, deleteTheirs);
});

test("a prompt answered by the same model: the reply, the messages and a tool call", async () => {
  const [theirs, ours] = await Promise.all([call(reference.url, "POST", "/session", {}), call(wasmgate.url, "POST", "/session", {})]);
  const prompt = (text) => ({ agent: "build", model: { providerID: "mock", modelID: "m1" }, parts: [{ type: "text", text }] });
  for (const text of ["hello", "THINK about it", "USE_TOOL ls -1 src"]) {
    const [a, b] = await Promise.all([
      call(reference.url, "POST", `/session/${theirs.body.id}/message`, prompt(text)),
      call(wasmgate.url, "POST", `/session/${ours.body.id}/message`, prompt(text)),
    ]);
    assertSameShape(`POST /session/{id}/message (${text})`, b, a);
    assert.deepEqual(
      b.body.parts.map((p) => p.type),
      a.body.parts.map((p) => p.type),
      `${text}: the same parts in the same order`,
    );
  }
  const [a, b] = await Promise.all([
    call(reference.url, "GET", `/session/${theirs.body.id}/message`),
    call(wasmgate.url, "GET", `/session/${ours.body.id}/message`),
  ]);
  assertSameShape("GET /session/{id}/message after prompts", b, a);
  const tools = (messages) => messages.flatMap((m) => m.parts).filter((p) => p.type === "tool");
  assert.equal(tools(b.body)[0].state.output, tools(a.body)[0].state.output, "the same command, the same output");

  // Undo the last turn and bring it back; the diff routes on the way.
  const lastUser = (messages) => messages.filter((m) => m.info.role === "user").at(-1).info.id;
  const steps = [
    ["GET", () => "/diff"],
    ["GET", (messages) => `/diff?messageID=${lastUser(messages)}`],
    ["POST", () => "/revert", (messages) => ({ messageID: lastUser(messages) })],
    ["POST", () => "/unrevert"],
    ["POST", () => "/revert", () => ({ messageID: "msg_doesnotexist000000000000" })],
    ["POST", () => "/summarize", () => ({ providerID: "mock", modelID: "m1" })],
    ["POST", () => "/summarize", () => ({ modelID: "m1" })],
  ];
  for (const [method, suffix, body] of steps) {
    const [x, y] = await Promise.all([
      call(reference.url, method, `/session/${theirs.body.id}${suffix(a.body)}`, body?.(a.body)),
      call(wasmgate.url, method, `/session/${ours.body.id}${suffix(b.body)}`, body?.(b.body)),
    ]);
    assertSameShape(`${method} /session/{id}${suffix([{ info: { role: "user", id: "{msg}" } }])}`, y, x);
  }
  // The compaction as each stores it: a request, then a summary.
  const [after, ours2] = await Promise.all([
    call(reference.url, "GET", `/session/${theirs.body.id}/message`),
    call(wasmgate.url, "GET", `/session/${ours.body.id}/message`),
  ]);
  const compaction = (messages) => messages.filter((m) => m.parts.some((p) => p.type === "compaction") || m.info.summary === true);
  const [theirCompaction, ourCompaction] = [compaction(after.body), compaction(ours2.body)];
  assert.equal(ourCompaction.length, 2, JSON.stringify(ours2.body.slice(-3)));
  assertSameShape("the compaction's messages", { status: 200, body: ourCompaction }, { status: 200, body: theirCompaction });
});

test("a part replaced and deleted, a message deleted, as the reference does", async () => {
  const prompt = { agent: "build", model: { providerID: "mock", modelID: "m1" }, parts: [{ type: "text", text: "hello" }] };
  const edit = async (base) => {
    const session = (await call(base, "POST", "/session", {})).body;
    const answered = (await call(base, "POST", `/session/${session.id}/message`, prompt)).body;
    const user = (await call(base, "GET", `/session/${session.id}/message`)).body[0];
    const part = { ...user.parts[0], text: "hello again" };
    const uri = `/session/${session.id}/message/${user.info.id}`;
    return [
      ["PATCH part", await call(base, "PATCH", `${uri}/part/${part.id}`, part)],
      ["PATCH part of another message", await call(base, "PATCH", `${uri}/part/${part.id}`, { ...part, messageID: answered.info.id })],
      ["DELETE part", await call(base, "DELETE", `${uri}/part/${part.id}`)],
      ["DELETE message", await call(base, "DELETE", `/session/${session.id}/message/${answered.info.id}`)],
      ["GET the deleted message", await call(base, "GET", `/session/${session.id}/message/${answered.info.id}`)],
    ];
  };
  const [theirs, ours] = await Promise.all([edit(reference.url), edit(wasmgate.url)]);
  for (const [i, [what, response]] of ours.entries()) {
    if (what === "PATCH part of another message") {
      // The reference answers with Effect's bare `{_tag: "BadRequest"}`;
      // wasmgate with its usual BadRequest, which says what is wrong.
      assert.equal(response.status, theirs[i][1].status, what);
      assert.match(response.body.data.message, /Part mismatch/);
      continue;
    }
    assertSameShape(what, response, theirs[i][1]);
  }
});

test("a web fetch of the same page: the tool part and its output", async () => {
  const [theirs, ours] = await Promise.all([call(reference.url, "POST", "/session", {}), call(wasmgate.url, "POST", "/session", {})]);
  const prompt = { agent: "build", model: { providerID: "mock", modelID: "m1" }, parts: [{ type: "text", text: `FETCH http://127.0.0.1:${pagesPort}/page` }] };
  await Promise.all([
    call(reference.url, "POST", `/session/${theirs.body.id}/message`, prompt),
    call(wasmgate.url, "POST", `/session/${ours.body.id}/message`, prompt),
  ]);
  const [a, b] = await Promise.all([
    call(reference.url, "GET", `/session/${theirs.body.id}/message`),
    call(wasmgate.url, "GET", `/session/${ours.body.id}/message`),
  ]);
  assertSameShape("GET /session/{id}/message after a web fetch", b, a);
  const fetched = (messages) => messages.flatMap((m) => m.parts).find((p) => p.type === "tool" && p.tool === "webfetch");
  const [their, our] = [fetched(a.body), fetched(b.body)];
  assert.equal(their.state.status, "completed", JSON.stringify(their.state));
  assert.equal(our.state.status, "completed", JSON.stringify(our.state));
  assert.equal(our.state.title, their.state.title);
  assert.equal(our.state.output, their.state.output, "the same Markdown");
});

test("the TUI control routes answer as the reference's do", async () => {
  const [session] = await Promise.all([call(wasmgate.url, "POST", "/session", {})]);
  const posts = [
    ["/tui/append-prompt", { text: "hi" }],
    ["/tui/open-help"],
    ["/tui/submit-prompt"],
    ["/tui/clear-prompt"],
    ["/tui/execute-command", { command: "agent_cycle" }],
    ["/tui/show-toast", { message: "hello", variant: "info" }],
    ["/tui/show-toast", { message: "hello", variant: "loud" }],
    ["/tui/publish", { type: "tui.prompt.append", properties: { text: "x" } }],
    ["/tui/select-session", { sessionID: "ses_doesnotexist000000000000" }],
    ["/log", { service: "e2e", level: "info", message: "side by side", extra: { n: 1 } }],
    ["/log", { service: "e2e", level: "loud", message: "a level neither has" }],
  ];
  assert.equal(session.status, 200);
  for (const [route, body] of posts) {
    const [theirs, ours] = await Promise.all([call(reference.url, "POST", route, body), call(wasmgate.url, "POST", route, body)]);
    assertSameShape(`POST ${route} ${JSON.stringify(body ?? {})}`, ours, theirs);
  }
});
