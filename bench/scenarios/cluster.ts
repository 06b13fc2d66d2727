// Scenario "cluster" (issue 17, done-means 8): two `puppet-ha proxy` processes with `proxy.cluster`
// on a real 3-member etcd (Debian's etcd-server), two fake CA workers. CA writes flow through the
// proxy that survives; the controller proxy is killed with SIGKILL. Measured per repetition: how
// long CA writes were unavailable (from the start of the first write that failed or was held over
// HELD_MS to the end of the first good write after the last bad one; 0 when none was bad), the
// slowest write, and when the survivor became controller. Reported as p50 / max with the ttl used.
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { startEtcdCluster } from "../../test/helpers/etcd.js";
import { PUPPET_HA_DEFAULT_CHECKS, puppetHaConfig, type Backend } from "../lib/configs.js";
import type { BenchContext, ScenarioResult } from "../lib/context.js";
import { startFakeCa } from "../lib/fakes.js";
import { launchFrontEnd, type FrontEnd } from "../lib/frontends.js";
import { freePorts, get, sleep, waitUntil } from "../lib/net.js";
import { addCleanup, type Proc } from "../lib/procs.js";
import { percentile, round } from "../lib/stats.js";

/** Lease timing of the cluster: loopWait + 2 x retryTimeout <= ttl. */
const TIMING = { ttl: "5s", loopWait: "1s", retryTimeout: "2s" };
const TTL_S = 5;
/** A write answered later than this counts as held (unavailable meanwhile). */
const HELD_MS = 1000;
const WRITERS = 4;

interface Write {
  start: number;
  end: number;
  /** Reached a CA worker (the fake names itself in X-Backend), within HELD_MS. */
  good: boolean;
}

export interface ClusterRep {
  killed: string;
  /** Seconds of CA write unavailability through the survivor. */
  unavailableS: number;
  slowestWriteS: number;
  /** Seconds from the kill until the survivor was controller. */
  handoverS: number;
  writes: number;
  bad: number;
}

export async function cluster(ctx: BenchContext): Promise<ScenarioResult> {
  const reps = ctx.quick ? 2 : 5;
  const dir = join(ctx.dir, "cluster");
  const pending: (() => Promise<void>)[] = [];
  const etcd = await startEtcdCluster({ after: (fn) => void pending.push(async () => void (await fn())) }, { size: 3 });
  const unregister = addCleanup(async () => {
    for (const fn of pending.reverse()) await fn();
  });
  const [ca1, ca2, m1, ...ports] = await freePorts(7);
  const procs: Proc[] = [];
  const fronts = new Map<string, FrontEnd>();
  try {
    procs.push(await startFakeCa(ctx.fakes.ca, "ca1", ca1 as number, ctx.pki.ca, ctx.cpu.load, dir));
    procs.push(await startFakeCa(ctx.fakes.ca, "ca2", ca2 as number, ctx.pki.ca, ctx.cpu.load, dir));
    const masters: Backend[] = [{ name: "m1", port: m1 as number }]; // never asked: only CA traffic here
    const names = ["proxy-1", "proxy-2"];
    const launch = async (i: number) => {
      const name = names[i] as string;
      const [port, adminPort] = [ports[2 * i] as number, ports[2 * i + 1] as number];
      const config = parse(puppetHaConfig({
        port, adminPort, pki: ctx.pki, caWorkers: [{ name: "ca1", port: ca1 as number }, { name: "ca2", port: ca2 as number }], masters,
        serverTimeout: "10s", stateDir: join(dir, name, "state"), health: PUPPET_HA_DEFAULT_CHECKS,
      })) as { proxy: Record<string, unknown> };
      config.proxy.cluster = { name, clusterName: "bench", etcd: { endpoints: etcd.endpoints }, ...TIMING };
      const fe = await launchFrontEnd("puppet-ha", {
        label: name, port, dir: join(dir, name), config: stringify(config), cpu: ctx.cpu.frontEnd, readyPath: "/puppet-ca/v1/certificate/ca", tls: ctx.pki.text,
      }, ctx.log);
      fronts.set(name, fe);
      return { name, port, adminPort, fe };
    };
    const proxies = [await launch(0), await launch(1)];
    const controllerOf = async (adminPort: number): Promise<string | undefined> => {
      const r = await get(`http://127.0.0.1:${adminPort}/health`, { timeoutMs: 2000 }).catch(() => undefined);
      if (!r) return undefined;
      return (JSON.parse(r.body) as { cluster?: { controller?: string; members?: unknown[] } }).cluster?.controller;
    };
    const out: ClusterRep[] = [];
    for (let rep = 0; rep < reps; rep++) {
      // Both members registered and one controller, before anything is killed.
      await waitUntil("cluster: both proxies in the cluster with a controller", async () => {
        const r = await get(`http://127.0.0.1:${proxies[0]?.adminPort}/health`, { timeoutMs: 2000 }).catch(() => undefined);
        const c = r && (JSON.parse(r.body) as { cluster?: { controller?: string; members?: unknown[] } }).cluster;
        return c?.members?.length === 2 && c.controller !== undefined;
      }, 60_000);
      const controller = await controllerOf(proxies[0]?.adminPort as number);
      const dead = proxies.find((p) => p.name === controller) as (typeof proxies)[number];
      const survivor = proxies.find((p) => p !== dead) as (typeof proxies)[number];
      ctx.log(`cluster: repetition ${rep + 1}/${reps}: kill -9 the controller ${dead.name}, writes through ${survivor.name} (ttl ${TTL_S} s)`);
      const writes: Write[] = [];
      let on = true;
      let n = 0;
      const writers = Array.from({ length: WRITERS }, async () => {
        while (on) {
          const start = Date.now();
          const r = await get(`https://127.0.0.1:${survivor.port}/puppet-ca/v1/certificate_request/bench-${rep}-${n++}`, { method: "PUT", tls: ctx.pki.text, timeoutMs: 15_000 }).catch(() => undefined);
          const end = Date.now();
          writes.push({ start, end, good: r !== undefined && r.headers["x-backend"] !== undefined && end - start <= HELD_MS });
          if (!r) await sleep(50);
        }
      });
      await sleep(2000);
      const killAt = Date.now();
      dead.fe.proc.signal("SIGKILL");
      await dead.fe.proc.exited;
      let handoverS = Number.NaN;
      await waitUntil(`cluster: ${survivor.name} controller`, async () => {
        if ((await controllerOf(survivor.adminPort)) !== survivor.name) return false;
        handoverS = (Date.now() - killAt) / 1000;
        return true;
      }, 3 * TTL_S * 1000);
      await sleep(2000); // writes on after the handover
      on = false;
      await Promise.all(writers);
      out.push(measure(dead.name, killAt, handoverS, writes));
      const again = await launch(proxies.indexOf(dead));
      proxies[proxies.indexOf(dead)] = again;
    }
    return { name: "cluster", rows: rows(out), data: { ttlS: TTL_S, timing: TIMING, heldMs: HELD_MS, reps: out }, notes: notes(out) };
  } finally {
    await Promise.all([...[...fronts.values()].map((f) => f.proc.stop()), ...procs.map((p) => p.stop())]);
    for (const fn of pending.reverse()) await fn();
    pending.length = 0;
    unregister();
  }
}

