// The cluster view's deadline on a fake clock: last good read start + viewPeriod, capped by the
// member's own lease renewal; failed reads do not extend it; stale answers do not replace newer ones.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ClusterView } from "../../../../src/proxy/control/view.js";
import type { TxnResult } from "../../../../src/proxy/control/etcd.js";
import { DEFAULT_TIMING, viewPeriodMs } from "../../../../src/proxy/control/timing.js";
import { FakeClock, flush } from "../fake-clock.js";

const PERIOD = viewPeriodMs(DEFAULT_TIMING);

function kv(key: string, value: string, rev: number) {
  return { key, value, createRevision: rev, modRevision: rev, version: 1, lease: "" };
}

function setup() {
  const clock = new FakeClock();
  let answer: () => Promise<TxnResult> = () => Promise.resolve({
    succeeded: true, revision: 5, term: 2,
    ranges: [[kv("/p/ca-state", '{"epoch":3,"active":"ca2"}', 4)], [kv("/p/controller", "proxy-a", 2)], [kv("/p/members/proxy-b", JSON.stringify({ name: "proxy-b", adminUrl: "http://127.0.0.1:1", appliedEpoch: 3, viewAgeMs: 10, caWritesInFlight: 0, holdAck: null, publishedAt: 0 }), 5)]],
  });
  let renewedAt: number | undefined = 0;
  const failures: Error[] = [];
  const view = new ClusterView({
    client: { readTxn: () => answer() }, prefix: "/p", timing: DEFAULT_TIMING, watch: false, scheduler: clock,
    leaseRenewedAt: () => renewedAt, onFailure: (e) => failures.push(e),
  });
  return {
    clock, view, failures,
    setAnswer: (f: () => Promise<TxnResult>) => (answer = f),
    setRenewed: (t: number | undefined) => (renewedAt = t),
  };
}

test("a good read gives the state, controller and members, and a deadline of read start + viewPeriod", async () => {
  const { view } = setup();
  assert.equal(view.fresh(), false, "no view before the first read");
  view.start();
  await flush();
  const snap = view.snapshot;
  assert.deepEqual(snap?.state, { state: { epoch: 3, active: "ca2" }, revision: 4 });
  assert.equal(snap?.controller, "proxy-a");
  assert.deepEqual(snap?.members.map((m) => m.name), ["proxy-b"]);
  assert.equal(view.deadline(), PERIOD);
  assert.equal(view.fresh(), true);
  view.stop();
});

test("etcd unreachable: the deadline stays at the last good read; the view expires exactly there", async () => {
  const { clock, view, setAnswer, failures } = setup();
  view.start();
  await flush();
  setAnswer(() => Promise.reject(new Error("no quorum")));
  for (let t = 0; t < PERIOD - 1; t += 100) {
    clock.advance(Math.min(100, PERIOD - 1 - clock.now()));
    await flush();
  }
  assert.equal(view.fresh(), true, "1 ms before the deadline");
  assert.equal(view.unreachableSince, DEFAULT_TIMING.loopWaitMs);
  clock.advance(1);
  assert.equal(view.fresh(), false);
  assert.ok(failures.length >= 3);
  view.stop();
});

test("the view never outlives the member's own lease renewal", async () => {
  const { clock, view, setRenewed } = setup();
  setRenewed(-3000); // last renewal 3 s before the read
  view.start();
  await flush();
  assert.equal(view.deadline(), -3000 + PERIOD);
  setRenewed(undefined);
  assert.equal(view.fresh(), false, "no lease: no view");
  clock.advance(1);
  view.stop();
});

test("an answer at an older revision does not replace a newer view", async () => {
  const { view, setAnswer } = setup();
  view.start();
  await flush();
  setAnswer(() => Promise.resolve({ succeeded: true, revision: 4, term: 2, ranges: [[kv("/p/ca-state", '{"epoch":2,"active":"ca1"}', 3)], [], []] }));
  await view.refresh();
  assert.equal(view.snapshot?.state?.state.epoch, 3);
  view.stop();
});

test("a malformed member record is reported and skipped, not fatal", async () => {
  const { view, setAnswer, failures } = setup();
  setAnswer(() => Promise.resolve({ succeeded: true, revision: 9, term: 2, ranges: [[], [], [kv("/p/members/x", "{", 9)]] }));
  await view.refresh();
  assert.deepEqual(view.snapshot?.members, []);
  assert.match(failures[0]?.message ?? "", /\/p\/members\/x: member record is not valid JSON/);
});

test("a read that hangs makes etcd count as unreachable once it is overdue (loopWait + retryTimeout)", async () => {
  const { clock, view, setAnswer } = setup();
  view.start();
  await flush();
  setAnswer(() => new Promise<TxnResult>(() => undefined));
  const overdue = DEFAULT_TIMING.loopWaitMs + DEFAULT_TIMING.retryTimeoutMs;
  clock.advance(overdue - 1);
  assert.equal(view.unreachableSince, undefined);
  clock.advance(1);
  assert.equal(view.unreachableSince, overdue);
  assert.equal(view.fresh(), true, "still within its deadline");
  view.stop();
});
