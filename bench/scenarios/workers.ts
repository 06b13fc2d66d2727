// Scenario "workers" (issue 15 item 3, issue 17 item 8): puppet-ha's capacity with 1 and with 2
// data-plane workers (proxy.workers), and its CPU per request with proxy.cluster (a real one-member
// etcd started here) on and off. Same load as scenario 1: wrk -> haproxy TLS originator -> proxy.
import { join } from "node:path";
import type { BenchContext, Row, ScenarioResult } from "../lib/context.js";
import { nginxBackend, PUPPET_HA_DEFAULT_CHECKS, puppetHaConfig } from "../lib/configs.js";
import { closedLoopFresh, rotatingRounds } from "../lib/fresh.js";
import { launchHelper } from "../lib/frontends.js";
import { freePorts, get, waitUntil } from "../lib/net.js";
import { start, type Proc } from "../lib/procs.js";
import { ratio, round } from "../lib/stats.js";

const PATH = "/puppet/v3/node/agent-bench-1?environment=production";

interface Run {
  rps: number;
  requests: number;
  /** CPU of the whole process tree per request (µs). */
  cpuUs: number;
  /** Cores used by each process of the tree during the run (primary first). */
  cores: number[];
  /** Requests per second it could carry: each worker saturates at one core, the tree at `coresAvailable`. */
  capacity: number;
}

function capacityOf(rps: number, cores: number[], coresAvailable: number): number {
  const workers = cores.length > 1 ? cores.slice(1) : cores; // with workers the primary forwards nothing
  const busiest = Math.max(...workers);
  const total = cores.reduce((a, b) => a + b, 0);
  return Math.min(rps / busiest, (rps * coresAvailable) / total);
}

async function etcd(ctx: BenchContext, dir: string, client: number, peer: number): Promise<Proc> {
  const c = `http://127.0.0.1:${client}`;
  const p = `http://127.0.0.1:${peer}`;
  const proc = start("etcd", "etcd", [
    "--name", "bench", "--data-dir", join(dir, "etcd"), "--listen-client-urls", c, "--advertise-client-urls", c,
    "--listen-peer-urls", p, "--initial-advertise-peer-urls", p, "--initial-cluster", `bench=${p}`,
  ], { cpu: ctx.cpu.load, logFile: join(dir, "etcd.log") });
  await waitUntil("etcd", async () => (await get(`${c}/health`, { timeoutMs: 1000 })).status === 200, 20_000, () => (proc.alive() ? undefined : "etcd exited"));
  return proc;
}

