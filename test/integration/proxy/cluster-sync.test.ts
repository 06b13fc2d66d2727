// In-process sync with proxy.cluster, two real proxies on a real etcd: the scheduled passes run
// on the controller only; a proxy that becomes the controller starts them (and catches up at
// once), one that steps down stops them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configSchema } from "../../../src/config/schema.js";
import { silentLogger } from "../../../src/log.js";
import { ProxyRuntime } from "../../../src/proxy/runtime.js";
import type { PassReport } from "../../../src/sync/service.js";
import type { CronFactory } from "../../../src/sync/triggers.js";
import { FakeCadir } from "../../helpers/cadir.js";
import { startEtcdCluster } from "../../helpers/etcd.js";
import { createTestCa } from "../../helpers/pki.js";
import { fakeBackend, pki, until } from "./harness.js";

/** A cron that never fires by itself: the test ticks every live task of one proxy. */
function manualCron() {
  const live = new Set<() => void>();
  const cron: CronFactory = (_expression, fn) => {
    live.add(fn);
    return { stop: () => void live.delete(fn) };
  };
  return { cron, live, tick: () => { for (const fn of live) fn(); } };
}

test("scheduled in-process sync passes run on the controller only, and follow the controller key", async (t) => {
  const etcd = await startEtcdCluster(t, { size: 1 });
  const root = mkdtempSync(join(tmpdir(), "puppet-ha-cluster-sync-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const tokenFile = join(root, "admin.token");
  writeFileSync(tokenFile, "cluster-sync-token\n", { mode: 0o600 });
  const ca1 = await fakeBackend(t, "ca1");
  const ca2 = await fakeBackend(t, "ca2");
  const master = await fakeBackend(t, "m1");
  const cadir = new FakeCadir(createTestCa("cluster-sync"));
  cadir.sign("node1");
  /** The sync service's cron tasks: incremental passes (sync.schedule) and the full verification (sync.verify). */
  const SYNC_TASKS = 2;
  const proxies: { name: string; rt: ProxyRuntime; cron: ReturnType<typeof manualCron>; scheduled: () => number }[] = [];
  for (const name of ["proxy-1", "proxy-2"]) {
    const dir1 = cadir.writeTo(join(root, name, "ca1"));
    const dir2 = cadir.writeTo(join(root, name, "ca2"));
    const config = configSchema.parse({
      proxy: {
        listen: "127.0.0.1:0", tls: pki().files,
        ca: { workers: [ca1, ca2].map((c) => ({ name: c.name, url: c.url })), crlRefresh: "1h", holdWrites: "5s" },
        masters: { workers: [{ name: master.name, url: master.url }] },
        health: { interval: "50ms", timeout: "2s", rise: 1, fall: 1 },
        timeouts: { connect: "300ms", response: "2s", shutdown: "1s" },
        stateDir: join(root, name, "state"), accessLog: false,
        cluster: { name, clusterName: "sync", etcd: { endpoints: etcd.endpoints }, ttl: "3s", loopWait: "500ms", retryTimeout: "1s" },
      },
      admin: { listen: "127.0.0.1:0", tokenFile },
      sync: { cadirs: { ca1: dir1, ca2: dir2 }, watch: false, backupDir: join(root, name, "backups"), workDir: join(root, name, "work") },
      log: { level: "silent" },
    });
    const cron = manualCron();
    const rt = await ProxyRuntime.start({ config, log: silentLogger(), sync: { cron: cron.cron } });
    t.after(() => rt.stop(0));
    let scheduled = 0;
    rt.sync?.events.on("pass", (r: PassReport) => { if (r.reasons.includes("schedule")) scheduled++; });
    proxies.push({ name, rt, cron, scheduled: () => scheduled });
  }
  const controller = () => proxies.filter((p) => p.rt.proxy.cluster?.decides());
  await until(() => controller().length === 1, 15_000, "one controller");
  const first = controller()[0] as (typeof proxies)[number];
  const other = proxies.find((p) => p !== first) as (typeof proxies)[number];
  assert.equal(first.cron.live.size, SYNC_TASKS, "the controller has its scheduled tasks (sync.schedule, sync.verify)");
  assert.equal(other.cron.live.size, 0, "a follower has none");
  await until(() => first.scheduled() >= 1, 15_000, "the new controller's catch-up pass");

  const before = { first: first.scheduled(), other: other.scheduled() };
  first.cron.tick();
  other.cron.tick(); // nothing to tick on the follower
  await until(() => first.scheduled() > before.first, 15_000, "the controller's scheduled pass");
  assert.equal(other.scheduled(), before.other, "no scheduled pass on the follower");

  // The controller steps down (leaves the cluster, its key released): its task stops, the other's starts.
  await first.rt.proxy.cluster?.stop({ release: true });
  await until(() => other.rt.proxy.cluster?.decides() === true, 15_000, "the other proxy elected");
  assert.equal(first.cron.live.size, 0, "a proxy that stepped down has no scheduled task");
  assert.equal(other.cron.live.size, SYNC_TASKS, "the new controller has them");
  await until(() => other.scheduled() >= 1, 15_000, "the new controller's catch-up pass");
  // Passes requested while it was controller may still be queued (a loaded machine): a barrier
  // request joins or follows them, so once it is answered they have all ended.
  await first.rt.sync?.requestPass(undefined, "test barrier");
  const after = first.scheduled();
  first.cron.tick();
  other.cron.tick();
  await until(() => other.scheduled() >= 2, 15_000, "the new controller's scheduled pass");
  assert.equal(first.scheduled(), after, "no scheduled pass on the proxy that stepped down");
});
