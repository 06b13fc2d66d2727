// The wave of `fleet run` as a state machine: canary first and alone, a sliding window of at most
// `concurrency`, stop past the failure threshold, timeouts; time is passed in, never slept.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Wave, type WaveOptions } from "../../../src/twitch/fleet/waves.js";
import type { FleetReply } from "../../../src/twitch/broker/messages.js";

const NODES = ["n1", "n2", "n3", "n4", "n5"];
const opts = (o: Partial<WaveOptions> = {}): WaveOptions => ({ canary: 1, concurrency: 2, maxFailures: 0, startTimeoutMs: 1000, runTimeoutMs: 5000, ...o });
const reply = (certname: string, kind: FleetReply["kind"], exitCode = 0): FleetReply => ({
  id: "req-00000001", certname, kind, time: 0,
  ...(kind === "complete" ? { run: { exitCode, status: exitCode === 0 || exitCode === 2 ? "success" : "failed", outcome: null, changed: null, failed: null, total: null, durationMs: 10, message: `exit ${exitCode}` } } : {}),
  ...(kind === "refused" ? { reason: "disabled: maintenance" } : {}),
});

test("canary alone first, then at most `concurrency` in flight, the window sliding as nodes finish", () => {
  const w = new Wave(NODES, opts());
  assert.deepEqual(w.take(0), ["n1"]);
  assert.deepEqual(w.take(1), [], "nothing else while the canary runs");
  w.reply(reply("n1", "start"), 2);
  assert.deepEqual(w.take(3), []);
  w.reply(reply("n1", "complete", 2), 4);
  assert.deepEqual(w.take(5), ["n2", "n3"]);
  w.reply(reply("n2", "noop"), 6);
  assert.deepEqual(w.take(7), ["n4"], "a NOOP frees its slot");
  w.reply(reply("n3", "complete"), 8);
  w.reply(reply("n4", "complete"), 8);
  assert.deepEqual(w.take(9), ["n5"]);
  w.reply(reply("n5", "complete"), 10);
  assert.ok(w.done);
  assert.deepEqual(w.rows.map((r) => r.state), ["changed", "skipped", "ok", "ok", "ok"]);
});

test("a failing canary stops the wave; the rest are not-started", () => {
  const w = new Wave(NODES, opts({ maxFailures: 3 }));
  w.take(0);
  w.reply(reply("n1", "complete", 4), 1);
  assert.deepEqual(w.take(2), []);
  assert.ok(w.done && w.stopped);
  assert.deepEqual(w.rows.map((r) => r.state), ["failed", "not-started", "not-started", "not-started", "not-started"]);
});

test("past maxFailures no new node is asked; those in flight still finish", () => {
  const w = new Wave(NODES, opts({ canary: 0, concurrency: 3, maxFailures: 1 }));
  assert.deepEqual(w.take(0), ["n1", "n2", "n3"]);
  w.reply(reply("n1", "refused"), 1);
  assert.deepEqual(w.take(2), ["n4"], "one failure is within the threshold");
  w.reply(reply("n2", "complete", 6), 3);
  assert.deepEqual(w.take(4), []);
  w.reply(reply("n3", "complete"), 5);
  w.reply(reply("n4", "complete"), 5);
  assert.ok(w.done);
  assert.deepEqual(w.rows.map((r) => r.state), ["refused", "failed", "ok", "ok", "not-started"]);
});

test("timeouts: no START or NOOP within startTimeout, no COMPLETE within runTimeout; late replies change nothing", () => {
  const w = new Wave(["a", "b"], opts({ canary: 0 }));
  w.take(0);
  w.reply(reply("b", "start"), 500);
  w.tick(1000);
  assert.deepEqual(w.rows.map((r) => r.state), ["asked", "running"]);
  w.tick(1001);
  assert.equal(w.rows[0]?.state, "no-answer");
  w.reply(reply("a", "complete"), 1002);
  assert.equal(w.rows[0]?.state, "no-answer", "a late COMPLETE does not revive it");
  w.tick(5501);
  assert.deepEqual(w.rows.map((r) => r.state), ["no-answer", "no-answer"]);
  assert.ok(w.done);
});

test("replies from nodes outside the wave and repeated replies are ignored", () => {
  const w = new Wave(["a"], opts({ canary: 0 }));
  w.take(0);
  w.reply(reply("zz", "complete"), 1);
  w.reply(reply("a", "start"), 1);
  w.reply(reply("a", "start"), 2);
  w.reply(reply("a", "complete", 2), 3);
  w.reply(reply("a", "complete", 4), 4);
  assert.deepEqual(w.rows.map((r) => [r.certname, r.state, r.exitCode]), [["a", "changed", 2]]);
});

test("report: the progress line counts states; the table lists every node and a count per result", async () => {
  const { progressLine, waveTable, failedCount } = await import("../../../src/twitch/fleet/broker-report.js");
  const w = new Wave(["a.example", "b.example", "c.example"], opts({ canary: 0, concurrency: 2 }));
  w.take(0);
  w.reply(reply("a.example", "start"), 1);
  assert.equal(progressLine(w.rows), "\r\x1b[K0/3 done, 1 running, 1 asked, 0 failed");
  w.reply(reply("a.example", "complete", 2), 2);
  w.reply(reply("b.example", "refused"), 3);
  const table = waveTable(w.rows);
  assert.match(table, /^NODE\s+RESULT\s+EXIT\s+CHANGED\s+FAILED\s+DURATION\s+MESSAGE$/m);
  assert.match(table, /^a\.example\s+changed\s+2\s+/m);
  assert.match(table, /^b\.example\s+refused\s+-\s+.*disabled: maintenance$/m);
  assert.match(table, /^c\.example\s+not-started\s+/m);
  assert.match(table, /3 node\(s\): 0 ok, 1 changed, 0 failed, 1 refused, 0 skipped, 0 no-answer, 1 not-started\n$/);
  assert.equal(failedCount(w.rows), 2);
});
