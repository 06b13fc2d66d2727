// Open-loop (fixed-rate) HTTPS load with the agent's client cert: request i is due at
// start + i/rate whatever happened to the earlier ones, and its latency is counted from when it
// was due (no coordinated omission). Runs as its own process (pinned to the generator CPU):
//   node --import tsx bench/lib/openloop.ts '<json OpenLoopOptions>'
// writes <out>.started (epoch ms) when it begins and <out> (JSON) when done.
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

export interface OpenLoopOptions {
  /** https: TLS with the client cert from here; http: to a TLS originator (configs.ts). */
  url: string;
  rate: number;
  durationMs: number;
  /** A request not answered within this is counted as failed ("timeout"). */
  timeoutMs: number;
  /** Files holding the CA bundle, client cert and key. */
  ca: string;
  cert: string;
  key: string;
  maxSockets: number;
  /** Keep-alive connections opened (and a TLS session cached) before the clock starts. */
  warmConnections: number;
  out: string;
}

export interface Sample {
  /** Epoch ms when the request was due. */
  t: number;
  /** Latency from due time to the end of the body (ms). */
  ms: number;
  /** HTTP status, 0 when no answer. */
  status: number;
  err?: string;
  /** X-Backend of the answer (fake backends name themselves). */
  backend?: string;
  /** How late the generator itself sent it (ms): large values mean the generator stalled. */
  late: number;
}

export interface OpenLoopResult {
  started: number;
  samples: Sample[];
}

const now = () => performance.timeOrigin + performance.now();

export async function openLoop(o: OpenLoopOptions, onStart?: (t: number) => void): Promise<OpenLoopResult> {
  const u = new URL(o.url);
  const secure = u.protocol === "https:";
  const agent = secure
    ? new https.Agent({ keepAlive: true, maxSockets: o.maxSockets, ca: readFileSync(o.ca), cert: readFileSync(o.cert), key: readFileSync(o.key), servername: "localhost" })
    : new http.Agent({ keepAlive: true, maxSockets: o.maxSockets });
  const request = secure ? https.request : http.request;
  await warmUp(agent, u, o.warmConnections);
  const samples: Sample[] = [];
  const total = Math.round((o.rate * o.durationMs) / 1000);
  const started = now();
  onStart?.(started);
  let pending = 0;
  let allDone: (() => void) | undefined;

  const fire = (due: number) => {
    pending++;
    const s: Sample = { t: due, ms: 0, status: 0, late: now() - due };
    let settled = false;
    const finish = (status: number, err?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.ms = now() - due;
      s.status = status;
      if (err) s.err = err;
      samples.push(s);
      if (--pending === 0) allDone?.();
    };
    const req = request({ agent, host: u.hostname, port: u.port, path: u.pathname + u.search, method: "GET" }, (res) => {
      const b = res.headers["x-backend"];
      if (typeof b === "string") s.backend = b;
      res.on("data", () => undefined);
      res.on("end", () => finish(res.statusCode ?? 0));
      res.on("error", (e: NodeJS.ErrnoException) => finish(0, e.code ?? e.message));
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish(0, "timeout");
    }, o.timeoutMs);
    req.on("error", (e: NodeJS.ErrnoException) => finish(0, e.code ?? e.message));
    req.end();
  };

  let i = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const t = now();
      while (i < total && started + (i * 1000) / o.rate <= t) fire(started + (i++ * 1000) / o.rate);
      if (i >= total) return resolve();
      setTimeout(tick, Math.max(0, started + (i * 1000) / o.rate - now()));
    };
    tick();
  });
  if (pending > 0) await new Promise<void>((r) => { allDone = r; });
  agent.destroy();
  samples.sort((a, b) => a.t - b.t);
  return { started, samples };
}

/** Open `n` connections (one first, so the others resume its TLS session), each used once. */
async function warmUp(agent: http.Agent, u: URL, n: number): Promise<void> {
  const request = u.protocol === "https:" ? https.request : http.request;
  const one = () => new Promise<void>((resolve) => {
    const req = request({ agent, host: u.hostname, port: u.port, path: u.pathname + u.search, method: "GET" }, (res) => {
      res.resume();
      res.on("end", () => resolve());
    });
    req.setTimeout(5000, () => req.destroy());
    req.on("error", () => resolve());
    req.end();
  });
  await one();
  await Promise.all(Array.from({ length: Math.max(0, n - 1) }, one));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = JSON.parse(process.argv[2] ?? "{}") as OpenLoopOptions;
  openLoop(o, (t) => writeFileSync(`${o.out}.started`, String(t))).then(
    (r) => writeFileSync(o.out, JSON.stringify(r)),
    (err: unknown) => {
      process.stderr.write(`openloop: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
