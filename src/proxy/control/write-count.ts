// The CA writes in flight on one proxy: counted from the moment one is handed to a CA until it
// ends, and a wait for "none in flight" that a guarded failback's final pull takes under the hold.
import { WritesInFlightError } from "../../errors.js";
import type { Scheduler } from "../scheduler.js";

export class WriteCount {
  private count = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly sched: Scheduler) {}

  /** CA writes handed to a CA and not yet ended (see started). */
  get inFlight(): number {
    return this.count;
  }

  /**
   * A CA write was handed to a CA's connection pool. Counted until the CA's answer arrives or the
   * upstream request ends (error, timeouts.response), not until its client goes: a write whose client left
   * runs on to its end (forward.ts), so when the count is 0 no CA is still doing a write.
   */
  started(): void {
    this.count++;
  }

  /** A CA write was answered or its upstream request ended (exactly once per started). */
  ended(): void {
    this.count = Math.max(0, this.count - 1);
    if (this.count > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /**
   * Resolves once no CA write is in flight; call it with writes held, before copying the active
   * CA's dir. A write already sent (a CSR being autosigned) changes the cadir until it answers:
   * a final pull taken before it ends would miss that certificate, and the next CA would issue
   * its serial again. Rejects with WritesInFlightError after ms. Since a write whose client left
   * is not aborted but runs to its end, no client can keep this from resolving for long: its
   * writes are held meanwhile and the ones in flight end within timeouts.response. Failover does
   * not wait: its old active is dead or hung, and the serial gap covers what it may have issued.
   */
  drained(ms: number): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        cancel();
        resolve();
      };
      const cancel = this.sched.setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new WritesInFlightError(this.count, ms));
      }, ms);
      this.waiters.push(done);
    });
  }
}
