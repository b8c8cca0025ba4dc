// A driver for Warden's end-to-end tests: the official MCP TypeScript SDK
// client, connected to a server command given as JSON argv (stdio) or to a
// URL (Streamable HTTP). It reads one JSON request per line on stdin and
// answers each with one JSON line on stdout, carrying the request's id;
// requests run concurrently, so a test can approve a call while it is held.
// Notifications arrive as {"event": ...} lines.
//
//   node client.mjs '["warden","proxy","--policy","p.yaml"]'
//   node client.mjs --url http://127.0.0.1:8080/mcp --token T
//
// Requests: {"id", "op": "list" | "call" | "resources" | "templates" |
// "read" | "prompts" | "prompt" | "cancel" | "close", "name", "args", "uri",
// "timeoutMs", "progress", "cancelAfterMs", "target"}. "cancel" aborts the
// request whose id is "target", which makes the SDK send
// notifications/cancelled for it. Notifications are reported as events:
// tools/list_changed, resources/list_changed, prompts/list_changed, log and
// progress (with the id of the request it belongs to).
import { createInterface } from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  LoggingMessageNotificationSchema,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";

const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const argv = process.argv.slice(2);
let transport;
if (argv[0] === "--url") {
  const headers = {};
  const t = argv.indexOf("--token");
  if (t >= 0) headers.Authorization = "Bearer " + argv[t + 1];
  transport = new StreamableHTTPClientTransport(new URL(argv[1]), { requestInit: { headers } });
} else {
  const cmd = JSON.parse(argv[0]);
  transport = new StdioClientTransport({ command: cmd[0], args: cmd.slice(1), env: process.env, stderr: "inherit" });
}

const client = new Client({ name: "warden-e2e", version: "1.0.0" }, { capabilities: {} });
client.setNotificationHandler(ToolListChangedNotificationSchema, () => out({ event: "tools/list_changed" }));
client.setNotificationHandler(ResourceListChangedNotificationSchema, () => out({ event: "resources/list_changed" }));
client.setNotificationHandler(PromptListChangedNotificationSchema, () => out({ event: "prompts/list_changed" }));
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => out({ event: "log", params: n.params }));

const started = Date.now();
await client.connect(transport);
out({ event: "connected", ms: Date.now() - started, server: client.getServerVersion(), protocol: transport.protocolVersion ?? null });

// The abort controllers of the requests in flight, by id.
const inflight = new Map();

async function handle(req) {
  const ac = new AbortController();
  const opts = { timeout: req.timeoutMs ?? 60000, resetTimeoutOnProgress: true, signal: ac.signal };
  if (req.progress) {
    opts.onprogress = (p) => out({ event: "progress", id: req.id, params: p });
  }
  if (req.cancelAfterMs) {
    setTimeout(() => ac.abort("cancelled by the test"), req.cancelAfterMs);
  }
  if (req.op !== "cancel") inflight.set(req.id, ac);
  try {
    return await run(req, opts);
  } finally {
    inflight.delete(req.id);
  }
}

async function run(req, opts) {
  switch (req.op) {
    case "list":
      return await client.listTools({}, opts);
    case "call":
      return await client.callTool({ name: req.name, arguments: req.args ?? {} }, undefined, opts);
    case "resources":
      return await client.listResources({}, opts);
    case "templates":
      return await client.listResourceTemplates({}, opts);
    case "read":
      return await client.readResource({ uri: req.uri }, opts);
    case "prompts":
      return await client.listPrompts({}, opts);
    case "prompt":
      return await client.getPrompt({ name: req.name, arguments: req.args ?? {} }, opts);
    case "cancel": {
      const target = inflight.get(req.target);
      target?.abort("cancelled by the test");
      return { cancelled: target !== undefined };
    }
    case "close":
      await client.close();
      return {};
    default:
      throw new Error("unknown op " + req.op);
  }
}

const rl = createInterface({ input: process.stdin });
const pending = new Set();
rl.on("line", (line) => {
  if (!line.trim()) return;
  const req = JSON.parse(line);
  const p = handle(req)
    .then((result) => out({ id: req.id, result }))
    .catch((err) => out({ id: req.id, error: { message: String(err?.message ?? err), code: err?.code ?? null } }));
  pending.add(p);
  p.finally(() => pending.delete(p));
});
rl.on("close", async () => {
  await Promise.allSettled([...pending]);
  await client.close().catch(() => {});
  process.exit(0);
});
