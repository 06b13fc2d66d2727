// Scenario 3: sync lag. Signings on the active cadir, exactly as puppetserver writes them
// (signed/<cn>.pem, serial rewritten, a line appended to inventory.txt), at a steady rate; the
// real `puppet-ha sync` agent (watch mode) copies them to the standby; lag = first moment the
// standby has both the cert and its inventory line. Compared with a cron rsync every minute.
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { execa } from "execa";
import { stringify } from "yaml";
import type { BenchContext, Row, ScenarioResult } from "../lib/context.js";
import { puppetHaCli, repoRoot } from "../lib/frontends.js";
import { freePorts, get, sleep, waitUntil } from "../lib/net.js";
import { start, type Proc } from "../lib/procs.js";
import { percentile, round, summarize } from "../lib/stats.js";

const CRON_PERIOD_S = 60;

function utc(d: Date): string {
  return `${d.toISOString().slice(0, 19)}UTC`;
}

function makeCadir(ctx: BenchContext, dir: string): void {
  mkdirSync(join(dir, "signed"), { recursive: true });
  mkdirSync(join(dir, "requests"), { recursive: true });
  writeFileSync(join(dir, "ca_crt.pem"), readFileSync(ctx.pki.ca));
  writeFileSync(join(dir, "ca_key.pem"), readFileSync(ctx.pki.caKey), { mode: 0o640 });
  writeFileSync(join(dir, "ca_crl.pem"), readFileSync(ctx.pki.crl));
  writeFileSync(join(dir, "infra_crl.pem"), readFileSync(ctx.pki.crl));
  writeFileSync(join(dir, "infra_inventory.txt"), "");
  writeFileSync(join(dir, "infra_serials"), "");
  writeFileSync(join(dir, "inventory.txt"), "");
  writeFileSync(join(dir, "serial"), "0004");
}

