// Scenario 5: twitch. Idle RSS of `puppet-ha twitch`, trigger latency (POST /puppet/twitch with a
// fake puppet that exits at once), and `puppet-ha fleet twitch --wait -j 100` over 1,000 simulated
// nodes (1,000 listeners on 10 loopback addresses in one process, each run taking 1 s).
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import type { BenchContext, Row, ScenarioResult } from "../lib/context.js";
import { puppetHaCli, repoRoot } from "../lib/frontends.js";
import { freePorts, get, sleep, waitUntil } from "../lib/net.js";
import { rssMb, start, type Proc } from "../lib/procs.js";
import { round, summarize } from "../lib/stats.js";
import { stringify } from "yaml";

const NODES = 1000;
const CONCURRENCY = 100;
const RUN_MS = 1000;

export async function twitch(ctx: BenchContext): Promise<ScenarioResult> {
  const dir = join(ctx.dir, "twitch");
  mkdirSync(dir, { recursive: true });
  const [node, pre] = await puppetHaCli(ctx.log);
  const procs: Proc[] = [];
  try {
    // --- the node-side service
    const fakePuppet = join(dir, "fake-puppet");
    writeFileSync(fakePuppet, "#!/bin/sh\nexit 0\n");
    chmodSync(fakePuppet, 0o755);
    const [port] = await freePorts(1) as [number];
    const cfg = join(dir, "twitch.yaml");
    writeFileSync(cfg, stringify({
      twitch: {
        listen: `127.0.0.1:${port}`,
        puppet: { command: [fakePuppet], runLockFile: join(dir, "run.lock"), disabledLockFile: join(dir, "disabled.lock"), lastRunSummary: join(dir, "last_run_summary.yaml") },
        rateLimit: { max: 1_000_000, per: "1s" },
      },
      log: { level: "warn" },
    }));
    const tw = start("twitch", node, [...pre, "twitch", "-c", cfg], { cpu: ctx.cpu.frontEnd, cwd: repoRoot, logFile: join(dir, "twitch.log") });
    procs.push(tw);
    const base = `http://127.0.0.1:${port}`;
    await waitUntil("twitch", async () => (await get(`${base}/puppet/status`, { timeoutMs: 1000 })).status === 200, 30_000, () => (tw.alive() ? undefined : "exited"));
    await sleep(ctx.quick ? 1000 : 3000);
    const idleRss = rssMb(tw.pid);

    const n = ctx.quick ? 50 : 300;
    const trigger: number[] = [];
    const roundTrip: number[] = [];
    const idle = () => waitUntil("run finished", async () => {
      const r = await get(`${base}/puppet/status`, { headers: { accept: "application/json" }, timeoutMs: 2000 });
      return !(JSON.parse(r.body) as { running: boolean }).running;
    }, 10_000);
    for (let i = 0; i < n; i++) {
      let t = performance.now();
      const a = await get(`${base}/puppet/twitch`, { method: "POST", timeoutMs: 5000 });
      if (a.status !== 202) throw new Error(`twitch answered ${a.status}: ${a.body}`);
      trigger.push(performance.now() - t);
      await idle();
      t = performance.now();
      const b = await get(`${base}/puppet/twitch?async=false`, { method: "POST", timeoutMs: 10_000 });
      if (b.status !== 200) throw new Error(`twitch async=false answered ${b.status}: ${b.body}`);
      roundTrip.push(performance.now() - t);
    }
    const loadedRss = rssMb(tw.pid);
    await tw.stop();

    // --- the fleet
    const addrFile = join(dir, "addresses");
    writeFileSync(addrFile, Array.from({ length: NODES }, (_, i) => `127.0.1.${(i % 10) + 1}`).join("\n") + "\n");
    const targets = join(dir, "targets");
    const fleet = start("fake-fleet", process.execPath, [ctx.fakes.fleet, String(RUN_MS), addrFile, targets], { cpu: ctx.cpu.load, logFile: join(dir, "fleet.log") });
    procs.push(fleet);
    await waitUntil("fake fleet", () => {
      try {
        return readFileSync(targets, "utf8").split("\n").filter(Boolean).length === NODES;
      } catch {
        return false;
      }
    }, 30_000, () => (fleet.alive() ? undefined : "exited"));
    const t0 = performance.now();
    const r = await execa(node, [...pre, "fleet", "twitch", "-t", targets, "--wait", "-j", String(CONCURRENCY), "--json", "--timeout", "30s", "--no-progress"], {
      cwd: repoRoot, reject: false, timeout: 120_000,
    });
    const fleetS = (performance.now() - t0) / 1000;
    let ok = 0;
    try {
      const parsed = JSON.parse(r.stdout) as { results?: { ok: boolean }[] } | { ok: boolean }[];
      const list = Array.isArray(parsed) ? parsed : parsed.results ?? [];
      ok = list.filter((x) => x.ok).length;
    } catch {
      ok = NaN;
    }
    const ts = summarize(trigger);
    const rt = summarize(roundTrip);
    const rows: Row[] = [
      { scenario: "5 twitch", metric: "idle RSS", unit: "MB", values: { "puppet-ha": round(idleRss, 1) }, target: { text: "≤ 60 MB", pass: idleRss <= 60 } },
      { scenario: "5 twitch", metric: `RSS after ${2 * n} runs`, unit: "MB", values: { "puppet-ha": round(loadedRss, 1) } },
      { scenario: "5 twitch", metric: "trigger latency p50 (POST → 202)", unit: "ms", values: { "puppet-ha": round(ts.p50) } },
      { scenario: "5 twitch", metric: "trigger latency p99 (POST → 202)", unit: "ms", values: { "puppet-ha": round(ts.p99) }, target: { text: "< 20 ms", pass: ts.p99 < 20 } },
      { scenario: "5 twitch", metric: "async=false round trip p50 / p99 (fake puppet exits at once)", unit: "ms", values: { "puppet-ha": round(rt.p50) }, note: `p99 ${round(rt.p99)} ms` },
      {
        scenario: "5 twitch", metric: `fleet: ${NODES} nodes, ${RUN_MS / 1000} s runs, -j ${CONCURRENCY}`, unit: "s", values: { "puppet-ha": round(fleetS) },
        target: { text: "< 15 s, every node ok", pass: fleetS < 15 && r.exitCode === 0 }, note: `${ok} ok, exit code ${r.exitCode}; ideal ${(NODES / CONCURRENCY) * (RUN_MS / 1000)} s`,
      },
    ];
    return {
      name: "twitch", rows,
      data: { idleRssMb: idleRss, loadedRssMb: loadedRss, trigger: ts, asyncFalse: rt, fleet: { seconds: fleetS, ok, exitCode: r.exitCode, stderr: r.stderr.slice(0, 500) } },
      notes: [`trigger latency: ${n} sequential POSTs on fresh connections, each after the previous run finished; twitch pinned to CPU ${ctx.cpu.frontEnd}.`],
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
}
