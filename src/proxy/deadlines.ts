// One timer for many deadlines: the per-request queue and response timeouts of forward.ts are
// entries in a map watched by a single timer, instead of a setTimeout/clearTimeout pair per
// request (that pair was ~3 µs of the ~60 µs a proxied request costs: see bench/README.md).
//
// Adding is a clock read and a map insert; removing is a map delete and never touches the timer:
// when the timer fires for an entry that left, it finds nothing due and re-arms for the earliest
// deadline left. So a busy proxy arms about one timer per timeout period, not two per request;
// each firing scans the entries in flight (no ordering kept), which is cheap at that rate.

import type { Scheduler } from "./scheduler.js";

/** What is watched: told once when its deadline has passed (and it was not removed before). */
export interface Expiring {
  timedOut(): void;
}

/**
 * The project's Scheduler on a monotonic clock (a wall-clock step must not fire or hold request
 * timeouts), with unref'd timers: the sockets of the requests watched keep the process alive, a
 * timer left armed for an entry that is gone must not.
 */
export const requestScheduler: Scheduler = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

/**
 * Node's timers fire by the event loop's cached time, which can be a little behind the clock read
 * here: a deadline less than this many ms away counts as passed (as it would for a setTimeout).
 */
const SLACK_MS = 1;

export class Deadlines<T extends Expiring> {
  private readonly due = new Map<T, number>();
  private cancel: (() => void) | undefined;
  /** When the armed timer fires (Infinity: none armed). */
  private armedFor = Infinity;
  private readonly fire = (): void => this.expire();

  constructor(private readonly clock: Scheduler = requestScheduler) {}

  /** Watch item: timedOut() in ms unless removed (or re-added) before. Replaces an earlier deadline. */
  add(item: T, ms: number): void {
    const at = this.clock.now() + ms;
    this.due.set(item, at);
    if (at < this.armedFor) this.arm(at);
  }

  /** Stop watching item (no-op when not watched). */
  delete(item: T): void {
    this.due.delete(item);
  }

  get size(): number {
    return this.due.size;
  }

  private arm(at: number): void {
    this.cancel?.();
    this.armedFor = at;
    this.cancel = this.clock.setTimeout(this.fire, Math.max(0, at - this.clock.now()));
  }

  private expire(): void {
    this.cancel = undefined;
    this.armedFor = Infinity;
    const now = this.clock.now();
    let next = Infinity;
    let expired: T[] | undefined;
    for (const [item, at] of this.due) {
      if (at - now < SLACK_MS) (expired ??= []).push(item);
      else if (at < next) next = at;
    }
    if (expired) for (const item of expired) this.due.delete(item);
    // Re-armed before the callbacks run: they may add entries (a retry's next attempt).
    if (next !== Infinity) this.arm(next);
    if (expired) for (const item of expired) item.timedOut();
  }
}
