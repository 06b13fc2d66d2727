// Guarded failback, the driver: pull the active cadir onto the primary until it is in sync at the
// current epoch (reads and writes flow), then hold CA writes only for the final pull, its check
// and the switch. Any failure aborts: the current active stays and gets the held writes.
import { PuppetHaError } from "../../errors.js";
import { AdminConflictError, AdminUnavailableError } from "../../health/admin-errors.js";
import { EventKind, type EventLog } from "../../health/events.js";
import type { Logger } from "../../log.js";
import { DivergenceError, FencingError } from "../../sync/errors.js";
import type { Arbiter } from "./arbiter.js";
import type { Scheduler } from "../scheduler.js";
import { autoFailback, failbackRefusal, failbackView, switchRefusal, type FailbackPolicy, type FailbackState } from "./failback.js";
import type { PullResult, SyncPeer } from "./sync-peer.js";

export interface FailbackResult {
  from: string;
  to: string;
  epoch: number;
  pulledAtEpoch: number;
  writePauseMs: number;
  manifest?: string;
  files?: number;
}

export interface FailbackDriverOptions {
  arbiter: Arbiter;
  primary: string;
  /** Up by active checks and not drained; `state` says why not. */
  primaryHealth(): { up: boolean; state: string };
  peer(): SyncPeer | undefined;
  policy: FailbackPolicy;
  afterMs: number;
  /** Longest wait for the first pull (rsync of a whole cadir, maybe over ssh). */
  pullTimeoutMs: number;
  /** Longest wait for the final pull, under the write hold (keep it below proxy.ca.holdWrites). */
  finalTimeoutMs: () => number;
  events: EventLog;
  log: Logger;
  scheduler: Scheduler;
  /**
   * With CA writes held here: wait until no CA write is in flight anywhere that could still reach
   * the active CA, within ms; returns how to undo it if the failback aborts. Default: this proxy's
   * own writes (arbiter.writesDrained). Several proxies: the cluster-wide hold in etcd.
   */
  quiesce?: (target: string, ms: number) => Promise<() => Promise<void>>;
  /** Several proxies: resolves when quiesce may start (waiting, with nothing held, for members that may act unseen). */
  readyToQuiesce?: () => Promise<void>;
  /** Several proxies: only the controller starts an automatic failback. Default: always. */
  decides?: () => boolean;
}

class Abort extends Error {}

export class FailbackDriver {
  private policy: FailbackPolicy;
  private afterMs: number;
  private running: "syncing" | "switching" | undefined;
  private last: { outcome: "done" | "aborted"; epoch: number; reason?: string } | undefined;
  private healthySince: number | undefined;
  private remainingMs: number | undefined;
  private cancelTick: (() => void) | undefined;
  /** CA writes were held this long during the last failback. */
  lastWritePauseMs: number | undefined;

  constructor(private readonly o: FailbackDriverOptions) {
    this.policy = o.policy;
    this.afterMs = o.afterMs;
  }

  /** failback and failbackAfter (SIGHUP). */
  configure(policy: FailbackPolicy, afterMs: number): void {
    this.policy = policy;
    this.afterMs = afterMs;
  }

  /** Watch the primary for an automatic failback (a no-op decision under the manual policy). */
  start(): void {
    const tick = () => {
      this.tick();
      this.cancelTick = this.o.scheduler.setTimeout(tick, Math.min(1000, Math.max(20, this.afterMs / 4)));
    };
    tick();
  }

  stop(): void {
    this.cancelTick?.();
    this.cancelTick = undefined;
  }

  /** One look at the primary: track how long it has been up, start an automatic failback when due. */
  tick(): void {
    if (this.o.decides && !this.o.decides()) return;
    const a = this.o.arbiter;
    const d = autoFailback({
      now: this.o.scheduler.now(), policy: this.policy, afterMs: this.afterMs, active: a.active, primary: this.o.primary,
      primaryUp: this.o.primaryHealth().up, busy: this.running !== undefined, healthySince: this.healthySince,
    });
    this.healthySince = d.healthySince;
    this.remainingMs = d.remainingMs;
    if (d.start) {
      this.run("auto").catch(() => {
        // Aborted (logged, recorded, shown): wait another failbackAfter before the next attempt.
        this.healthySince = this.o.scheduler.now();
      });
    }
  }

  view(): { policy: FailbackPolicy; state: FailbackState; detail?: string } {
    const a = this.o.arbiter;
    return {
      policy: this.policy,
      ...failbackView({
        policy: this.policy, active: a.active, primary: this.o.primary, primaryUp: this.o.primaryHealth().up, epoch: a.epoch,
        running: this.running, last: this.last, remainingMs: this.remainingMs,
      }),
    };
  }

