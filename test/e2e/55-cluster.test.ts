// Two `puppet-ha proxy` processes with `proxy.cluster` on a real 3-member etcd, in front of the
// shared cluster's real CA workers and masters, behind ONE name: haproxy in TCP mode (round robin,
// connect checks, a refused connection redispatched), which models a cloud load balancer or a
// VIP with a health-checked pool: agents keep one `server`, both proxies serve them at once, and
// a dead proxy's connections die with it. Agents enrol and run while the CONTROLLER proxy is
// killed with kill -9: the other becomes controller, runs go on, no cert is lost, no serial
// issued twice, and the CA decision (active ca1, its epoch) is untouched by a proxy's death.
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadCluster, type AgentRunResult } from "./cluster/client.js";
import { adminApi, explain, inventory, poll, served, withConcurrency } from "./support.js";
import { startEtcdCluster } from "../helpers/etcd.js";
import { ProxySet } from "../../src/demo/cluster/proxy-set.js";
import { freeLoopbackPorts, request } from "../../src/demo/cluster/net.js";
import { detectPuppetSystem } from "../../src/demo/cluster/system.js";
import { duplicateSerials, normalSerial, parseInventory } from "../../src/demo/verify.js";

const cluster = loadCluster();
const ca1 = cluster.instances.ca1.cadir;
const ca2 = cluster.instances.ca2.cadir;
// loopWait 1 s + 2 x 2 s retryTimeout = 5 s <= ttl 6 s: slack for etcd on a loaded machine.
const TIMING = { ttl: "6s", loopWait: "1s", retryTimeout: "2s" };
const ENROLLED = ["e2e-cl-old-1", "e2e-cl-old-2"];

type TimedRun = AgentRunResult & { startedAt: number; endedAt: number };

const accessLines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n") : []).flatMap((l) => {
  try {
    const o = JSON.parse(l) as { part?: string; method?: string; path?: string };
    return o.part === "access" ? [o] : [];
  } catch {
    return [];
  }
});