export async function syncLag(ctx: BenchContext): Promise<ScenarioResult> {
  const dir = join(ctx.dir, "sync");
  const ca1 = join(dir, "ca1");
  const ca2 = join(dir, "ca2");
  makeCadir(ctx, ca1);
  cpSync(ca1, ca2, { recursive: true, preserveTimestamps: true });
  const token = join(dir, "token");
  writeFileSync(token, "bench-token\n", { mode: 0o600 });
  const [arbPort, apiPort] = await freePorts(2) as [number, number];
  // The proxy's admin API as far as the sync agent needs it: GET /api/ca.
  const arbiter: Server = createServer((req, res) => {
    if (req.url === "/api/ca") res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ epoch: 1, active: "ca1" }));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => arbiter.listen(arbPort, "127.0.0.1", r));
  const cfg = join(dir, "sync.yaml");
  writeFileSync(cfg, stringify({
    sync: {
      cadirs: { ca1, ca2 }, writeInto: ["ca2"], watch: true, debounce: "100ms",
      backupDir: join(dir, "backups"), workDir: join(dir, "work"),
      arbiter: { url: `http://127.0.0.1:${arbPort}`, tokenFile: token }, listen: `127.0.0.1:${apiPort}`,
    },
    log: { level: "warn" },
  }));
  const [node, pre] = await puppetHaCli(ctx.log);
  let agent: Proc | undefined;
  try {
    agent = start("sync", node, [...pre, "sync", "-c", cfg], { cpu: ctx.cpu.frontEnd, cwd: repoRoot, logFile: join(dir, "sync.log") });
    const a = agent;
    await waitUntil("sync agent", async () => (await get(`http://127.0.0.1:${apiPort}/status`, { timeoutMs: 1000 })).status === 200, 30_000, () => (a.alive() ? undefined : "exited"));
    await sleep(2000); // the start pass and the watch's ready pass

    const count = ctx.quick ? 10 : 60;
    const intervalMs = ctx.quick ? 500 : 1000;
    const written = new Map<string, number>();
    const seen = new Map<string, number>();
    let serial = 4;
    let stop = false;
    let deadline = Infinity;
    const watcher = (async () => {
      while (!stop || seen.size < written.size) {
        const pending = [...written.keys()].filter((cn) => !seen.has(cn));
        if (pending.length > 0) {
          let inv: string;
          try {
            inv = readFileSync(join(ca2, "inventory.txt"), "utf8");
          } catch {
            inv = "";
          }
          const now = Date.now();
          for (const cn of pending) if (inv.includes(`/CN=${cn}\n`) && existsSync(join(ca2, "signed", `${cn}.pem`))) seen.set(cn, now);
        }
        if (stop && Date.now() > deadline) break;
        await sleep(10);
      }
    })();
    const t0 = Date.now();
    for (let i = 0; i < count; i++) {
      await sleep(Math.max(0, t0 + i * intervalMs - Date.now()));
      const cn = `node-${i}.bench`;
      const now = new Date();
      const s = serial++;
      // puppetserver's order: the cert, then serial, then the inventory line.
      writeFileSync(join(ca1, "signed", `${cn}.pem`), ctx.pki.samplePem);
      writeFileSync(join(ca1, "serial"), (s + 1).toString(16).toUpperCase().padStart(4, "0"));
      appendFileSync(join(ca1, "inventory.txt"), `0x${s.toString(16).toUpperCase().padStart(4, "0")} ${utc(now)} ${utc(new Date(now.getTime() + 5 * 365 * 86_400_000))} /CN=${cn}\n`);
      written.set(cn, Date.now());
    }
    stop = true;
    deadline = Date.now() + 15_000;
    await watcher;
    const lags = [...written].filter(([cn]) => seen.has(cn)).map(([cn, t]) => ((seen.get(cn) as number) - t) / 1000);
    const missed = written.size - lags.length;

    // One real rsync pass of the same dir, the cost a cron job adds to its wait for the next minute.
    const copy = join(dir, "cron-copy");
    mkdirSync(copy, { recursive: true });
    const passes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await execa("rsync", ["-aH", "--delete", "--checksum", "--", `${ca1}/`, `${copy}/`]);
      passes.push((performance.now() - t) / 1000);
    }
    const pass = percentile(passes, 50);
    const s = summarize(lags);
    // A signing lands uniformly within the cron period: the wait for the next run is U(0, 60 s).
    const cron = { p50: 0.5 * CRON_PERIOD_S + pass, p99: 0.99 * CRON_PERIOD_S + pass };
    const rows: Row[] = [
      {
        scenario: "3 sync lag", metric: "lag p50", unit: "s", values: { "puppet-ha": round(s.p50, 3), "cron rsync": round(cron.p50, 1) },
        ratios: { "cron/puppet-ha": round(cron.p50 / s.p50, 0) }, target: { text: "puppet-ha ≤ 1 s", pass: s.p50 <= 1 && missed === 0 },
      },
      {
        scenario: "3 sync lag", metric: "lag p99", unit: "s", values: { "puppet-ha": round(s.p99, 3), "cron rsync": round(cron.p99, 1) },
        ratios: { "cron/puppet-ha": round(cron.p99 / s.p99, 0) }, target: { text: "puppet-ha ≤ 2 s", pass: s.p99 <= 2 && missed === 0 },
      },
    ];
    return {
      name: "sync", rows,
      data: { signings: count, intervalMs, lagsS: lags, missed, puppetHa: s, cronAnalytic: cron, rsyncPassS: passes },
      notes: [
        `${count} signings, one every ${intervalMs} ms, on the active cadir; puppet-ha sync in watch mode (debounce 100 ms), checked every 10 ms on the standby${missed ? `; ${missed} never arrived within 15 s` : ""}.`,
        `cron rsync is ANALYTIC, not simulated: a signing waits U(0, ${CRON_PERIOD_S} s) for the next cron run (p50 ${CRON_PERIOD_S / 2} s, p99 ${0.99 * CRON_PERIOD_S} s) plus one measured rsync -aH --delete --checksum pass of the same dir (${round(pass * 1000, 1)} ms).`,
      ],
    };
  } finally {
    await agent?.stop();
    await new Promise((r) => arbiter.close(r));
  }
}
