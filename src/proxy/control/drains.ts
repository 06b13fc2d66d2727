// Drain and enable with several proxies: the drained backends are keys under <prefix>/drained/
// (no lease: a drain outlives any proxy), written by whichever proxy got the admin request and
// applied by every proxy on its next read (every loopWait), so a drain takes effect cluster-wide.
import type { Scheduler } from "../scheduler.js";
import type { EtcdClient } from "./etcd.js";

export const drainedPrefix = (prefix: string) => `${prefix}/drained/`;

export interface ClusterDrainsOptions {
  client: Pick<EtcdClient, "range" | "put" | "delete">;
  prefix: string;
  periodMs: number;
  scheduler: Scheduler;
  /** Called with the drained backend names after every successful read. */
  apply(names: ReadonlySet<string>): void;
  onError(err: unknown): void;
}

export class ClusterDrains {
  private cancel: () => void = () => undefined;
  private running = false;

  constructor(private readonly o: ClusterDrainsOptions) {}

  start(): void {
    this.running = true;
    const tick = () => {
      if (!this.running) return;
      this.cancel = this.o.scheduler.setTimeout(tick, this.o.periodMs);
      void this.refresh().catch((err: unknown) => this.o.onError(err));
    };
    tick();
  }

  stop(): void {
    this.running = false;
    this.cancel();
  }

  /** Read the drained set now and apply it. */
  async refresh(): Promise<void> {
    const p = drainedPrefix(this.o.prefix);
    const r = await this.o.client.range(p, { prefix: true });
    this.o.apply(new Set(r.kvs.map((kv) => kv.key.slice(p.length))));
  }

  /** Drain (or enable) `name` cluster-wide; throws when etcd cannot be written (nothing changed there). */
  async set(name: string, drained: boolean): Promise<void> {
    const key = `${drainedPrefix(this.o.prefix)}${name}`;
    if (drained) await this.o.client.put(key, "1");
    else await this.o.client.delete(key);
  }
}
