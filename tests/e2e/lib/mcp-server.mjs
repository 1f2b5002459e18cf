// An MCP server written with the protocol's official TypeScript SDK, for
// wasmgate's MCP client: one tool (`shout`) and one prompt (`greet`), on
// stdio.

import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

const server = new McpServer({ name: "node-test-server", version: "1.0.0" });

server.registerTool(
  "shout",
  { description: "Says its text in capitals.", inputSchema: { text: z.string() } },
  async ({ text }) => ({ content: [{ type: "text", text: text.toUpperCase() }] }),
);

server.registerPrompt(
  "greet",
  { description: "Greets someone", argsSchema: { who: z.string() } },
  ({ who }) => ({ messages: [{ role: "user", content: { type: "text", text: `Say hello to ${who}.` } }] }),
);

await server.connect(new StdioServerTransport());
