// The status bucket kept in memory by one open KV watch (the proxy's status page): the initial
// values once, then each change as it happens, so a minute's read costs what changed, not the
// whole bucket (10,000 entries). Each entry is verified once per revision (../broker/status.ts).
import type { KV, KvWatchEntry } from "@nats-io/kv";
import type { QueuedIterator } from "@nats-io/transport-node";
import { verifyEntry, type StatusCache } from "../broker/status.js";
import type { PuppetTrust } from "../broker/trust.js";

export interface WatchOptions {
  trust: PuppetTrust;
  maxBytes: number;
  /** Verified entries of an earlier watch with the same trust: reused where the revision is the same. */
  previous?: StatusCache;
  /** How long the initial values and a catch-up may take. */
  timeoutMs?: number;
}

export class StatusWatch {
  /** Every key's newest verified entry. */
  readonly entries: StatusCache = new Map();
  /** Entries delivered and verified since the last takeCounters(). */
  #received = 0;
  #verified = 0;
  /** The stream sequence of the newest entry applied (revisions are stream sequences). */
  #seq = 0;
  #alive = true;
  #waiters: (() => void)[] = [];
  readonly #iter: QueuedIterator<KvWatchEntry>;
  readonly #o: WatchOptions;

  private constructor(iter: QueuedIterator<KvWatchEntry>, o: WatchOptions) {
    this.#iter = iter;
    this.#o = o;
  }

  /** Opens the watch; resolves once the initial values are in (throws on a broker error or timeout). */
  static async open(kv: KV, o: WatchOptions): Promise<StatusWatch> {
    const w = new StatusWatch(await kv.watch(), o);
    void w.#consume();
    try {
      await w.catchUp(kv);
    } catch (err) {
      w.stop();
      throw err;
    }
    return w;
  }

  /** False once the watch ended (broker gone, stopped): open a new one. */
  get alive(): boolean {
    return this.#alive;
  }

  /** Waits until every change the bucket had when called is applied. */
  async catchUp(kv: KV): Promise<void> {
    const st = await kv.status();
    // An empty bucket delivers nothing, whatever its last sequence was.
    const last = st.values === 0 ? 0 : st.streamInfo.state.last_seq;
    const timeoutMs = this.#o.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        (async () => {
          while (this.#seq < last && this.#alive) await new Promise<void>((r) => this.#waiters.push(r));
        })(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the status bucket watch did not reach revision ${last} within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    if (!this.#alive) throw new Error("the status bucket watch ended");
  }

  /** Entries received and verified since the last call. */
  takeCounters(): { received: number; verified: number } {
    const c = { received: this.#received, verified: this.#verified };
    this.#received = 0;
    this.#verified = 0;
    return c;
  }

  stop(): void {
    this.#iter.stop();
    this.#end();
  }

  async #consume(): Promise<void> {
    try {
      for await (const e of this.#iter) this.#apply(e);
    } catch {
      // The broker went away: the owner sees alive === false and opens a new watch.
    }
    this.#end();
  }

  #apply(e: KvWatchEntry): void {
    this.#received++;
    if (e.operation === "PUT") {
      const known = this.entries.get(e.key) ?? this.#o.previous?.get(e.key);
      if (known?.revision === e.revision) this.entries.set(e.key, known);
      else {
        this.#verified++;
        this.entries.set(e.key, verifyEntry(e, this.#o.trust, this.#o.maxBytes));
      }
    } else {
      this.entries.delete(e.key);
    }
    this.#seq = Math.max(this.#seq, e.revision);
    this.#wake();
  }

  #end(): void {
    this.#alive = false;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const r of w) r();
  }
}
