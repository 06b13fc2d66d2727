// One worker per destination: merges triggers and never runs two passes at once. A trigger while
// idle starts a pass; any number of triggers during a pass schedule exactly one more pass after
// it. Every request resolves with the result of the first pass that STARTS after it, so a caller
// ("pull now") never gets a result computed from older data.

interface Job<R> {
  reasons: string[];
  promise: Promise<R>;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export class PassWorker<R> {
  private running: Promise<void> | undefined;
  private pending: Job<R> | undefined;
  private closed = false;

  /**
   * @param run one pass; it should report failures in its result rather than throw
   * @param cancelled the result given to requests still waiting when the worker is closed
   */
  constructor(
    private readonly run: (reasons: readonly string[]) => Promise<R>,
    private readonly cancelled: () => R,
  ) {}

  get busy(): boolean {
    return this.running !== undefined;
  }

  request(reason: string): Promise<R> {
    if (this.closed) return Promise.resolve(this.cancelled());
    if (!this.pending) {
      let resolve!: (r: R) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<R>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.pending = { reasons: [], promise, resolve, reject };
    }
    this.pending.reasons.push(reason);
    const { promise } = this.pending;
    if (!this.running) this.startNext();
    return promise;
  }

  private startNext(): void {
    const job = this.pending;
    this.pending = undefined;
    if (!job) return;
    this.running = (async () => {
      try {
        job.resolve(await this.run(job.reasons));
      } catch (err) {
        job.reject(err);
      }
    })().finally(() => {
      this.running = undefined;
      if (!this.closed) this.startNext();
    });
  }

  /** Refuse new requests, answer waiting ones with `cancelled`, and wait for the running pass. */
  async close(): Promise<void> {
    this.closed = true;
    const job = this.pending;
    this.pending = undefined;
    job?.resolve(this.cancelled());
    await this.running;
  }
}