/** Unavailability of one repetition from the writes that ended after the kill. */
export function measure(killed: string, killAt: number, handoverS: number, writes: Write[]): ClusterRep {
  const after = writes.filter((w) => w.end >= killAt).sort((a, b) => a.start - b.start);
  const bad = after.filter((w) => !w.good);
  let unavailableMs = 0;
  if (bad.length > 0) {
    const firstBad = Math.min(...bad.map((w) => w.start));
    const lastBadEnd = Math.max(...bad.map((w) => w.end));
    const recovered = after.filter((w) => w.good && w.start >= lastBadEnd).map((w) => w.end);
    unavailableMs = (recovered.length > 0 ? Math.min(...recovered) : lastBadEnd) - firstBad;
  }
  return {
    killed, unavailableS: unavailableMs / 1000, slowestWriteS: Math.max(0, ...after.map((w) => w.end - w.start)) / 1000,
    handoverS, writes: after.length, bad: bad.length,
  };
}

function rows(reps: ClusterRep[]) {
  const u = reps.map((r) => r.unavailableS);
  const h = reps.map((r) => r.handoverS);
  const scenario = "cluster: controller proxy kill -9";
  return [
    { scenario, metric: `CA writes unavailable p50 (ttl ${TTL_S} s, ${reps.length} runs)`, unit: "s", values: { "puppet-ha": round(percentile(u, 50), 2) } },
    { scenario, metric: "CA writes unavailable max", unit: "s", values: { "puppet-ha": round(Math.max(...u), 2) } },
    { scenario, metric: "slowest CA write after the kill, max", unit: "s", values: { "puppet-ha": round(Math.max(...reps.map((r) => r.slowestWriteS)), 2) } },
    { scenario, metric: "new controller after, p50", unit: "s", values: { "puppet-ha": round(percentile(h, 50), 2) } },
  ];
}

function notes(reps: ClusterRep[]): string[] {
  return [
    `Two proxies, 3-member etcd, ttl ${TIMING.ttl} / loopWait ${TIMING.loopWait} / retryTimeout ${TIMING.retryTimeout}; ${WRITERS} writers (CSR PUTs) through the surviving proxy; a write answered after ${HELD_MS} ms counts as held.`,
    ...reps.map((r, i) => `run ${i + 1}: killed ${r.killed}; ${r.writes} writes after the kill, ${r.bad} failed or held; unavailable ${round(r.unavailableS, 2)} s; slowest write ${round(r.slowestWriteS, 2)} s; survivor controller after ${round(r.handoverS, 2)} s`),
  ];
}
