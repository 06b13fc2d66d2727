// `puppet-ha sync -c FILE` as a long-running process: it serves GET /status, copies a change in
// the active cadir through its watch, and stops cleanly on SIGTERM.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import type { SyncStatus } from "../../../src/sync/service.js";
import { cliArgv, repoRoot } from "../../helpers/cli.js";
import { makeHarness } from "./harness.js";

/** Poll `check` until it is true or the deadline passes (each try is a real HTTP round trip). */
async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${what}: not within ${ms} ms`);
}

test("the sync agent process: status API, watch-driven copy, clean SIGTERM", async (t) => {
  const h = makeHarness(t);
  const arbiter = createServer((req, res) => {
    if (req.headers.authorization !== "Bearer t0k") res.writeHead(401).end();
    else res.writeHead(200, { "content-type": "application/json" }).end('{"epoch":2,"active":"ca1","primary":"ca1"}');
  });
  await new Promise<void>((r) => arbiter.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => arbiter.close(() => r())));
  const tokenFile = join(h.root, "admin.token");
  writeFileSync(tokenFile, "t0k\n");
  const cfgFile = join(h.root, "agent.yaml");
  writeFileSync(cfgFile, [
    "sync:",
    `  cadirs: { ca1: "${h.ca1}", ca2: "${h.ca2}" }`,
    `  backupDir: "${h.backupDir}"`,
    `  workDir: "${join(h.root, "work")}"`,
    "  writeInto: [ca2]",
    "  debounce: 50ms",
    `  arbiter: { url: "http://127.0.0.1:${(arbiter.address() as { port: number }).port}", tokenFile: "${tokenFile}" }`,
    '  listen: "127.0.0.1:0"',
    "log: { level: info, format: json }",
    "",
  ].join("\n"));
  const [node, pre] = cliArgv();
  const proc = execa(node, [...pre, "sync", "-c", cfgFile], { cwd: repoRoot, reject: false, buffer: true });
  t.after(() => { proc.kill("SIGKILL"); });

  const port = await new Promise<number>((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`no start line: ${seen}`)), 15_000);
    void proc.then((r) => reject(new Error(`exited ${r.exitCode}: ${String(r.stderr)}`)));
    proc.stdout?.on("data", (chunk: Buffer) => {
      seen += chunk.toString();
      const m = /"listen":"127\.0\.0\.1:(\d+)"/.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  const status = async () => (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as SyncStatus;
  await until("first pass in sync", 10_000, async () => (await status()).destinations.ca2?.state === "in-sync");
  assert.equal((await status()).epoch, 2);

  writeFileSync(join(h.ca1, "requests", "watched.pem"), "csr");
  await until("watched change copied", 3000, () => Promise.resolve(existsSync(join(h.ca2, "requests", "watched.pem"))));

  // Regression: a SIGTERM while an rsync runs used to kill the agent by the signal (execa's
  // signal-exit re-raised it once our `once` listener was gone). Another change makes a pass likely.
  writeFileSync(join(h.ca1, "requests", "another.pem"), "csr");
  proc.kill("SIGTERM");
  const res = await proc;
  assert.equal(res.exitCode, 0, `${res.signal ?? ""} ${String(res.stderr)} ${String(res.stdout).slice(-2000)}`);
  assert.match(String(res.stdout), /"msg":"sync pass"/);
  assert.match(String(res.stdout), /"durationMs":\d+/);
});
