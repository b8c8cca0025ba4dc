// A transparent recording pipe in front of a stdio MCP server, for tests
// that must show what reached the server: it starts the server command,
// copies its own stdin to the server's stdin byte for byte while appending
// every chunk to $WARDEN_E2E_TAP, and lets the server's stdout and stderr
// through untouched. It exits with the server.
//
//   node tap.mjs node server.js ARGS...
import { spawn } from "node:child_process";
import { appendFileSync } from "node:fs";

const [cmd, ...args] = process.argv.slice(2);
const log = process.env.WARDEN_E2E_TAP;
if (!cmd || !log) {
  process.stderr.write("usage: WARDEN_E2E_TAP=FILE node tap.mjs COMMAND ARGS...\n");
  process.exit(2);
}
const child = spawn(cmd, args, { stdio: ["pipe", "inherit", "inherit"] });
process.stdin.on("data", (chunk) => {
  appendFileSync(log, chunk);
  child.stdin.write(chunk);
});
process.stdin.on("end", () => child.stdin.end());
child.stdin.on("error", () => {});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
