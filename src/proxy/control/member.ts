// One proxy's part in a cluster, composed: its lease and controller campaign (Election), its view
// of the CA state (ClusterView) applied by its Follower, and its record in the member registry,
// republished every loopWait and at once when its hold acknowledgement changes.
import type { Logger } from "../../log.js";
import { realScheduler, type Scheduler } from "../scheduler.js";
import { Election } from "./election.js";
import { GoneMembers } from "./gone-members.js";
import type { EtcdClient } from "./etcd.js";
import { EtcdCaStateStore, controllerKey } from "./etcd-store.js";
import type { StoredState } from "./store.js";
import { clearOrphanHold } from "./failback-hold.js";
import { Follower } from "./follower.js";
import { MemberRegistry } from "./members.js";
import type { LeaseTiming } from "./timing.js";
import { ClusterView } from "./view.js";

export interface ClusterMemberOptions {
  client: EtcdClient;
  name: string;
  prefix: string;
  timing: LeaseTiming;
  /** This proxy's admin URL as other proxies reach it (read at every publish: known once the admin listener is up). */
  adminUrl: string | (() => string);
  workers: readonly string[];
  retryAfterS: number;
  scheduler?: Scheduler;
  log?: Logger;
  /**
   * Runs on election, before a predecessor's write hold is released: a hold left by a promotion
   * (its serial advance may not have run) is finished here first. Default: nothing.
   */
  beforeOrphanRelease?: (s: StoredState) => Promise<void>;
  /**
   * proxy.workers > 1: this proxy's data-plane workers, which forward its CA writes. Its record
   * acknowledges a hold only once they all do, and counts their writes in flight.
   */
  dataPlane?: { acknowledged(holdId: string): boolean; writesInFlight(): number };
}

export class ClusterMember {
  readonly name: string;
  readonly election: Election;
  readonly view: ClusterView;
  readonly follower: Follower;
  readonly store: EtcdCaStateStore;
  /** Members whose record vanished less than ttl ago (a failback hold waits for them too). */
  readonly gone: GoneMembers;
  private readonly registry: MemberRegistry;
  private readonly sched: Scheduler;
  private running = false;
  private cancelPublish: () => void = () => undefined;
  private lastAck: string | null = null;
  private publishing = false;
  /** The lease under which this member's record was last published. */
  private publishedLease: string | undefined;

  constructor(private readonly opts: ClusterMemberOptions) {
    this.name = opts.name;
    this.sched = opts.scheduler ?? realScheduler;
    const { client, name, prefix, timing } = opts;
    const sched = this.sched;
    this.election = new Election({ etcd: client, key: controllerKey(prefix), name, timing, scheduler: sched, ...(opts.log ? { log: opts.log } : {}) });
    this.store = new EtcdCaStateStore({ client, prefix, member: name, token: () => this.election.token(), rewatchMs: timing.loopWaitMs, scheduler: sched });
    this.registry = new MemberRegistry({ client, prefix, name, lease: () => this.election.leaseId });
    this.gone = new GoneMembers(timing.ttlMs);
    this.view = new ClusterView({
      client, prefix, timing, scheduler: sched, leaseRenewedAt: () => this.election.renewedAt,
      onRead: (snap) => {
        this.gone.observe(snap.members.map((m) => m.name), sched.now());
        if (snap.state) this.follower.apply(snap.state);
        this.follower.viewChanged();
      },
      onFailure: (err) => {
        opts.log?.warn({ err }, "cannot read the CA state from etcd");
        this.follower.viewChanged();
      },
    });
    // No CA write before this member is in the registry: a controller's hold must know to wait for it.
    const view = this.view;
    const gated = {
      deadline: () => (this.publishedLease !== undefined && this.publishedLease === this.election.leaseId ? view.deadline() : -Infinity),
      get unreachableSince() {
        return view.unreachableSince;
      },
    };
    this.follower = new Follower({ view: gated, workers: opts.workers, retryAfterS: opts.retryAfterS, scheduler: sched });
    this.follower.onChange(() => {
      if (this.follower.holdAck() !== this.lastAck || this.publishedLease !== this.election.leaseId) void this.publish();
    });
    this.election.on((e) => {
      if (e.kind !== "elected") return;
      // A predecessor that died mid-failback or mid-promotion left its hold: finish the promotion's
      // steps (the serial advance) if it was one, then release it and stay on the current active.
      void this.resolveOrphanHold().catch((err: unknown) => opts.log?.warn({ err }, "could not clear a write hold left by the previous controller"));
    });
  }

  private async resolveOrphanHold(): Promise<void> {
    const s = await this.store.read();
    if (!s?.state.hold) return;
    await this.opts.beforeOrphanRelease?.(s);
    await clearOrphanHold(this.store);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.election.start();
    this.view.start();
    this.publishLoop();
  }

  async stop(o: { release: boolean }): Promise<void> {
    this.running = false;
    this.cancelPublish();
    this.publishedLease = undefined;
    this.view.stop();
    await this.election.stop(o);
  }

  private publishLoop(): void {
    if (!this.running) return;
    this.cancelPublish = this.sched.setTimeout(() => this.publishLoop(), this.opts.timing.loopWaitMs);
    void this.publish();
  }

  /** Publish this member's record; a failure is retried at the next loop. */
  private async publish(): Promise<void> {
    if (this.publishing || !this.running || !this.election.leaseId) return;
    this.publishing = true;
    const own = this.follower.holdAck();
    const ack = own !== null && this.opts.dataPlane && !this.opts.dataPlane.acknowledged(own) ? null : own;
    const lease = this.election.leaseId;
    try {
      await this.registry.publish({
        adminUrl: typeof this.opts.adminUrl === "string" ? this.opts.adminUrl : this.opts.adminUrl(), appliedEpoch: this.follower.state?.epoch ?? 0, viewAgeMs: this.view.ageMs() ?? null,
        caWritesInFlight: this.follower.writesInFlight + (this.opts.dataPlane?.writesInFlight() ?? 0), holdAck: ack, publishedAt: this.sched.now(),
      });
      this.lastAck = ack;
      this.publishedLease = lease;
    } catch (err) {
      this.opts.log?.warn({ err }, "cannot publish this proxy's member record");
      return; // again at the next loop, not at once: etcd may be refusing every connection
    } finally {
      this.publishing = false;
    }
    if (this.running && (this.follower.holdAck() !== this.lastAck || this.publishedLease !== this.election.leaseId)) void this.publish();
  }
}
