// A controllable clock and scheduler for unit tests: time moves only on advance().
import type { Scheduler } from "../../../src/proxy/scheduler.js";

export class FakeClock implements Scheduler {
  t = 0;
  private timers: { at: number; fn: () => void; seq: number }[] = [];
  private seq = 0;

  now = (): number => this.t;

  setTimeout(fn: () => void, ms: number): () => void {
    const timer = { at: this.t + ms, fn, seq: this.seq++ };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  }

  get pending(): number {
    return this.timers.length;
  }

  /** Move time forward, running every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = due.at;
      due.fn();
    }
    this.t = end;
  }
}

/** Let pending promise callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
}
