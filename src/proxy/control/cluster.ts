// A proxy with `proxy.cluster`: its ClusterMember wired to the proxy's Arbiter. The arbiter adopts
// every state the follower applies (before any further CA write is routed); only the controller's
// arbiter decides, and its changes are committed to etcd (compare-and-set) before anything is sent
// to the new active; a failback's final pull waits for the cluster-wide write hold.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { FailbackRefusedError, FileAccessError, HoldNotAcknowledgedError, StaleStateError } from "../../errors.js";
import type { Logger } from "../../log.js";
import type { Arbiter } from "./arbiter.js";
import type { Scheduler } from "../scheduler.js";
import type { ClusterConfig } from "./config.js";
import type { Leadership } from "./controller-cron.js";
import { EtcdClient, type EtcdTls } from "./etcd.js";
import { ClusterDrains } from "./drains.js";
import { ClusterMember, type ClusterMemberOptions } from "./member.js";
import { holdAcknowledged, membersPrefix, parseMember, type MemberRecord } from "./members.js";
import type { CaState, StoredState } from "./store.js";
import type { LeaseTiming } from "./timing.js";

/** The id prefix of the write hold a failover's commit carries until its promotion steps ran. */
const PROMOTION_HOLD = "promotion-";

export interface ProxyClusterOptions {
  config: ClusterConfig;
  workers: readonly string[];
  adminUrl: () => string;
  scheduler: Scheduler;
  log: Logger;
  /** Apply the cluster-wide set of drained backends (read every loopWait). */
  applyDrained(names: ReadonlySet<string>): void;
  /** proxy.workers > 1: this proxy's workers, whose acknowledgements its member record waits for (member.ts). */
  dataPlane?: ClusterMemberOptions["dataPlane"];
}

/** What /health and /metrics show of the cluster, from this proxy. */
export interface ClusterSnapshot {
  name: string;
  controller: string | undefined;
  isController: boolean;
  members: MemberRecord[];
  viewAgeMs: number | undefined;
  viewDeadlineInMs: number;
  etcdUnreachableSince: number | undefined;
  caWritesInFlight: number;
  counters: { leaseRenewals: number; leaseRenewalFailures: number; controllerChanges: number; viewDeadlineMisses: number };
}

function readTls(c: ClusterConfig["etcd"]["tls"]): EtcdTls | undefined {
  if (!c) return undefined;
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path, "utf8");
    } catch (cause) {
      throw new FileAccessError(path, what, { cause });
    }
  };
  return { ca: read(c.ca, "etcd CA certificate"), cert: c.cert ? read(c.cert, "etcd client certificate") : "", key: c.key ? read(c.key, "etcd client key") : "" };
}