export async function workers(ctx: BenchContext): Promise<ScenarioResult> {
  const seconds = ctx.quick ? 4 : 10;
  const rounds = ctx.quick ? 1 : 3;
  const connections = 64;
  const [ca1, ca2, m1, m2, ec, ep, ...rest] = await freePorts(15);
  const dir = join(ctx.dir, "workers");
  const procs: Proc[] = [];
  try {
    procs.push(await launchHelper("nginx", "backend", join(dir, "backend"), nginxBackend([ca1, ca2, m1, m2] as number[], join(dir, "backend")), ctx.cpu.load,
      async () => (await get(`http://127.0.0.1:${m1}/status/v1/simple`, { timeoutMs: 1000 })).status === 200));
    procs.push(await etcd(ctx, dir, ec as number, ep as number));
    const spec = {
      pki: ctx.pki, serverTimeout: "300s", health: PUPPET_HA_DEFAULT_CHECKS,
      caWorkers: [{ name: "ca1", port: ca1 as number }, { name: "ca2", port: ca2 as number }], masters: [{ name: "m1", port: m1 as number }, { name: "m2", port: m2 as number }],
    };
    // The one-process proxies on the front-end core; two workers may use both cores (shared with the load).
    const variants = [
      { label: "1 worker", cpu: ctx.cpu.frontEnd, proxy: { workers: 1 } },
      { label: "2 workers", cpu: `${ctx.cpu.frontEnd},${ctx.cpu.load}`, proxy: { workers: 2 } },
      { label: "cluster on", cpu: ctx.cpu.frontEnd, proxy: { workers: 1, cluster: { name: "bench", etcd: { endpoints: [`http://127.0.0.1:${ec}`] } } } },
    ];
    // Each measurement gets a freshly started proxy and originator (lib/fresh.ts), and each round
    // starts with another variant. Each of wrk's connections gets its own connection to the proxy
    // (http-reuse never), as each agent has its own: shared ones put most requests on a few
    // connections, and so on one worker (the busiest carried 56% of the CPU, 2026-12-07).
    const runs: Record<string, Run[]> = {};
    await rotatingRounds(ctx, "workers", rounds, variants.length, async (i) => {
      const v = variants[i] as (typeof variants)[number];
      const [port, admin, orig] = rest.slice(i * 3, i * 3 + 3) as [number, number, number];
      const m = await closedLoopFresh(ctx, {
        kind: "puppet-ha", label: v.label, port, dir: join(dir, `p${i}`), cpu: v.cpu,
        config: puppetHaConfig({ ...spec, port, adminPort: admin, stateDir: join(dir, `p${i}`, "state"), proxy: v.proxy }),
      }, orig, PATH, { connections, seconds, reuse: "never" });
      const available = v.cpu.split(",").length;
      (runs[v.label] ??= []).push({
        rps: m.wrk.rps, requests: m.wrk.requests, cpuUs: m.cpuUs, cores: m.cores.map((c) => round(c, 3)), capacity: capacityOf(m.wrk.rps, m.cores, available),
      });
    });
    const best = (k: string) => [...(runs[k] ?? [])].sort((a, b) => b.capacity - a.capacity)[0] as Run;
    const lowest = (k: string) => [...(runs[k] ?? [])].sort((a, b) => a.cpuUs - b.cpuUs)[0] as Run;
    const one = best("1 worker");
    const two = best("2 workers");
    const off = lowest("1 worker");
    const on = lowest("cluster on");
    const scale = ratio(two.capacity, one.capacity);
    const clusterRatio = ratio(on.cpuUs, off.cpuUs);
    const rows: Row[] = [
      { scenario: "1b workers", metric: "capacity (req/s each worker could carry at one core)", unit: "req/s",
        values: { "puppet-ha (1 worker)": Math.round(one.capacity), "puppet-ha (2 workers)": Math.round(two.capacity) },
        ratios: { "2 workers / 1 worker": round(scale) }, target: { text: "≥ 1.8x (issue 15)", pass: scale >= 1.8 } },
      { scenario: "1b workers", metric: "req/s measured (closed loop, 64 conns; load on the second core)", unit: "req/s",
        values: { "puppet-ha (1 worker)": Math.round(one.rps), "puppet-ha (2 workers)": Math.round(two.rps) } },
      { scenario: "1b workers", metric: "CPU per request, whole process tree", unit: "µs",
        values: { "puppet-ha (1 worker)": round(one.cpuUs, 1), "puppet-ha (2 workers)": round(two.cpuUs, 1) } },
      { scenario: "1c cluster", metric: "CPU per request, proxy.cluster off / on (1-member etcd)", unit: "µs",
        values: { "puppet-ha (cluster off)": round(off.cpuUs, 1), "puppet-ha (cluster on)": round(on.cpuUs, 1) },
        ratios: { "on / off": round(clusterRatio) }, target: { text: "equal within noise (issue 17)", pass: Math.abs(clusterRatio - 1) <= 0.1 } },
    ];
    return {
      name: "workers", rows, data: { params: { seconds, rounds, connections }, runs },
      notes: [
        `Capacity: wrk, the TLS originator and the backend need a core of their own, so on 2 cores the 2-worker proxy shares core ${ctx.cpu.load} with them and cannot be driven to saturation. Each worker is one thread: it saturates at one core. Capacity = measured req/s ÷ the busiest worker's share of a core (and at most req/s × cores available ÷ the whole tree's cores); 1 worker is pinned to core ${ctx.cpu.frontEnd}, 2 workers may use cores ${ctx.cpu.frontEnd},${ctx.cpu.load}. The originator gives each of wrk's ${connections} connections its own connection to the proxy (http-reuse never), as agents have. Cores used per process (primary first) in the best round: 1 worker ${one.cores.join(" ")}, 2 workers ${two.cores.join(" ")}.`,
        `Cluster: the same one-process proxy with proxy.cluster against a one-member etcd on core ${ctx.cpu.load}; its CPU includes the lease renewals and view reads (every loopWait, 2 s).`,
      ],
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
}
