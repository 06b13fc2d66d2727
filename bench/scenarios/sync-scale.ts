// Scenario "sync-scale": the cost of sync passes as the CA grows (1,000, 10,000, 100,000 signed
// certs). For each size: watch-mode lag for a steady trickle of signings, CPU per signing, the
// no-change pass, the full verification, the failback's final pull (the sync part of the write
// pause), peak RSS, and the event-loop delay of the process running the passes (idle vs passes).
// Cadirs are laid out as puppetserver writes them; every signed/<cn>.pem is the same real PEM
// (sync never verifies signatures), each with its own serial and inventory line.
import { fork, type ChildProcess } from "node:child_process";
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import type { BenchContext, Row, ScenarioResult } from "../lib/context.js";
import { repoRoot } from "../lib/frontends.js";
import { sleep } from "../lib/net.js";
import { addCleanup, cpuSeconds } from "../lib/procs.js";
import { percentile, round, summarize } from "../lib/stats.js";

const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, "0");
const utc = (d: Date) => `${d.toISOString().slice(0, 19)}UTC`;
const line = (serial: number, cn: string, now = new Date()) => `0x${hex(serial)} ${utc(now)} ${utc(new Date(now.getTime() + 5 * 365 * 86_400_000))} /CN=${cn}\n`;

/** Sizes: --quick caps at 10,000; PUPPET_HA_BENCH_SYNC_SIZES="1000,10000" overrides. */
export function syncScaleSizes(quick: boolean): number[] {
  const env = process.env.PUPPET_HA_BENCH_SYNC_SIZES;
  if (env) return env.split(",").map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);
  return quick ? [1000, 10_000] : [1000, 10_000, 100_000];
}

function buildCadir(ctx: BenchContext, dir: string, n: number): number {
  mkdirSync(join(dir, "signed"), { recursive: true });
  mkdirSync(join(dir, "requests"), { recursive: true });
  writeFileSync(join(dir, "ca_crt.pem"), readFileSync(ctx.pki.ca));
  writeFileSync(join(dir, "ca_key.pem"), readFileSync(ctx.pki.caKey), { mode: 0o640 });
  writeFileSync(join(dir, "ca_crl.pem"), readFileSync(ctx.pki.crl));
  for (const f of ["infra_inventory.txt", "infra_serials"]) writeFileSync(join(dir, f), "");
  const inv: string[] = [];
  for (let i = 0; i < n; i++) {
    writeFileSync(join(dir, "signed", `node-${i}.bench.pem`), ctx.pki.samplePem);
    inv.push(line(i + 2, `node-${i}.bench`));
  }
  writeFileSync(join(dir, "inventory.txt"), inv.join(""));
  writeFileSync(join(dir, "serial"), hex(n + 2));
  return n + 2;
}

function tail(path: string, bytes: number): string {
  const fd = openSync(path, "r");
  try {
    const size = statSync(path).size;
    const buf = Buffer.alloc(Math.min(bytes, size));
    readSync(fd, buf, 0, buf.length, size - buf.length);
    return buf.toString("utf8");
  } finally {
    closeSync(fd);
  }
}

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

function call(child: ChildProcess, op: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const on = (m: Record<string, unknown>) => {
      if (m.ready) return;
      done();
      if (m.ok) resolve(m);
      else reject(new Error(`sync-scale child: ${String(m.error)}`));
    };
    const exited = (code: number | null, signal: string | null) => {
      done();
      reject(new Error(`sync-scale child exited (${signal ?? code}) during "${op}"`));
    };
    const done = () => {
      child.off("message", on);
      child.off("exit", exited);
    };
    child.on("message", on);
    child.on("exit", exited);
    child.send({ op });
  });
}

