// `npm run bench [-- --quick] [-- --only <scenario>[,<scenario>]] [-- --with-puppetserver]`:
// puppet-ha against haproxy and nginx on the same backends in the same run; prints a Markdown
// table, writes bench/results/latest.json and bench/results/failover.svg. Every process it starts
// is stopped again, also on Ctrl-C and on failure.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { execa } from "execa";
import type { BenchContext, ScenarioResult } from "./lib/context.js";
import { writeFakes } from "./lib/fakes.js";
import { puppetHaCli, repoRoot } from "./lib/frontends.js";
import { createBenchPki } from "./lib/pki.js";
import { installTeardown, stopAll } from "./lib/procs.js";
import { markdown, writeJson } from "./lib/report.js";
import { agents } from "./scenarios/agents.js";
import { cluster } from "./scenarios/cluster.js";
import { failover } from "./scenarios/failover.js";
import { syncLag } from "./scenarios/sync-lag.js";
import { syncScale } from "./scenarios/sync-scale.js";
import { throughput } from "./scenarios/throughput.js";
import { workers } from "./scenarios/workers.js";
import { twitch } from "./scenarios/twitch.js";
import { fleetBroker } from "./scenarios/fleet-broker.js";

const SCENARIOS: Record<string, (ctx: BenchContext) => Promise<ScenarioResult>> = {
  throughput, workers, failover, cluster, sync: syncLag, "sync-scale": syncScale, agents, twitch, "fleet-broker": fleetBroker,
};
const ORDER = ["throughput", "workers", "failover", "cluster", "sync", "sync-scale", "twitch", "fleet-broker", "agents"];

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      "with-puppetserver": { type: "boolean", default: false },
      "from-source": { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`usage: npm run bench -- [--quick] [--only ${ORDER.join(",")}] [--with-puppetserver] [--from-source] [--keep]
  --quick              a few seconds per scenario (development; figures are rough)
  --only LIST          run only these scenarios (comma list); merged into an existing latest.json
  --with-puppetserver  also scenario "agents": real puppet agent runs through puppet-ha vs haproxy (4 JVMs, minutes)
  --from-source        run puppet-ha through tsx instead of a private compiled copy
  --keep               keep the scratch dir (configs and logs of every process)
`);
    return 0;
  }
  const only = values.only?.split(",").map((s) => s.trim()).filter(Boolean);
  for (const s of only ?? []) if (!(s in SCENARIOS)) throw new Error(`unknown scenario "${s}" (one of ${ORDER.join(", ")})`);
  const chosen = ORDER.filter((s) => (only ? only.includes(s) : s !== "agents" || values["with-puppetserver"]));
  // The reference systems and the load generator come from Debian; the repo's install script
  // skips what is already there (and says what to run when not root).
  await execa("bash", [join(repoRoot, "scripts", "install-system-deps.sh"), "haproxy", "nginx", "wrk"], { stdio: "inherit" });
  installTeardown();
  const started = new Date();
  const t0 = Date.now();
  const log = (m: string) => process.stderr.write(`[bench +${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}\n`);
  const dir = mkdtempSync(join(tmpdir(), "puppet-ha-bench-"));
  const ctx: BenchContext = {
    dir, quick: values.quick, cpu: { frontEnd: "0", load: "1" }, log,
    pki: createBenchPki(join(dir, "pki")), fakes: writeFakes(dir),
  };
  log(`scratch dir ${dir}; building puppet-ha`);
  await puppetHaCli(log, values["from-source"]);
  const results: ScenarioResult[] = [];
  let failed = false;
  try {
    for (const name of chosen) {
      log(`scenario ${name}`);
      try {
        results.push(await (SCENARIOS[name] as (c: BenchContext) => Promise<ScenarioResult>)(ctx));
      } catch (err) {
        failed = true;
        log(`scenario ${name} failed: ${(err as Error).stack ?? String(err)}`);
        results.push({ name, rows: [], data: { error: String(err) }, notes: [`FAILED to run: ${(err as Error).message}`] });
      }
      await stopAll();
    }
  } finally {
    await stopAll();
    if (!values.keep && !failed) rmSync(dir, { recursive: true, force: true });
    else log(`kept ${dir}`);
  }
  const mode = values.quick ? "quick (rough figures)" : "full";
  const resultsDir = join(repoRoot, "bench", "results");
  mkdirSync(resultsDir, { recursive: true });
  writeJson(join(resultsDir, "latest.json"), results, mode, started, only !== undefined);
  for (const r of results) for (const [name, text] of Object.entries(r.files ?? {})) writeFileSync(join(resultsDir, name), text);
  process.stdout.write(markdown(results, mode) + "\n");
  log(`wrote ${join(resultsDir, "latest.json")}`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    void stopAll().finally(() => process.exit(1));
  },
);
