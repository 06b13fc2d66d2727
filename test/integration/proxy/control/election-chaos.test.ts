// A randomized fault test in the spirit of Jepsen, bounded in time: contenders campaign and, while
// controller, bump the CA state's epoch by compare-and-set, while a seeded schedule kills
// contenders (no release), pauses, kills and restarts etcd members. The checker then asserts: no
// two tenures overlap, every successful write was issued within its writer's tenure, and the
// epochs of successful writes rise strictly in etcd's revision order. It prints its figures.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { EtcdClient } from "../../../../src/proxy/control/etcd.js";
import { Election } from "../../../../src/proxy/control/election.js";
import { EtcdCaStateStore, controllerKey } from "../../../../src/proxy/control/etcd-store.js";
import type { LeaseTiming } from "../../../../src/proxy/control/timing.js";
import { startEtcdCluster, type EtcdMember } from "../../../helpers/etcd.js";
import { TenureHistory } from "../../../helpers/tenure-history.js";
import { prng } from "../../../helpers/prng.js";

const TIMING: LeaseTiming = { ttlMs: 3000, loopWaitMs: 500, retryTimeoutMs: 1000 };
const PREFIX = "/puppet-ha/chaos";
const RUN_MS = 20_000;

interface Write { writer: string; issuedAt: number; epoch: number; revision: number }

test("randomized faults: one controller at a time, writes only within tenures, epochs rising", async (t) => {
  const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
  const rand = prng(seed);
  const etcd = await startEtcdCluster(t, { size: 3 });
  const history = new TenureHistory();
  const writes: Write[] = [];
  let refused = 0;
  let nextId = 1;
  const live = new Set<{ name: string; stop(): Promise<void> }>();

  const spawn = () => {
    const name = `proxy-${nextId++}`;
    const client = new EtcdClient({ endpoints: etcd.endpoints, timeoutMs: TIMING.retryTimeoutMs });
    const election = new Election({ etcd: client, key: controllerKey(PREFIX), name, timing: TIMING });
    const store = new EtcdCaStateStore({ client, prefix: PREFIX, member: name, token: () => election.token(), rewatchMs: 500 });
    history.watch(name, election);
    let running = true;
    const loop = (async () => {
      while (running) {
        await sleep(100);
        const issuedAt = Date.now(); // taken before the check: issuedAt < deadline whenever it passes
        if (!election.isController()) continue;
        try {
          const prev = await store.read();
          const next = await store.compareAndSet(prev, { epoch: (prev?.state.epoch ?? 0) + 1, active: "ca1" });
          writes.push({ writer: name, issuedAt, epoch: next.state.epoch, revision: next.revision });
        } catch {
          refused++;
        }
      }
    })();
    let stopped: Promise<void> | undefined;
    const c = {
      name,
      stop() {
        running = false;
        stopped ??= (async () => {
          await election.stop({ release: false });
          await loop;
          await client.close();
        })();
        return stopped;
      },
    };
    live.add(c);
    t.after(() => c.stop());
    election.start();
    return c;
  };
  for (let i = 0; i < 3; i++) spawn();

  const faults: string[] = [];
  const down = new Set<EtcdMember>();
  const end = Date.now() + RUN_MS;
  while (Date.now() < end) {
    await sleep(800 + rand() * 1200);
    const r = rand();
    const up = etcd.members.filter((m) => !down.has(m));
    if (r < 0.35) {
      const holder = [...live].find((c) => history.holderAt(Date.now()) === c.name) ?? [...live][Math.floor(rand() * live.size)];
      if (!holder) continue;
      live.delete(holder);
      await holder.stop(); // the proxy dies holding whatever it held
      spawn();
      faults.push(`kill ${holder.name}`);
    } else if (r < 0.65 && up.length > 1) {
      const m = up[Math.floor(rand() * up.length)] as EtcdMember;
      const ms = 500 + rand() * 3000;
      m.pause();
      down.add(m);
      faults.push(`pause ${m.name} ${Math.round(ms)} ms`);
      void sleep(ms).then(() => {
        m.resume();
        down.delete(m);
      });
    } else if (up.length > 1) {
      const m = up[Math.floor(rand() * up.length)] as EtcdMember;
      const ms = 500 + rand() * 3000;
      await m.kill();
      down.add(m);
      faults.push(`kill -9 ${m.name} ${Math.round(ms)} ms`);
      void sleep(ms).then(async () => {
        await m.restart();
        down.delete(m);
      });
    }
  }
  await until(() => down.size === 0, 10_000);
  for (const m of etcd.members) m.resume();
  await until(() => history.holderAt(Date.now()) !== undefined, TIMING.ttlMs * 5);

  const violations = [...history.violations()];
  for (const w of writes) {
    const inTenure = history.tenures.some((x) => x.member === w.writer && x.start <= w.issuedAt && w.issuedAt < Math.min(x.end ?? Infinity, x.deadline));
    if (!inTenure) violations.push(`write of epoch ${w.epoch} by ${w.writer} issued at ${w.issuedAt} outside its tenures`);
  }
  const byRevision = [...writes].sort((a, b) => a.revision - b.revision);
  byRevision.forEach((w, i) => {
    const prev = byRevision[i - 1];
    if (prev && w.epoch <= prev.epoch) violations.push(`epoch ${w.epoch} at revision ${w.revision} after epoch ${prev.epoch} at revision ${prev.revision}`);
  });
  t.diagnostic(`seed ${seed}: ${writes.length} writes, ${refused} refused, ${history.tenures.length} tenures, ${faults.length} faults (${faults.join("; ")}), violations = ${violations.length}`);
  assert.deepEqual(violations, [], `seed ${seed}`);
  assert.ok(writes.length > 0 && history.tenures.length > 1, `seed ${seed}: the run must exercise handovers`);
});

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}
