// The triggers that are not requests: a node-cron schedule and an inotify watch of a local active
// cadir. Both sit behind tiny interfaces so the service can be tested with fakes.
import { createTask } from "node-cron";
import { Journal } from "./journal.js";

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface Stoppable {
  stop(): Promise<void> | void;
}

export type CronFactory = (expression: string, fn: () => void) => Stoppable;

export type WatchFactory = (dir: string, onChange: (path: string) => void, onReady: () => void) => Stoppable;

export const nodeCron: CronFactory = (expression, fn) => {
  const task = createTask(expression, fn, { noOverlap: true, name: "puppet-ha sync" });
  void task.start();
  return { stop: () => task.destroy() };
};

/**
 * Watch a cadir (every file counts except rsync's and puppetserver's transient ones) with inotify
 * on its directories (journal.ts). Not chokidar: on every event in a directory it re-reads the
 * whole directory, 100,000 names in signed/ for each signing. A file still being written is no
 * danger: the debounce waits for quiet, and the guard refuses a half-written cert.
 */
export const inotifyCadir: WatchFactory = (dir, onChange, onReady) => {
  const journal = new Journal(dir, onChange);
  let retry: NodeJS.Timeout | undefined;
  const begin = () => {
    journal.take();
    if (journal.watching) {
      clearInterval(retry);
      retry = undefined;
      setImmediate(onReady);
    } else {
      retry ??= setInterval(begin, 1000).unref(); // the cadir does not exist yet
    }
  };
  begin();
  return {
    stop: () => {
      clearInterval(retry);
      journal.stop();
    },
  };
};

/**
 * Debounce: fire `quietMs` after the last call, but never later than `maxWaitMs` after the first
 * (200 writes in a row must still be copied within about a second).
 */
export function debouncer(clock: Clock, quietMs: number, maxWaitMs: number, fire: () => void): { poke(): void; cancel(): void } {
  let timer: unknown;
  let first: number | undefined;
  const run = () => {
    timer = undefined;
    first = undefined;
    fire();
  };
  return {
    poke() {
      const now = clock.now();
      first ??= now;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = clock.setTimeout(run, Math.max(0, Math.min(quietMs, first + maxWaitMs - now)));
    },
    cancel() {
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      first = undefined;
    },
  };
}

/** One watch at a time, moved along with the active CA: at its cadir when local, at nothing otherwise. */
export class ActiveWatch {
  private current: { dir: string; w: Stoppable } | undefined;

  constructor(private readonly factory: WatchFactory, private readonly onChange: (path: string) => void, private readonly onReady: () => void) {}

  /** Watch `dir` (undefined: nothing); true when the watch moved. */
  point(dir: string | undefined): boolean {
    if (this.current?.dir === dir) return false;
    if (this.current) void this.current.w.stop();
    this.current = dir === undefined ? undefined : { dir, w: this.factory(dir, this.onChange, this.onReady) };
    return true;
  }

  async stop(): Promise<void> {
    const c = this.current;
    this.current = undefined;
    await c?.w.stop();
  }
}
