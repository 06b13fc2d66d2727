// A proxy's view of the cluster: the CA state, the controller and the members, from one
// linearizable read (a read-only txn) every loopWait and whenever the state key's watch hints at a change.
// The view is trusted until its deadline: start of the last good read + viewPeriod, and never
// past the member's own lease (last renewal start + viewPeriod), which is shorter than the ttl.
import { realScheduler, type Scheduler } from "../scheduler.js";
import type { EtcdClient } from "./etcd.js";
import { watch as etcdWatch, type Watch } from "./etcd-watch.js";
import { controllerKey, stateKey } from "./etcd-store.js";
import { membersPrefix, parseMember, type MemberRecord } from "./members.js";
import { parseCaState, type StoredState } from "./store.js";
import { viewPeriodMs, type LeaseTiming } from "./timing.js";

export interface ViewSnapshot {
  state: StoredState | undefined;
  /** Member name on the controller key, if any. */
  controller: string | undefined;
  members: MemberRecord[];
  /** etcd revision the read was served at. */
  revision: number;
}

export interface ViewOptions {
  client: Pick<EtcdClient, "readTxn"> & Partial<Pick<EtcdClient, "endpoint" | "agent" | "endpointFailed">>;
  prefix: string;
  timing: LeaseTiming;
  /** When this member's lease was last renewed (Election.renewedAt); undefined: no lease. */
  leaseRenewedAt(): number | undefined;
  /** Watch for hints (default true; needs a full EtcdClient). */
  watch?: boolean;
  scheduler?: Scheduler;
  onRead?(snap: ViewSnapshot): void;
  onFailure?(err: Error): void;
}

export class ClusterView {
  private readonly sched: Scheduler;
  private snap: ViewSnapshot | undefined;
  private lastGoodStart = -Infinity;
  private failingSince: number | undefined;
  private running = false;
  private reading: Promise<void> | undefined;
  private again = false;
  private cancelTick: () => void = () => undefined;
  private hint: Watch | undefined;
  private cancelRewatch: () => void = () => undefined;

  constructor(private readonly opts: ViewOptions) {
    this.sched = opts.scheduler ?? realScheduler;
  }

  get snapshot(): ViewSnapshot | undefined {
    return this.snap;
  }

  /** Until when this view may be acted on (CA writes forwarded by it). */
  deadline(): number {
    const period = viewPeriodMs(this.opts.timing);
    const renewed = this.opts.leaseRenewedAt();
    return Math.min(this.lastGoodStart, renewed ?? -Infinity) + period;
  }

  fresh(): boolean {
    return this.sched.now() < this.deadline();
  }

  /** Time since the last good read started; undefined before the first. */
  ageMs(): number | undefined {
    return Number.isFinite(this.lastGoodStart) ? this.sched.now() - this.lastGoodStart : undefined;
  }

  /**
   * Since when etcd has not answered: the first failed read, or the moment a read became overdue
   * (loopWait + retryTimeout after the last good one started; a read trying several members may take
   * longer than that to fail). Undefined while reads succeed.
   */
  get unreachableSince(): number | undefined {
    if (this.failingSince !== undefined) return this.failingSince;
    const overdue = this.lastGoodStart + this.opts.timing.loopWaitMs + this.opts.timing.retryTimeoutMs;
    return Number.isFinite(overdue) && this.sched.now() >= overdue ? overdue : undefined;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick();
    if (this.opts.watch !== false) this.startWatch();
  }

  stop(): void {
    this.running = false;
    this.cancelTick();
    this.cancelRewatch();
    this.hint?.close();
  }

  /** One linearizable read now (coalesced: a read already running is followed by one more). */
  refresh(): Promise<void> {
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = this.read().finally(() => {
      this.reading = undefined;
      if (this.again && this.running) {
        this.again = false;
        void this.refresh();
      }
    });
    return this.reading;
  }

  private tick(): void {
    if (!this.running) return;
    this.cancelTick = this.sched.setTimeout(() => this.tick(), this.opts.timing.loopWaitMs);
    void this.refresh();
  }

  private async read(): Promise<void> {
    const started = this.sched.now();
    const p = this.opts.prefix;
    try {
      const r = await this.opts.client.readTxn([{ key: stateKey(p) }, { key: controllerKey(p) }, { key: membersPrefix(p), prefix: true }]);
      const [state, controller, members] = r.ranges;
      const kv = state?.[0];
      const snap: ViewSnapshot = {
        state: kv ? { state: parseCaState(kv.value, kv.key), revision: kv.modRevision } : undefined,
        controller: controller?.[0]?.value,
        members: (members ?? []).flatMap((m) => {
          try {
            return [parseMember(m.value, m.key)];
          } catch (err) {
            this.opts.onFailure?.(err as Error); // one bad record must not blind the whole view
            return [];
          }
        }),
        revision: r.revision,
      };
      if (this.snap && snap.revision < this.snap.revision) return; // an older answer overtaken by a newer one
      this.snap = snap;
      this.lastGoodStart = Math.max(this.lastGoodStart, started);
      this.failingSince = undefined;
      this.opts.onRead?.(snap);
    } catch (err) {
      this.failingSince ??= Math.min(started, this.unreachableSince ?? started);
      this.opts.onFailure?.(err as Error);
    }
  }

  private startWatch(): void {
    const client = this.opts.client as EtcdClient;
    if (!this.running || !client.agent) return;
    // Only the CA state: members republish every loopWait, and the periodic read catches them.
    this.hint = etcdWatch(client, stateKey(this.opts.prefix), {
      onEvents: () => void this.refresh(),
      onEnd: (err) => {
        if (err && this.running) this.cancelRewatch = this.sched.setTimeout(() => this.startWatch(), this.opts.timing.loopWaitMs);
      },
    });
  }
}
