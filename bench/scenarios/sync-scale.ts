// Scenario "sync-scale": the cost of sync passes as the CA grows (1,000, 10,000, 100,000 signed
// certs). For each size: watch-mode lag for a steady trickle of signings, CPU per signing, the
// no-change pass, the full verification, the failback's final pull (the sync part of the write
// pause), peak RSS, and the p99 of requests proxied by a real `puppet-ha proxy` while its
// in-process sync runs passes against the same proxy with sync idle (sync-proxy-p99.ts).
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
import { PROXY_RATE, proxyP99, type ProxyP99 } from "../lib/sync-proxy-p99.js";

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

/** How long one IPC call may take before the child is killed (by PID) and the size fails. */
const CALL_TIMEOUT_MS = 10 * 60_000;

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
    const timer = setTimeout(() => {
      done();
      child.kill("SIGKILL");
      reject(new Error(`sync-scale child (pid ${child.pid}) did not answer "${op}" within ${CALL_TIMEOUT_MS / 1000} s; killed`));
    }, CALL_TIMEOUT_MS);
    const done = () => {
      clearTimeout(timer);
      child.off("message", on);
      child.off("exit", exited);
    };
    child.on("message", on);
    child.on("exit", exited);
    child.send({ op });
  });
}

async function one(ctx: BenchContext, n: number, withProxy: boolean): Promise<Record<string, unknown>> {
  const dir = join(ctx.dir, `sync-scale-${n}`);
  const ca1 = join(dir, "ca1");
  const ca2 = join(dir, "ca2");
  ctx.log(`sync-scale ${n}: building cadirs`);
  let serial = buildCadir(ctx, ca1, n);
  // A signing as puppetserver writes it: cert, serial, inventory line.
  const sign = (cn: string) => {
    const s = serial++;
    writeFileSync(join(ca1, "signed", `${cn}.pem`), ctx.pki.samplePem);
    writeFileSync(join(ca1, "serial"), hex(s + 1));
    appendFileSync(join(ca1, "inventory.txt"), line(s, cn));
  };
  await execa("cp", ["-a", "--", ca1, ca2]);
  const workDir = join(dir, "work");
  const backupDir = join(dir, "backups");
  const child = fork(join(repoRoot, "bench", "lib", "sync-scale-child.ts"), [ca1, ca2, workDir, backupDir], { execArgv: ["--import", "tsx"], cwd: repoRoot, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const remove = addCleanup(() => Promise.resolve(void child.kill("SIGKILL")));
  const gone = new Promise<void>((r) => child.once("exit", () => r()));
  const pid = child.pid as number;
  let measured: Record<string, unknown>;
  try {
    await new Promise((r) => child.once("message", r));
    const started = await call(child, "start");
    ctx.log(`sync-scale ${n}: started (first pass = full verification) in ${String(started.startMs)} ms`);
    const noop = await call(child, "noop");

    // A steady trickle of signings.
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
    const cpu0 = cpuSeconds(pid);
    const t0 = Date.now();
    for (let i = 0; i < count; i++) {
      await sleep(Math.max(0, t0 + i * intervalMs - Date.now()));
      const cn = `trickle-${i}.bench`;
      sign(cn);
      written.set(cn, Date.now());
    }
    stopAt = Date.now();
    await poller;
    await sleep(500);
    const cpuPerSigning = (cpuSeconds(pid) - cpu0) / count;
    const lags = [...written].filter(([cn]) => seen.has(cn)).map(([cn, t]) => ((seen.get(cn) as number) - t) / 1000);

    const full = await call(child, "full");

    // The failback's final pull: the standby one signing behind, as during the write hold.
    const pulls: number[] = [];
    for (let i = 0; i < 3; i++) {
      sign(`final-${i}.bench`);
      pulls.push((await call(child, "final-pull")).ms as number);
    }
    const rss = peakRssMb(pid);
    await call(child, "stop");
    measured = {
      n, startMs: started.startMs, noopMs: noop.ms, lags, missed: count - lags.length, lag: summarize(lags), cpuPerSigningMs: cpuPerSigning * 1000,
      fullMs: full.ms, fullStatus: full.status, finalPullMs: pulls, peakRssMb: rss,
    };
  } finally {
    child.kill("SIGKILL");
    await gone;
    remove();
  }
  if (!withProxy) return measured;
  // The same cadirs and workDir, now inside a real proxy (the child is gone: its caches are saved).
  const proxy = await proxyP99(ctx, { n, ca1, ca2, workDir, backupDir, fullMs: measured.fullMs as number, sign });
  return { ...measured, proxy };
}

export async function syncScale(ctx: BenchContext): Promise<ScenarioResult> {
  const sizes = syncScaleSizes(ctx.quick);
  const results: Record<string, unknown>[] = [];
  // The proxy part needs the puppet-ha build and fake backends; PUPPET_HA_BENCH_SYNC_PROXY=0 skips it.
  const withProxy = process.env.PUPPET_HA_BENCH_SYNC_PROXY !== "0";
  for (const n of sizes) results.push(await one(ctx, n, withProxy));
  const rows: Row[] = [];
  const k = (n: number) => (n >= 1000 ? `${n / 1000}k` : String(n));
  for (const r of results) {
    const n = r.n as number;
    const lag = r.lag as { p50: number; p99: number };
    const goal = n >= 100_000;
    const push = (metric: string, unit: string, v: number, target?: Row["target"]) => rows.push({ scenario: "8 sync scale", metric: `${metric} @${k(n)}`, unit, values: { "puppet-ha": v }, ...(target ? { target } : {}) });
    push("watch lag p50", "s", round(lag.p50, 3), goal ? { text: "≤ 0.5 s", pass: lag.p50 <= 0.5 && r.missed === 0 } : undefined);
    push("watch lag p99", "s", round(lag.p99, 3), goal ? { text: "≤ 1 s", pass: lag.p99 <= 1 && r.missed === 0 } : undefined);
    push("CPU per signing", "ms", round(r.cpuPerSigningMs as number, 1));
    push("no-change pass", "ms", round(percentile(r.noopMs as number[], 50), 1));
    push("full verification", "ms", round(r.fullMs as number, 0));
    push("final pull (1 signing behind)", "ms", round(percentile(r.finalPullMs as number[], 50), 1));
    push("peak RSS", "MB", round(r.peakRssMb as number, 0));
    const px = r.proxy as ProxyP99 | undefined;
    if (px) {
      // The goal: passes, even a full verification, add at most a few ms to a proxied request.
      const worst = Math.max(px.busy.p99, Number.isFinite(px.duringFull.p99) ? px.duringFull.p99 : 0);
      push("proxied p99, sync idle", "ms", round(px.idle.p99, 2));
      push("proxied p99 during passes (signings + full verification)", "ms", round(px.busy.p99, 2), {
        text: `idle ${round(px.idle.p99, 2)} ms; during the full verification ${round(px.duringFull.p99, 2)} ms (max ${round(px.duringFull.max, 1)}); from send: idle ${round(px.idle.sent.p99, 2)}, busy ${round(px.busy.sent.p99, 2)} ms; generator late up to ${round(px.generatorLateMaxMs, 0)} ms; ${px.busy.failed + px.idle.failed} failed; ≤ idle + 5 ms`,
        pass: worst - px.idle.p99 <= 5 && px.busy.failed === 0,
      });
    }
  }
  return {
    name: "sync-scale", rows, data: { sizes, results },
    notes: [
      `Sizes ${sizes.join(", ")} signed certs; each signed/<cn>.pem is the same real PEM (sync does not verify signatures), with its own serial and inventory line.`,
      "The sync service runs in watch mode (debounce 100 ms) in its own Node process; lag = until the standby has the cert and its inventory line (polled every 10 ms).",
      `Proxied p99: a real \`puppet-ha proxy\` (compiled, not pinned: the sync worker thread may use the second core) with an in-process sync section on the same cadirs, fake CA workers and master; ${PROXY_RATE} req/s open loop (GET /puppet-ca/v1/certificate/ca, client cert, keep-alive) from its own process. Idle window: before T; busy: from T, when \`sync.verify\` (a cron for that second) starts a full verification and a signing per second is written into the active cadir.`,
    ],
  };
}
