// Part of the sync-scale scenario: the p99 of requests proxied by a real `puppet-ha proxy` while
// its in-process sync runs passes (a trickle of signings and a full verification), against the
// same proxy with sync idle. Fake CA workers and masters (fakes.ts); an open-loop generator.
//
// One proxy process for both windows. Its sync uses the workDir (caches, verified.json at epoch 1)
// the sync-scale child left, so the proxy's first pass is incremental; `sync.verify` is a cron
// for one absolute second T chosen before the launch. Busy window: [T, T + busy) (the full
// verification starts at T; a signing per second is written); idle: before T (after a 3 s
// warm-up) and 10 s after the busy window, so that a passing load spike of the shared machine
// weighs on both alike.
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import type { BenchContext } from "./context.js";
import { PUPPET_HA_DEFAULT_CHECKS, puppetHaConfig } from "./configs.js";
import { startFakeCa } from "./fakes.js";
import { launchFrontEnd, type FrontEnd } from "./frontends.js";
import { openLoopProcess } from "./generators.js";
import { freePorts, get, sleep, waitUntil } from "./net.js";
import type { Proc } from "./procs.js";
import { summarize, type Summary } from "./stats.js";

const PATH = "/puppet-ca/v1/certificate/ca";
const WARMUP_MS = 3000;
const IDLE_AFTER_MS = 10_000;
export const PROXY_RATE = 200;

export interface ProxyP99Input {
  n: number;
  ca1: string;
  ca2: string;
  workDir: string;
  backupDir: string;
  /** The full verification's duration measured before (sizes the busy window). */
  fullMs: number;
  /** Writes one signing into ca1 (cert, serial, inventory line). */
  sign: (cn: string) => void;
}

/** Latency from when each request was due; `sent`: from when the generator sent it (its own stalls left out). */
export type Window = Summary & { failed: number; sent: Summary };

export interface ProxyP99 {
  rate: number;
  idle: Window;
  busy: Window;
  /** The requests due while the full verification ran (from the proxy's /health). */
  duringFull: Window;
  full: { at: string; durationMs: number; hashed: number } | undefined;
  signings: number;
  generatorLateMaxMs: number;
}

/** A node-cron expression (6 fields, local time) firing once, at the second of `t`. */
function cronAt(t: Date): string {
  return `${t.getSeconds()} ${t.getMinutes()} ${t.getHours()} ${t.getDate()} ${t.getMonth() + 1} *`;
}

interface SyncHealth { destination: string; lastPass?: { at: string }; lastFullVerification?: { at: string; durationMs: number; hashed: number } }

async function syncHealth(adminPort: number): Promise<SyncHealth | undefined> {
  const r = await get(`http://127.0.0.1:${adminPort}/health`, { timeoutMs: 5000 });
  const body = JSON.parse(r.body) as { sync?: SyncHealth[] };
  return body.sync?.find((s) => s.destination === "ca2");
}

export async function proxyP99(ctx: BenchContext, i: ProxyP99Input): Promise<ProxyP99> {
  const dir = join(i.workDir, "..", "proxy");
  mkdirSync(dir, { recursive: true });
  const [ca1, ca2, m1, fe, admin] = await freePorts(5) as [number, number, number, number, number];
  const procs: Proc[] = [];
  let front: FrontEnd | undefined;
  try {
    for (const [name, port] of [["ca1", ca1], ["ca2", ca2], ["m1", m1]] as const) procs.push(await startFakeCa(ctx.fakes.ca, name, port, ctx.pki.ca, ctx.cpu.load, dir));
    // Room for the launch and the first (incremental) pass, then at least 5 s of idle requests.
    const startupMs = i.n >= 100_000 ? 45_000 : 20_000;
    const at = new Date(Math.ceil((Date.now() + startupMs) / 1000) * 1000);
    const busyMs = Math.max(15_000, Math.round(i.fullMs * 1.5) + 8000);
    const config = parse(puppetHaConfig({
      port: fe, pki: ctx.pki, caWorkers: [{ name: "ca1", port: ca1 }, { name: "ca2", port: ca2 }], masters: [{ name: "m1", port: m1 }],
      serverTimeout: "30s", adminPort: admin, stateDir: join(dir, "state"), health: PUPPET_HA_DEFAULT_CHECKS,
    })) as Record<string, unknown>;
    config.sync = {
      cadirs: { ca1: i.ca1, ca2: i.ca2 }, writeInto: ["ca2"], watch: true, debounce: "100ms",
      workDir: i.workDir, backupDir: i.backupDir, schedule: "0 0 1 1 *", verify: cronAt(at),
    };
    // Not pinned: the sync worker thread is the proxy's second thread (a CA host has more than one core).
    front = await launchFrontEnd("puppet-ha", { label: `sync-proxy-${i.n}`, port: fe, dir, config: stringify(config), readyPath: PATH, tls: ctx.pki.text }, ctx.log);
    await waitUntil("the proxy's first sync pass", async () => (await syncHealth(admin))?.lastPass !== undefined, startupMs);
    const busyEnd = at.getTime() + busyMs;
    const loadMs = busyEnd + IDLE_AFTER_MS - Date.now();
    if (at.getTime() - Date.now() < WARMUP_MS + 5000) throw new Error(`sync-scale ${i.n}: the proxy took too long to start; no idle window before ${at.toISOString()}`);
    ctx.log(`sync-scale ${i.n}: proxied requests at ${PROXY_RATE}/s for ${Math.round(loadMs / 1000)} s; full verification at ${at.toISOString()}`);
    const out = join(dir, "gen.json");
    const run = openLoopProcess(`sync-proxy-${i.n}`, {
      url: `https://127.0.0.1:${fe}${PATH}`, rate: PROXY_RATE, durationMs: loadMs, timeoutMs: 10_000,
      ca: ctx.pki.ca, cert: ctx.pki.clientCert, key: ctx.pki.clientKey, maxSockets: 64, warmConnections: 16, out,
    }, ctx.cpu.load, dir);
    const started = await run.started;
    let signings = 0;
    await sleep(Math.max(0, at.getTime() - Date.now()));
    while (Date.now() < busyEnd - 2000) {
      i.sign(`proxy-${i.n}-${signings++}.bench`);
      await sleep(1000);
    }
    const r = await run.done;
    const full = (await syncHealth(admin))?.lastFullVerification;
    appendFileSync(join(dir, "notes.txt"), `${JSON.stringify({ at: at.toISOString(), full, started })}\n`);
    const window = (...ranges: [number, number][]): Window => {
      const s = r.samples.filter((x) => ranges.some(([from, to]) => x.t >= from && x.t < to));
      const ok = s.filter((x) => x.status === 200);
      return { ...summarize(ok.map((x) => x.ms)), failed: s.length - ok.length, sent: summarize(ok.map((x) => x.ms - x.late)) };
    };
    const fullEnd = full ? Date.parse(full.at) : NaN;
    const fullStart = fullEnd - (full?.durationMs ?? NaN);
    const result: ProxyP99 = {
      rate: PROXY_RATE,
      idle: window([started + WARMUP_MS, at.getTime() - 500], [busyEnd + 1000, Infinity]),
      busy: window([at.getTime(), busyEnd]),
      duringFull: full && fullStart >= at.getTime() - 1000 ? window([fullStart, fullEnd]) : window(),
      full, signings,
      generatorLateMaxMs: r.samples.reduce((a, s) => Math.max(a, s.late), 0),
    };
    writeFileSync(join(dir, "result.json"), JSON.stringify(result, null, 2));
    return result;
  } finally {
    await Promise.all([front?.proc.stop(), ...procs.map((p) => p.stop())]);
  }
}
