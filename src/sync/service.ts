// The sync service: one worker per destination cadir, fed by the schedule, the watch of a local
// active cadir, requests (proxy, API) and `--once`. A library: `puppet-ha sync` runs it alone, and
// `puppet-ha proxy` can embed it with its arbiter in process.
import { EventEmitter } from "node:events";
import { PuppetHaError } from "../errors.js";
import { silentLogger, type Logger } from "../log.js";
import type { ArbiterSource, ArbiterState } from "./arbiter.js";
import type { SyncConfig } from "./config.js";
import { ArbiterError, CadirError, DivergenceError, FencingError } from "./errors.js";
import { fencePass, fenceRecheck } from "./fence.js";
import { runPass } from "./pass.js";
import { cancelledPass, errorView, logLine, type PassReport } from "./pass-report.js";
import { parseLocation } from "./rsync.js";
import { Journal } from "./journal.js";
import { workerScanner, type Scanner } from "./scanner.js";
import { advanceSerialFile, type SerialAdvance } from "./serial.js";
import { DestinationTracker, type DestinationStatus, type SyncState } from "./status.js";
import { ActiveWatch, debouncer, inotifyCadir, nodeCron, systemClock, type Clock, type CronFactory, type Stoppable, type WatchFactory } from "./triggers.js";
import { VerificationLog, VERIFY_SCHEDULE_REASON, wantsFullVerification } from "./verification.js";
import { PassWorker } from "./worker.js";

export type { PassReport } from "./pass-report.js";
export { FULL_VERIFY_REASON, ONCE_FULL_EVERY_MS } from "./verification.js";

export interface SyncStatus {
  epoch: number | null;
  active: string | null;
  destinations: Record<string, DestinationStatus>;
}

export interface SyncServiceOptions {
  config: SyncConfig;
  arbiter: ArbiterSource;
  log?: Logger;
  clock?: Clock;
  cron?: CronFactory;
  watch?: WatchFactory;
  /** Environment for rsync (tests put fake executables first on PATH). */
  env?: NodeJS.ProcessEnv;
  /** Where hashing and parsing run (default: a worker thread, off the event loop). */
  scanner?: Scanner;
}

export interface SyncService {
  readonly destinations: readonly string[];
  /** Emits "pass" (PassReport) after every pass and "change" (path) for every change watched. */
  readonly events: EventEmitter;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** One pass for each destination (or one), starting after this call; merged with other triggers. */
  requestPass(destination?: string, reason?: string): Promise<PassReport[]>;
  status(): SyncStatus;
  /** The proxy tells the latest epoch it decided; older passes are refused from now on. */
  noteEpoch(epoch: number): void;
  /** Failback, step 1: a pass into `destination` for epoch E; resolves when in sync at E, else throws. */
  pullNow(destination: string, epoch: number): Promise<PassReport>;
  /** Failback, during the write hold: a final guarded pull for epoch E and its check; throws unless in sync. */
  finalPull(destination: string, epoch: number): Promise<PassReport>;
  /** Promotion: advance the promoted CA's serial by `gap`, once per epoch. Local cadirs only. */
  advanceSerial(cadir: string, gap: bigint | number, epoch: number): Promise<SerialAdvance>;
}

/** The destinations this agent writes: sync.writeInto, else every local cadir. */
export function destinationsOf(cfg: Pick<SyncConfig, "cadirs" | "writeInto">): string[] {
  return cfg.writeInto ? [...cfg.writeInto] : Object.keys(cfg.cadirs).filter((n) => parseLocation(cfg.cadirs[n] as string).kind === "local");
}

/** How soon a pass that failed (rsync error, incomplete source, unreachable arbiter) runs again. */
export const RETRY_AFTER_ERROR_MS = 2000;

/** How often the manifest caches are written to disk (and at stop): a restart then hashes little. */
export const SAVE_CACHE_EVERY_MS = 30_000;

