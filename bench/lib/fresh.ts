// Measuring a front end started fresh for each measurement, in rotating order: kept running side
// by side, the front end started last paid up to 40% more CPU per request (swap the order and the
// ratio flips), so each measurement gets its own front end and TLS originator, stopped afterwards.
import { join } from "node:path";
import type { BenchContext } from "./context.js";
import { haproxyOriginator } from "./configs.js";
import { launchFrontEnd, launchHelper, type FrontEnd, type FrontEndKind, type LaunchOptions } from "./frontends.js";
import { wrk, type WrkResult } from "./generators.js";
import { get } from "./net.js";
import { cpuSeconds } from "./procs.js";

export interface FreshSpec extends Omit<LaunchOptions, "readyPath" | "tls"> {
  kind: FrontEndKind;
}

/** Start the front end, run `body` against it, stop it again (also on failure). */
export async function withFrontEnd<T>(ctx: BenchContext, spec: FreshSpec, body: (f: FrontEnd) => Promise<T>): Promise<T> {
  const f = await launchFrontEnd(spec.kind, { ...spec, readyPath: "/status/v1/simple", tls: ctx.pki.text }, ctx.log);
  try {
    return await body(f);
  } finally {
    await f.proc.stop();
  }
}

export interface ClosedLoop {
  wrk: WrkResult;
  /** Wall time of the measured wrk run (s). */
  wall: number;
  /** Cores used by each process of the front end's tree during the run (first: the one started). */
  cores: number[];
  /** CPU of the whole tree per request (µs). */
  cpuUs: number;
}

/**
 * A freshly started front end behind a freshly started haproxy TLS originator (client cert,
 * connections reused) on port `origin`: 1 s of wrk to warm it up (connections, JIT), then
 * `seconds` measured, with the front end's CPU from /proc. Both are stopped afterwards.
 */
export async function closedLoopFresh(
  ctx: BenchContext, spec: FreshSpec, origin: number, path: string, o: { connections: number; seconds: number; reuse?: "always" | "never" },
): Promise<ClosedLoop> {
  return withFrontEnd(ctx, spec, async (f) => {
    const dir = join(spec.dir, "originator");
    const orig = await launchHelper("haproxy", `originator-${spec.label}`, dir, haproxyOriginator(origin, { port: spec.port, tls: true }, ctx.pki, o.reuse), ctx.cpu.load,
      async () => (await get(`http://127.0.0.1:${origin}/status/v1/simple`, { timeoutMs: 2000 })).status === 200);
    try {
      const url = `http://127.0.0.1:${origin}${path}`;
      await wrk(url, { connections: o.connections, seconds: 1, cpu: ctx.cpu.load });
      const pids = f.pids();
      const c0 = pids.map(cpuSeconds);
      const t0 = process.hrtime.bigint();
      const w = await wrk(url, { connections: o.connections, seconds: o.seconds, cpu: ctx.cpu.load });
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const cores = pids.map((p, k) => (cpuSeconds(p) - (c0[k] ?? 0)) / wall);
      const cpu = cores.reduce((a, b) => a + b, 0) * wall;
      return { wrk: w, wall, cores, cpuUs: (cpu * 1e6) / Math.max(1, w.requests) };
    } finally {
      await orig.stop();
    }
  });
}

/** Run `measure(i)` for every variant i, `rounds` times, each round starting with the next variant. */
export async function rotatingRounds(ctx: BenchContext, name: string, rounds: number, variants: number, measure: (i: number) => Promise<void>): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    ctx.log(`${name}: round ${r + 1}/${rounds}`);
    for (let k = 0; k < variants; k++) await measure((k + r) % variants);
  }
}
