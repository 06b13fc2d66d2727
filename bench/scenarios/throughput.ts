// Scenario 1: small keep-alive GETs with a client cert through each front end (and straight to
// the backend: the floor). Closed loop: wrk -> haproxy TLS originator (client cert, connections
// reused) -> front end on its own CPU -> nginx backend; CPU per request from /proc. Open loop:
// 1,000 req/s from the Node generator straight to each front end, p50/p99. Each measurement
// starts its front end fresh (lib/fresh.ts): kept running, the one started last paid more.
import { join } from "node:path";
import type { BenchContext, Row, ScenarioResult } from "../lib/context.js";
import { haproxyFrontEnd, HAPROXY_TUNED_CHECKS, nginxBackend, nginxFrontEnd, PUPPET_HA_DEFAULT_CHECKS, puppetHaConfig } from "../lib/configs.js";
import { closedLoopFresh, rotatingRounds, withFrontEnd, type FreshSpec } from "../lib/fresh.js";
import { launchHelper, type FrontEndKind } from "../lib/frontends.js";
import { openLoopProcess, wrk, type WrkResult } from "../lib/generators.js";
import { freePorts, get } from "../lib/net.js";
import type { Proc } from "../lib/procs.js";
import { percentile, ratio, round } from "../lib/stats.js";

const PATH = "/puppet/v3/node/agent-bench-1?environment=production";
const KINDS: FrontEndKind[] = ["haproxy", "nginx", "puppet-ha"];
/** Open loop: the first second after the start warms connections and JIT up and is not counted. */
const WARM_MS = 1000;

interface Measured extends WrkResult {
  /** Front end CPU time per request (µs); undefined for the floor. */
  cpuUs?: number;
}

