// Load generators as processes: wrk (closed loop, keep-alive, ~7 µs CPU per request, plain HTTP:
// the TLS client side is an haproxy originator) and the open-loop Node generator (openloop.ts).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { repoRoot } from "./frontends.js";
import type { OpenLoopOptions, OpenLoopResult } from "./openloop.js";
import { sleep } from "./net.js";
import { start } from "./procs.js";

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  /** Latency percentiles in ms. */
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

function toMs(v: string, unit: string): number {
  const x = Number(v);
  return unit === "us" ? x / 1000 : unit === "s" ? x * 1000 : unit === "m" ? x * 60_000 : x;
}

export function parseWrk(out: string): WrkResult {
  const pct = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(out);
    return m ? toMs(m[1] as string, m[2] as string) : NaN;
  };
  const req = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const requests = req ? Number(req[1]) : 0;
  const seconds = req ? toMs(req[2] as string, req[3] as string) / 1000 : NaN;
  return {
    requests, seconds, rps: requests / seconds, p50: pct("50"), p99: pct("99"),
    errors: sock ? sock.slice(1).reduce((s, x) => s + Number(x), 0) : 0,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
  };
}

export async function wrk(url: string, o: { connections: number; seconds: number; cpu: string }): Promise<WrkResult> {
  const r = await execa("taskset", ["-c", o.cpu, "wrk", "-t1", `-c${o.connections}`, `-d${o.seconds}s`, "--latency", "--timeout", "5s", url], {
    reject: false, timeout: (o.seconds + 30) * 1000,
  });
  if (r.exitCode !== 0) throw new Error(`wrk failed (${r.exitCode}): ${r.stderr || r.stdout}`);
  return parseWrk(r.stdout);
}

export interface OpenLoopRun {
  /** Epoch ms when the first request was due. */
  started: Promise<number>;
  done: Promise<OpenLoopResult>;
}

/** Start openloop.ts in its own process on `cpu`. */
export function openLoopProcess(label: string, o: OpenLoopOptions, cpu: string | undefined, logDir: string): OpenLoopRun {
  const p = start(label, process.execPath, ["--import", "tsx", join(repoRoot, "bench", "lib", "openloop.ts"), JSON.stringify(o)], {
    cpu, cwd: repoRoot, logFile: join(logDir, `${label}.log`),
  });
  const started = (async () => {
    const f = `${o.out}.started`;
    const limit = Date.now() + 60_000;
    while (!existsSync(f)) {
      if (!p.alive()) throw new Error(`${label} exited before starting`);
      if (Date.now() > limit) throw new Error(`${label} did not start`);
      await sleep(20);
    }
    await sleep(5);
    return Number(readFileSync(f, "utf8"));
  })();
  const done = p.exited.then(() => {
    if (!existsSync(o.out)) throw new Error(`${label} wrote no result (see ${logDir}/${label}.log)`);
    return JSON.parse(readFileSync(o.out, "utf8")) as OpenLoopResult;
  });
  started.catch(() => undefined);
  done.catch(() => undefined);
  return { started, done };
}
