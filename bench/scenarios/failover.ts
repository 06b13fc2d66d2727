// Scenario 2: CA failover under load. Each variant (puppet-ha, haproxy with default checks,
// haproxy tuned, nginx) gets its own fake CA workers (separate processes) and front end; 200 CA
// GETs/s open loop through each; mid-run the active CA is killed (SIGKILL: refused connections)
// or, in the second run, hung (SIGSTOP). One variant at a time: a hung CA makes every client
// open a new TLS connection per request, and four such storms at once saturate two cores.
import { join } from "node:path";
import type { BenchContext, Row, ScenarioResult } from "../lib/context.js";
import {
  haproxyFrontEnd, haproxyOriginator, HAPROXY_DEFAULT_CHECKS, HAPROXY_TUNED_CHECKS, nginxBackend, nginxFrontEnd, PUPPET_HA_FAILOVER_CHECKS, puppetHaConfig, type Backend,
} from "../lib/configs.js";
import { startFakeCa } from "../lib/fakes.js";
import { launchFrontEnd, launchHelper, type FrontEnd, type FrontEndKind } from "../lib/frontends.js";
import { openLoopProcess } from "../lib/generators.js";
import type { Sample } from "../lib/openloop.js";
import { freePorts, get, sleep } from "../lib/net.js";
import type { Proc } from "../lib/procs.js";
import { round } from "../lib/stats.js";
import { failoverSvg, type Panel } from "../lib/svg.js";

const PATH = "/puppet-ca/v1/certificate/ca";
const RATE = 200;

interface Variant {
  key: string;
  kind: FrontEndKind;
  label: string;
}

const VARIANTS: Variant[] = [
  { key: "puppet-ha", kind: "puppet-ha", label: "puppet-ha (interval 1s, timeout 500ms, fall 2)" },
  { key: "puppet-ha (2 workers)", kind: "puppet-ha", label: "puppet-ha, proxy.workers 2 (same checks)" },
  { key: "haproxy", kind: "haproxy", label: "haproxy defaults (inter 2s fall 3)" },
  { key: "haproxy (tuned)", kind: "haproxy", label: "haproxy tuned (inter 1s fall 2, backup)" },
  { key: "nginx", kind: "nginx", label: "nginx (backup, max_fails 1)" },
];

export interface RunOutcome {
  variant: string;
  mode: "killed" | "hung";
  killAt: number;
  total: number;
  failed: number;
  /** From the kill to the first successful answer from the standby (ms). */
  firstStandbyMs: number;
  /** From the kill to the end of the last failed request (ms); 0 without failures. */
  lastFailureMs: number;
  maxWaitMs: number;
  /** Requests that waited over 3 s (successful or not). */
  over3s: number;
  /** The generator's worst lateness in sending a request (its own stalls, not the front end's). */
  generatorLateMs: number;
  errors: Record<string, number>;
  samples: Sample[];
}

export async function failover(ctx: BenchContext): Promise<ScenarioResult> {
  const serverTimeout = ctx.quick ? 5 : 30;
  const preMs = ctx.quick ? 2000 : 5000;
  const postMs = ctx.quick ? 8000 : 35_000;
  const dir = join(ctx.dir, "failover");
  const [m1, m2] = await freePorts(2) as [number, number];
  const masters: Backend[] = [{ name: "m1", port: m1 }, { name: "m2", port: m2 }];
  const backend = await launchHelper("nginx", "fo-backend", join(dir, "backend"), nginxBackend([m1, m2], join(dir, "backend")), ctx.cpu.load,
    async () => (await get(`http://127.0.0.1:${m1}/`, { timeoutMs: 1000 })).status === 200);
  const outcomes: RunOutcome[] = [];
  try {
    for (const mode of ["killed", "hung"] as const) {
      for (const v of VARIANTS) {
        ctx.log(`failover: ${v.key}, CA ${mode} (${(preMs + postMs) / 1000} s + drain)`);
        outcomes.push(await oneRun(ctx, join(dir, mode), v, mode, masters, { serverTimeout, preMs, postMs }));
      }
    }
  } finally {
    await backend.stop();
  }
  const panels: Panel[] = outcomes.map((o) => ({
    title: `${VARIANTS.find((v) => v.key === o.variant)?.label ?? o.variant}: CA ${o.mode}`,
    killAt: o.killAt, samples: o.samples, failed: o.failed,
  }));
  return { name: "failover", rows: rows(outcomes), data: outcomes.map(({ samples: _s, ...rest }) => rest), notes: notes(serverTimeout, outcomes), files: { "failover.svg": failoverSvg(panels) } };
}

