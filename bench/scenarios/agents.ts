// Scenario 4 (--with-puppetserver): N concurrent real `puppet agent -t` runs through haproxy, then
// through puppet-ha, against the same real puppetservers (the e2e cluster harness: ca1 + standby
// ca2, masters m1/m2). First runs (new certnames: CSR, autosign, catalog) and second runs.
import type { BenchContext, Row, ScenarioResult } from "../lib/context.js";
import { addCleanup } from "../lib/procs.js";
import { ratio, round } from "../lib/stats.js";
import { Cluster } from "../../test/e2e/cluster/cluster.js";
import { runPuppetAgent } from "../../test/e2e/cluster/agent.js";

interface Wave {
  wallS: number;
  ok: number;
  exitCodes: number[];
  slowestS: number;
}

async function wave(cluster: Cluster, prefix: string, n: number): Promise<Wave> {
  const fe = cluster.frontEnd;
  if (!fe) throw new Error("the cluster has no front end");
  const t0 = performance.now();
  const runs = await Promise.all(Array.from({ length: n }, (_, i) =>
    runPuppetAgent(cluster.sys.puppet, cluster.agentsDir, `${prefix}-${i}`, fe.info.host, fe.info.port, { timeoutMs: 300_000 })));
  return {
    wallS: (performance.now() - t0) / 1000,
    ok: runs.filter((r) => r.exitCode === 0 || r.exitCode === 2).length,
    exitCodes: runs.map((r) => r.exitCode),
    slowestS: Math.max(...runs.map((r) => r.durationMs)) / 1000,
  };
}

export async function agents(ctx: BenchContext): Promise<ScenarioResult> {
  const n = ctx.quick ? 4 : 10;
  const cluster = await Cluster.create({ frontEnd: "haproxy", readyTimeoutMs: 300_000, log: (m) => ctx.log(`cluster: ${m}`) });
  const unregister = addCleanup(() => cluster.stop());
  try {
    await cluster.start();
    // One agent first: JIT and environment caches of the puppetservers warm for both front ends.
    await wave(cluster, "bench-warm", 1);
    // ABBA order in the full run: the puppetservers keep warming up, so neither side always goes first.
    const order: ("haproxy" | "puppet-ha")[] = ctx.quick ? ["haproxy", "puppet-ha"] : ["haproxy", "puppet-ha", "puppet-ha", "haproxy"];
    const waves: Record<string, { first: Wave[]; second: Wave[] }> = { haproxy: { first: [], second: [] }, "puppet-ha": { first: [], second: [] } };
    for (const [i, kind] of order.entries()) {
      if (cluster.frontEnd?.info.kind !== kind) await cluster.restartFrontEnd(kind);
      ctx.log(`agents: ${n} concurrent first runs through ${kind}`);
      waves[kind]?.first.push(await wave(cluster, `bench-${i}-${kind}`, n));
      ctx.log(`agents: ${n} concurrent second runs through ${kind}`);
      waves[kind]?.second.push(await wave(cluster, `bench-${i}-${kind}`, n));
    }
    const mean = (l: Wave[]): Wave => ({
      wallS: l.reduce((a, w) => a + w.wallS, 0) / l.length, ok: l.reduce((a, w) => a + w.ok, 0) / l.length,
      exitCodes: l.flatMap((w) => w.exitCodes), slowestS: Math.max(...l.map((w) => w.slowestS)),
    });
    const results = Object.fromEntries(Object.entries(waves).map(([k, w]) => [k, { first: mean(w.first), second: mean(w.second) }]));
    const h = results.haproxy as { first: Wave; second: Wave };
    const p = results["puppet-ha"] as { first: Wave; second: Wave };
    const rows: Row[] = [
      {
        scenario: "4 real agents", metric: `${n} concurrent first runs (CSR + autosign + catalog), wall`, unit: "s",
        values: { haproxy: round(h.first.wallS), "puppet-ha": round(p.first.wallS) }, ratios: { "puppet-ha/haproxy": round(ratio(p.first.wallS, h.first.wallS)) },
        note: `ok: haproxy ${h.first.ok}/${n}, puppet-ha ${p.first.ok}/${n}`,
      },
      {
        scenario: "4 real agents", metric: `${n} concurrent second runs, wall`, unit: "s",
        values: { haproxy: round(h.second.wallS), "puppet-ha": round(p.second.wallS) }, ratios: { "puppet-ha/haproxy": round(ratio(p.second.wallS, h.second.wallS)) },
        note: `ok: haproxy ${h.second.ok}/${n}, puppet-ha ${p.second.ok}/${n}`,
      },
    ];
    return {
      name: "agents", rows, data: { concurrency: n, order, waves },
      notes: [`${order.join(", ")}: mean wall time per system; ok = runs with exit code 0 or 2 (mean per wave).`, "4 puppetserver JVMs (256 MB heap each) on the same 2 cores as everything else; puppet-ha runs from source (the e2e harness starts it through tsx)."],
    };
  } finally {
    unregister();
    await cluster.stop();
  }
}