export class ProxyCluster {
  readonly member: ClusterMember;
  /** Drain/enable of backends, cluster-wide. */
  readonly drains: ClusterDrains;
  readonly timing: LeaseTiming;
  private readonly client: EtcdClient;
  private arbiter: Arbiter | undefined;
  private readonly counters = { leaseRenewals: 0, leaseRenewalFailures: 0, controllerChanges: 0, viewDeadlineMisses: 0 };
  private pastDeadline = false;
  /** The write hold of the controller's last commit, until promoted() releases it. */
  private promotionHold: string | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly o: ProxyClusterOptions) {
    const c = o.config;
    this.timing = { ttlMs: c.ttl, loopWaitMs: c.loopWait, retryTimeoutMs: c.retryTimeout };
    const tls = readTls(c.etcd.tls);
    this.client = new EtcdClient({ endpoints: c.etcd.endpoints, timeoutMs: c.retryTimeout, ...(tls ? { tls } : {}) });
    this.member = new ClusterMember({
      client: this.client, name: c.name, prefix: c.prefix, timing: this.timing, adminUrl: o.adminUrl, workers: o.workers,
      // A refused CA write may go through once etcd answers again or a new controller is in place.
      retryAfterS: Math.ceil(c.ttl / 1000), scheduler: o.scheduler, log: o.log, ...(o.dataPlane ? { dataPlane: o.dataPlane } : {}),
      beforeOrphanRelease: (s) => this.resumePromotion(s),
    });
    this.drains = new ClusterDrains({
      client: this.client, prefix: c.prefix, periodMs: c.loopWait, scheduler: o.scheduler, apply: (names) => o.applyDrained(names),
      onError: (err) => o.log.debug({ err }, "cannot read the drained backends from etcd"),
    });
    this.member.election.on((e) => {
      if (e.kind === "renewed") this.counters.leaseRenewals++;
      else if (e.kind === "renewal-failed") this.counters.leaseRenewalFailures++;
      else if (e.kind === "elected") {
        this.counters.controllerChanges++;
        void this.initialState();
      }
    });
  }

  /** Tie the arbiter to the follower: it adopts every applied state; as controller it acts on its checks. */
  attach(arbiter: Arbiter): void {
    this.arbiter = arbiter;
    const f = this.member.follower;
    f.onChange(() => {
      const s = f.state;
      if (s) arbiter.observe(s);
      this.noteDeadline();
      if (s && this.decides()) arbiter.reconsider();
    });
  }

  /** Count each time the view deadline passes (checked on every view change and every snapshot). */
  private noteDeadline(): void {
    const past = this.o.scheduler.now() >= this.member.view.deadline();
    if (past && !this.pastDeadline) this.counters.viewDeadlineMisses++;
    this.pastDeadline = past;
  }

  decides(): boolean {
    return this.member.election.isController();
  }

  /** Whether this proxy is the controller and when that changes (for work only the controller does). */
  leadership(): Leadership {
    return {
      isController: () => this.decides(),
      onChange: (fn) => this.member.election.on((e) => {
        if (e.kind === "elected") fn(true);
        else if (e.kind === "lost") fn(false);
      }),
    };
  }

  start(): void {
    this.member.start();
    this.drains.start();
  }

  /** Leave the cluster: release (revoke the lease at once) or not (as if this process died: it expires after ttl). Idempotent. */
  stop(o: { release: boolean } = { release: true }): Promise<void> {
    this.stopping ??= (async () => {
      this.drains.stop();
      await this.member.stop(o).catch((err: unknown) => this.o.log.warn({ err }, "could not release the controller key"));
      await this.client.close();
    })();
    return this.stopping;
  }

  /** The first controller of a new cluster writes epoch 1 with the first CA worker active. */
  private async initialState(): Promise<void> {
    try {
      if (await this.member.store.read()) return;
      const s = await this.member.store.compareAndSet(undefined, { epoch: 1, active: this.o.workers[0] as string });
      this.member.follower.apply(s);
    } catch (err) {
      this.o.log.warn({ err }, "could not write the first CA state");
    }
  }

  /** The arbiter's start (epoch 0 until the first read of etcd is adopted) and its commit. */
  arbiterState(): { initial: CaState; commit: (next: CaState) => Promise<void> } {
    return { initial: { epoch: 0, active: this.o.workers[0] as string }, commit: (next) => this.commit(next) };
  }

  /**
   * Arbiter commit: the controller's compare-and-set of a change of active CA, applied here at once.
   * It carries a write hold: no proxy sends a CA write to the new active before the promotion hooks
   * (the serial gap) have run here and promoted() released it.
   */
  async commit(next: CaState): Promise<void> {
    const prev = await this.member.store.read();
    if (!prev || prev.state.epoch !== next.epoch - 1 || prev.state.active !== next.change?.from) {
      throw new StaleStateError(prev?.revision ?? 0, prev?.revision ?? 0);
    }
    const hold = { id: `${PROMOTION_HOLD}${randomUUID()}`, target: next.active, since: this.o.scheduler.now() };
    const stored = await this.member.store.compareAndSet(prev, { ...next, hold });
    this.promotionHold = hold.id;
    this.member.follower.apply(stored);
  }

  /** After the promotion hooks: release the commit's write hold (a successor clears it otherwise). */
  async promoted(): Promise<void> {
    const id = this.promotionHold;
    this.promotionHold = undefined;
    if (id !== undefined) await this.releaseHold(id);
  }

  /**
   * A predecessor died between committing a promotion (with its write hold) and releasing it: its
   * promotion steps (the serial advance) may not have run, so run them here before the hold goes.
   * Repeating them is safe: a serial advance moves the serial forward only.
   */
  private async resumePromotion(s: StoredState): Promise<void> {
    const { hold, change } = s.state;
    if (!hold?.id.startsWith(PROMOTION_HOLD) || !change || !this.arbiter) return;
    await this.arbiter.resumePromotion({ from: change.from, to: s.state.active, epoch: s.state.epoch, cause: change.cause, detail: "promotion resumed by the new controller" });
  }

  /** Remove the write hold `id` from the CA state, if it is still there. */
  private async releaseHold(id: string): Promise<void> {
    const { store, follower } = this.member;
    const cur = await store.read();
    if (cur?.state.hold?.id !== id) return;
    const { hold: _released, ...rest } = cur.state;
    follower.apply(await store.compareAndSet(cur, rest));
  }

  /** The live members (a linearizable read of the registry). */
  async members(): Promise<MemberRecord[]> {
    const r = await this.client.range(membersPrefix(this.o.config.prefix), { prefix: true });
    const members = r.kvs.map((kv) => parseMember(kv.value, kv.key));
    this.member.gone.observe(members.map((m) => m.name), this.o.scheduler.now());
    return members;
  }

  /** Who a failback hold waits for: live members not yet acknowledging it, and members gone less than ttl ago. */
  private async holdWaitsFor(id: string): Promise<string[]> {
    const ack = holdAcknowledged(await this.members(), id);
    return [...ack.waitingFor, ...this.member.gone.describe(this.o.scheduler.now())];
  }

  /**
   * Before a failback holds CA writes: wait (without holding anything) until no member whose record
   * vanished may still be acting (gone-members.ts), at most 2 x ttl; then FailbackRefusedError.
   */
  async readyToQuiesce(): Promise<void> {
    const sched = this.o.scheduler;
    const giveUpAt = sched.now() + 2 * this.timing.ttlMs;
    for (;;) {
      await this.members();
      const now = sched.now();
      const safeFrom = this.member.gone.safeFrom();
      if (safeFrom <= now) return;
      if (safeFrom > giveUpAt) throw this.notYet(now);
      await new Promise<void>((resolve) => sched.setTimeout(resolve, safeFrom - now));
    }
  }

  private notYet(now: number): FailbackRefusedError {
    return new FailbackRefusedError(`not now: ${this.member.gone.describe(now).join("; ")}; retry once ttl has passed`);
  }

  /**
   * Failback quiesce: put a write hold into the CA state and wait until every live member
   * acknowledges it with no CA write in flight (HoldNotAcknowledgedError after ms). Refused before
   * any hold while a member whose record vanished less than ttl ago may still act (an early lease
   * revocation, gone-members.ts). Returns the release for an abort (the switch itself removes the hold).
   */
  async quiesce(target: string, ms: number): Promise<() => Promise<void>> {
    const { store, follower } = this.member;
    await this.members(); // fresh registry: no cluster-wide hold while a member may be acting unseen
    if (this.member.gone.safeFrom() > this.o.scheduler.now()) throw this.notYet(this.o.scheduler.now());
    const prev = await store.read();
    if (!prev || prev.state.epoch !== this.arbiter?.epoch) throw new StaleStateError(prev?.revision ?? 0, prev?.revision ?? 0);
    const id = randomUUID();
    const started = this.o.scheduler.now();
    follower.apply(await store.compareAndSet(prev, { ...prev.state, hold: { id, target, since: started } }));
    const release = () => this.releaseHold(id);
    try {
      for (;;) {
        const waitingFor = await this.holdWaitsFor(id);
        if (waitingFor.length === 0) return release;
        if (this.o.scheduler.now() - started >= ms) throw new HoldNotAcknowledgedError(id, waitingFor, ms);
        await new Promise<void>((resolve) => this.o.scheduler.setTimeout(resolve, Math.max(20, Math.floor(this.timing.loopWaitMs / 5))));
      }
    } catch (err) {
      await release().catch(() => undefined); // the next controller clears it otherwise
      throw err;
    }
  }

  /** The controller's admin URL from the last view (undefined: no controller, or not registered). */
  controllerAdminUrl(): string | undefined {
    const snap = this.member.view.snapshot;
    const name = snap?.controller;
    return name === undefined ? undefined : snap?.members.find((m) => m.name === name)?.adminUrl;
  }

  snapshot(): ClusterSnapshot {
    const { view, follower, election } = this.member;
    this.noteDeadline();
    const snap = view.snapshot;
    return {
      name: this.member.name, controller: snap?.controller, isController: election.isController(), members: snap?.members ?? [],
      viewAgeMs: view.ageMs(), viewDeadlineInMs: Math.max(-1, view.deadline() - this.o.scheduler.now()),
      etcdUnreachableSince: view.unreachableSince, caWritesInFlight: follower.writesInFlight, counters: { ...this.counters },
    };
  }
}
