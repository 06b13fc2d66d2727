// fleet twitch's pure parts: targets, the CA answer, the pool's bound, the query, the output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { UsageError } from "../../../src/errors.js";
import { FleetTargetError } from "../../../src/twitch/errors.js";
import { runPool } from "../../../src/twitch/fleet/pool.js";
import { ProgressBar, resultJson, resultTable } from "../../../src/twitch/fleet/report.js";
import { parseTargetsFile, selectTargets, signedCertnames } from "../../../src/twitch/fleet/targets.js";
import { triggerQuery, type NodeResult } from "../../../src/twitch/fleet/trigger.js";

const d = { scheme: "https", port: 2023 } as const;

test("targets file: hosts, ports, IPv6, URLs, comments and blank lines", () => {
  const t = parseTargetsFile(`# web tier
web1.example
web2.example:2024   # other port

[::1]:3000
http://10.0.0.5:8080/
https://db1.example:2023/twitch-base
`, d);
  assert.deepEqual(t, [
    { node: "web1.example", url: "https://web1.example:2023" },
    { node: "web2.example", url: "https://web2.example:2024" },
    { node: "::1", url: "https://[::1]:3000" },
    { node: "10.0.0.5", url: "http://10.0.0.5:8080" },
    { node: "db1.example", url: "https://db1.example:2023/twitch-base" },
  ]);
});

test("a bad line is a usage error naming the line", () => {
  assert.throws(() => parseTargetsFile("ok.example\nbad host\n", d), (e: unknown) => e instanceof UsageError && /line 2/.test(e.message));
  assert.throws(() => parseTargetsFile("h:70000\n", d), UsageError);
  assert.throws(() => parseTargetsFile("https://h/?x=1\n", d), UsageError);
});

test("--match globs and duplicates", () => {
  const t = parseTargetsFile("web1\nweb2\ndb1\nweb1\n", d);
  assert.deepEqual(selectTargets(t, ["web*"]).map((x) => x.node), ["web1", "web2"]);
  assert.deepEqual(selectTargets(t, []).map((x) => x.node), ["web1", "web2", "db1"]);
  assert.deepEqual(selectTargets(t, ["db?", "web2"]).map((x) => x.node), ["web2", "db1"]);
});

test("signed certnames from a certificate_statuses answer", () => {
  assert.deepEqual(signedCertnames([{ name: "a", state: "signed" }, { name: "b", state: "requested" }, { name: "c", state: "revoked" }, { state: "signed" }, null]), ["a"]);
  assert.throws(() => signedCertnames({ error: "x" }), FleetTargetError);
});

test("the pool never runs more than N jobs and keeps result order", async () => {
  let inflight = 0;
  let max = 0;
  const waiting: (() => void)[] = [];
  const done: number[] = [];
  const pool = runPool(Array.from({ length: 12 }, (_, i) => i), 3, async (i) => {
    inflight++;
    max = Math.max(max, inflight);
    await new Promise<void>((r) => waiting.push(r));
    inflight--;
    return i * 10;
  }, (_r, i) => done.push(i));
  // Release jobs one at a time, newest first, so they finish out of order.
  while (done.length < 12) {
    await new Promise((r) => setImmediate(r));
    waiting.pop()?.();
  }
  assert.deepEqual(await pool, Array.from({ length: 12 }, (_, i) => i * 10));
  assert.equal(max, 3);
  assert.notDeepEqual(done, [...done].sort((a, b) => a - b));
});

test("the pool with fewer items than N, and with none", async () => {
  assert.deepEqual(await runPool([1, 2], 10, (x) => Promise.resolve(x + 1)), [2, 3]);
  assert.deepEqual(await runPool([], 10, (x: number) => Promise.resolve(x)), []);
});

test("trigger query string", () => {
  assert.equal(triggerQuery({ wait: false, noop: false, tags: [], environment: undefined, splay: false }), "");
  assert.equal(triggerQuery({ wait: true, noop: true, tags: ["a", "b::c"], environment: "dev", splay: true }), "?async=false&noop=true&tags=a%2Cb%3A%3Ac&environment=dev&splay=true");
});

const row = (o: Partial<NodeResult>): NodeResult => ({
  node: "n", url: "http://n:2023", ok: true, status: 200, outcome: "complete", message: "Puppet run complete", durationMs: 1500, exitCode: 2, changed: 1, failed: 0, ...o,
});

test("result table and JSON", () => {
  const rs = [row({ node: "web1" }), row({ node: "db-primary", ok: false, status: 500, outcome: "failed", message: "puppet agent exited 4 (failures)", durationMs: 80, exitCode: 4, changed: 0, failed: 2 })];
  assert.equal(resultTable(rs, true), [
    "NODE        STATUS  OUTCOME   DURATION  CHANGED  FAILED  MESSAGE",
    "web1        200     complete  1.5s      1        0",
    "db-primary  500     failed    80ms      0        2       puppet agent exited 4 (failures)",
    "",
    "2 node(s): 1 ok, 1 failed",
    "",
  ].join("\n"));
  assert.doesNotMatch(resultTable(rs, false), /CHANGED/);
  const j = JSON.parse(resultJson(rs)) as { total: number; ok: number; failed: number; results: NodeResult[] };
  assert.deepEqual([j.total, j.ok, j.failed], [2, 1, 1]);
  assert.deepEqual(j.results[1], rs[1]);
});

test("progress bar redraws in place and clears its line at the end", () => {
  let out = "";
  const w = new Writable({ write(c: Buffer, _e, cb) { out += c.toString(); cb(); } });
  const bar = new ProgressBar(w, 4);
  bar.tick(true);
  bar.tick(false);
  bar.end();
  const clear = "\r\x1b[K";
  assert.ok(out.startsWith(`${clear}[${"-".repeat(30)}] 0/4 ok 0 failed 0`), JSON.stringify(out));
  assert.ok(out.endsWith(`${clear}[${"#".repeat(15)}${"-".repeat(15)}] 2/4 ok 1 failed 1${clear}`), JSON.stringify(out));
});
