// The controller election: every proxy campaigns for one key bound to its own etcd lease
// (create-if-absent in a txn); the holder renews and steps down BY ITSELF at its own deadline
// (start of its last successful renewal + ttl - margin), which is before etcd could expire the lease.
import { LeaseExpiredError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { realScheduler, type Scheduler } from "../scheduler.js";
import type { EtcdClient } from "./etcd.js";
import { stepDownMarginMs, type LeaseTiming } from "./timing.js";

/** What the election needs of etcd (EtcdClient, or a scripted fake in unit tests). */
export type ElectionEtcd = Pick<EtcdClient, "grantLease" | "keepAlive" | "revokeLease" | "txn">;

/** What a CA state write must prove: the controller key is bound to this lease and was created at this revision. */
export interface ControllerToken {
  lease: string;
  createRevision: number;
}

export type ElectionEvent =
  | { kind: "elected"; at: number; deadline: number; createRevision: number }
  | { kind: "renewed"; at: number; deadline: number }
  | { kind: "renewal-failed"; at: number; error: Error }
  | { kind: "lost"; at: number; reason: "deadline" | "key-lost" | "lease-expired" | "stopped" };

export interface ElectionOptions {
  etcd: ElectionEtcd;
  /** The controller key, e.g. `/puppet-ha/<cluster>/controller`. */
  key: string;
  /** This proxy's member name (the key's value while it holds it). */
  name: string;
  timing: LeaseTiming;
  scheduler?: Scheduler;
  log?: Logger;
}

export class Election {
  private readonly sched: Scheduler;
  private readonly listeners = new Set<(e: ElectionEvent) => void>();
  private lease: string | undefined;
  private controller: { createRevision: number; deadline: number; tenure: number } | undefined;
  private tenure = 0;
  private lastRenewal: number | undefined;
  private running = false;
  private busy = false;
  private cancelTick: () => void = () => undefined;
  private cancelDeadline: () => void = () => undefined;
  /** The member name last seen on the controller key. */
  holder: string | undefined;

  constructor(private readonly opts: ElectionOptions) {
    this.sched = opts.scheduler ?? realScheduler;
  }

  /** True only while this proxy holds the key AND its own deadline has not passed. */
  isController(): boolean {
    return this.controller !== undefined && this.sched.now() < this.controller.deadline;
  }

  /** The lease this proxy's keys are bound to (member registry), once granted. */
  get leaseId(): string | undefined {
    return this.lease;
  }

  /** While controller: the key's create revision (the fencing token state writes compare) and deadline. */
  get tenureInfo(): { createRevision: number; deadline: number } | undefined {
    return this.controller && { createRevision: this.controller.createRevision, deadline: this.controller.deadline };
  }

  /** The fencing token for CA state writes, while controller (deadline not passed). */
  token(): ControllerToken | undefined {
    if (!this.isController() || !this.lease || !this.controller) return undefined;
    return { lease: this.lease, createRevision: this.controller.createRevision };
  }

  /** When the last successful lease renewal (or grant) started: the lease lasts at least ttl from then. */
  get renewedAt(): number | undefined {
    return this.lastRenewal;
  }

  on(listener: (e: ElectionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick();
  }

  /**
   * Stop campaigning. `release` (a clean shutdown) revokes the lease so another proxy takes over
   * at once; without it the key stays until etcd expires the lease (a crashed proxy).
   */
  async stop(o: { release: boolean }): Promise<void> {
    this.running = false;
    this.cancelTick();
    if (!o.release) {
      this.cancelDeadline();
      return;
    }
    if (this.controller) this.stepDown("stopped");
    const lease = this.lease;
    this.lease = undefined;
    if (lease) await this.opts.etcd.revokeLease(lease).catch((err: unknown) => this.opts.log?.warn({ err }, "could not revoke the etcd lease at shutdown"));
  }

  /** Renewals start every loopWait, counted from the previous start; one at a time. */
  private tick(): void {
    if (!this.running) return;
    this.cancelTick = this.sched.setTimeout(() => this.tick(), this.opts.timing.loopWaitMs);
    if (this.busy) return;
    this.busy = true;
    this.step().catch((err: unknown) => this.emit({ kind: "renewal-failed", at: this.sched.now(), error: err as Error }))
      .finally(() => (this.busy = false));
  }

  private async step(): Promise<void> {
    const startedAt = this.sched.now();
    const tenure = this.tenure;
    const renewing = this.lease;
    if (!renewing) {
      const granted = (await this.opts.etcd.grantLease(this.opts.timing.ttlMs / 1000)).id;
      if (!this.running) return void this.opts.etcd.revokeLease(granted).catch(() => undefined);
      this.lease = granted;
    } else {
      try {
        await this.opts.etcd.keepAlive(renewing);
      } catch (err) {
        if (!(err instanceof LeaseExpiredError) || this.lease !== renewing) throw err;
        this.lease = undefined;
        this.lastRenewal = undefined;
        if (this.controller && tenure === this.tenure) this.stepDown("lease-expired");
        return;
      }
      if (this.lease !== renewing) return; // dropped meanwhile (step-down at the deadline)
    }
    this.lastRenewal = startedAt;
    if (!this.running || tenure !== this.tenure) return;
    const lease = this.lease;
    const deadline = startedAt + this.opts.timing.ttlMs - stepDownMarginMs(this.opts.timing);
    const key = this.opts.key;
    if (this.controller) {
      const held = this.controller;
      const r = await this.opts.etcd.txn(
        [{ key, target: "lease", lease }, { key, target: "create", revision: held.createRevision }], [], [{ range: { key } }]);
      if (!this.running || this.controller !== held) return;
      if (!r.succeeded) {
        this.holder = r.ranges[0]?.[0]?.value;
        return this.stepDown("key-lost");
      }
      this.setDeadline(deadline);
      this.emit({ kind: "renewed", at: this.sched.now(), deadline });
      return;
    }
    const r = await this.opts.etcd.txn(
      [{ key, target: "create", revision: 0 }], [{ put: { key, value: this.opts.name, lease } }], [{ range: { key } }]);
    if (!this.running || tenure !== this.tenure || this.lease !== lease) return;
    const current = r.ranges[0]?.[0];
    if (!r.succeeded && current?.lease !== lease) {
      this.holder = current?.value;
      return;
    }
    // Created now, or still ours from before (bound to our live lease).
    if (this.sched.now() >= deadline) return; // too slow to be useful: try again next loop
    this.holder = this.opts.name;
    this.controller = { createRevision: r.succeeded ? r.revision : (current?.createRevision ?? 0), deadline, tenure: ++this.tenure };
    this.setDeadline(deadline);
    this.opts.log?.warn({ member: this.opts.name, deadline }, "became the controller");
    this.emit({ kind: "elected", at: this.sched.now(), deadline, createRevision: this.controller.createRevision });
  }

  private setDeadline(deadline: number): void {
    if (!this.controller) return;
    this.controller.deadline = deadline;
    this.cancelDeadline();
    const held = this.controller;
    this.cancelDeadline = this.sched.setTimeout(() => {
      if (this.controller === held) this.stepDown("deadline");
    }, Math.max(0, deadline - this.sched.now()));
  }

  /** Stop acting as controller now; a lease that may be unusable is dropped (a new one next loop). */
  private stepDown(reason: "deadline" | "key-lost" | "lease-expired" | "stopped"): void {
    if (!this.controller) return;
    this.controller = undefined;
    this.tenure++;
    this.cancelDeadline();
    if (reason === "deadline" && this.lease) {
      const lease = this.lease;
      this.lease = undefined;
      this.lastRenewal = undefined;
      this.opts.etcd.revokeLease(lease).catch(() => undefined); // best effort: etcd is likely unreachable
    }
    this.opts.log?.warn({ member: this.opts.name, reason }, "stepped down as controller");
    this.emit({ kind: "lost", at: this.sched.now(), reason });
  }

  private emit(e: ElectionEvent): void {
    for (const l of this.listeners) l(e);
  }
}
