// The controller election: every proxy campaigns for one key bound to its own etcd lease
// (create-if-absent in a txn); the holder renews and steps down BY ITSELF at its own deadline
// (start of its last confirmed renewal + ttl - margin), which is before etcd could expire the lease.
// A new holder starts acting only once its predecessor's deadline has surely passed (succession.ts).
import { LeaseExpiredError, LeaseRenewalUnconfirmedError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { realScheduler, type Scheduler } from "../scheduler.js";
import type { EtcdClient, TxnResult } from "./etcd.js";
import { heldMarker, markerKey, releasedMarker, Succession } from "./succession.js";
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
  /** While this proxy holds the key: `acting` once its predecessor's deadline has surely passed, until `deadline`. */
  private controller: { createRevision: number; deadline: number; tenure: number; acting: boolean } | undefined;
  private readonly succession: Succession;
  private cancelAct: () => void = () => undefined;
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
    this.succession = new Succession(opts.timing.ttlMs);
  }

  /** True only while this proxy holds the key, acts (its predecessor's deadline passed) AND its own deadline has not. */
  isController(): boolean {
    return this.controller !== undefined && this.controller.acting && this.sched.now() < this.controller.deadline;
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

  /** When the last confirmed lease renewal (or grant) started: the lease lasts at least ttl from then. */
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
   * Stop campaigning. `release` (a clean shutdown) steps down, marks the key released and revokes
   * the lease, so another proxy takes over at once; without it the key stays until etcd expires the
   * lease (a crashed proxy).
   */
  async stop(o: { release: boolean }): Promise<void> {
    this.running = false;
    this.cancelTick();
    if (!o.release) {
      this.cancelDeadline();
      this.cancelAct();
      return;
    }
    const held = this.controller;
    const lease = this.lease;
    if (held) this.stepDown("stopped");
    this.lease = undefined;
    // "released" only after acting: one that was still waiting for its predecessor must leave the wait to the next.
    if (held?.acting && lease) await this.release(lease, held.createRevision).catch((err: unknown) => this.opts.log?.warn({ err }, "could not mark the controller key released at shutdown"));
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
    /** The raft term a renewal of an existing lease was answered in (undefined: a new grant). */
    let renewalTerm: number | undefined;
    if (!renewing) {
      const granted = (await this.opts.etcd.grantLease(this.opts.timing.ttlMs / 1000)).id;
      if (!this.running) return void this.opts.etcd.revokeLease(granted).catch(() => undefined);
      this.lease = granted;
      this.lastRenewal = startedAt; // a grant goes through raft: the lease lasts ttl from its apply
    } else {
      try {
        renewalTerm = (await this.opts.etcd.keepAlive(renewing)).term;
      } catch (err) {
        if (!(err instanceof LeaseExpiredError) || this.lease !== renewing) throw err;
        this.lease = undefined;
        this.lastRenewal = undefined;
        if (this.controller && tenure === this.tenure) this.stepDown("lease-expired");
        return;
      }
      if (this.lease !== renewing) return; // dropped meanwhile (step-down at the deadline)
    }
    if (!this.running || tenure !== this.tenure) return;
    const lease = this.lease;
    const deadline = startedAt + this.opts.timing.ttlMs - stepDownMarginMs(this.opts.timing);
    const key = this.opts.key;
    // A renewal counts only when the linearizable txn after it was answered in the same raft term:
    // a deposed etcd leader (paused, cut off) answers keep-alives from its own memory in its old
    // term while the real leader lets the lease run out; a txn is answered in the current term.
    const confirmed = (r: TxnResult): boolean => {
      if (renewalTerm === undefined || r.term === renewalTerm) {
        this.lastRenewal = startedAt;
        return true;
      }
      this.emit({ kind: "renewal-failed", at: this.sched.now(), error: new LeaseRenewalUnconfirmedError(lease, renewalTerm, r.term) });
      return false;
    };
    if (this.controller) {
      const held = this.controller;
      const r = await this.renewTxn(lease, held.createRevision);
      if (!this.running || this.controller !== held) return;
      if (!r.succeeded) {
        this.holder = r.ranges[0]?.[0]?.value;
        return this.stepDown("key-lost");
      }
      if (!confirmed(r)) return; // the deadline stays where the last confirmed renewal put it
      this.setDeadline(deadline);
      if (held.acting) this.emit({ kind: "renewed", at: this.sched.now(), deadline });
      return;
    }
    const r = await this.opts.etcd.txn(
      [{ key, target: "create", revision: 0 }],
      [{ range: { key: markerKey(key) } }, { put: { key, value: this.opts.name, lease } }, { put: { key: markerKey(key), value: heldMarker(this.opts.name) } }],
      [{ range: { key } }]);
    if (!this.running || tenure !== this.tenure || this.lease !== lease) return;
    this.succession.observe(this.sched.now(), r.revision);
    if (!r.succeeded) {
      const current = r.ranges[0]?.[0];
      if (current?.lease !== lease) {
        this.holder = current?.value;
        return void confirmed(r); // a follower's lease counts for its view and its member record
      }
      // Still ours from an earlier campaign whose answer was lost: renew it (which also marks it
      // held); whoever held it before did so before its create revision.
      const again = await this.renewTxn(lease, current.createRevision);
      if (!this.running || tenure !== this.tenure || this.lease !== lease || !again.succeeded || !confirmed(again)) return;
      return this.elect(current.createRevision, deadline, this.succession.afterRevision(current.createRevision - 1, this.sched.now()));
    }
    // Created now; an unconfirmed renewal leaves the key to a later step that confirms one (or to the lease's end).
    if (!confirmed(r)) return;
    this.elect(r.revision, deadline, this.succession.actFrom(r.ranges[0]?.[0], this.sched.now(), this.opts.name));
  }

  /** Keep the key bound to this lease and created at `createRevision`, and mark it held; else read who has it. */
  private renewTxn(lease: string, createRevision: number): Promise<TxnResult> {
    const key = this.opts.key;
    return this.opts.etcd.txn(
      [{ key, target: "lease", lease }, { key, target: "create", revision: createRevision }],
      [{ put: { key, value: this.opts.name, lease } }, { put: { key: markerKey(key), value: heldMarker(this.opts.name) } }],
      [{ range: { key } }]);
  }

  /** After stepping down: free the key and mark it released, if it is still ours. */
  private async release(lease: string, createRevision: number): Promise<void> {
    const key = this.opts.key;
    await this.opts.etcd.txn(
      [{ key, target: "lease", lease }, { key, target: "create", revision: createRevision }],
      [{ delete: { key } }, { put: { key: markerKey(key), value: releasedMarker(this.opts.name) } }]);
  }

  /** Hold the key from now; act from `actFrom` (at once when the predecessor's deadline has surely passed). */
  private elect(createRevision: number, deadline: number, actFrom: number): void {
    if (this.sched.now() >= deadline) return; // too slow to be useful: try again next loop
    this.holder = this.opts.name;
    const held = { createRevision, deadline, tenure: ++this.tenure, acting: false };
    this.controller = held;
    this.setDeadline(deadline);
    const act = () => {
      if (this.controller !== held || this.sched.now() >= held.deadline) return;
      held.acting = true;
      this.opts.log?.warn({ member: this.opts.name, deadline: held.deadline }, "became the controller");
      this.emit({ kind: "elected", at: this.sched.now(), deadline: held.deadline, createRevision });
    };
    if (actFrom <= this.sched.now()) return act();
    this.opts.log?.warn({ member: this.opts.name, actFrom }, "holds the controller key; acts once the previous controller's deadline has surely passed");
    this.cancelAct = this.sched.setTimeout(act, actFrom - this.sched.now());
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
    const held = this.controller;
    if (!held) return;
    this.controller = undefined;
    this.tenure++;
    this.cancelDeadline();
    this.cancelAct();
    if (reason === "deadline" && this.lease) {
      const lease = this.lease;
      this.lease = undefined;
      this.lastRenewal = undefined;
      // Best effort, etcd is likely unreachable: mark the key released (this tenure is over; not when
      // it never acted: its predecessor may still be within its deadline), then revoke.
      const released = held.acting ? this.release(lease, held.createRevision).catch(() => undefined) : Promise.resolve();
      void released.finally(() => this.opts.etcd.revokeLease(lease).catch(() => undefined));
    }
    if (!held.acting) return void this.opts.log?.warn({ member: this.opts.name, reason }, "gave up the controller key before acting");
    this.opts.log?.warn({ member: this.opts.name, reason }, "stepped down as controller");
    this.emit({ kind: "lost", at: this.sched.now(), reason });
  }

  private emit(e: ElectionEvent): void {
    for (const l of this.listeners) l(e);
  }
}
