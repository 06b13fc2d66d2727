// Per-caller rate limit: at most `max` triggers in any window of `per` ms (sliding log), with an
// injected clock so tests never wait.
export class RateLimiter {
  readonly #max: number;
  readonly #per: number;
  readonly #now: () => number;
  readonly #hits = new Map<string, number[]>();
  #lastPrune = -Infinity;

  constructor(opts: { max: number; per: number; now?: () => number }) {
    this.#max = opts.max;
    this.#per = opts.per;
    this.#now = opts.now ?? Date.now;
  }

  /** Callers currently remembered (for tests and metrics). */
  get callers(): number {
    return this.#hits.size;
  }

  /** Count one trigger for `caller`: 0 when allowed, else the ms until the next one would be. */
  take(caller: string): number {
    const now = this.#now();
    const hits = (this.#hits.get(caller) ?? []).filter((t) => now - t < this.#per);
    if (hits.length >= this.#max) {
      this.#hits.set(caller, hits);
      return Math.max(1, (hits[0] as number) + this.#per - now);
    }
    hits.push(now);
    this.#hits.set(caller, hits);
    this.#prune(now);
    return 0;
  }

  /** Forget callers with no hit inside the window, so the map cannot grow without bound. */
  #prune(now: number): void {
    if (this.#hits.size < 1024 || now - this.#lastPrune < this.#per) return;
    this.#lastPrune = now;
    for (const [caller, hits] of this.#hits) {
      if (hits.every((t) => now - t >= this.#per)) this.#hits.delete(caller);
    }
  }
}
