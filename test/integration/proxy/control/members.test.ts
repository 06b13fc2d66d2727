// Member registry and cluster view against real etcd: records live and die with the member's
// lease; a view expires at its deadline when quorum is lost and becomes fresh again after.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { EtcdClient } from "../../../../src/proxy/control/etcd.js";
import { Election } from "../../../../src/proxy/control/election.js";
import { controllerKey } from "../../../../src/proxy/control/etcd-store.js";
import { MemberRegistry } from "../../../../src/proxy/control/members.js";
import { ClusterView } from "../../../../src/proxy/control/view.js";
import { viewPeriodMs, type LeaseTiming } from "../../../../src/proxy/control/timing.js";
import { startEtcdCluster, type EtcdCluster } from "../../../helpers/etcd.js";

const TIMING: LeaseTiming = { ttlMs: 3000, loopWaitMs: 500, retryTimeoutMs: 1000 };
const PREFIX = "/puppet-ha/test";

function member(t: { after(fn: () => unknown): void }, etcd: EtcdCluster, name: string) {
  const client = new EtcdClient({ endpoints: etcd.endpoints, timeoutMs: TIMING.retryTimeoutMs });
  const election = new Election({ etcd: client, key: controllerKey(PREFIX), name, timing: TIMING });
  const registry = new MemberRegistry({ client, prefix: PREFIX, name, lease: () => election.leaseId });
  const view = new ClusterView({ client, prefix: PREFIX, timing: TIMING, leaseRenewedAt: () => election.renewedAt });
  t.after(async () => {
    view.stop();
    await election.stop({ release: false });
    await client.close();
  });
  election.start();
  view.start();
  return { name, client, election, registry, view };
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
  return Date.now();
}

test("members publish under their lease; a dead member's record vanishes with its lease", async (t) => {
  const etcd = await startEtcdCluster(t);
  const a = member(t, etcd, "proxy-a");
  const b = member(t, etcd, "proxy-b");
  await until(() => a.election.leaseId !== undefined && b.election.leaseId !== undefined, 5000, "leases");
  for (const m of [a, b]) await m.registry.publish({ adminUrl: `http://127.0.0.1:1/${m.name}`, appliedEpoch: 1, viewAgeMs: null, caWritesInFlight: 0, holdAck: null, publishedAt: Date.now() });
  await a.view.refresh();
  assert.deepEqual(a.view.snapshot?.members.map((m) => m.name), ["proxy-a", "proxy-b"]);
  assert.ok(a.view.snapshot?.controller === "proxy-a" || a.view.snapshot?.controller === "proxy-b");
  await b.election.stop({ release: false }); // proxy-b dies: its lease runs out
  b.view.stop();
  await until(() => a.view.snapshot?.members.length === 1, TIMING.ttlMs * 3, "proxy-b's record to expire");
  assert.deepEqual(a.view.snapshot?.members.map((m) => m.name), ["proxy-a"]);
});

test("quorum lost: the view stays fresh until its deadline, then not; fresh again when quorum returns", async (t) => {
  const etcd = await startEtcdCluster(t, { size: 3 });
  const a = member(t, etcd, "proxy-a");
  await until(() => a.view.fresh(), 10_000, "a fresh view");
  const [m1, m2] = etcd.members;
  await m1?.kill();
  await m2?.kill();
  const lostAt = Date.now();
  const deadline = a.view.deadline();
  assert.ok(deadline > lostAt, "still fresh right after quorum loss");
  const staleAt = await until(() => !a.view.fresh(), viewPeriodMs(TIMING) * 2, "the view to expire");
  // The deadline (not when this loop happened to poll, late on a loaded machine) is what counts.
  assert.ok(staleAt >= deadline, "not stale before its deadline");
  const final = a.view.deadline();
  assert.ok(final <= staleAt && final - lostAt <= viewPeriodMs(TIMING), `fresh until ${final - lostAt} ms after quorum loss (at most a view period)`);
  assert.ok(a.view.unreachableSince !== undefined);
  await m1?.restart();
  await m2?.restart();
  await until(() => a.view.fresh(), 20_000, "a fresh view after quorum returned");
  assert.equal(a.view.unreachableSince, undefined);
});
