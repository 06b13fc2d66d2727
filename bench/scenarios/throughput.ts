// Scenario 1: small keep-alive GETs with a client cert through each front end (and straight to
// the backend: the floor). Closed loop: wrk -> haproxy TLS originator (client cert, connections
// reused) -> front end on its own CPU -> nginx backend; CPU per request from /proc. Open loop:
// 1,000 req/s from the Node generator straight to each front end, p50/p99.
import { join } from "node:path";
import type { BenchContext, Row, ScenarioResult } from "../lib/context.js";
import { haproxyFrontEnd, haproxyOriginator, HAPROXY_TUNED_CHECKS, nginxBackend, nginxFrontEnd, PUPPET_HA_DEFAULT_CHECKS, puppetHaConfig } from "../lib/configs.js";
import { launchFrontEnd, launchHelper, type FrontEnd } from "../lib/frontends.js";
import { openLoopProcess, wrk, type WrkResult } from "../lib/generators.js";
import { freePorts, get, sleep } from "../lib/net.js";
import type { Proc } from "../lib/procs.js";
import { treeCpu } from "../lib/procs.js";
import { percentile, ratio, round } from "../lib/stats.js";

const PATH = "/puppet/v3/node/agent-bench-1?environment=production";

interface Measured extends WrkResult {
  /** Front end CPU time per request (µs); undefined for the floor. */
  cpuUs?: number;
}

