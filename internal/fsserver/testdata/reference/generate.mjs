// generate.mjs records what the reference filesystem MCP server
// (@modelcontextprotocol/server-filesystem@2026.8.31) answers for every case
// in ../cases.json, run over a fresh copy of ../fixture.json, into
// golden.json, its tools/list answer into tools.json, and the patches its
// diff library (jsdiff) makes of pseudo-random pairs of texts into
// diffs.json. The Go tests read
// only those goldens; Node is needed only to regenerate them:
//
//	mkdir -p /tmp/fsref && cd /tmp/fsref && npm install @modelcontextprotocol/server-filesystem@2026.8.31
//	cd /tmp/fsref && TZ=UTC node <repo>/internal/fsserver/testdata/reference/generate.mjs
//
// The script must run from the directory holding node_modules.
import fs from "fs";
import os from "os";
import path from "path";
import { fileURLToPath, pathToFileURL } from "url";

const sdk = (p) => import(pathToFileURL(path.resolve("node_modules/@modelcontextprotocol/sdk/dist/esm", p)).href);
const { Client } = await sdk("client/index.js");
const { StdioClientTransport } = await sdk("client/stdio.js");
const { createTwoFilesPatch } = await import(pathToFileURL(path.resolve("node_modules/diff/libesm/index.js")).href);

const here = path.dirname(fileURLToPath(import.meta.url));
const server = path.resolve("node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");
const fixture = JSON.parse(fs.readFileSync(path.join(here, "..", "fixture.json"), "utf8"));
const cases = JSON.parse(fs.readFileSync(path.join(here, "..", "cases.json"), "utf8"));

function build() {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "fsref-")));
  const when = new Date(fixture.mtime);
  for (const d of fixture.dirs) fs.mkdirSync(path.join(root, d), { recursive: true });
  for (const f of fixture.files) {
    const p = path.join(root, f.path);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, f.base64 !== undefined ? Buffer.from(f.base64, "base64") : f.text);
    fs.chmodSync(p, 0o644);
  }
  for (const l of fixture.symlinks) fs.symlinkSync(l.target, path.join(root, l.path));
  // Times last, deepest first, so that creating entries does not move them.
  const all = [];
  (function walk(dir) {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isSymbolicLink()) continue;
      if (e.isDirectory()) walk(p);
      all.push(p);
    }
  })(root);
  for (const p of all) fs.utimesSync(p, when, when);
  return root;
}

function subst(v, root) {
  if (typeof v === "string") return v.split(root).join("$ROOT");
  if (Array.isArray(v)) return v.map((x) => subst(x, root));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, subst(x, root)]));
  return v;
}

function unsubst(v, root) {
  if (typeof v === "string") return v.split("$ROOT").join(root);
  if (Array.isArray(v)) return v.map((x) => unsubst(x, root));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unsubst(x, root)]));
  return v;
}

// The birth time cannot be set, so it is not compared.
function normalise(result) {
  for (const c of result.content ?? []) {
    if (c.type === "text") c.text = c.text.replace(/^created: .*$/m, "created: <created>");
  }
  if (result.structuredContent && typeof result.structuredContent.content === "string") {
    result.structuredContent.content = result.structuredContent.content.replace(/^created: .*$/m, "created: <created>");
  }
  return result;
}

async function connect(root) {
  const t = new StdioClientTransport({ command: process.execPath, args: [server, root], stderr: "ignore" });
  const c = new Client({ name: "warden-golden", version: "1" });
  await c.connect(t);
  return c;
}

const out = [];
for (const k of cases) {
  const root = build();
  const c = await connect(root);
  let result;
  try {
    result = await c.callTool({ name: k.tool, arguments: unsubst(k.args, root) });
  } catch (e) {
    result = { protocolError: String(e.message ?? e) };
  }
  const rec = { ...k, result: subst(normalise(result), root) };
  if (k.check) {
    rec.files = {};
    for (const p of k.check) {
      const abs = path.join(root, p);
      rec.files[p] = fs.existsSync(abs) ? fs.readFileSync(abs, "utf8") : null;
    }
  }
  out.push(rec);
  await c.close();
  fs.rmSync(root, { recursive: true, force: true });
}
fs.writeFileSync(path.join(here, "golden.json"), JSON.stringify(out, null, 1) + "\n");

const root = build();
const c = await connect(root);
const tools = await c.listTools();
fs.writeFileSync(path.join(here, "tools.json"), JSON.stringify(tools.tools, null, 1) + "\n");
await c.close();
fs.rmSync(root, { recursive: true, force: true });

// Pseudo-random texts over few distinct lines, so that many edit scripts
// are equally short and the tie-breaking shows.
let seed = 20260831;
const rand = (n) => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed % n;
};
function text() {
  const lines = [];
  const n = rand(40);
  for (let i = 0; i < n; i++) lines.push(["a", "b", "c", "}", "", "x = 1", "  return"][rand(7)]);
  let t = lines.join("\n");
  if (n > 0 && rand(3) > 0) t += "\n";
  return t;
}
function mutate(t) {
  const lines = t.split("\n");
  const edits = 1 + rand(6);
  for (let e = 0; e < edits; e++) {
    const at = rand(lines.length + 1);
    switch (rand(3)) {
      case 0: lines.splice(at, 1); break;
      case 1: lines.splice(at, 0, ["a", "b", "new", "}", ""][rand(5)]); break;
      default: if (at < lines.length) lines[at] = lines[at] + "!";
    }
  }
  return lines.join("\n");
}
const diffs = [];
for (let i = 0; i < 300; i++) {
  const before = text();
  const after = i % 10 === 0 ? text() : mutate(before);
  diffs.push({ before, after, patch: createTwoFilesPatch("/p/f.txt", "/p/f.txt", before, after, "original", "modified") });
}
diffs.push({ before: "", after: "", patch: createTwoFilesPatch("/p/f.txt", "/p/f.txt", "", "", "original", "modified") });
diffs.push({ before: "", after: "one\ntwo\n", patch: createTwoFilesPatch("/p/f.txt", "/p/f.txt", "", "one\ntwo\n", "original", "modified") });
diffs.push({ before: "one\ntwo\n", after: "", patch: createTwoFilesPatch("/p/f.txt", "/p/f.txt", "one\ntwo\n", "", "original", "modified") });
fs.writeFileSync(path.join(here, "diffs.json"), JSON.stringify(diffs, null, 1) + "\n");
