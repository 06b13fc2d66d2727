// The CA state in etcd (several proxies): one key, changed only by a txn that checks that the
// writer still holds the controller key (its lease and create revision) and that the state key is
// unchanged since it was read (its mod revision). The epoch only rises.
import { FencedError, NotControllerError, StaleStateError } from "../../errors.js";
import { realScheduler, type Scheduler } from "../scheduler.js";
import type { ControllerToken } from "./election.js";
import type { EtcdClient } from "./etcd.js";
import { watch as etcdWatch, type Watch } from "./etcd-watch.js";
import { checkEpoch, parseCaState, serializeState, type CaState, type CaStateStore, type StoredState } from "./store.js";

export interface EtcdStoreOptions {
  client: EtcdClient;
  /** The cluster's key prefix, e.g. `/puppet-ha/main`. */
  prefix: string;
  /** This proxy's member name (for errors). */
  member: string;
  /** This proxy's controller token while it is the controller (Election.token), else undefined. */
  token(): ControllerToken | undefined;
  /** Pause before a watch that ended is started again. */
  rewatchMs: number;
  scheduler?: Scheduler;
}

export const stateKey = (prefix: string) => `${prefix}/ca-state`;
export const controllerKey = (prefix: string) => `${prefix}/controller`;

export class EtcdCaStateStore implements CaStateStore {
  private readonly key: string;
  private readonly controller: string;
  /** Highest epoch this process has read or written: a write below it is refused here already. */
  private highest = 0;

  constructor(private readonly opts: EtcdStoreOptions) {
    this.key = stateKey(opts.prefix);
    this.controller = controllerKey(opts.prefix);
  }

  async read(): Promise<StoredState | undefined> {
    const kv = (await this.opts.client.range(this.key)).kvs[0];
    if (!kv) return undefined;
    const stored = { state: parseCaState(kv.value, this.key), revision: kv.modRevision };
    this.highest = Math.max(this.highest, stored.state.epoch);
    return stored;
  }

  async compareAndSet(prev: StoredState | undefined, next: CaState): Promise<StoredState> {
    checkEpoch(prev, next);
    if (next.epoch < this.highest) throw new FencedError(next.epoch, this.highest);
    const token = this.opts.token();
    if (!token) throw new NotControllerError(this.opts.member, undefined);
    const r = await this.opts.client.txn(
      [
        { key: this.controller, target: "lease", lease: token.lease },
        { key: this.controller, target: "create", revision: token.createRevision },
        { key: this.key, target: "mod", revision: prev?.revision ?? 0 },
      ],
      [{ put: { key: this.key, value: serializeState(next) } }],
      [{ range: { key: this.controller } }, { range: { key: this.key } }],
    );
    if (!r.succeeded) {
      const holder = r.ranges[0]?.[0];
      if (!holder || holder.lease !== token.lease || holder.createRevision !== token.createRevision) {
        throw new NotControllerError(this.opts.member, holder?.value);
      }
      throw new StaleStateError(prev?.revision ?? 0, r.ranges[1]?.[0]?.modRevision ?? 0);
    }
    this.highest = Math.max(this.highest, next.epoch);
    return { state: parseCaState(serializeState(next), this.key), revision: r.revision };
  }

  /** Watch the state key; a watch that ends is started again after rewatchMs from where it stopped. */
  watch(onChange: (s: StoredState) => void): () => void {
    const sched = this.opts.scheduler ?? realScheduler;
    let current: Watch | undefined;
    let cancelRetry: () => void = () => undefined;
    let stopped = false;
    let from: number | undefined;
    const start = () => {
      if (stopped) return;
      current = etcdWatch(this.opts.client, this.key, {
        ...(from === undefined ? {} : { startRevision: from }),
        onEvents: (events) => {
          for (const e of events) {
            from = e.kv.modRevision + 1;
            if (e.type !== "put") continue;
            try {
              onChange({ state: parseCaState(e.kv.value, this.key), revision: e.kv.modRevision });
            } catch {
              // A malformed value is reported by the next read(); a hint is simply skipped.
            }
          }
        },
        onEnd: (err) => {
          if (stopped || !err) return;
          if (/compacted/.test(err.message)) from = undefined;
          cancelRetry = sched.setTimeout(start, this.opts.rewatchMs);
        },
      });
    };
    start();
    return () => {
      stopped = true;
      cancelRetry();
      current?.close();
    };
  }
}