export async function throughput(ctx: BenchContext): Promise<ScenarioResult> {
  const seconds = ctx.quick ? 3 : 10;
  const rounds = ctx.quick ? 1 : 3;
  const connections = 32;
  const [ca1, ca2, m1, m2, hp, np, pp, admin, ...orig] = await freePorts(11);
  const backends = { ca: [{ name: "ca1", port: ca1 as number }, { name: "ca2", port: ca2 as number }], masters: [{ name: "m1", port: m1 as number }, { name: "m2", port: m2 as number }] };
  const procs: Proc[] = [];
  const fronts: FrontEnd[] = [];
  const dir = join(ctx.dir, "throughput");
  try {
    const ports = [ca1, ca2, m1, m2] as number[];
    procs.push(await launchHelper("nginx", "backend", join(dir, "backend"), nginxBackend(ports, join(dir, "backend")), ctx.cpu.load,
      async () => (await get(`http://127.0.0.1:${m1}/status/v1/simple`, { timeoutMs: 1000 })).status === 200));
    const spec = { pki: ctx.pki, caWorkers: backends.ca, masters: backends.masters, serverTimeout: "300s" };
    const tls = ctx.pki.text;
    const common = { cpu: ctx.cpu.frontEnd, readyPath: "/status/v1/simple", tls };
    fronts.push(await launchFrontEnd("haproxy", { ...common, label: "haproxy", port: hp as number, dir: join(dir, "haproxy"), config: haproxyFrontEnd({ ...spec, port: hp as number }, HAPROXY_TUNED_CHECKS) }, ctx.log));
    fronts.push(await launchFrontEnd("nginx", { ...common, label: "nginx", port: np as number, dir: join(dir, "nginx"), config: nginxFrontEnd({ ...spec, port: np as number }, join(dir, "nginx")) }, ctx.log));
    fronts.push(await launchFrontEnd("puppet-ha", {
      ...common, label: "puppet-ha", port: pp as number, dir: join(dir, "puppet-ha"),
      config: puppetHaConfig({ ...spec, port: pp as number, adminPort: admin as number, stateDir: join(dir, "puppet-ha", "state"), health: PUPPET_HA_DEFAULT_CHECKS }),
    }, ctx.log));
    // One TLS originator per front end, on the generator CPU.
    const origin: Record<string, number> = {};
    for (const [i, f] of fronts.entries()) {
      const port = orig[i] as number;
      origin[f.kind] = port;
      procs.push(await launchHelper("haproxy", `originator-${f.kind}`, join(dir, `originator-${f.kind}`), haproxyOriginator(port, { port: f.port, tls: true }, ctx.pki), ctx.cpu.load,
        async () => (await get(`http://127.0.0.1:${port}/status/v1/simple`, { timeoutMs: 2000 })).status === 200));
    }

    // Closed loop, interleaved rounds (the machine is shared: take each system's best round).
    const runs: Record<string, Measured[]> = { direct: [], haproxy: [], nginx: [], "puppet-ha": [] };
    for (let r = 0; r < rounds; r++) {
      ctx.log(`throughput: round ${r + 1}/${rounds}`);
      runs.direct?.push(await wrk(`http://127.0.0.1:${m1}${PATH}`, { connections, seconds, cpu: ctx.cpu.load }));
      for (const f of fronts) {
        const url = `http://127.0.0.1:${origin[f.kind]}${PATH}`;
        await wrk(url, { connections, seconds: 1, cpu: ctx.cpu.load }); // warm-up: connections, JIT
        const pids = f.pids();
        const c0 = treeCpu(pids);
        const w = await wrk(url, { connections, seconds, cpu: ctx.cpu.load });
        const cpu = treeCpu(pids) - c0;
        runs[f.kind]?.push({ ...w, cpuUs: (cpu * 1e6) / Math.max(1, w.requests) });
      }
    }
    const best = (k: string): Measured => {
      const list = runs[k] ?? [];
      return [...list].sort((a, b) => (a.cpuUs ?? 0) - (b.cpuUs ?? 0) || b.rps - a.rps)[0] as Measured;
    };

    // Open loop at 1,000 req/s straight to each front end.
    const fixed: Record<string, { p50: number; p99: number; failed: number; n: number }> = {};
    for (const f of fronts) {
      const out = join(dir, `fixed-${f.kind}.json`);
      const run = openLoopProcess(`fixed-${f.kind}`, {
        url: `https://127.0.0.1:${f.port}${PATH}`, rate: 1000, durationMs: (ctx.quick ? 3 : 10) * 1000, timeoutMs: 10_000,
        ca: ctx.pki.ca, cert: ctx.pki.clientCert, key: ctx.pki.clientKey, maxSockets: 64, warmConnections: 16, out,
      }, ctx.cpu.load, dir);
      const res = await run.done;
      // The first half second warms connections and JIT up: not counted.
      const s = res.samples.filter((x) => x.t >= res.started + 500);
      const ok = s.filter((x) => x.status === 200).map((x) => x.ms);
      fixed[f.kind] = { p50: percentile(ok, 50), p99: percentile(ok, 99), failed: s.length - ok.length, n: s.length };
      await sleep(200);
    }
    return report(ctx, best, fixed, runs, { seconds, rounds, connections });
  } finally {
    await Promise.all([...fronts.map((f) => f.proc.stop()), ...procs.map((p) => p.stop())]);
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
      values: { haproxy: round(fixed.haproxy?.p50 ?? NaN, 3), nginx: round(fn?.p50 ?? NaN, 3), "puppet-ha": round(fp?.p50 ?? NaN, 3) },
      ratios: { "puppet-ha − nginx (ms)": round((fp?.p50 ?? NaN) - (fn?.p50 ?? NaN), 3) },
      target: { text: "≤ nginx + 0.3 ms", pass: (fp?.p50 ?? Infinity) <= (fn?.p50 ?? -Infinity) + 0.3 } },
    { scenario: "1 throughput", metric: "1,000 req/s latency p99", unit: "ms",
      values: { haproxy: round(fixed.haproxy?.p99 ?? NaN, 3), nginx: round(fn?.p99 ?? NaN, 3), "puppet-ha": round(fp?.p99 ?? NaN, 3) } },
  ];
  const errors = Object.entries(runs).flatMap(([k, l]) => l.filter((m) => m.errors + m.non2xx > 0).map((m) => `${k}: ${m.errors} socket errors, ${m.non2xx} non-2xx`));
  const failedFixed = Object.entries(fixed).filter(([, f]) => f.failed > 0).map(([k, f]) => `${k}: ${f.failed} failed at 1,000 req/s`);
  return {
    name: "throughput", rows,
    data: { params, runs, fixed },
    notes: [
      `wrk -t1 -c${params.connections}, ${params.rounds} round(s) of ${params.seconds} s, best round per system; front ends pinned to CPU ${ctx.cpu.frontEnd}, wrk/originator/backend to CPU ${ctx.cpu.load}; no front end writes access logs.`,
      ...errors, ...failedFixed,
    ],
  };
}