test("kill -9 of the controller proxy while agents enrol and run: the other proxy takes over, nothing is lost", { timeout: 8 * 60_000 }, async (t) => {
  assert.equal((await adminApi(cluster).caState()).active, "ca1", "ca1 is the active CA at the start");
  // Teardown runs in registration order: the proxies stop (and hand back their leases) before etcd.
  const started: { set?: ProxySet } = {};
  t.after(() => started.set?.stop());
  const etcd = await startEtcdCluster(t, { size: 3 });
  const [front, p1, a1, p2, a2] = await freeLoopbackPorts(5) as [number, number, number, number, number];
  const set = new ProxySet({
    base: {
      sys: detectPuppetSystem(), dir: join(cluster.root, "cluster-proxies"), host: cluster.frontEnd.host, port: front, adminPort: 0,
      pki: cluster.pki, caWorkers: [cluster.instances.ca1, cluster.instances.ca2], masters: [cluster.instances.m1, cluster.instances.m2],
    },
    members: [{ name: "proxy-1", port: p1, adminPort: a1 }, { name: "proxy-2", port: p2, adminPort: a2 }],
    etcdEndpoints: etcd.endpoints, timing: TIMING, clusterName: "e2e",
  });
  started.set = set;
  await set.start();

  // Both proxies registered, one controller they agree on, CA writes routed (etcd reachable).
  const settled = await poll("both proxies agree on one controller and see both members", async () => {
    const views = await Promise.all(set.names.map((n) => set.view(n)));
    const c = views[0]?.controller;
    const ok = c && views.every((v) => v?.controller === c && v.etcdUnreachableSince === null && v.members.length === 2 && v.active === "ca1");
    return ok ? { controller: c, epoch: views[0]?.epoch } : undefined;
  }, 60_000, 250);
  const dead = settled.controller;
  const survivor = set.names.find((n) => n !== dead) as string;
  t.diagnostic(`controller ${dead}, CA epoch ${String(settled.epoch)} (ca1 active)`);

  const run = (certname: string) => cluster.runAgent(certname, { port: front });
  for (const r of await withConcurrency(2, ENROLLED.map((c) => () => run(c)))) assert.equal(r.exitCode, 2, explain(r));
  for (const n of set.names) assert.ok(accessLines(set.logFile(n)).length > 0, `${n} served agents through the one name before the kill`);

  // Enrolled agents run and new ones enrol, in loops, while the controller proxy dies.
  const runs: TimedRun[] = [];
  let stop = false;
  const timed = async (certname: string) => {
    const startedAt = Date.now();
    const r = await run(certname);
    runs.push({ ...r, startedAt, endedAt: Date.now() });
  };
  let n = 0;
  const loops = Promise.all([
    ...ENROLLED.map(async (c) => { while (!stop) await timed(c); }),
    (async () => { while (!stop) await timed(`e2e-cl-new-${++n}`); })(),
  ]);
  try {
    await poll("a new agent enrolled through the proxies", () => (runs.some((r) => r.certname.startsWith("e2e-cl-new-") && r.exitCode === 2) ? true : undefined), 180_000, 100);
    // Kill it while agents' connections are open on it (the balancer's `show sess`): a real mid-run death.
    const openAtKill = await poll(`an agent's connection open on ${dead}`, async () => {
      const open = await set.openConnections(dead);
      return open.length > 0 ? open : undefined;
    }, 120_000, 20);
    const killedAt = Date.now();
    const pid = await set.signal(dead, "KILL");
    const view = await poll(`${survivor} becomes the controller`, async () => {
      const v = await set.view(survivor);
      return v?.isController && v.controller === survivor ? v : undefined;
    }, 60_000, 100);
    const tookOverAt = Date.now();
    t.diagnostic(`${dead} (pid ${String(pid)}) killed; ${survivor} controller ${tookOverAt - killedAt} ms later`);
    assert.equal(view.active, "ca1", "a proxy's death is not a CA failover");
    assert.equal(view.epoch, settled.epoch, "the CA epoch did not change");
    const metrics = await request(`${set.adminUrl(survivor)}/metrics`);
    assert.match(metrics.body, /^puppet_ha_cluster_controller 1$/m, `${survivor}'s /metrics says it is the controller`);

    await poll("two new agents enrolled after the takeover", () => {
      const ok = runs.filter((r) => r.startedAt >= tookOverAt && r.certname.startsWith("e2e-cl-new-") && r.exitCode === 2);
      return ok.length >= 2 ? true : undefined;
    }, 180_000, 200);
    stop = true;
    await loops;

    // Only a run in flight on the dead proxy may fail (its connection died with it), once: its
    // next run succeeds. At most one failed run per connection open there; every run started
    // after the kill succeeded.
    const failed = runs.filter((r) => r.exitCode !== 2);
    assert.ok(failed.length <= openAtKill.length, `${failed.length} runs failed, ${openAtKill.length} connection(s) were open on ${dead}\n${failed.map(explain).join("\n")}`);
    for (const f of failed) {
      assert.ok(f.startedAt <= killedAt && f.endedAt >= killedAt, `${f.certname}'s run failed without being in flight when ${dead} died\n${explain(f)}`);
      const again = await run(f.certname);
      assert.equal(again.exitCode, 2, `next run of ${f.certname}\n${explain(again)}`);
      runs.push({ ...again, startedAt: 0, endedAt: 0 });
    }
    t.diagnostic(`${runs.length} agent runs; ${openAtKill.length} connection(s) open on ${dead} at the kill; ${failed.length} run(s) failed with it, then succeeded`);
  } finally {
    stop = true;
    await loops;
  }

  // No certificate lost: every agent that enrolled has its cert on ca1 (inventory and signed/),
  // its CSR reached ca1 at most once and the standby none (no CA failover happened).
  const enrolled = [...new Set(runs.filter((r) => r.exitCode === 2).map((r) => r.certname))].filter((c) => c.startsWith("e2e-cl-new-"));
  assert.ok(enrolled.length >= 3, `new agents enrolled: ${enrolled.join(", ")}`);
  const inv1 = inventory(ca1);
  for (const c of [...ENROLLED, ...enrolled]) {
    const mine = readFileSync(join(cluster.agentsDir, c, "ssl", "certs", `${c}.pem`), "utf8");
    const serial = BigInt(normalSerial(new X509Certificate(mine).serialNumber));
    assert.ok(inv1.some((l) => l.serial === serial && l.subject === `/CN=${c}`), `${c}'s cert (serial 0x${serial.toString(16)}) is in ca1's inventory`);
    assert.equal(readFileSync(join(ca1, "signed", `${c}.pem`), "utf8"), mine, `ca1's signed/${c}.pem is the agent's cert`);
    assert.ok(served(cluster, "ca1", "PUT", `/puppet-ca/v1/certificate_request/${c}`).length <= 1, `${c}'s CSR signed at most once`);
    assert.deepEqual(served(cluster, "ca2", "PUT", `/puppet-ca/v1/certificate_request/${c}`), [], `${c}'s CSR never reached the standby`);
  }
  // No serial names two different certificates across both CAs.
  const inventoryOf = (cadir: string) => parseInventory(readFileSync(join(cadir, "inventory.txt"), "utf8"));
  assert.deepEqual(duplicateSerials(inventoryOf(ca1), inventoryOf(ca2)), [], "no serial issued twice");

  // The killed proxy comes back as a follower of the new controller: still one controller.
  await set.startProxy(dead);
  await poll(`${dead} back as a follower of ${survivor}`, async () => {
    const [back, other] = await Promise.all([set.view(dead), set.view(survivor)]);
    const ok = back && !back.isController && back.controller === survivor && other?.isController && back.members.length === 2;
    return ok ? true : undefined;
  }, 60_000, 250);
});
