// A scripted OpenAI-compatible model on loopback: the one stand-in the tests
// allow for the paid model. It streams chat completions the way the real
// services do (`data:` chunks, tool-call fragments, a usage chunk, `[DONE]`),
// and decides what to answer from the last message, so the real TUI, the SDK
// and the reference server can all talk to it in any order:
//
//   USE_TOOL <command>  a `bash` tool call running <command>
//   ASK <question>      a `question` tool call asking <question>, answers Red or Blue
//   /init's prompt      a `write` tool call writing AGENTS.md
//   TASK <prompt>       a `task` tool call giving <prompt> to the general subagent
//   FETCH <url>         a `webfetch` tool call fetching <url> as Markdown
//   a summary request   "Summary: we said hello." (compaction)
//   THINK ...           reasoning, then "Answer."
//   SLOW ...            "tick0 ", "tick1 ", ... every 400 ms for a minute
//   FAIL_AUTH ...       401 with OpenAI's error body
//   a tool result       "The tool said: <its first line>"
//   anything else       "Hello from the scripted model."
//
// Title requests (the title agent's system prompt) get "Scripted title".

import { createServer } from "node:http";

export async function startModel() {
  const requests = [];
  // The key each turn request carried (not the title requests').
  const keys = [];
  const server = createServer(async (request, response) => {
    let body = "";
    for await (const chunk of request) body += chunk;
    if (request.method === "GET" && request.url.endsWith("/models")) {
      response.writeHead(200, { "content-type": "application/json" });
      return response.end(JSON.stringify({ object: "list", data: [{ id: "m1", object: "model" }] }));
    }
    if (!request.url.endsWith("/chat/completions")) {
      response.writeHead(404);
      return response.end();
    }
    const parsed = JSON.parse(body);
    requests.push(parsed);
    if (!isTitle(parsed)) keys.push((request.headers.authorization ?? "").replace(/^Bearer /, ""));
    await answer(parsed, response);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    keys,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

function text(content) {
  if (typeof content === "string") return content;
  return (content ?? []).map((part) => part.text ?? "").join("");
}

function isTitle(request) {
  const system = (request.messages ?? []).filter((m) => m.role === "system").map((m) => text(m.content)).join("\n");
  return /title generator/i.test(system);
}

async function answer(request, response) {
  const messages = request.messages ?? [];
  const last = messages.at(-1) ?? {};
  const said = text(last.content);
  if (isTitle(request)) return stream(response, [{ content: "Scripted title" }]);
  if (last.role === "tool") return stream(response, [{ content: `The tool said: ${said.split("\n")[0]}` }]);
  if (/^FAIL_AUTH/.test(said)) {
    response.writeHead(401, { "content-type": "application/json" });
    return response.end(JSON.stringify({ error: { message: "Incorrect API key provided", type: "invalid_request_error" } }));
  }
  const tool = said.match(/^USE_TOOL (.+)/);
  if (tool) {
    const args = JSON.stringify({ command: tool[1], description: "Run the command" });
    const half = Math.floor(args.length / 2);
    return stream(response, [
      { content: "Let me run a command." },
      { tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "bash", arguments: args.slice(0, half) } }] },
      { tool_calls: [{ index: 0, function: { arguments: args.slice(half) } }] },
    ], "tool_calls");
  }
  const ask = said.match(/^ASK (.+)/);
  if (ask) {
    const options = [{ label: "Red", description: "the warm one" }, { label: "Blue", description: "the cool one" }];
    const args = JSON.stringify({ questions: [{ question: ask[1], header: "Colour", options }] });
    return stream(response, [
      { tool_calls: [{ index: 0, id: "call_ask", type: "function", function: { name: "question", arguments: args } }] },
    ], "tool_calls");
  }
  const task = said.match(/^TASK (.+)/);
  if (task) {
    const args = JSON.stringify({ description: "Scripted task", prompt: task[1], subagent_type: "general" });
    return stream(response, [
      { tool_calls: [{ index: 0, id: "call_task", type: "function", function: { name: "task", arguments: args } }] },
    ], "tool_calls");
  }
  const fetch = said.match(/^FETCH (\S+)/);
  if (fetch) {
    const args = JSON.stringify({ url: fetch[1], format: "markdown" });
    return stream(response, [
      { tool_calls: [{ index: 0, id: "call_fetch", type: "function", function: { name: "webfetch", arguments: args } }] },
    ], "tool_calls");
  }
  if (/^Write a summary of the conversation/.test(said)) return stream(response, [{ content: "Summary: we said hello." }]);
  if (/^Write `AGENTS\.md`/.test(said)) {
    const args = JSON.stringify({ filePath: "AGENTS.md", content: "# AGENTS.md\n\nWritten by /init.\n" });
    return stream(response, [
      { tool_calls: [{ index: 0, id: "call_init", type: "function", function: { name: "write", arguments: args } }] },
    ], "tool_calls");
  }
  if (/^THINK/.test(said)) {
    return stream(response, [{ reasoning_content: "Thinking" }, { reasoning_content: " hard." }, { content: "Answer." }]);
  }
  if (/^SLOW/.test(said)) {
    const ticks = Array.from({ length: 150 }, (_, i) => ({ content: `tick${i} `, wait: 400 }));
    return stream(response, ticks);
  }
  return stream(response, [{ content: "Hello" }, { content: " from" }, { content: " the scripted model." }]);
}

async function stream(response, deltas, finish = "stop") {
  response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  let open = true;
  response.on("close", () => (open = false));
  const send = (chunk) => open && response.write(`data: ${JSON.stringify(chunk)}\n\n`);
  const choice = (delta, finish_reason = null) => ({
    id: "chatcmpl-scripted",
    object: "chat.completion.chunk",
    created: Math.floor(Date.now() / 1000),
    model: "m1",
    choices: [{ index: 0, delta, finish_reason }],
  });
  send(choice({ role: "assistant", content: "" }));
  for (const { wait, ...delta } of deltas) {
    if (wait) await new Promise((resolve) => setTimeout(resolve, wait));
    if (!open) return;
    send(choice(delta));
  }
  send(choice({}, finish));
  send({ id: "chatcmpl-scripted", object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 } });
  if (open) response.end("data: [DONE]\n\n");
}
