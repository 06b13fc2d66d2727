// `puppet-ha check` as a real process against a small server answering each kind of report:
// the exact Nagios exit codes (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN) and the perfdata.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../helpers/cli.js";
import { assessHealth } from "../../../src/health/health-status.js";
import type { HealthReport } from "../../../src/health/report.js";
import { DAY, THRESHOLDS, inputs, pools, syncDest } from "../../helpers/health.js";

type Answer = (req: IncomingMessage, res: ServerResponse) => void;
let answer: Answer = (_req, res) => res.end();
let lastAuth: string | undefined;
const server = createServer((req, res) => {
  lastAuth = req.headers.authorization;
  answer(req, res);
});
let base = "";
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});
const dir = mkdtempSync(join(tmpdir(), "puppet-ha-check-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A live report (current time) as the admin app would serve it, with the HTTP code it would use. */
function serveReport(over: Parameters<typeof inputs>[0] = {}): void {
  const now = new Date();
  const core = assessHealth(inputs({ now, caCertNotAfter: new Date(now.getTime() + 3650 * DAY + 3_600_000), crl: { nextUpdate: new Date(now.getTime() + 40 * DAY + 3_600_000), number: "7" }, ...over }), THRESHOLDS);
  const body: HealthReport = { ...core, version: "t", events: [] };
  answer = (_req, res) => {
    res.writeHead(body.status === "down" ? 503 : 200, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
}

async function check(...args: string[]) {
  return checkUrl(base, ...args);
}

async function checkUrl(url: string, ...args: string[]) {
  const r = await runCli(["check", "--url", url, ...args]);
  return { code: r.exitCode, out: String(r.stdout), err: String(r.stderr) };
}

test("OK: exit 0, one status line with perfdata", async () => {
  serveReport();
  const r = await check();
  assert.equal(r.code, 0, r.out + r.err);
  assert.equal(r.out,
    "PUPPET-HA OK - active ca1 epoch 3, 2/2 masters up, CRL expires in 40d | active_epoch=3 masters_up=2;;;0;2 cas_up=2;;;0;2 " +
    "crl_days=40;30:;7: ca_cert_days=3650;30:;7: sync_lag_max=5s;120;;0 sync_diverged=0;;0;0 held_writes=0;;;0");
  assert.equal(r.err, "");
});

test("WARNING: exit 1 when degraded", async () => {
  serveReport({ pools: pools(["up", "up"], ["up", "down"]) });
  const r = await check();
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /^PUPPET-HA WARNING - degraded: compile master m2 is down/);
  assert.match(r.out, /masters_up=1;;;0;2/);
});

test("WARNING: exit 1 when the sync lag passes --max-sync-lag", async () => {
  serveReport({ sync: [syncDest({ lagMs: 45_000 })] });
  assert.equal((await check()).code, 0);
  const r = await check("--max-sync-lag", "30s");
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /sync ca2 lags 45s/);
  assert.match(r.out, /sync_lag_max=45s;30;;0/);
});

test("CRITICAL: exit 2 when down (HTTP 503 with the report)", async () => {
  serveReport({ pools: pools(["down", "down"]) });
  const r = await check();
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /^PUPPET-HA CRITICAL - down: active CA ca1 is down and no standby CA is up/);
  assert.match(r.out, /cas_up=0;;;0;2/);
});

test("CRITICAL: exit 2 when the CRL expires within --crit-days", async () => {
  const now = Date.now();
  serveReport({ crl: { nextUpdate: new Date(now + 5 * DAY + 3_600_000) } });
  const r = await check("--warn-days", "20", "--crit-days", "6");
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /CRL expires in 5d/);
  assert.match(r.out, /crl_days=5;20:;6:/);
});

test("the token file is sent as a bearer token", async () => {
  serveReport();
  const tokenFile = join(dir, "token");
  writeFileSync(tokenFile, "tok-123\n");
  assert.equal((await check("--token-file", tokenFile)).code, 0);
  assert.equal(lastAuth, "Bearer tok-123");
});

const unknowns: { name: string; answer?: Answer; args?: string[]; url?: string; out: RegExp }[] = [
  { name: "a non-JSON answer", answer: (_q, s) => s.end("<html>hello</html>"), out: /is not JSON/ },
  { name: "JSON that is not a report", answer: (_q, s) => s.end(JSON.stringify({ hello: 1 })), out: /not a puppet-ha health report/ },
  { name: "HTTP 500", answer: (_q, s) => { s.statusCode = 500; s.end("{}"); }, out: /HTTP 500 from/ },
  { name: "no answer within --timeout", answer: () => undefined, args: ["--timeout", "300ms"], out: /no answer within 300ms/ },
  { name: "an unreachable proxy", url: "http://127.0.0.1:1", out: /cannot reach http:\/\/127\.0\.0\.1:1\/health: ECONNREFUSED/ },
  { name: "an unknown option", args: ["--bogus"], out: /usage: unknown option '--bogus'/ },
  { name: "a bad --crit-days", args: ["--crit-days", "soon"], out: /usage: --crit-days must be a whole number/ },
  { name: "--crit-days above --warn-days", args: ["--crit-days", "40"], out: /must not exceed --warn-days/ },
  { name: "a missing option value", args: ["--timeout"], out: /usage: option '--timeout <duration>' argument missing/ },
  { name: "an unreadable token file", args: ["--token-file", "/nonexistent/token"], out: /cannot read token file \/nonexistent\/token: no such file/ },
];
for (const u of unknowns) {
  test(`UNKNOWN: exit 3 for ${u.name}`, async () => {
    serveReport();
    if (u.answer) answer = u.answer;
    const r = await checkUrl(u.url ?? base, ...(u.args ?? []));
    assert.equal(r.code, 3, `${r.out}${r.err}`);
    assert.match(r.out, /^PUPPET-HA UNKNOWN - /);
    assert.match(r.out, u.out);
    assert.equal(r.out.trimEnd().split("\n").length, 1);
    assert.doesNotMatch(r.err, /\n\s+at /, "no stack trace");
  });
}

test("--help exits 0", async () => {
  const r = await runCli(["check", "--help"]);
  assert.equal(r.exitCode, 0);
  assert.match(String(r.stdout), /Nagios\/Icinga plugin/);
});
