// The controller election on a fake clock: elected by create-if-absent, renewed every loopWait,
// and stepping down by itself at its own deadline when etcd stops answering, never later.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Election, type ElectionEvent } from "../../../../src/proxy/control/election.js";
import { DEFAULT_TIMING, stepDownMarginMs } from "../../../../src/proxy/control/timing.js";
import { FakeClock, flush } from "../fake-clock.js";
import { ScriptedEtcd } from "./scripted-etcd.js";
import { TenureHistory } from "../../../helpers/tenure-history.js";

const KEY = "/puppet-ha/test/controller";
const MARGIN = stepDownMarginMs(DEFAULT_TIMING);

function contender(etcd: ScriptedEtcd, clock: FakeClock, name: string, history?: TenureHistory) {
  const election = new Election({ etcd, key: KEY, name, timing: DEFAULT_TIMING, scheduler: clock });
  const events: ElectionEvent[] = [];
  election.on((e) => events.push(e));
  history?.watch(name, election);
  return { election, events };
}

/** Advance the fake clock in small steps, letting the election's promises settle in between. */
async function advance(clock: FakeClock, ms: number, step = 100): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    clock.advance(Math.min(step, ms - done));
    await flush();
  }
}

/** proxy-a elected at 0 s, proxy-b following from 0 s, both renewed at 2 s (one history for both). */
async function aThenB() {
  const etcd = new ScriptedEtcd();
  const clock = new FakeClock();
  const history = new TenureHistory();
  const a = contender(etcd, clock, "proxy-a", history);
  const b = contender(etcd, clock, "proxy-b", history);
  a.election.start();
  await flush();
  b.election.start();
  await advance(clock, 2000);
  return { etcd, clock, history, a, b };
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
  assert.equal(b.election.renewedAt, 4000, "and its renewals count for its view (renewed at 0, 2 and 4 s)");
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

test("a renewal answered in an older raft term than the check after it (a deposed etcd leader) does not move the deadline", async () => {
  const etcd = new ScriptedEtcd();
  const clock = new FakeClock();
  const a = contender(etcd, clock, "proxy-a");
  a.election.start();
  await advance(clock, DEFAULT_TIMING.loopWaitMs); // one confirmed renewal at 2 s
  assert.equal(a.election.tenureInfo?.deadline, 11_000);
  assert.equal(a.election.renewedAt, 2000);
  etcd.staleRenewals = true;
  await advance(clock, 3 * DEFAULT_TIMING.loopWaitMs);
  assert.equal(a.election.tenureInfo?.deadline, 11_000, "unconfirmed renewals leave the deadline where it was");
  assert.equal(a.election.renewedAt, 2000, "nor do they count for the member's view");
  const failed = a.events.filter((e) => e.kind === "renewal-failed");
  assert.equal(failed.length, 3);
  assert.ok(failed.every((e) => e.kind === "renewal-failed" && (e.error as { code?: string }).code === "E_LEASE_UNCONFIRMED" && /term 1.*term 2/.test(e.error.message)));
  await advance(clock, 11_000 - clock.now());
  assert.equal(a.election.isController(), false, "steps down at the deadline of its last confirmed renewal");
  assert.ok(a.events.some((e) => e.kind === "lost" && e.reason === "deadline"));
});

test("a contender whose lease renewal is unconfirmed does not become controller on it, even with the key bound to its lease", async () => {
  const etcd = new ScriptedEtcd();
  const clock = new FakeClock();
  const a = contender(etcd, clock, "proxy-a");
  const b = contender(etcd, clock, "proxy-b");
  a.election.start();
  b.election.start();
  await flush();
  assert.equal(a.election.isController(), true);
  await a.election.stop({ release: false });
  etcd.staleRenewals = true;
  etcd.expire(a.election.leaseId as string); // proxy-a's lease runs out: the key is free
  await advance(clock, 3 * DEFAULT_TIMING.loopWaitMs);
  assert.equal(b.election.isController(), false);
  assert.equal(etcd.kvs.get(KEY)?.value, "proxy-b", "the key is created with proxy-b's lease");
  etcd.staleRenewals = false;
  await advance(clock, 10_000 - clock.now()); // proxy-a's lease was revoked early: wait out its deadline (9 s)
  assert.equal(b.election.isController(), true, "a confirmed renewal makes the key it holds count");
  assert.equal(b.election.tenureInfo?.deadline, clock.now() + DEFAULT_TIMING.ttlMs - MARGIN);
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

test("a dead controller's key vanishes with its lease (ttl after its last renewal); the follower acts at its next campaign", async () => {
  const { etcd, clock, history, a, b } = await aThenB(); // proxy-a renews at 2 s, proxy-b sees that renewal
  await a.election.stop({ release: false });
  await advance(clock, 9000);
  assert.equal(b.election.isController(), false, "the key is held until the lease expires");
  etcd.expire(a.election.leaseId as string); // at 11 s: etcd runs the lease out ttl after its last renewal
  await advance(clock, DEFAULT_TIMING.loopWaitMs);
  assert.equal(b.election.isController(), true, "proxy-a's deadline passed at 11 s: no further wait");
  assert.equal(etcd.kvs.get(KEY)?.value, "proxy-b");
  assert.deepEqual(history.violations(), []);
});

test("a live lease revoked early by etcd (a resuming deposed leader, etcd-io/etcd#15247): the new holder acts only after the old controller's deadline", async () => {
  const { etcd, clock, history, a, b } = await aThenB();
  assert.equal(a.election.tenureInfo?.deadline, 11_000);
  etcd.expire(a.election.leaseId as string); // revoked at 2 s although proxy-a renewed it at 2 s
  await advance(clock, 2000);
  assert.equal(etcd.kvs.get(KEY)?.value, "proxy-b", "proxy-b holds the free key at once");
  assert.equal(b.election.isController(), false, "but does not act while proxy-a may still believe it is controller");
  await advance(clock, 11_000 - clock.now());
  assert.equal(a.election.isController(), false);
  await advance(clock, 2000);
  assert.equal(b.election.isController(), true, "it acts once proxy-a's deadline has surely passed (its renewal seen at 2 s + ttl)");
  assert.deepEqual(history.violations(), []);
  const elected = b.events.find((e) => e.kind === "elected");
  assert.equal(elected?.at, 12_000);
});

test("a holder that never acted does not mark the key released: the wait passes on to the next holder", async () => {
  const { etcd, clock, a, b } = await aThenB();
  etcd.expire(a.election.leaseId as string);
  await advance(clock, 2000);
  assert.equal(etcd.kvs.get(KEY)?.value, "proxy-b");
  await b.election.stop({ release: true });
  assert.equal(etcd.kvs.get(`${KEY}.last`)?.value, "held:proxy-b", "not released: proxy-a's deadline (11 s) has not passed");
  assert.equal(b.events.some((e) => e.kind === "elected" || e.kind === "lost"), false);
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

test("stop with release marks the key released and revokes the lease: the next holder acts at once", async () => {
  const { etcd, clock, history, a, b } = await aThenB();
  await a.election.stop({ release: true });
  assert.equal(etcd.kvs.has(KEY), false);
  assert.equal(etcd.kvs.get(`${KEY}.last`)?.value, "released:proxy-a");
  assert.equal(etcd.leases.has(a.election.leaseId ?? "gone"), false);
  assert.deepEqual(a.events.at(-1), { kind: "lost", at: 2000, reason: "stopped" });
  await advance(clock, DEFAULT_TIMING.loopWaitMs);
  assert.equal(b.election.isController(), true);
  assert.deepEqual(history.violations(), []);
  await b.election.stop({ release: false });
  assert.equal(clock.pending, 0, "no timer left behind");
});
