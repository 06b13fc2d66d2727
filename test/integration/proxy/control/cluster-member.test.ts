// Two proxies' control planes (ClusterMember) on a real 3-member etcd: a new epoch reaches every
// member; with quorum lost, CA reads keep going, CA writes are held and then refused from the view
// deadline on, and flow again when quorum returns; no member routes a write before it is registered.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { EtcdClient } from "../../../../src/proxy/control/etcd.js";
import { ClusterMember } from "../../../../src/proxy/control/member.js";
import { viewPeriodMs, type LeaseTiming } from "../../../../src/proxy/control/timing.js";
import { startEtcdCluster, type EtcdCluster } from "../../../helpers/etcd.js";

const TIMING: LeaseTiming = { ttlMs: 3000, loopWaitMs: 500, retryTimeoutMs: 1000 };
const PREFIX = "/puppet-ha/test";
type Ctx = { after(fn: () => unknown): void };

function member(t: Ctx, etcd: EtcdCluster, name: string) {
  const client = new EtcdClient({ endpoints: etcd.endpoints, timeoutMs: TIMING.retryTimeoutMs });
  const m = new ClusterMember({ client, name, prefix: PREFIX, timing: TIMING, adminUrl: `http://127.0.0.1:1/${name}`, workers: ["ca1", "ca2"], retryAfterS: 5 });
  t.after(async () => {
    await m.stop({ release: false });
    await client.close();
  });
  return m;
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
  return Date.now();
}

test("a member routes no CA write before its record is in the registry", async (t) => {
  const etcd = await startEtcdCluster(t);
  const a = member(t, etcd, "proxy-a");
  a.start();
  await until(() => a.election.isController(), 5000, "proxy-a elected");
  await a.store.compareAndSet(undefined, { epoch: 1, active: "ca1" });
  const b = member(t, etcd, "proxy-b");
  const seen: string[] = [];
  b.follower.onChange(() => seen.push(b.follower.route(true).kind));
  b.start();
  await until(() => b.follower.route(true).kind === "worker", 5000, "proxy-b routing writes");
  await a.view.refresh();
  assert.ok(a.view.snapshot?.members.some((m) => m.name === "proxy-b"), "registered by the time it routes writes");
  assert.ok(seen.length > 0);
});

test("a new epoch written by the controller is applied by every member", async (t) => {
  const etcd = await startEtcdCluster(t, { size: 3 });
  const ms = ["proxy-a", "proxy-b"].map((n) => member(t, etcd, n));
  for (const m of ms) m.start();
  await until(() => ms.some((m) => m.election.isController()), 10_000, "a controller");
  const c = ms.find((m) => m.election.isController()) as ClusterMember;
  const s1 = await c.store.compareAndSet(undefined, { epoch: 1, active: "ca1" });
  await until(() => ms.every((m) => m.follower.route(true).kind === "worker"), 5000, "epoch 1 routed everywhere");
  await c.store.compareAndSet(s1, { epoch: 2, active: "ca2" });
  await until(() => ms.every((m) => m.follower.state?.epoch === 2), TIMING.loopWaitMs * 4, "epoch 2 everywhere");
  for (const m of ms) assert.deepEqual(m.follower.route(true), { kind: "worker", worker: "ca2", epoch: 2 });
});

test("quorum lost: CA reads go on, CA writes are held then refused at the view deadline, and work again after", async (t) => {
  const etcd = await startEtcdCluster(t, { size: 3 });
  const ms = ["proxy-a", "proxy-b"].map((n) => member(t, etcd, n));
  for (const m of ms) m.start();
  await until(() => ms.some((m) => m.election.isController()), 10_000, "a controller");
  const c = ms.find((m) => m.election.isController()) as ClusterMember;
  await c.store.compareAndSet(undefined, { epoch: 1, active: "ca1" });
  await until(() => ms.every((m) => m.follower.route(true).kind === "worker"), 5000, "writes routed");
  const [e1, e2] = etcd.members;
  await e1?.kill();
  e2?.pause();
  t.after(() => e2?.resume());
  const lostAt = Date.now();
  await until(() => ms.every((m) => m.follower.route(true).kind === "hold"), TIMING.loopWaitMs + TIMING.retryTimeoutMs * 3 + 500, "writes held");
  const deadlines = ms.map((m) => m.view.deadline());
  const refusedAt = await until(() => ms.every((m) => m.follower.route(true).kind === "refuse"), viewPeriodMs(TIMING) * 2, "writes refused");
  assert.ok(refusedAt >= Math.max(...deadlines), "not refused before the deadline");
  assert.ok(refusedAt - lostAt <= viewPeriodMs(TIMING) + 100, `refused ${refusedAt - lostAt} ms after quorum loss`);
  for (const m of ms) {
    assert.deepEqual(m.follower.route(false), { kind: "worker", worker: "ca1", epoch: 1 }, "CA reads go to the last known active");
    assert.match((m.follower.route(true) as { reason: string }).reason, /CA writes refused: etcd unreachable since/);
  }
  assert.ok(ms.every((m) => !m.election.isController()), "the controller stepped down");
  e2?.resume();
  await e1?.restart();
  await until(() => ms.every((m) => m.follower.route(true).kind === "worker"), 20_000, "writes routed again");
});
