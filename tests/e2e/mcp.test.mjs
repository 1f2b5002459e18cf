// MCP both ways with the protocol's official TypeScript SDK: its client
// drives wasmgate's MCP server (`wasmgate mcp` on stdio, and `/wasmgate/mcp`
// on a running server), and wasmgate's MCP client connects to a server
// written with it, seen through the OpenCode SDK (`mcp.status`,
// `command.list`).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createOpencodeClient } from "@opencode-ai/sdk/v2";
import { fixture, startWasmgate, eventually, config, wasmgateBin } from "./lib/harness.mjs";

const nodeServer = join(import.meta.dirname, "lib", "mcp-server.mjs");
let dir, server;

before(async () => {
  dir = fixture();
  writeFileSync(join(dir, "notes.md"), "# Notes\nalpha\n");
  const settings = config(undefined, {
    mcp: { node: { type: "local", command: [process.execPath, nodeServer] } },
    wasmgate: { sandbox: { processes: "trusted" } },
  });
  server = await startWasmgate(dir, { settings });
});

after(async () => {
  await server?.stop();
});

const text = (result) => result.content.filter((c) => c.type === "text").map((c) => c.text).join("");

async function readInsideAndOutside(client) {
  const { tools } = await client.listTools();
  const read = tools.find((t) => t.name === "read");
  assert.ok(read, "read is listed");
  assert.ok(read.inputSchema.properties.filePath, "with its schema");
  const inside = await client.callTool({ name: "read", arguments: { filePath: "notes.md" } });
  assert.ok(!inside.isError && text(inside).includes("alpha"), text(inside));
  const outside = await client.callTool({ name: "read", arguments: { filePath: "../../etc/passwd" } });
  assert.ok(outside.isError && text(outside).includes("outside"), text(outside));
}

test("the TypeScript SDK's client drives `wasmgate mcp` on stdio", async () => {
  const client = new Client({ name: "e2e", version: "1.0.0" });
  await client.connect(new StdioClientTransport({ command: wasmgateBin, args: ["mcp", "--root", dir] }));
  try {
    await readInsideAndOutside(client);
  } finally {
    await client.close();
  }
});

test("the TypeScript SDK's client drives /wasmgate/mcp on a running server", async () => {
  const client = new Client({ name: "e2e", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/wasmgate/mcp`)));
  try {
    await readInsideAndOutside(client);
  } finally {
    await client.close();
  }
});

test("wasmgate connects to a server written with the TypeScript SDK, as the OpenCode SDK sees it", async () => {
  const client = createOpencodeClient({ baseUrl: server.url, directory: dir });
  await eventually(async () => (await client.mcp.status()).data?.node?.status === "connected", 20_000, "node connected");
  const commands = (await client.command.list()).data;
  const greet = commands.find((c) => c.name === "node:greet");
  assert.equal(greet?.source, "mcp");
  assert.deepEqual(greet?.hints, ["$1"]);
  const tools = (await client.tool.ids()).data;
  assert.ok(tools.includes("node_shout"), JSON.stringify(tools));
  assert.equal((await client.mcp.disconnect({ name: "node" })).data, true);
  assert.equal((await client.mcp.status()).data.node.status, "disabled");
});
