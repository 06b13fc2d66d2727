// Guarded failback with several proxies against real etcd: the final step runs while no proxy has
// a CA write in flight or can start one; a member that does not acknowledge aborts the failback;
// a hold left by a controller that died is released by its successor, staying on the active CA.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { EtcdClient } from "../../../../src/proxy/control/etcd.js";
import { ClusterMember } from "../../../../src/proxy/control/member.js";
import { heldSwitch } from "../../../../src/proxy/control/failback-hold.js";
import { realScheduler } from "../../../../src/proxy/scheduler.js";
import type { LeaseTiming } from "../../../../src/proxy/control/timing.js";
import { HoldNotAcknowledgedError } from "../../../../src/errors.js";
import { startEtcdCluster, type EtcdCluster } from "../../../helpers/etcd.js";

const TIMING: LeaseTiming = { ttlMs: 3000, loopWaitMs: 500, retryTimeoutMs: 1000 };
const PREFIX = "/puppet-ha/test";
type Ctx = { after(fn: () => unknown): void };

function members(t: Ctx, etcd: EtcdCluster, names: string[]) {
  return names.map((name) => {
    const client = new EtcdClient({ endpoints: etcd.endpoints, timeoutMs: TIMING.retryTimeoutMs });
    const m = new ClusterMember({ client, name, prefix: PREFIX, timing: TIMING, adminUrl: `http://127.0.0.1:1/${name}`, workers: ["ca1", "ca2"], retryAfterS: 5 });
    t.after(async () => {
      await m.stop({ release: false });
      await client.close();
    });
    m.start();
    return m;
  });
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A cluster of members with the CA state {epoch 1, active ca2} (after a failover) applied everywhere. */
async function cluster(t: Ctx, names: string[]) {
  const etcd = await startEtcdCluster(t);
  const ms = members(t, etcd, names);
  await until(() => ms.some((m) => m.election.isController()), 5000, "a controller");
  const controller = ms.find((m) => m.election.isController()) as ClusterMember;
  await controller.store.compareAndSet(undefined, { epoch: 1, active: "ca2" });
  await until(() => ms.every((m) => m.follower.state?.epoch === 1 && m.follower.route(true).kind === "worker"), 5000, "every member routing writes at epoch 1");
  await until(() => (controller.view.snapshot?.members.length ?? 0) === ms.length, 5000, "every member registered");
  return { etcd, ms, controller };
}

interface Sent { member: string; worker: string; epoch: number; startedAt: number; endedAt: number }

/** CA writes through one member until stopped: each asks the follower, counts itself in flight, takes 0-30 ms. */
function traffic(m: ClusterMember, name: string, sent: Sent[]) {
  let running = true;
  const done = (async () => {
    while (running) {
      const r = m.follower.route(true);
      if (r.kind !== "worker") {
        await sleep(10);
        continue;
      }
      const end = m.follower.writeStarted();
      const startedAt = performance.now();
      await sleep(Math.floor(Math.random() * 30));
      sent.push({ member: name, worker: r.worker, epoch: r.epoch, startedAt, endedAt: performance.now() });
      end();
    }
  })();
  return async () => {
    running = false;
    await done;
  };
}

test("failback with writes flowing through two proxies: the final step sees zero writes in flight cluster-wide", async (t) => {
  const { ms, controller } = await cluster(t, ["proxy-a", "proxy-b"]);
  const sent: Sent[] = [];
  const transitions = ms.map((m) => {
    const seen: unknown[] = [];
    m.follower.onTransition((tr) => seen.push(tr));
    return seen;
  });
  const stops = ms.map((m, i) => traffic(m, `proxy-${"ab"[i]}`, sent));
  await sleep(300);
  let pull: { at: number; inFlight: number[]; routes: string[] } | undefined;
  const switched = await heldSwitch({
    store: controller.store, holdId: "fb-1", target: "ca1", ackTimeoutMs: 5000, pollMs: 50, scheduler: realScheduler,
    members: async () => {
      await controller.view.refresh();
      return controller.view.snapshot?.members ?? [];
    },
    finalStep: async () => {
      pull = { at: performance.now(), inFlight: ms.map((m) => m.follower.writesInFlight), routes: ms.map((m) => m.follower.route(true).kind) };
      await sleep(100); // the pull takes a while; nobody may write meanwhile
      pull.inFlight.push(...ms.map((m) => m.follower.writesInFlight));
    },
  });
  assert.deepEqual({ ...switched.state, change: { ...switched.state.change, at: 0 } }, { epoch: 2, active: "ca1", change: { from: "ca2", cause: "failback", at: 0 } });

  await until(() => ms.every((m) => m.follower.state?.epoch === 2), 5000, "every member on epoch 2");
  assert.deepEqual(transitions, ms.map(() => [{ epoch: 2, from: "ca2", to: "ca1", cause: "failback" }]), "one typed transition on every proxy");
  await sleep(300);
  for (const stop of stops) await stop();
  assert.ok(pull);
  assert.deepEqual(pull.inFlight, [0, 0, 0, 0], "no CA write in flight at the start or end of the final step");
  assert.deepEqual(pull.routes, ["hold", "hold"], "no member could start one");
  const old = sent.filter((s) => s.worker === "ca2");
  const next = sent.filter((s) => s.worker === "ca1");
  assert.ok(old.length > 0 && next.length > 0, `writes before (${old.length}) and after (${next.length}) the failback`);
  assert.ok(old.every((s) => s.endedAt <= pull!.at), "every write to the old active ended before the pull");
  assert.ok(next.every((s) => s.epoch === 2 && s.startedAt > pull!.at), "writes to the primary only at the new epoch, after the pull");
  assert.ok(new Set(next.map((s) => s.member)).size === 2, "both proxies write again");
});

test("a member with a CA write that never ends makes the failback abort; nothing changes", async (t) => {
  const { ms, controller } = await cluster(t, ["proxy-a", "proxy-b"]);
  const stuck = ms.find((m) => m !== controller) as ClusterMember;
  const end = stuck.follower.writeStarted(); // a CSR the CA never answers
  t.after(end);
  let pulled = false;
  const err = await heldSwitch({
    store: controller.store, holdId: "fb-2", target: "ca1", ackTimeoutMs: 1500, pollMs: 50, scheduler: realScheduler,
    members: async () => {
      await controller.view.refresh();
      return controller.view.snapshot?.members ?? [];
    },
    finalStep: () => {
      pulled = true;
      return Promise.resolve();
    },
  }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof HoldNotAcknowledgedError, String(err));
  assert.deepEqual(err.waitingFor, [stuck.name]);
  assert.equal(pulled, false);
  assert.deepEqual((await controller.store.read())?.state, { epoch: 1, active: "ca2" }, "the hold is released, the active unchanged");
  await until(() => ms.every((m) => m.follower.route(true).kind === "worker"), 5000, "writes flowing again");
});

test("a hold left by a controller that died mid-failback is released by its successor, on the same active", async (t) => {
  const { ms, controller } = await cluster(t, ["proxy-a", "proxy-b"]);
  const other = ms.find((m) => m !== controller) as ClusterMember;
  const s = await controller.store.read();
  await controller.store.compareAndSet(s, { epoch: 1, active: "ca2", hold: { id: "fb-3", target: "ca1", since: Date.now() } });
  await until(() => other.follower.route(true).kind === "hold", 5000, "the hold applied");
  await controller.stop({ release: false }); // dies before the pull
  await until(() => other.election.isController(), TIMING.ttlMs * 3, "the successor");
  await until(() => other.follower.route(true).kind === "worker", 5000, "the successor released the hold");
  assert.deepEqual((await other.store.read())?.state, { epoch: 1, active: "ca2" });
});
