// `puppet-ha sync` as a real process: SIGHUP must not end it (systemd's Restart=on-failure would
// not bring it back); it re-reads the token file and says so in the log, and SIGTERM still stops
// it cleanly. Issue 12: `kill -HUP` used to kill the agent.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { cliArgv, repoRoot } from "../../helpers/cli.js";
import { makeHarness } from "./harness.js";

test("SIGHUP keeps the sync agent running, re-reads the token file and logs it; SIGTERM exits 0", async (t) => {
  const h = makeHarness(t);
  const tokenFile = join(h.root, "admin.token");
  writeFileSync(tokenFile, "first-token\n", { mode: 0o600 });
  const arbiter: Server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ epoch: 1, active: "ca1" }));
  });
  await new Promise<void>((r) => arbiter.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => arbiter.close(() => r())));
  const cfgFile = join(h.root, "puppet-ha.yaml");
  writeFileSync(cfgFile, [
    "sync:",
    '  listen: "127.0.0.1:0"',
    `  cadirs: { ca1: "${h.ca1}", ca2: "${h.ca2}" }`,
    "  writeInto: [ca2]",
    `  backupDir: "${h.backupDir}"`,
    `  workDir: "${join(h.root, "work")}"`,
    `  arbiter: { url: "http://127.0.0.1:${(arbiter.address() as { port: number }).port}", tokenFile: "${tokenFile}" }`,
    "",
  ].join("\n"));

  const [node, pre] = cliArgv();
  const child = execa(node, [...pre, "sync", "-c", cfgFile], { cwd: repoRoot, reject: false, stdin: "ignore" });
  t.after(() => {
    if (child.exitCode === null && child.pid) process.kill(child.pid, "SIGKILL");
  });
  let out = "";
  const waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString("utf8");
    for (const w of [...waiters]) {
      const m = w.re.exec(out);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  const exited = child.then((r) => r);
  const output = (re: RegExp) => Promise.race([
    new Promise<RegExpExecArray>((resolve) => {
      const m = re.exec(out);
      if (m) resolve(m);
      else waiters.push({ re, resolve });
    }),
    exited.then((r) => {
      throw new Error(`the agent exited (${String(r.exitCode ?? r.signal)}) before ${re}: ${out} ${String(r.stderr)}`);
    }),
  ]);

  const listen = (await output(/"listen":"(127\.0\.0\.1:\d+)"[^\n]*sync agent started/))[1] as string;
  const pass = (token: string) => fetch(`http://${listen}/pass`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
  assert.equal((await pass("first-token")).status, 202);

  writeFileSync(tokenFile, "second-token\n");
  child.kill("SIGHUP");
  await output(/"signal":"SIGHUP"[^\n]*reloaded: re-read the token file/);
  assert.equal(child.exitCode, null, "still running after SIGHUP");
  assert.equal((await fetch(`http://${listen}/status`)).status, 200);
  assert.equal((await pass("first-token")).status, 403);
  assert.equal((await pass("second-token")).status, 202);

  child.kill("SIGTERM");
  const r = await exited;
  assert.equal(r.exitCode, 0, String(r.stderr));
});
