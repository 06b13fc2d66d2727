// The triggers that are not requests: a node-cron schedule and a chokidar watch of a local active
// cadir. Both sit behind tiny interfaces so the service can be tested with fakes.
import { watch as chokidarWatch } from "chokidar";
import { createTask } from "node-cron";
import { relative } from "node:path";
import { isTransient } from "./cadir.js";

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

/** Watch a cadir (every file counts except rsync's transient ones); wait for writes to finish. */
export const chokidarCadir: WatchFactory = (dir, onChange, onReady) => {
  const w = chokidarWatch(dir, {
    ignoreInitial: true,
    awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 10 },
    ignored: (p: string) => isTransient(relative(dir, p)),
  });
  w.on("all", (_event, path) => onChange(relative(dir, path)));
  w.on("ready", onReady);
  w.on("error", () => undefined); // a vanished dir is seen by the next pass; never crash
  return { stop: () => w.close() };
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
