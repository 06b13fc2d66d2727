// The proxy's one clock: what time it is and "run this later", real or injected by tests.

export interface Scheduler {
  now(): number;
  /** Run fn after ms; returns a cancel function. */
  setTimeout(fn: () => void, ms: number): () => void;
}

export const realScheduler: Scheduler = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};
