// A small MCP server for Warden's end-to-end tests, written with the
// official TypeScript SDK's server API and served over stdio. Its tools
// misbehave on request, so that tests can show what the proxy does when a
// backend crashes, is slow, or changes its tool list:
//
//   echo {text}            answers with the text
//   crash {code}           exits the process in the middle of the call
//   slow {ms, label}       writes $WARDEN_E2E_MARKER_DIR/<label>.started,
//                          then waits ms milliseconds; if the call is
//                          cancelled first, it writes what happened to
//                          $WARDEN_E2E_MARKER_DIR/<label>.cancelled
//   add_tool {name}        registers a new tool (tools/list_changed)
//   remove_tool {name}     removes a tool added by add_tool
//
// node testserver.mjs
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

const markerDir = process.env.WARDEN_E2E_MARKER_DIR;
const text = (s) => ({ content: [{ type: "text", text: s }] });

const server = new McpServer({ name: "warden-e2e-testserver", version: "1.0.0" }, { capabilities: { tools: { listChanged: true } } });

server.registerTool("echo", { description: "Answers with the text", inputSchema: { text: z.string() } }, async ({ text: t }) => text("echo: " + t));

server.registerTool("crash", { description: "Exits the server while the call runs", inputSchema: { code: z.number().optional() } }, async ({ code }) => {
  process.stderr.write("testserver: crashing on purpose\n");
  process.exit(code ?? 3);
});

server.registerTool(
  "slow",
  { description: "Waits, and notes a cancellation", inputSchema: { ms: z.number(), label: z.string() } },
  async ({ ms, label }, extra) => {
    const started = Date.now();
    if (markerDir) writeFileSync(join(markerDir, label + ".started"), `${label} started\n`);
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      const onAbort = () => {
        clearTimeout(timer);
        if (markerDir) {
          const why = String(extra.signal.reason?.message ?? extra.signal.reason ?? "aborted");
          writeFileSync(join(markerDir, label + ".cancelled"), `${label} cancelled after ${Date.now() - started}ms: ${why}\n`);
        }
        resolve();
      };
      if (extra.signal.aborted) onAbort();
      else extra.signal.addEventListener("abort", onAbort, { once: true });
    });
    return text(`slept ${Date.now() - started}ms`);
  },
);

const added = new Map();
server.registerTool("add_tool", { description: "Registers a new tool", inputSchema: { name: z.string() } }, async ({ name }) => {
  if (!added.has(name)) {
    added.set(name, server.registerTool(name, { description: "A tool added at run time", inputSchema: {} }, async () => text("I am " + name)));
  }
  return text("added " + name);
});

server.registerTool("remove_tool", { description: "Removes a tool added by add_tool", inputSchema: { name: z.string() } }, async ({ name }) => {
  added.get(name)?.remove();
  added.delete(name);
  return text("removed " + name);
});

await server.connect(new StdioServerTransport());
