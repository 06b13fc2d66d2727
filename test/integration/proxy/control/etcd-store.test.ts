// The CA state in a real etcd: only the controller writes, only from the state it read, the
// epoch only rises, and a former controller's token is refused once another proxy holds the key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { EtcdClient } from "../../../../src/proxy/control/etcd.js";
import { Election } from "../../../../src/proxy/control/election.js";
import { EtcdCaStateStore, controllerKey } from "../../../../src/proxy/control/etcd-store.js";
import type { StoredState } from "../../../../src/proxy/control/store.js";
import type { LeaseTiming } from "../../../../src/proxy/control/timing.js";
import { FencedError, NotControllerError, StaleStateError } from "../../../../src/errors.js";
import { startEtcdCluster, type EtcdCluster } from "../../../helpers/etcd.js";

const TIMING: LeaseTiming = { ttlMs: 3000, loopWaitMs: 500, retryTimeoutMs: 1000 };
const PREFIX = "/puppet-ha/test";

function proxy(t: { after(fn: () => unknown): void }, etcd: EtcdCluster, name: string) {
  const client = new EtcdClient({ endpoints: etcd.endpoints, timeoutMs: TIMING.retryTimeoutMs, ...(etcd.tls ? { tls: etcd.tls } : {}) });
  const election = new Election({ etcd: client, key: controllerKey(PREFIX), name, timing: TIMING });
  const store = new EtcdCaStateStore({ client, prefix: PREFIX, member: name, token: () => election.token(), rewatchMs: 200 });
  t.after(async () => {
    await election.stop({ release: false });
    await client.close();
  });
  election.start();
  return { name, client, election, store };
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test("the controller writes the state; a follower's write is refused and changes nothing", async (t) => {
  const etcd = await startEtcdCluster(t, { tls: true });
  const a = proxy(t, etcd, "proxy-a");
  await until(() => a.election.isController(), 5000, "proxy-a elected");
  const b = proxy(t, etcd, "proxy-b");
  await until(() => b.election.holder === "proxy-a", 5000, "proxy-b sees the holder");
  const first = await a.store.compareAndSet(undefined, { epoch: 1, active: "ca1" });
  assert.deepEqual(await b.store.read(), first);
  const err = await b.store.compareAndSet(first, { epoch: 2, active: "ca2" }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof NotControllerError, String(err));
  assert.match(err.message, /proxy-b may not change the CA state: the controller is nobody/, "refused before any txn: it knows it is not controller");
  assert.deepEqual(await a.store.read(), first);
});

test("a write from a stale read is refused (mod revision); a lower epoch is fenced", async (t) => {
  const etcd = await startEtcdCluster(t);
  const a = proxy(t, etcd, "proxy-a");
  await until(() => a.election.isController(), 5000, "proxy-a elected");
  const first = await a.store.compareAndSet(undefined, { epoch: 1, active: "ca1" });
  const second = await a.store.compareAndSet(first, { epoch: 1, active: "ca1", hold: { id: "fb-1", target: "ca2", since: Date.now() } });
  assert.ok(second.revision > first.revision);
  await assert.rejects(a.store.compareAndSet(first, { epoch: 2, active: "ca2" }), (e: unknown) => e instanceof StaleStateError && e.expected === first.revision && e.current === second.revision);
  await assert.rejects(a.store.compareAndSet(undefined, { epoch: 2, active: "ca2" }), StaleStateError, "absent expected, but the key exists");
  await assert.rejects(a.store.compareAndSet(second, { epoch: 0, active: "ca2" }), FencedError);
  const third = await a.store.compareAndSet(second, { epoch: 2, active: "ca2" });
  assert.deepEqual((await a.store.read())?.state, { epoch: 2, active: "ca2" });
  assert.equal(third.state.hold, undefined);
});

test("a former controller's token is refused by etcd itself once another proxy holds the key", async (t) => {
  const etcd = await startEtcdCluster(t);
  const a = proxy(t, etcd, "proxy-a");
  await until(() => a.election.isController(), 5000, "proxy-a elected");
  const b = proxy(t, etcd, "proxy-b");
  const staleToken = a.election.token();
  assert.ok(staleToken);
  const s1 = await a.store.compareAndSet(undefined, { epoch: 1, active: "ca1" });
  await a.election.stop({ release: true }); // hands over at once
  await until(() => b.election.isController(), 5000, "proxy-b elected");
  // A store still believing it is the controller (e.g. a paused process waking up): etcd refuses.
  const zombie = new EtcdCaStateStore({ client: a.client, prefix: PREFIX, member: "proxy-a", token: () => staleToken, rewatchMs: 200 });
  const err = await zombie.compareAndSet(s1, { epoch: 2, active: "ca2" }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof NotControllerError, String(err));
  assert.match(err.message, /the controller is proxy-b/);
  const s2 = await b.store.compareAndSet(s1, { epoch: 2, active: "ca3" });
  assert.equal((await a.store.read())?.state.active, "ca3");
  assert.equal(s2.state.epoch, 2);
});

test("the watch hears each new state, also after the member it watched dies", async (t) => {
  const etcd = await startEtcdCluster(t, { size: 3 });
  const a = proxy(t, etcd, "proxy-a");
  await until(() => a.election.isController(), 10_000, "proxy-a elected");
  const watcherClient = new EtcdClient({ endpoints: etcd.endpoints, timeoutMs: 1000 });
  t.after(() => watcherClient.close());
  const watcher = new EtcdCaStateStore({ client: watcherClient, prefix: PREFIX, member: "w", token: () => undefined, rewatchMs: 200 });
  const seen: StoredState[] = [];
  const stop = watcher.watch((s) => seen.push(s));
  t.after(stop);
  let s = await a.store.compareAndSet(undefined, { epoch: 1, active: "ca1" });
  await until(() => seen.length === 1, 5000, "first state seen");
  await etcd.members[0]?.kill(); // the watch's member (the client's first endpoint)
  // If it led, wait for the survivors' election so the retries below are not spent inside it.
  await Promise.all(etcd.members.slice(1).map((m) => etcd.waitHealthy(m)));
  // The controller's write may fail once on a connection the kill reset (a txn is not resent: it
  // may have been applied); like a controller, read again and retry.
  for (let i = 0; ; i++) {
    // On a loaded machine the election may outlast proxy-a's deadline: it steps down, then wins again.
    await until(() => a.election.isController(), 15_000, "proxy-a controller");
    const cur = await a.store.read().catch(() => undefined);
    if (cur?.state.epoch === 2) {
      s = cur;
      break;
    }
    const next = await a.store.compareAndSet(cur ?? s, { epoch: 2, active: "ca2" }).catch((e: unknown) => (i < 5 ? undefined : Promise.reject(e as Error)));
    if (next) {
      s = next;
      break;
    }
  }
  await until(() => seen.some((x) => x.state.epoch === 2), 10_000, "second state seen through a new watch");
  assert.deepEqual(seen.at(-1), s);
});