async function one(ctx: BenchContext, n: number): Promise<Record<string, unknown>> {
  const dir = join(ctx.dir, `sync-scale-${n}`);
  const ca1 = join(dir, "ca1");
  const ca2 = join(dir, "ca2");
  ctx.log(`sync-scale ${n}: building cadirs`);
  let serial = buildCadir(ctx, ca1, n);
  await execa("cp", ["-a", "--", ca1, ca2]);
  const child = fork(join(repoRoot, "bench", "lib", "sync-scale-child.ts"), [ca1, ca2, join(dir, "work"), join(dir, "backups")], { execArgv: ["--import", "tsx"], cwd: repoRoot, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const remove = addCleanup(() => Promise.resolve(void child.kill("SIGKILL")));
  await new Promise((r) => child.once("message", r));
  const pid = child.pid as number;
  try {
    const started = await call(child, "start");
    ctx.log(`sync-scale ${n}: started (first pass = full verification) in ${String(started.startMs)} ms`);
    const noop = await call(child, "noop");
    await call(child, "eld-reset");
    await sleep(2000);
    const idle = await call(child, "eld");

    // A steady trickle of signings, in puppetserver's order: cert, serial, inventory line.
    const count = ctx.quick ? 10 : 30;
    const intervalMs = 1000;
    const written = new Map<string, number>();
    const seen = new Map<string, number>();
    let stopAt = Infinity;
    const poller = (async () => {
      while (stopAt === Infinity || (seen.size < written.size && Date.now() < stopAt + 15_000)) {
        const pending = [...written.keys()].filter((cn) => !seen.has(cn));
        if (pending.length > 0 && existsSync(join(ca2, "inventory.txt"))) {
          const inv = tail(join(ca2, "inventory.txt"), 16_384);
          const now = Date.now();
          for (const cn of pending) if (inv.includes(`/CN=${cn}\n`) && existsSync(join(ca2, "signed", `${cn}.pem`))) seen.set(cn, now);
        }
        await sleep(10);
      }
    })();
    child.once("exit", () => { stopAt = 0; });
    await call(child, "eld-reset");
    const cpu0 = cpuSeconds(pid);
    const t0 = Date.now();
    for (let i = 0; i < count; i++) {
      await sleep(Math.max(0, t0 + i * intervalMs - Date.now()));
      const cn = `trickle-${i}.bench`;
      const s = serial++;
      writeFileSync(join(ca1, "signed", `${cn}.pem`), ctx.pki.samplePem);
      writeFileSync(join(ca1, "serial"), hex(s + 1));
      appendFileSync(join(ca1, "inventory.txt"), line(s, cn));
      written.set(cn, Date.now());
    }
    stopAt = Date.now();
    await poller;
    await sleep(500);
    const cpuPerSigning = (cpuSeconds(pid) - cpu0) / count;
    const trickle = await call(child, "eld");
    const lags = [...written].filter(([cn]) => seen.has(cn)).map(([cn, t]) => ((seen.get(cn) as number) - t) / 1000);

    await call(child, "eld-reset");
    const full = await call(child, "full");
    const fullEld = await call(child, "eld");

    // The failback's final pull: the standby one signing behind, as during the write hold.
    const pulls: number[] = [];
    for (let i = 0; i < 3; i++) {
      const cn = `final-${i}.bench`;
      const s = serial++;
      writeFileSync(join(ca1, "signed", `${cn}.pem`), ctx.pki.samplePem);
      writeFileSync(join(ca1, "serial"), hex(s + 1));
      appendFileSync(join(ca1, "inventory.txt"), line(s, cn));
      pulls.push((await call(child, "final-pull")).ms as number);
    }
    const rss = peakRssMb(pid);
    await call(child, "stop");
    return {
      n, startMs: started.startMs, noopMs: noop.ms, lags, missed: count - lags.length, lag: summarize(lags), cpuPerSigningMs: cpuPerSigning * 1000,
      fullMs: full.ms, fullStatus: full.status, finalPullMs: pulls, peakRssMb: rss,
      eventLoopDelayMs: { idle, trickle, full: fullEld },
    };
  } finally {
    child.kill("SIGKILL");
    remove();
  }
}

export async function syncScale(ctx: BenchContext): Promise<ScenarioResult> {
  const sizes = syncScaleSizes(ctx.quick);
  const results: Record<string, unknown>[] = [];
  for (const n of sizes) results.push(await one(ctx, n));
  const rows: Row[] = [];
  const k = (n: number) => (n >= 1000 ? `${n / 1000}k` : String(n));
  for (const r of results) {
    const n = r.n as number;
    const lag = r.lag as { p50: number; p99: number };
    const eld = r.eventLoopDelayMs as Record<string, { p99: number; max: number }>;
    const goal = n >= 100_000;
    const push = (metric: string, unit: string, v: number, target?: Row["target"]) => rows.push({ scenario: "8 sync scale", metric: `${metric} @${k(n)}`, unit, values: { "puppet-ha": v }, ...(target ? { target } : {}) });
    push("watch lag p50", "s", round(lag.p50, 3), goal ? { text: "≤ 0.5 s", pass: lag.p50 <= 0.5 && r.missed === 0 } : undefined);
    push("watch lag p99", "s", round(lag.p99, 3), goal ? { text: "≤ 1 s", pass: lag.p99 <= 1 && r.missed === 0 } : undefined);
    push("CPU per signing", "ms", round(r.cpuPerSigningMs as number, 1));
    push("no-change pass", "ms", round(percentile(r.noopMs as number[], 50), 1));
    push("full verification", "ms", round(r.fullMs as number, 0));
    push("final pull (1 signing behind)", "ms", round(percentile(r.finalPullMs as number[], 50), 1));
    push("peak RSS", "MB", round(r.peakRssMb as number, 0));
    // The goal: a pass adds at most a few ms to what the same process sees idle.
    const idle = eld.idle?.p99 ?? NaN;
    const added = Math.max(eld.trickle?.p99 ?? Infinity, eld.full?.p99 ?? Infinity) - idle;
    push("event-loop delay p99 during signings", "ms", round(eld.trickle?.p99 ?? NaN, 2), { text: `idle ${idle} ms; full verification ${eld.full?.p99} ms (max ${eld.full?.max}); ≤ idle + 5 ms`, pass: added <= 5 });
  }
  return {
    name: "sync-scale", rows, data: { sizes, results },
    notes: [
      `Sizes ${sizes.join(", ")} signed certs; each signed/<cn>.pem is the same real PEM (sync does not verify signatures), with its own serial and inventory line.`,
      "The sync service runs in watch mode (debounce 100 ms) in its own Node process; lag = until the standby has the cert and its inventory line (polled every 10 ms).",
      "Event-loop delay is that process's monitorEventLoopDelay (1 ms resolution), the stand-in for a proxied request's added delay when sync runs inside the proxy (the proxy itself is not started here).",
    ],
  };
}