async function oneRun(
  ctx: BenchContext, dir: string, v: Variant, mode: "killed" | "hung", masters: Backend[], t: { serverTimeout: number; preMs: number; postMs: number },
): Promise<RunOutcome> {
  const [ca1, ca2, fe, admin, orig] = await freePorts(5) as [number, number, number, number, number];
  const procs: Proc[] = [];
  let front: FrontEnd | undefined;
  try {
    const primary = await startFakeCa(ctx.fakes.ca, "ca1", ca1, ctx.pki.ca, ctx.cpu.load, dir);
    procs.push(primary, await startFakeCa(ctx.fakes.ca, "ca2", ca2, ctx.pki.ca, ctx.cpu.load, dir));
    const spec = { port: fe, pki: ctx.pki, caWorkers: [{ name: "ca1", port: ca1 }, { name: "ca2", port: ca2 }], masters, serverTimeout: `${t.serverTimeout}s` };
    const vdir = join(dir, v.key.replace(/\W+/g, "-"));
    const config = v.kind === "nginx" ? nginxFrontEnd(spec, vdir)
      : v.kind === "haproxy" ? haproxyFrontEnd(spec, v.key === "haproxy" ? HAPROXY_DEFAULT_CHECKS : HAPROXY_TUNED_CHECKS)
      : puppetHaConfig({ ...spec, adminPort: admin, stateDir: join(vdir, "state"), health: PUPPET_HA_FAILOVER_CHECKS, ...(v.key === "puppet-ha (2 workers)" ? { proxy: { workers: 2 } } : {}) });
    front = await launchFrontEnd(v.kind, { label: v.key, port: fe, dir: vdir, config, cpu: ctx.cpu.frontEnd, readyPath: PATH, tls: ctx.pki.text }, ctx.log);
    // The agents' TLS side (client cert, session resumption) is an haproxy originator: a Node
    // client doing 200 handshakes/s with RSA keys starves the shared generator core.
    procs.push(await launchHelper("haproxy", `originator-${v.key}`, join(vdir, "originator"), haproxyOriginator(orig, { port: fe, tls: true }, ctx.pki), ctx.cpu.load,
      async () => (await get(`http://127.0.0.1:${orig}${PATH}`, { timeoutMs: 2000 })).status === 200));
    // Let the checker see both CA workers up before load starts.
    await sleep(2500);
    const run = openLoopProcess(`fo-${mode}-${v.key.replace(/\W+/g, "-")}`, {
      url: `http://127.0.0.1:${orig}${PATH}`, rate: RATE, durationMs: t.preMs + t.postMs, timeoutMs: (t.serverTimeout + 10) * 1000,
      ca: ctx.pki.ca, cert: ctx.pki.clientCert, key: ctx.pki.clientKey, maxSockets: 8000, warmConnections: 8, out: join(vdir, "gen.json"),
    }, ctx.cpu.load, dir);
    const started = await run.started;
    await sleep(Math.max(0, started + t.preMs - Date.now()));
    const killAt = Date.now();
    primary.signal(mode === "killed" ? "SIGKILL" : "SIGSTOP");
    const r = await run.done;
    return analyse(v.key, mode, killAt, r.samples);
  } finally {
    await Promise.all([front?.proc.stop(), ...procs.map((p) => p.stop())]);
  }
}

export function analyse(variant: string, mode: "killed" | "hung", killAt: number, samples: Sample[]): RunOutcome {
  const bad = samples.filter((s) => s.status !== 200);
  const standby = samples.filter((s) => s.status === 200 && s.backend === "ca2" && s.t + s.ms >= killAt).map((s) => s.t + s.ms - killAt);
  const errors: Record<string, number> = {};
  for (const s of bad) {
    const k = s.err ?? `HTTP ${s.status}`;
    errors[k] = (errors[k] ?? 0) + 1;
  }
  return {
    variant, mode, killAt, total: samples.length, failed: bad.length,
    firstStandbyMs: standby.reduce((a, b) => Math.min(a, b), Infinity),
    lastFailureMs: bad.reduce((a, s) => Math.max(a, s.t + s.ms - killAt), 0),
    maxWaitMs: samples.reduce((a, s) => Math.max(a, s.ms), 0),
    over3s: samples.filter((s) => s.ms > 3000).length,
    generatorLateMs: samples.reduce((a, s) => Math.max(a, s.late), 0),
    errors, samples,
  };
}

function rows(outcomes: RunOutcome[]): Row[] {
  const out: Row[] = [];
  for (const mode of ["killed", "hung"] as const) {
    const of = (k: string) => outcomes.find((o) => o.mode === mode && o.variant === k);
    const vals = (f: (o: RunOutcome) => number) => Object.fromEntries(VARIANTS.map((v) => [v.key, round(f(of(v.key) as RunOutcome))]));
    const p = of("puppet-ha");
    const p2 = of("puppet-ha (2 workers)");
    const sc = `2 failover (CA ${mode})`;
    out.push({
      scenario: sc, metric: "failed requests", unit: "", values: vals((o) => o.failed),
      target: { text: "puppet-ha 0, with 2 workers too", pass: p !== undefined && p.failed === 0 && p2 !== undefined && p2.failed === 0 },
    });
    out.push({ scenario: sc, metric: "first standby answer after the kill", unit: "s", values: vals((o) => o.firstStandbyMs / 1000) });
    out.push({ scenario: sc, metric: "last failure after the kill", unit: "s", values: vals((o) => o.lastFailureMs / 1000) });
    out.push({
      scenario: sc, metric: "longest wait", unit: "s", values: vals((o) => o.maxWaitMs / 1000),
      ...(mode === "hung" ? { target: { text: "puppet-ha ≤ 3 s", pass: p !== undefined && p.maxWaitMs <= 3000 } } : {}),
    });
  }
  return out;
}

function notes(serverTimeout: number, outcomes: RunOutcome[]): string[] {
  const stalls = outcomes.filter((o) => o.generatorLateMs > 500).map((o) => `${o.variant} (${o.mode}) ${round(o.generatorLateMs / 1000)} s`);
  return [
    ...(stalls.length ? [`the generator itself stalled during: ${stalls.join(", ")} (machine load); waits of that size in those runs are not the front end's.`] : []),
    `${RATE} GET ${PATH}/s open loop per variant, one variant at a time (front end on its own CPU); fake CA workers are separate Node processes (X-Backend names the one that answered).`,
    `Every front end waits at most ${serverTimeout} s for a connected backend's answer (haproxy timeout server, nginx proxy_read_timeout, puppet-ha timeouts.response), connect timeout 2 s.`,
  ];
}