export function createSyncService(opts: SyncServiceOptions): SyncService {
  const cfg = opts.config;
  const log = (opts.log ?? silentLogger()).child({ part: "sync" });
  const clock = opts.clock ?? systemClock;
  const events = new EventEmitter();
  const destinations = destinationsOf(cfg);
  const trackers = new Map(destinations.map((d) => [d, new DestinationTracker(d, cfg.cadirs[d] as string)]));
  const wantEpoch = new Map<string, number>();
  const advanced = new Map<string, SerialAdvance>();
  const scanner = opts.scanner ?? workerScanner();
  const journals = new Map<string, Journal>();
  const journal = (dir: string) => {
    let j = journals.get(dir);
    if (!j) journals.set(dir, (j = new Journal(dir)));
    return j;
  };
  const verified = new VerificationLog(cfg.workDir);
  let savedAt = clock.now();
  let latestEpoch: number | undefined;
  let active: string | null = null;
  let cronTasks: Stoppable[] = [];
  let started = false;
  let stopped = false;
  const debounce = debouncer(clock, cfg.debounce, Math.max(cfg.debounce, 1000), () => void requestAll("watch"));
  const watch = new ActiveWatch(opts.watch ?? inotifyCadir, (path) => {
    const now = clock.now();
    for (const t of trackers.values()) if (!t.isActive) t.changeSeen(now);
    events.emit("change", path);
    debounce.poke();
  }, () => void requestAll("watch-ready"));

  const workers = new Map(destinations.map((d) => [d, new PassWorker<PassReport>((reasons) => passFor(d, reasons), () => cancelledPass(d))]));

  function learn(state: ArbiterState): void {
    if (latestEpoch === undefined || state.epoch >= latestEpoch) {
      latestEpoch = state.epoch;
      active = state.active;
      if (started) retarget();
    }
  }

  async function passFor(dest: string, reasons: readonly string[]): Promise<PassReport> {
    const tracker = trackers.get(dest) as DestinationTracker;
    const t0 = clock.now();
    tracker.passStarted(t0);
    let state: ArbiterState | undefined;
    let bytes = 0;
    let outcomeView: Pick<PassReport, "manifest" | "files" | "hashed" | "hashedBytes"> | undefined;
    let full: boolean | undefined;
    try {
      state = await opts.arbiter.current();
      if (!(state.active in cfg.cadirs)) throw new ArbiterError(`the active CA "${state.active}" is not one of sync.cadirs`);
      const want = wantEpoch.get(dest);
      const decision = fencePass(latestEpoch, state, dest, want);
      if (latestEpoch === undefined || state.epoch >= latestEpoch) {
        tracker.epoch = state.epoch;
        tracker.source = state.active;
        tracker.isActive = state.active === dest;
        learn(state);
      }
      if (!decision.ok) {
        if (state.active === dest && want === undefined) return finish("skipped");
        throw new FencingError(decision.reason);
      }
      const actingFor = state;
      full = wantsFullVerification(reasons, state.epoch, await verified.lastOf(dest), clock.now());
      const outcome = await runPass({
        scanner,
        // The final pull of a failback (CA writes held) stats every file: it must not depend on
        // inotify having delivered the last write's event, whatever the odds.
        ...(cfg.watch && !reasons.some((r) => r.startsWith("final-pull")) ? { journal } : {}),
        full,
        destination: dest,
        source: state.active,
        epoch: state.epoch,
        cadirs: cfg.cadirs,
        backupDir: cfg.backupDir,
        workDir: cfg.workDir,
        maxDeletes: cfg.maxDeletes,
        ssh: cfg.rsync.ssh,
        rsync: { command: cfg.rsync.command, timeoutMs: cfg.rsync.timeout, ...(opts.env ? { env: opts.env } : {}) },
        log,
        now: () => clock.now(),
        onBehind: () => tracker.behind(),
        recheck: async () => {
          const d = fenceRecheck(actingFor, await opts.arbiter.current(), dest);
          if (!d.ok) throw new FencingError(d.reason);
          if (latestEpoch !== undefined && actingFor.epoch < latestEpoch) throw new FencingError(`refused: epoch ${actingFor.epoch} is older than the latest known ${latestEpoch}`);
        },
      });
      bytes = outcome.bytes;
      outcomeView = { manifest: outcome.digest, files: outcome.files, hashed: outcome.hashed, hashedBytes: outcome.hashedBytes };
      if (full) {
        await verified.record(dest, { epoch: state.epoch, at: clock.now() });
        tracker.fullVerified(clock.now(), { durationMs: clock.now() - t0, files: outcome.files, hashed: outcome.hashed, hashedBytes: outcome.hashedBytes });
      }
      if (full || clock.now() - savedAt >= SAVE_CACHE_EVERY_MS) {
        savedAt = clock.now();
        void scanner.call("save").catch((err: unknown) => log.warn({ err: (err as Error).message }, "manifest cache not saved"));
      }
      return finish("in-sync");
    } catch (err) {
      const e = err instanceof PuppetHaError ? err : new CadirError(`unexpected: ${(err as Error).message}`, { cause: err });
      return finish(e instanceof DivergenceError ? "diverged" : "error", e);
    }

    function finish(result: PassReport["result"] & LastResult, error?: PuppetHaError): PassReport {
      const now = clock.now();
      const report: PassReport = {
        destination: dest, ok: !error, result, epoch: state?.epoch ?? null, source: state?.active ?? null,
        durationMs: now - t0, bytes, reasons: [...reasons],
        ...(outcomeView ?? {}),
        ...(full !== undefined ? { full } : {}),
        ...(error ? { error } : {}),
        ...(error instanceof DivergenceError ? { differences: error.differences } : {}),
      };
      tracker.passEnded(now, { result, bytes, epoch: report.epoch, reasons: report.reasons },
        error ? errorView(error, now) : undefined,
        error instanceof DivergenceError ? { differences: [...error.differences], savedTo: error.savedTo ?? null } : undefined);
      const line = logLine(report);
      if (error) log.warn({ ...line, code: error.code, err: error.message }, "sync pass failed");
      // A failed pass (not a divergence: that waits for an operator) is retried soon rather than
      // at the next cron tick, so a standby does not stay behind for a minute after a burst.
      if (result === "error" && started) scheduleRetry(dest);
      else log.info(line, "sync pass");
      events.emit("pass", report);
      return report;
    }
  }

  const retries = new Map<string, unknown>();
  function scheduleRetry(dest: string): void {
    if (retries.has(dest)) return;
    retries.set(dest, clock.setTimeout(() => {
      retries.delete(dest);
      if (started) void workerOf(dest).request("retry after error");
    }, RETRY_AFTER_ERROR_MS));
  }

  function requestAll(reason: string): Promise<PassReport[]> {
    return Promise.all(destinations.map((d) => (workers.get(d) as PassWorker<PassReport>).request(reason)));
  }

  /** Point the watch at the active cadir when it is local (and at nothing otherwise). */
  function retarget(): void {
    if (!cfg.watch || !active) return;
    const loc = parseLocation(cfg.cadirs[active] ?? "");
    const dir = loc.kind === "local" ? loc.path : undefined;
    if (watch.point(dir) && dir) log.info({ dir, active }, "watching the active cadir");
  }

  const service: SyncService = {
    destinations,
    events,
    async start() {
      started = true;
      try {
        learn(await opts.arbiter.current());
      } catch (err) {
        log.warn({ err: (err as Error).message }, "arbiter not reachable at start; passes will retry");
      }
      retarget();
      void requestAll("start");
      const cron = opts.cron ?? nodeCron;
      cronTasks = [cron(cfg.schedule, () => void requestAll("schedule")), cron(cfg.verify, () => void requestAll(VERIFY_SCHEDULE_REASON))];
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      started = false;
      for (const t of retries.values()) clock.clearTimeout(t);
      retries.clear();
      debounce.cancel();
      for (const c of cronTasks) await c.stop();
      await watch.stop();
      await Promise.all([...workers.values()].map((w) => w.close()));
      await scanner.call("save").catch((err: unknown) => log.warn({ err: (err as Error).message }, "manifest cache not saved"));
      await scanner.close();
      for (const j of journals.values()) j.stop();
      journals.clear();
    },
    async requestPass(destination, reason = "request") {
      if (destination === undefined) return requestAll(reason);
      return [await workerOf(destination).request(reason)];
    },
    status() {
      const now = clock.now();
      return {
        epoch: latestEpoch ?? null,
        active,
        destinations: Object.fromEntries([...trackers].map(([d, t]) => [d, t.view(now)])),
      };
    },
    noteEpoch(epoch) {
      if (latestEpoch === undefined || epoch > latestEpoch) latestEpoch = epoch;
    },
    async pullNow(destination, epoch) {
      return pullFor(destination, epoch, "pull-now");
    },
    async finalPull(destination, epoch) {
      return pullFor(destination, epoch, "final-pull");
    },
    async advanceSerial(cadir, gap, epoch) {
      const prev = advanced.get(cadir);
      if (prev && prev.epoch === epoch) return prev; // asked twice for one promotion: one gap only
      if (latestEpoch !== undefined && epoch < latestEpoch) throw new FencingError(`refused: serial advance for epoch ${epoch}, older than the latest known ${latestEpoch}`);
      const text = cfg.cadirs[cadir];
      if (text === undefined) throw new CadirError(`"${cadir}" is not one of sync.cadirs`);
      const loc = parseLocation(text);
      if (loc.kind !== "local") throw new CadirError(`serial advance on a remote cadir (${text}) is not supported; run it on that host`);
      service.noteEpoch(epoch);
      const done = await advanceSerialFile(loc.path, gap, epoch);
      advanced.set(cadir, done);
      log.warn({ cadir, epoch, before: done.before, after: done.after }, "serial advanced on promotion");
      return done;
    },
  };

  function workerOf(destination: string): PassWorker<PassReport> {
    const w = workers.get(destination);
    if (!w) throw new CadirError(`"${destination}" is not a destination of this sync agent (${destinations.join(", ")})`);
    return w;
  }

  async function pullFor(destination: string, epoch: number, reason: string): Promise<PassReport> {
    const w = workerOf(destination);
    if (latestEpoch !== undefined && epoch < latestEpoch) throw new FencingError(`refused: ${reason} for epoch ${epoch}, older than the latest known ${latestEpoch}`);
    service.noteEpoch(epoch);
    wantEpoch.set(destination, epoch);
    try {
      const report = await w.request(`${reason}@${epoch}`);
      if (!report.ok) throw report.error ?? new CadirError(`${reason} for ${destination} at epoch ${epoch} did not run`);
      return report;
    } finally {
      if (wantEpoch.get(destination) === epoch) wantEpoch.delete(destination);
    }
  }

  return service;
}

type LastResult = SyncState | "skipped";