export async function throughput(ctx: BenchContext): Promise<ScenarioResult> {
  const seconds = ctx.quick ? 3 : 10;
  const rounds = ctx.quick ? 1 : 3;
  const connections = 32;
  const [ca1, ca2, m1, m2, admin, ...ports] = await freePorts(11);
  const backends = { ca: [{ name: "ca1", port: ca1 as number }, { name: "ca2", port: ca2 as number }], masters: [{ name: "m1", port: m1 as number }, { name: "m2", port: m2 as number }] };
  const procs: Proc[] = [];
  const dir = join(ctx.dir, "throughput");
  try {
    procs.push(await launchHelper("nginx", "backend", join(dir, "backend"), nginxBackend([ca1, ca2, m1, m2] as number[], join(dir, "backend")), ctx.cpu.load,
      async () => (await get(`http://127.0.0.1:${m1}/status/v1/simple`, { timeoutMs: 1000 })).status === 200));
    const spec = { pki: ctx.pki, caWorkers: backends.ca, masters: backends.masters, serverTimeout: "300s" };
    // Each front end with its own port and its originator's; every measurement starts it afresh.
    const fronts = KINDS.map((kind, i) => {
      const port = ports[2 * i] as number;
      const d = join(dir, kind);
      const config = kind === "haproxy" ? haproxyFrontEnd({ ...spec, port }, HAPROXY_TUNED_CHECKS)
        : kind === "nginx" ? nginxFrontEnd({ ...spec, port }, d)
          : puppetHaConfig({ ...spec, port, adminPort: admin as number, stateDir: join(d, "state"), health: PUPPET_HA_DEFAULT_CHECKS });
      return { spec: { kind, label: kind, port, dir: d, cpu: ctx.cpu.frontEnd, config } satisfies FreshSpec, origin: ports[2 * i + 1] as number };
    });

    // Closed loop, rounds rotating which front end goes first (the machine is shared: take each
    // system's best round). Direct: wrk straight to the backend, the generator's ceiling.
    const runs: Record<string, Measured[]> = { direct: [], haproxy: [], nginx: [], "puppet-ha": [] };
    for (let r = 0; r < rounds; r++) runs.direct?.push(await wrk(`http://127.0.0.1:${m1}${PATH}`, { connections, seconds, cpu: ctx.cpu.load }));
    await rotatingRounds(ctx, "throughput", rounds, fronts.length, async (i) => {
      const f = fronts[i] as (typeof fronts)[number];
      const m = await closedLoopFresh(ctx, f.spec, f.origin, PATH, { connections, seconds });
      runs[f.spec.kind]?.push({ ...m.wrk, cpuUs: m.cpuUs });
    });
    const best = (k: string): Measured => {
      const list = runs[k] ?? [];
      return [...list].sort((a, b) => (a.cpuUs ?? 0) - (b.cpuUs ?? 0) || b.rps - a.rps)[0] as Measured;
    };

    // Open loop at 1,000 req/s straight to each front end, each freshly started.
    const fixed: Record<string, { p50: number; p99: number; failed: number; n: number }> = {};
    for (const f of fronts) {
      fixed[f.spec.kind] = await withFrontEnd(ctx, f.spec, async () => {
        const out = join(dir, `fixed-${f.spec.kind}.json`);
        const run = openLoopProcess(`fixed-${f.spec.kind}`, {
          url: `https://127.0.0.1:${f.spec.port}${PATH}`, rate: 1000, durationMs: WARM_MS + (ctx.quick ? 3 : 10) * 1000, timeoutMs: 10_000,
          ca: ctx.pki.ca, cert: ctx.pki.clientCert, key: ctx.pki.clientKey, maxSockets: 64, warmConnections: 16, out,
        }, ctx.cpu.load, dir);
        const res = await run.done;
        // The first second warms connections and JIT up: not counted.
        const s = res.samples.filter((x) => x.t >= res.started + WARM_MS);
        const ok = s.filter((x) => x.status === 200).map((x) => x.ms);
        return { p50: percentile(ok, 50), p99: percentile(ok, 99), failed: s.length - ok.length, n: s.length };
      });
    }
    return report(ctx, best, fixed, runs, { seconds, rounds, connections });
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
}

function report(
  ctx: BenchContext, best: (k: string) => Measured, fixed: Record<string, { p50: number; p99: number; failed: number; n: number }>,
  runs: Record<string, Measured[]>, params: { seconds: number; rounds: number; connections: number },
): ScenarioResult {
  const h = best("haproxy");
  const n = best("nginx");
  const p = best("puppet-ha");
  const d = best("direct");
  const vals = (f: (m: Measured) => number | undefined, withDirect = false) => ({
    ...(withDirect ? { direct: round(f(d) ?? NaN, 3) } : {}), haproxy: round(f(h) ?? NaN, 3), nginx: round(f(n) ?? NaN, 3), "puppet-ha": round(f(p) ?? NaN, 3),
  });
  const cpuRatio = ratio(p.cpuUs ?? NaN, h.cpuUs ?? NaN);
  const perCore = 1e6 / (p.cpuUs ?? NaN);
  const fp = fixed["puppet-ha"];
  const fn = fixed.nginx;
  const fh = fixed.haproxy;
  const rows: Row[] = [
    { scenario: "1 throughput", metric: "req/s (closed loop, 32 conns)", unit: "req/s", values: vals((m) => m.rps, true),
      ratios: { "puppet-ha/haproxy": round(ratio(p.rps, h.rps)), "puppet-ha/nginx": round(ratio(p.rps, n.rps)) },
      note: "haproxy/nginx are limited by the generator core, not by their own CPU" },
    { scenario: "1 throughput", metric: "front-end CPU per request", unit: "µs", values: vals((m) => m.cpuUs),
      ratios: { "puppet-ha/haproxy": round(cpuRatio), "puppet-ha/nginx": round(ratio(p.cpuUs ?? NaN, n.cpuUs ?? NaN)) },
      target: { text: "≤ 2x haproxy (issue 15)", pass: cpuRatio <= 2 } },
    { scenario: "1 throughput", metric: "one-core capacity (1 / CPU per request)", unit: "req/s", values: vals((m) => (m.cpuUs ? Math.round(1e6 / m.cpuUs) : NaN)),
      target: { text: "puppet-ha ≥ 20,000", pass: perCore >= 20_000 } },
    { scenario: "1 throughput", metric: "closed-loop latency p50", unit: "ms", values: vals((m) => m.p50, true) },
    { scenario: "1 throughput", metric: "closed-loop latency p99", unit: "ms", values: vals((m) => m.p99, true) },
    { scenario: "1 throughput", metric: "1,000 req/s latency p50", unit: "ms",
      values: { haproxy: round(fh?.p50 ?? NaN, 3), nginx: round(fn?.p50 ?? NaN, 3), "puppet-ha": round(fp?.p50 ?? NaN, 3) },
      ratios: { "puppet-ha − haproxy (ms)": round((fp?.p50 ?? NaN) - (fh?.p50 ?? NaN), 3), "puppet-ha − nginx (ms)": round((fp?.p50 ?? NaN) - (fn?.p50 ?? NaN), 3) },
      target: { text: "≤ haproxy + 0.1 ms (issue 15)", pass: (fp?.p50 ?? Infinity) <= (fh?.p50 ?? -Infinity) + 0.1 } },
    { scenario: "1 throughput", metric: "1,000 req/s latency p99", unit: "ms",
      values: { haproxy: round(fh?.p99 ?? NaN, 3), nginx: round(fn?.p99 ?? NaN, 3), "puppet-ha": round(fp?.p99 ?? NaN, 3) } },
  ];
  const errors = Object.entries(runs).flatMap(([k, l]) => l.filter((m) => m.errors + m.non2xx > 0).map((m) => `${k}: ${m.errors} socket errors, ${m.non2xx} non-2xx`));
  const failedFixed = Object.entries(fixed).filter(([, f]) => f.failed > 0).map(([k, f]) => `${k}: ${f.failed} failed at 1,000 req/s`);
  return {
    name: "throughput", rows,
    data: { params, runs, fixed },
    notes: [
      `wrk -t1 -c${params.connections}, ${params.rounds} round(s) of ${params.seconds} s, best round per system; each front end and its TLS originator started fresh for each measurement (closed loop and 1,000 req/s alike) and stopped afterwards, each round starting with another front end; front ends pinned to CPU ${ctx.cpu.frontEnd}, wrk/originator/backend to CPU ${ctx.cpu.load}; no front end writes access logs.`,
      ...errors, ...failedFixed,
    ],
  };
}
