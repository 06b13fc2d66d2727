// Shared set-up for the sync integration tests: temp cadirs, a config, a service with an
// in-memory arbiter and a hand-fired "cron", fake executables first on PATH, and helpers that
// wait for events with a deadline instead of sleeping.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { staticArbiter } from "../../../src/sync/arbiter.js";
import { isTransient } from "../../../src/sync/cadir.js";
import { syncSection, type SyncConfig } from "../../../src/sync/config.js";
import { createSyncService, type PassReport, type SyncService } from "../../../src/sync/service.js";
import type { Scanner } from "../../../src/sync/scanner.js";
import type { CronFactory } from "../../../src/sync/triggers.js";
import { FakeCadir } from "../../helpers/cadir.js";
import { createTestCa } from "../../helpers/pki.js";

/** One CA (key generation is the slow part), shared by every test of a file. */
let sharedCa: ReturnType<typeof createTestCa> | undefined;
export function testCa() {
  sharedCa ??= createTestCa("sync-integration");
  return sharedCa;
}

export interface Harness {
  root: string;
  ca1: string;
  ca2: string;
  backupDir: string;
  bin: string;
  env: NodeJS.ProcessEnv;
  config: SyncConfig;
  arbiter: ReturnType<typeof staticArbiter>;
  service: SyncService;
  /** Fire the schedule by hand. */
  /** Fire the `sync.schedule` cron (incremental passes). */
  cron: () => void;
  /** Fire the `sync.verify` cron (the full verification). */
  verifyCron: () => void;
  source: FakeCadir;
}

export function makeHarness(t: TestContext, opts: { config?: Record<string, unknown>; watch?: boolean; fill?: boolean; scanner?: Scanner } = {}): Harness {
  const root = mkdtempSync(join(tmpdir(), "puppet-ha-sync-"));
  // The service (created below) stops first: its last cache save writes under root.
  const live: { service?: SyncService } = {};
  t.after(async () => {
    await live.service?.stop();
    rmSync(root, { recursive: true, force: true });
  });
  const ca1 = join(root, "ca1");
  const ca2 = join(root, "ca2");
  const backupDir = join(root, "backups");
  const bin = join(root, "bin");
  mkdirSync(bin);
  const source = new FakeCadir(testCa());
  source.sign("node1");
  source.writeTo(ca1);
  if (opts.fill) source.writeTo(ca2);
  const config = syncSection.parse({
    cadirs: { ca1, ca2 },
    writeInto: ["ca2"],
    watch: opts.watch ?? false,
    debounce: "50ms",
    backupDir,
    workDir: join(root, "work"),
    rsync: { timeout: "20s" },
    ...opts.config,
  });
  const arbiter = staticArbiter({ epoch: 1, active: "ca1" });
  const fired = new Map<string, () => void>();
  const cron: CronFactory = (expr, fn) => {
    fired.set(expr, fn);
    return { stop: () => undefined };
  };
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` };
  const service = createSyncService({ config, arbiter, env, cron, ...(opts.scanner ? { scanner: opts.scanner } : {}) });
  live.service = service;
  return { root, ca1, ca2, backupDir, bin, env, config, arbiter, service, cron: () => fired.get(config.schedule)?.(), verifyCron: () => fired.get(config.verify)?.(), source };
}

/** A fake executable first on PATH (a small sh script). */
export function fakeExecutable(bin: string, name: string, script: string): string {
  const p = join(bin, name);
  writeFileSync(p, `#!/bin/sh\n${script}\n`);
  chmodSync(p, 0o755);
  return p;
}

/** The next "pass" event matching `pred`, or a rejection after `ms`. */
export function nextPass(service: SyncService, pred: (r: PassReport) => boolean, ms: number): Promise<PassReport> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      service.events.off("pass", on);
      reject(new Error(`no matching pass within ${ms} ms`));
    }, ms);
    const on = (r: PassReport) => {
      if (!pred(r)) return;
      clearTimeout(timer);
      service.events.off("pass", on);
      resolve(r);
    };
    service.events.on("pass", on);
  });
}

/** Every regular file of a local dir (rsync's transient files left out) as path → content. */
export function filesOf(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const p = join(e.parentPath, e.name).slice(dir.length + 1);
    if (e.isFile() && !isTransient(p)) out.set(p, readFileSync(join(dir, p)));
  }
  return out;
}

/** Paths that differ between two local cadirs (empty: equal file for file). */
export async function differingPaths(a: string, b: string): Promise<string[]> {
  const [x, y] = [filesOf(a), filesOf(b)];
  const out = [...x].filter(([p, d]) => !y.get(p)?.equals(d)).map(([p]) => p);
  for (const p of y.keys()) if (!x.has(p)) out.push(p);
  return Promise.resolve(out.sort());
}

/** Every file of a local dir as path → content, for "untouched" checks. */
export async function contentsOf(dir: string): Promise<Map<string, string>> {
  return Promise.resolve(new Map([...filesOf(dir)].map(([p, b]) => [p, b.toString("base64")])));
}

/** The real rsync's path (fake ones placed first on PATH call it). */
export function realRsync(): string {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const p = join(dir, "rsync");
    if (dir && existsSync(p)) return p;
  }
  throw new Error("rsync is not installed");
}

/** Lines that make a fake rsync do something else for the copy only (the dry-run still works). */
export function onCopy(action: string): string {
  return `case " $* " in *" --delay-updates "*) ${action} ;; esac\nexec ${realRsync()} "$@"`;
}