  /**
   * Fail back to the primary. Throws AdminConflictError (409: already there, running, diverged,
   * fenced) or AdminUnavailableError (503: primary down, sync agent unreachable).
   */
  async run(trigger: "admin" | "auto"): Promise<FailbackResult> {
    const { arbiter, primary, events, log } = this.o;
    const peer = this.o.peer();
    const health = this.o.primaryHealth();
    const refusal = failbackRefusal({
      active: arbiter.active, primary, primaryUp: health.up, primaryState: health.state, busy: this.running !== undefined, hasPeer: peer !== undefined,
    });
    if (refusal && trigger === "auto") {
      // Nobody reads an automatic attempt's error: show why it cannot happen in /health.
      this.last = { outcome: "aborted", epoch: arbiter.epoch, reason: refusal.reason };
    }
    if (refusal) throw refusal.status === 409 ? new AdminConflictError(`failback refused: ${refusal.reason}`) : new AdminUnavailableError(`failback refused: ${refusal.reason}`);
    const p = peer as SyncPeer;
    const from = arbiter.active;
    const epoch = arbiter.epoch;
    this.running = "syncing";
    events.record("failback-step", `failback ${from} -> ${primary} (${trigger}) at epoch ${epoch}: pulling ${from}'s cadir onto ${primary} (${p.where})`);
    log.info({ from, to: primary, epoch, trigger, peer: p.where }, "failback: pulling the active cadir onto the primary");
    try {
      const first = await p.pull(epoch, false, this.o.pullTimeoutMs);
      const early = switchRefusal({ pulledFor: epoch, report: first, epochNow: arbiter.epoch, activeNow: arbiter.active, activeBefore: from, primaryUp: this.o.primaryHealth().up });
      if (early) throw new Abort(early);
      await this.o.readyToQuiesce?.();
      this.running = "switching";
      events.record("failback-step", `${primary} in sync with ${from} at epoch ${epoch}; CA writes held for the final pull`);
      let final: PullResult | undefined;
      let writePauseMs = 0;
      const state = await arbiter.withWriteHold(async () => {
        const t0 = this.o.scheduler.now();
        try {
          // The epoch the final pull is made for must still be the arbiter's (nothing switched meanwhile).
          const before = switchRefusal({ pulledFor: epoch, report: { epoch, result: "in-sync" }, epochNow: arbiter.epoch, activeNow: arbiter.active, activeBefore: from, primaryUp: this.o.primaryHealth().up });
          if (before) throw new Abort(before);
          // Writes already sent to the active CA must finish first, or the final pull could miss
          // a certificate being signed right now (seen in the demo: a serial issued twice).
          const budget = this.o.finalTimeoutMs();
          const release = this.o.quiesce ? await this.o.quiesce(primary, budget) : await arbiter.writesDrained(budget).then(() => () => Promise.resolve());
          try {
            final = await p.pull(epoch, true, Math.max(1, budget - (this.o.scheduler.now() - t0)));
            const why = switchRefusal({ pulledFor: epoch, report: final, epochNow: arbiter.epoch, activeNow: arbiter.active, activeBefore: from, primaryUp: this.o.primaryHealth().up });
            if (why) throw new Abort(why);
            return await arbiter.switchTo(primary, "failback", `guarded failback (${trigger}) after the final pull at epoch ${epoch}`);
          } catch (err) {
            await release().catch((e: unknown) => log.error({ err: e }, "failback: could not release the write hold (the next controller will)"));
            throw err;
          }
        } finally {
          writePauseMs = this.o.scheduler.now() - t0;
          this.lastWritePauseMs = writePauseMs;
        }
      });
      this.last = { outcome: "done", epoch: state.epoch };
      events.record(EventKind.failback, `failback ${from} -> ${primary} done at epoch ${state.epoch} (${trigger}); CA writes paused ${writePauseMs} ms`);
      log.warn({ from, to: primary, epoch: state.epoch, pulledAtEpoch: epoch, writePauseMs, trigger }, "failback done");
      const f: PullResult | undefined = final;
      return { from, to: primary, epoch: state.epoch, pulledAtEpoch: epoch, writePauseMs, ...(f?.manifest ? { manifest: f.manifest, files: f.files } : {}) };
    } catch (err) {
      const reason = describe(err);
      this.last = { outcome: "aborted", epoch: arbiter.epoch, reason };
      events.record("failback-aborted", `failback ${from} -> ${primary} (${trigger}) aborted: ${reason}; ${arbiter.active} stays active`);
      log.error({ from, to: primary, epoch, trigger, reason, err: err instanceof Abort ? undefined : err }, "failback aborted");
      if (err instanceof Abort || err instanceof DivergenceError || err instanceof FencingError) {
        throw new AdminConflictError(`failback aborted: ${reason}`, { cause: err });
      }
      throw new AdminUnavailableError(`failback aborted: ${reason}`, { cause: err });
    } finally {
      this.running = undefined;
    }
  }
}

function describe(err: unknown): string {
  if (err instanceof DivergenceError) {
    const d = err.differences.slice(0, 3).map((x) => [x.serial && `serial ${x.serial}`, x.subject, x.message].filter(Boolean).join(" ")).join("; ");
    return `${err.destination} diverged: ${d}${err.differences.length > 3 ? ` (+${err.differences.length - 3} more)` : ""}; nothing copied`;
  }
  if (err instanceof PuppetHaError || err instanceof Abort) return err.message;
  return err instanceof Error ? err.message : String(err);
}
