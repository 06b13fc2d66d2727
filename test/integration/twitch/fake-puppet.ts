// A fake `puppet` executable for twitch tests: a small sh script in a temp dir that records
// each invocation's argv, writes the run lock with its PID while it runs, can be held until the
// test releases it, copies a prepared last_run_summary.yaml, and exits with a chosen code.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";

export interface FakePuppet {
  dir: string;
  bin: string;
  runLockFile: string;
  disabledLockFile: string;
  lastRunSummary: string;
  /** How many agent runs started so far. */
  calls(): number;
  /** The argv of every agent run, in start order. */
  argvs(): string[][];
  /** Make every following run wait until release(). */
  hold(): void;
  release(): void;
  exitWith(code: number, output?: string): void;
  /** The summary the next runs write. */
  summary(yaml: string): void;
  /** Resolves when `n` held runs have started (have written their lock). */
  started(n?: number): Promise<void>;
}

const SCRIPT = (d: string) => `#!/bin/sh
D='${d}'
if [ "$1" = "config" ]; then
  echo "$$" >> "$D/config-calls"
  printf '%s\\n' "$@" > "$D/config-argv"
  if [ -e "$D/config-fail" ]; then echo "Error: Could not parse configuration" >&2; exit 1; fi
  echo "agent_catalog_run_lockfile = $D/state/agent_catalog_run.lock"
  echo "agent_disabled_lockfile = $D/state/agent_disabled.lock"
  echo "lastrunfile = $D/public/last_run_summary.yaml"
  exit 0
fi
echo "$$" >> "$D/calls"
printf '%s\\n' "$@" > "$D/argv.$(wc -l < "$D/calls" | tr -d ' ')"
echo "$$" > "$D/state/agent_catalog_run.lock"
if [ -e "$D/hold" ]; then
  : > "$D/started.$$"
  while [ ! -e "$D/release" ] && [ -d "$D" ]; do sleep 0.01; done
fi
if [ -e "$D/summary.yaml" ]; then sed "s/last_run: NOW/last_run: $(date +%s)/" "$D/summary.yaml" > "$D/public/last_run_summary.yaml"; fi
if [ -e "$D/output" ]; then cat "$D/output"; fi
code=0
if [ -e "$D/exitcode" ]; then code=$(cat "$D/exitcode"); fi
rm -f "$D/state/agent_catalog_run.lock"
exit $code
`;

export function fakePuppet(t: TestContext | { after(fn: () => void): void }): FakePuppet {
  const dir = mkdtempSync(join(tmpdir(), "twitch-fake-puppet-"));
  // Removing the dir also ends a held run (its wait loop stops when the dir is gone).
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "bin"));
  mkdirSync(join(dir, "state"));
  mkdirSync(join(dir, "public"));
  const bin = join(dir, "bin", "puppet");
  writeFileSync(bin, SCRIPT(dir));
  chmodSync(bin, 0o755);
  const lines = (f: string) => (existsSync(f) ? readFileSync(f, "utf8").split("\n").filter((l) => l !== "") : []);
  const calls = () => lines(join(dir, "calls")).length;
  return {
    dir,
    bin,
    runLockFile: join(dir, "state", "agent_catalog_run.lock"),
    disabledLockFile: join(dir, "state", "agent_disabled.lock"),
    lastRunSummary: join(dir, "public", "last_run_summary.yaml"),
    calls,
    argvs: () => Array.from({ length: calls() }, (_, i) => lines(join(dir, `argv.${i + 1}`))),
    hold: () => {
      rmSync(join(dir, "release"), { force: true });
      writeFileSync(join(dir, "hold"), "");
    },
    release: () => {
      if (existsSync(dir)) writeFileSync(join(dir, "release"), "");
    },
    exitWith: (code, output) => {
      writeFileSync(join(dir, "exitcode"), String(code));
      if (output !== undefined) writeFileSync(join(dir, "output"), output);
    },
    summary: (yaml) => writeFileSync(join(dir, "summary.yaml"), yaml),
    started: (n = 1) =>
      new Promise<void>((resolve, reject) => {
        const count = () => readdirSync(dir).filter((f) => f.startsWith("started.")).length;
        if (count() >= n) return resolve();
        const deadline = setTimeout(() => {
          w.close();
          reject(new Error(`fake puppet: ${n} run(s) did not start within 10s`));
        }, 10_000);
        const check = () => {
          if (count() >= n) {
            clearTimeout(deadline);
            w.close();
            resolve();
          }
        };
        const w = watch(dir, check);
        // A run that started between the first count and the watch sends no further event.
        check();
      }),
  };
}

/** A last_run_summary.yaml shaped like the one puppet-agent 7 writes (last_run: the run's end by default). */
export function summaryYaml(o: { changed?: number; failed?: number; lastRun?: number; total?: number } = {}): string {
  const changed = o.changed ?? 2;
  const failed = o.failed ?? 0;
  return `---
version:
  config: 1763715600
  puppet: 7.23.0
resources:
  changed: ${changed}
  corrective_change: 0
  failed: ${failed}
  failed_to_restart: 0
  out_of_sync: ${changed + failed}
  restarted: 0
  scheduled: 0
  skipped: 0
  total: 9
time:
  catalog_application: 0.0123
  config_retrieval: 0.41
  convert_catalog: 0.002
  fact_generation: 0.3
  file: 0.004
  filebucket: 0.0001
  node_retrieval: 0.05
  notify: 0.0007
  plugin_sync: 0.08
  schedule: 0.0003
  transaction_evaluation: 0.01
  total: ${o.total ?? 1.52}
  last_run: ${o.lastRun ?? "NOW"}
changes:
  total: ${changed}
events:
  failure: ${failed}
  success: ${changed}
  total: ${changed + failed}
`;
}
