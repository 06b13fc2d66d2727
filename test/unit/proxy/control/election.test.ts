// The controller election on a fake clock: elected by create-if-absent, renewed every loopWait,
// and stepping down by itself at its own deadline when etcd stops answering, never later.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Election, type ElectionEvent } from "../../../../src/proxy/control/election.js";
import { DEFAULT_TIMING, stepDownMarginMs } from "../../../../src/proxy/control/timing.js";
import { FakeClock, flush } from "../fake-clock.js";
import { ScriptedEtcd } from "./scripted-etcd.js";

const KEY = "/puppet-ha/test/controller";
const MARGIN = stepDownMarginMs(DEFAULT_TIMING);

function contender(etcd: ScriptedEtcd, clock: FakeClock, name: string) {
  const election = new Election({ etcd, key: KEY, name, timing: DEFAULT_TIMING, scheduler: clock });
  const events: ElectionEvent[] = [];
  election.on((e) => events.push(e));
  return { election, events };
}

/** Advance the fake clock in small steps, letting the election's promises settle in between. */
async function advance(clock: FakeClock, ms: number, step = 100): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    clock.advance(Math.min(step, ms - done));
    await flush();
  }
}

test("the first contender creates the key with its lease and is controller until start + ttl - margin", async () => {
  const etcd = new ScriptedEtcd();
  const clock = new FakeClock();
  const a = contender(etcd, clock, "proxy-a");
  a.election.start();
  await flush();
  assert.equal(a.election.isController(), true);
  const kv = etcd.kvs.get(KEY);
  assert.equal(kv?.value, "proxy-a");
  assert.equal(kv?.lease, a.election.leaseId);
  assert.deepEqual(a.events, [{ kind: "elected", at: 0, deadline: DEFAULT_TIMING.ttlMs - MARGIN, createRevision: kv?.createRevision }]);
});

test("a second contender stays follower and names the holder", async () => {
  const etcd = new ScriptedEtcd();
  const clock = new FakeClock();
  const a = contender(etcd, clock, "proxy-a");
  const b = contender(etcd, clock, "proxy-b");
  a.election.start();
  await flush();
  b.election.start();
  await advance(clock, 5000);
  assert.equal(b.election.isController(), false);
  assert.equal(b.election.holder, "proxy-a");
  assert.deepEqual(b.events, []);
  assert.ok(etcd.leases.has(b.election.leaseId as string), "a follower keeps its own lease (for the member registry)");
});

test("renewals every loopWait push the deadline to the renewal's start + ttl - margin", async () => {
  const etcd = new ScriptedEtcd();
  const clock = new FakeClock();
  const a = contender(etcd, clock, "proxy-a");
  a.election.start();
  await advance(clock, 2 * DEFAULT_TIMING.loopWaitMs);
  const renewals = a.events.filter((e) => e.kind === "renewed");
  assert.deepEqual(renewals.map((e) => e.deadline), [2000 + 9000, 4000 + 9000]);
  assert.equal(a.election.tenureInfo?.deadline, 13_000);
});

test("etcd stops answering: the controller steps down at exactly its deadline, not one tick later", async () => {
  const etcd = new ScriptedEtcd();
  const clock = new FakeClock();
  const a = contender(etcd, clock, "proxy-a");
  a.election.start();
  await advance(clock, 2000); // renewed at 2000: deadline 11000
  etcd.hang = true;
  await advance(clock, 11_000 - 1 - clock.now(), 1);
  assert.equal(a.election.isController(), true, "still controller 1 ms before its deadline");
  clock.advance(1);
  assert.equal(a.election.isController(), false, "not controller at its deadline, even before any timer ran");
  await flush();
  const lost = a.events.find((e) => e.kind === "lost");
  assert.deepEqual(lost, { kind: "lost", at: 11_000, reason: "deadline" });
  assert.ok(11_000 < 2000 + DEFAULT_TIMING.ttlMs, "the deadline comes before the lease could expire");
});

test("a dead controller's key vanishes with its lease; the follower takes over", async () => {
  const etcd = new ScriptedEtcd();
  const clock = new FakeClock();
  const a = contender(etcd, clock, "proxy-a");
  const b = contender(etcd, clock, "proxy-b");
  a.election.start();
  await flush();
  b.election.start();
  await advance(clock, 2000);
  await a.election.stop({ release: false });
  await advance(clock, 4000);
  assert.equal(b.election.isController(), false, "the key is held until the lease expires");
  etcd.expire(a.election.leaseId as string);
  await advance(clock, DEFAULT_TIMING.loopWaitMs);
  assert.equal(b.election.isController(), true);
  assert.equal(etcd.kvs.get(KEY)?.value, "proxy-b");
});

test("a controller whose key was deleted steps down at its next renewal (key-lost)", async () => {
  const etcd = new ScriptedEtcd();
  const clock = new FakeClock();
  const a = contender(etcd, clock, "proxy-a");
  a.election.start();
  await flush();
  etcd.kvs.delete(KEY);
  await advance(clock, DEFAULT_TIMING.loopWaitMs);
  assert.deepEqual(a.events.filter((e) => e.kind === "lost").map((e) => e.kind === "lost" && e.reason), ["key-lost"]);
  assert.equal(a.election.isController(), false);
  await advance(clock, DEFAULT_TIMING.loopWaitMs);
  assert.equal(a.election.isController(), true, "it campaigns again and wins the free key");
});

test("a controller whose lease expired steps down and campaigns again with a new lease", async () => {
  const etcd = new ScriptedEtcd();
  const clock = new FakeClock();
  const a = contender(etcd, clock, "proxy-a");
  a.election.start();
  await flush();
  const first = a.election.leaseId;
  etcd.expire(first as string);
  await advance(clock, DEFAULT_TIMING.loopWaitMs);
  assert.equal(a.events.at(-1)?.kind, "lost");
  await advance(clock, DEFAULT_TIMING.loopWaitMs);
  assert.equal(a.election.isController(), true);
  assert.notEqual(a.election.leaseId, first);
});

test("stop with release revokes the lease: the key is free at once", async () => {
  const etcd = new ScriptedEtcd();
  const clock = new FakeClock();
  const a = contender(etcd, clock, "proxy-a");
  a.election.start();
  await flush();
  await a.election.stop({ release: true });
  assert.equal(etcd.kvs.has(KEY), false);
  assert.deepEqual(a.events.at(-1), { kind: "lost", at: 0, reason: "stopped" });
  assert.equal(clock.pending, 0, "no timer left behind");
});
