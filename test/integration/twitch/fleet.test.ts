// `fleet twitch` against 20 in-process twitch instances (each with its own fake puppet): never
// more than --concurrency requests in flight (counted in the servers), every node reported,
// exit 1 when one fails, the JSON shape, and targets from the CA's signed certnames over mTLS.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { execa } from "execa";
import { silentLogger } from "../../../src/log.js";
import { TokenFile } from "../../../src/token.js";
import { createTwitchApp } from "../../../src/twitch/app.js";
import { RateLimiter } from "../../../src/twitch/ratelimit.js";
import { AgentRunner } from "../../../src/twitch/runner.js";
import { runFleet, type FleetCliOptions } from "../../../src/twitch/fleet/run.js";
import { FleetFailedError } from "../../../src/twitch/errors.js";
import { cliArgv, repoRoot } from "../../helpers/cli.js";
import { createTestCa, writePkiFiles } from "../../helpers/pki.js";
import { fakePuppet, summaryYaml, type FakePuppet } from "./fake-puppet.js";
import { startHarness } from "./harness.js";

const dir = mkdtempSync(join(tmpdir(), "twitch-fleet-"));
// noop, tags and environment need authentication: the nodes expect this token.
const tokenFile = join(dir, "fleet.token");
writeFileSync(tokenFile, "fleet-token\n", { mode: 0o600 });
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Requests in flight across all nodes; a gate holds them until `concurrency` are in flight. */
class Gate {
  inflight = 0;
  max = 0;
  arrived = 0;
  #held: (() => void)[] = [];
  constructor(readonly concurrency: number, readonly total: number) {}
  enter(): Promise<void> {
    this.inflight++;
    this.arrived++;
    this.max = Math.max(this.max, this.inflight);
    const p = new Promise<void>((resolve) => this.#held.push(resolve));
    if (this.inflight >= this.concurrency || this.arrived === this.total) this.#held.splice(0).forEach((r) => r());
    return p;
  }
  leave(): void {
    this.inflight--;
    if (this.arrived === this.total) this.#held.splice(0).forEach((r) => r());
  }
}

interface Node {
  url: string;
  fake: FakePuppet;
}

async function startNodes(t: TestContext, n: number, gate: Gate): Promise<Node[]> {
  const nodes: Node[] = [];
  for (let i = 0; i < n; i++) {
    const fake = fakePuppet(t);
    fake.summary(summaryYaml({ changed: 1, failed: 0 }));
    fake.exitWith(2);
    const runner = new AgentRunner({
      command: [fake.bin], args: [], timeoutMs: 30_000, splayMaxMs: 0, log: silentLogger(),
      paths: { runLockFile: fake.runLockFile, disabledLockFile: fake.disabledLockFile, lastRunSummary: fake.lastRunSummary },
    });
    const app = createTwitchApp({ runner, policy: { token: new TokenFile(tokenFile), mtls: false, allow: [] }, limiter: new RateLimiter({ max: 100, per: 60_000 }), log: silentLogger() });
    const server = http.createServer((req, res) => {
      res.on("close", () => gate.leave());
      void gate.enter().then(() => {
        app(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.after(async () => {
      await runner.idle();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    nodes.push({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, fake });
  }
  return nodes;
}

function sink(isTTY = false): Writable & { text: string; isTTY: boolean } {
  const w = new Writable({
    write(chunk: Buffer, _e, cb) {
      w.text += chunk.toString("utf8");
      cb();
    },
  }) as Writable & { text: string; isTTY: boolean };
  w.text = "";
  w.isTTY = isTTY;
  return w;
}

const base: FleetCliOptions = { match: [], port: "2023", concurrency: "5", progress: true, tokenFile };

test("20 nodes with --concurrency 5 --wait: at most 5 in flight, every node reported with its counts", async (t) => {
  const gate = new Gate(5, 20);
  const nodes = await startNodes(t, 20, gate);
  const targets = join(dir, "twenty.txt");
  writeFileSync(targets, ["# the web tier", ...nodes.map((n, i) => (i % 2 ? n.url : n.url.replace("http://", ""))), ""].join("\n"));
  const stdout = sink();
  const stderr = sink(true);
  const results = await runFleet({ ...base, targets, wait: true, noop: true, tags: "ntp" }, { stdout, stderr });
  assert.equal(gate.max, 5);
  assert.equal(results.length, 20);
  assert.ok(results.every((r) => r.ok && r.status === 200 && r.outcome === "complete" && r.changed === 1 && r.failed === 0 && r.exitCode === 2));
  for (const n of nodes) {
    assert.deepEqual(n.fake.argvs(), [["agent", "--onetime", "--no-daemonize", "--detailed-exitcodes", "--noop", "--tags", "ntp"]]);
  }
  const lines = stdout.text.trim().split("\n");
  assert.match(lines[0] ?? "", /^NODE\s+STATUS\s+OUTCOME\s+DURATION\s+CHANGED\s+FAILED\s+MESSAGE$/);
  assert.equal(lines.filter((l) => /^127\.0\.0\.1\s+200\s+complete\s+\S+\s+1\s+0$/.test(l)).length, 20);
  assert.equal(lines.at(-1), "20 node(s): 20 ok, 0 failed");
  assert.match(stderr.text, /\[#{30}\] 20\/20 ok 20 failed 0/, "progress bar on a TTY");
});

test("no progress bar when stderr is not a TTY; async triggers report 202", async (t) => {
  const gate = new Gate(3, 3);
  const nodes = await startNodes(t, 3, gate);
  const targets = join(dir, "three.txt");
  writeFileSync(targets, nodes.map((n) => n.url).join("\n"));
  const stdout = sink();
  const stderr = sink(false);
  const results = await runFleet({ ...base, targets, concurrency: "3" }, { stdout, stderr });
  assert.equal(stderr.text, "");
  assert.deepEqual(results.map((r) => [r.status, r.outcome]), [[202, "triggered"], [202, "triggered"], [202, "triggered"]]);
  assert.doesNotMatch(stdout.text, /CHANGED/);
});

test("the real CLI: one failing node makes exit 1; --json lists every node", async (t) => {
  const gate = new Gate(4, 8);
  const nodes = await startNodes(t, 8, gate);
  nodes[3]?.fake.exitWith(4, "Error: Could not apply complete catalog\n");
  const targets = join(dir, "eight.txt");
  writeFileSync(targets, nodes.map((n) => n.url).join("\n") + "\n127.0.0.1:1  # nothing listens here\n");
  const [node, pre] = cliArgv();
  const r = await execa(node, [...pre, "fleet", "twitch", "-t", targets, "-j", "4", "--wait", "--json", "--token-file", tokenFile], { cwd: repoRoot, reject: false });
  assert.equal(r.exitCode, 1, String(r.stderr));
  assert.equal(String(r.stderr).trim(), "puppet-ha: 2 of 9 node(s) failed");
  const j = JSON.parse(String(r.stdout)) as { total: number; ok: number; failed: number; results: Record<string, unknown>[] };
  assert.equal(j.total, 9);
  assert.equal(j.ok, 7);
  assert.equal(j.failed, 2);
  assert.ok(gate.max <= 4);
  assert.deepEqual(Object.keys(j.results[0] ?? {}).sort(), ["changed", "durationMs", "exitCode", "failed", "message", "node", "ok", "outcome", "status", "url"]);
  const bad = j.results[3];
  assert.equal(bad?.status, 500);
  assert.equal(bad?.outcome, "failed");
  assert.equal(bad?.exitCode, 4);
  assert.match(String(bad?.message), /exited 4 \(failures\)/);
  const unreachable = j.results[8];
  assert.equal(unreachable?.status, null);
  assert.equal(unreachable?.outcome, "error");
  assert.match(String(unreachable?.message), /ECONNREFUSED/);
});

test("bad fleet options are exit 2 with one line", async () => {
  const [node, pre] = cliArgv();
  const run = (args: string[]) => execa(node, [...pre, "fleet", "twitch", ...args], { cwd: repoRoot, reject: false });
  const targets = join(dir, "one.txt");
  writeFileSync(targets, "127.0.0.1:1\n");
  const cases: [string[], RegExp][] = [
    [[], /give --targets FILE or --ca-url URL/],
    [["-t", targets, "--tags", "a;b"], /tags must be a comma list/],
    [["-t", targets, "--environment", "Prod"], /environment must match/],
    [["-t", targets, "-j", "0"], /--concurrency must be a whole number/],
    [["-t", targets, "--timeout", "soon"], /--timeout: not a duration/],
    [["-t", join(dir, "missing.txt")], /cannot read targets file/],
  ];
  const answers = await Promise.all(cases.map(([args]) => run(args)));
  answers.forEach((r, i) => {
    assert.equal(r.exitCode, 2, String(r.stderr));
    assert.match(String(r.stderr), cases[i]?.[1] as RegExp);
    assert.equal(String(r.stderr).trim().split("\n").length, 1);
  });
});

test("targets from the CA's signed certnames (admin cert), filtered by --match, triggered over mTLS", async (t) => {
  const ca = createTestCa("fleet-ca");
  const nodeCert = ca.issue("localhost", { sans: ["localhost", "127.0.0.1"] });
  const adminCert = ca.issue("fleet-admin.ops", { ppCliAuth: true });
  const pki = join(dir, "pki");
  const files = writePkiFiles(pki, ca, [nodeCert, adminCert]);
  const twitch = await startHarness(t, {
    listen: "127.0.0.1:0",
    auth: { tls: { cert: join(pki, "localhost.pem"), key: join(pki, "localhost.key"), ca: files.ca, crl: files.crl }, allow: ["fleet-admin.*"] },
  });
  const port = new URL(twitch.url).port;
  const seen: { path: string; cn: string }[] = [];
  const caServer = https.createServer({ cert: nodeCert.certPem, key: nodeCert.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const peer = (req.socket as import("node:tls").TLSSocket).getPeerCertificate();
    seen.push({ path: req.url ?? "", cn: String(peer.subject?.CN) });
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify([
      { name: "localhost", state: "signed", fingerprint: "AA" },
      { name: "localhost-pending", state: "requested" },
      { name: "db1.example", state: "signed" },
    ]));
  });
  await new Promise<void>((resolve) => caServer.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise((resolve) => caServer.close(resolve)));
  const stdout = sink();
  const results = await runFleet({
    ...base, port, match: ["local*"], wait: true,
    caUrl: `https://127.0.0.1:${(caServer.address() as AddressInfo).port}`,
    cert: join(pki, "fleet-admin.ops.pem"), key: join(pki, "fleet-admin.ops.key"), cacert: files.ca,
  }, { stdout, stderr: sink() });
  assert.deepEqual(seen, [{ path: "/puppet-ca/v1/certificate_statuses/any?state=signed", cn: "fleet-admin.ops" }]);
  assert.deepEqual(results.map((r) => [r.node, r.url, r.status]), [["localhost", `https://localhost:${port}`, 200]]);
  assert.ok(twitch.logs().some((l) => l.msg === "puppet run triggered" && l.caller === "cert:fleet-admin.ops"));
});

test("a failed fleet run throws FleetFailedError after printing the report", async (t) => {
  const gate = new Gate(1, 1);
  const [n] = await startNodes(t, 1, gate);
  writeFileSync(n!.fake.disabledLockFile, '{"disabled_message":"freeze"}');
  const targets = join(dir, "disabled.txt");
  writeFileSync(targets, n!.url);
  const stdout = sink();
  await assert.rejects(runFleet({ ...base, targets }, { stdout, stderr: sink() }), FleetFailedError);
  assert.match(stdout.text, /127\.0\.0\.1\s+423\s+disabled\s+\S+\s+disabled: freeze/);
});
