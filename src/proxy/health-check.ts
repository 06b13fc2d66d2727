// Health checks. Active: a GET on every backend each interval (first one at start), rise/fall
// counted; the only thing that brings a backend back. Passive: real traffic failures only eject.
// Checks run on a fixed cadence from their start, and faster while an up backend is failing
// (haproxy's `fastinter`), so a hung backend is down within interval + fall × timeout.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { realScheduler, type Scheduler } from "./scheduler.js";
import type { Backend, BackendPool } from "./pool.js";

export interface CheckParams {
  interval: number;
  timeout: number;
  rise: number;
  fall: number;
}

/** One check: resolves with "" when healthy, else a short reason. Must settle within timeoutMs. */
export type Probe = (url: string, timeoutMs: number) => Promise<string>;

/**
 * How long after a check's start the next one is due. While an up backend is failing (but not
 * yet down) the next check follows at min(interval, timeout), like haproxy's `fastinter`: a hung
 * backend then costs fall × timeout after the first failed check, not fall × (timeout + interval).
 */
export function nextCheckDelay(b: Backend, p: Pick<CheckParams, "interval" | "timeout">): number {
  const failingWhileUp = b.state === "up" && b.checkFailures > 0;
  return failingWhileUp ? Math.min(p.interval, p.timeout) : p.interval;
}

/**
 * The state a check result leads to, or undefined for no change. The first result decides at
 * once (a backend starts "unknown" and usable); after that rise/fall apply.
 */
export function applyCheck(b: Backend, ok: boolean, p: Pick<CheckParams, "rise" | "fall">): "up" | "down" | undefined {
  if (ok) {
    b.checkFailures = 0;
    b.checkSuccesses++;
    if (b.state === "unknown" || (b.state === "down" && b.checkSuccesses >= p.rise)) return "up";
  } else {
    b.checkSuccesses = 0;
    b.checkFailures++;
    if (b.state === "unknown" || (b.state === "up" && b.checkFailures >= p.fall)) return "down";
  }
  return undefined;
}

/** A passive failure on real traffic: down at once. Only active checks bring it back. */
export function passiveFailure(pool: BackendPool, b: Backend, reason: string): void {
  b.passiveFailures++;
  b.checkSuccesses = 0;
  pool.setState(b.name, "down", `passive: ${reason}`);
}

export const httpProbe: Probe = (url, timeoutMs) =>
  new Promise((resolve) => {
    const req = (url.startsWith("https:") ? httpsRequest : httpRequest)(url, { agent: false, headers: { "user-agent": "puppet-ha-check" } });
    const timer = setTimeout(() => {
      req.destroy();
      resolve(`no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => {
        clearTimeout(timer);
        const ok = res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300;
        resolve(ok ? "" : `HTTP ${res.statusCode}`);
      });
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code ?? err.message);
    });
    req.end();
  });

export interface CheckTarget {
  pool: BackendPool;
  path: string;
}

export class HealthChecker {
  private cancels = new Map<Backend, () => void>();
  private running = false;
  private readonly sched: Scheduler;
  private readonly probe: Probe;

  constructor(
    private readonly targets: readonly CheckTarget[],
    public params: CheckParams,
    opts: { probe?: Probe; scheduler?: Scheduler } = {},
  ) {
    this.sched = opts.scheduler ?? realScheduler;
    this.probe = opts.probe ?? httpProbe;
  }

  /** Start checking every backend; the first check of each runs now. */
  start(): void {
    this.running = true;
    for (const t of this.targets) for (const b of t.pool.backends) void this.check(t, b);
  }

  /** Pool members changed (reload): check the added ones now, stop checking the removed ones. */
  membersChanged(pool: BackendPool, added: readonly Backend[], removed: readonly Backend[]): void {
    for (const b of removed) {
      this.cancels.get(b)?.();
      this.cancels.delete(b);
    }
    const t = this.targets.find((x) => x.pool === pool);
    if (t && this.running) for (const b of added) void this.check(t, b);
  }

  stop(): void {
    this.running = false;
    for (const cancel of this.cancels.values()) cancel();
    this.cancels.clear();
  }

  private async check(t: CheckTarget, b: Backend): Promise<void> {
    if (!this.running) return;
    const started = this.sched.now();
    let reason: string;
    try {
      reason = await this.probe(b.url + t.path, this.params.timeout);
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err);
    }
    // Stopped, or removed from the pool on reload while the probe ran.
    if (!this.running || !t.pool.backends.includes(b)) return;
    b.lastCheck = this.sched.now();
    b.lastCheckOk = reason === "";
    b.lastCheckError = reason || undefined;
    b.lastLatencyMs = b.lastCheck - started;
    const next = applyCheck(b, reason === "", this.params);
    // The pool's listeners log the change.
    if (next) t.pool.setState(b.name, next, next === "up" ? "active check passed" : `active check: ${reason}`);
    // Due from this check's start; one that overran its slot is followed at once, never doubled.
    const wait = Math.max(0, started + nextCheckDelay(b, this.params) - this.sched.now());
    this.cancels.set(b, this.sched.setTimeout(() => void this.check(t, b), wait));
  }
}
