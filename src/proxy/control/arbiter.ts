// The CA arbiter, owner of this proxy's CA state: which CA worker is active at what epoch, failover
// to the first usable standby, the write hold (`hold writes -> async step -> switch -> release`) that
// failover, admin switches and guarded failback are built on, and the typed transitions
// ({epoch, from, to, cause}) that events, metrics, CRL refresh, sync and serial advance subscribe to.
import { NoHealthyBackendError, StateError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { realScheduler, type Scheduler } from "../scheduler.js";
import type { CaRouter } from "./ca-router.js";
import type { CaState, CaTransition, TransitionCause } from "./store.js";
import { WriteCount } from "./write-count.js";

/** The arbiter's view of the CA state: which worker is active at which epoch. */
export interface ArbiterState {
  epoch: number;
  active: string;
}

/** A change of active CA decided by this proxy; `detail` says why for people (logs, events), nothing decides on it. */
export interface PromotionEvent extends CaTransition {
  detail: string;
}

/** Runs on the deciding proxy after the new {epoch, active} is saved and before held writes are released. */
export type PromotionHook = (event: PromotionEvent) => Promise<void> | void;

export interface ArbiterOptions {
  /** CA worker names in priority order (the first is the primary). */
  workers: readonly string[];
  /** The state read from the store at start (control/store.ts; in a cluster: epoch 0 until the first read). */
  initial: ArbiterState;
  /**
   * Persist a change of active CA before anything is sent to the new active: the store's
   * compare-and-set (storeCommit for the file store; ProxyCluster.commit for the etcd store, which
   * also checks that this proxy is still the controller). Throws, and nothing changes here, when
   * the store refused it (fenced, stale, not the controller).
   */
  commit: (next: CaState) => Promise<void>;
  /** Whether a worker can take traffic now (the CA pool's view). */
  isUsable: (name: string) => boolean;
  /**
   * Whether a standby may be promoted: proven up by an active check, not merely "not down yet"
   * (at start every backend is usable until checked). Default: isUsable.
   */
  isPromotable?: (name: string) => boolean;
  /** How long a held request waits before it is refused. */
  holdMs: number;
  scheduler?: Scheduler;
  log?: Logger;
  /**
   * Several proxies: whether this proxy may decide (it is the controller). Default: always. A
   * proxy that may not decide never fails over by itself; it adopts states through observe().
   */
  decides?: () => boolean;
  /**
   * Several proxies: runs after the promotion hooks (the serial advance). The commit holds CA writes
   * cluster-wide; only now may the other proxies send them to the new active. Default: nothing.
   */
  promoted?: () => Promise<void>;
}

interface Waiter {
  resolve(active: string): void;
  reject(err: Error): void;
  cancel: () => void;
}

export interface ArbiterSnapshot {
  epoch: number;
  active: string;
  holding: boolean;
  heldRequests: number;
  failingOver: boolean;
  lastChange: { at: number; from: string; to: string; cause: TransitionCause; reason: string } | undefined;
}

export class Arbiter implements CaRouter {
  private state: ArbiterState;
  private holds = 0;
  private readonly writes: WriteCount;
  private waiters: Waiter[] = [];
  private readWaiters: Waiter[] = [];
  private readonly hooks: PromotionHook[] = [];
  private readonly transitionListeners: ((t: CaTransition) => void)[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private failingOver = false;
  private lastChange: ArbiterSnapshot["lastChange"];
  private readonly sched: Scheduler;

  constructor(private opts: ArbiterOptions, statePath = "<state>") {
    this.sched = opts.scheduler ?? realScheduler;
    this.writes = new WriteCount(this.sched);
    const loaded = opts.initial;
    if (!opts.workers.includes(loaded.active)) {
      throw new StateError(statePath, `names CA worker "${loaded.active}", which is not in proxy.ca.workers (${opts.workers.join(", ")})`);
    }
    this.state = { epoch: loaded.epoch, active: loaded.active };
  }

  get active(): string {
    return this.state.active;
  }
  get epoch(): number {
    return this.state.epoch;
  }
  get holding(): boolean {
    return this.holds > 0;
  }

  /** Change how long held requests wait (config reload). */
  setHoldMs(ms: number): void {
    this.opts.holdMs = ms;
  }

  /** Register a hook run on every change of active CA this proxy decides, under the write hold. */
  onPromotion(hook: PromotionHook): void {
    this.hooks.push(hook);
  }

  /**
   * Subscribe to every change of active CA this proxy applies: decided here (failover, admin,
   * failback) or adopted from the cluster's CA state (observe). Called synchronously, before any
   * further CA request is routed; not for the first state a cluster member reads.
   */
  onTransition(fn: (t: CaTransition) => void): void {
    this.transitionListeners.push(fn);
  }

  private applied(next: ArbiterState, from: string, cause: TransitionCause, reason: string): void {
    this.state = { epoch: next.epoch, active: next.active };
    this.lastChange = { at: this.sched.now(), from, to: next.active, cause, reason };
    const t: CaTransition = { epoch: next.epoch, from, to: next.active, cause };
    for (const l of this.transitionListeners) {
      try {
        l(t);
      } catch (err) {
        this.opts.log?.error({ err, ...t }, "CA transition listener failed");
      }
    }
  }

  /**
   * The CA worker for a request. Reads go to the active CA at once; writes wait while writes are
   * held. Both wait while the active CA is down and a failover can still happen. Rejects with
   * NoHealthyBackendError after holdMs (503 + Retry-After at the edge).
   */
  acquire(write: boolean): string | Promise<string> {
    const activeUp = this.opts.isUsable(this.state.active);
    if (activeUp && (!write || this.holds === 0)) return this.state.active;
    if (!activeUp && !write && !this.opts.workers.some((w) => this.opts.isUsable(w))) {
      throw new NoHealthyBackendError("ca", "no CA worker is up");
    }
    return new Promise<string>((resolve, reject) => {
      const w: Waiter = { resolve, reject, cancel: () => undefined };
      w.cancel = this.sched.setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        this.readWaiters = this.readWaiters.filter((x) => x !== w);
        reject(new NoHealthyBackendError("ca", `CA ${write ? "write" : "read"} held ${this.opts.holdMs} ms without an active CA`));
      }, this.opts.holdMs);
      (write ? this.waiters : this.readWaiters).push(w);
    });
  }

  /** CA writes handed to a CA and not yet ended (see WriteCount.started). */
  get inFlightWrites(): number {
    return this.writes.inFlight;
  }

  writeStarted(): void {
    this.writes.started();
  }

  writeEnded(): void {
    this.writes.ended();
  }

  /** Resolves once no CA write is in flight (WriteCount.drained); call it with writes held. */
  writesDrained(ms: number): Promise<void> {
    return this.writes.drained(ms);
  }

  /** Release whatever may go now. */
  private drain(): void {
    if (!this.opts.isUsable(this.state.active)) return;
    const go = (list: Waiter[]) => {
      for (const w of list) {
        w.cancel();
        w.resolve(this.state.active);
      }
    };
    const reads = this.readWaiters;
    this.readWaiters = [];
    go(reads);
    if (this.holds > 0) return;
    const writes = this.waiters;
    this.waiters = [];
    go(writes);
  }

  /**
   * Hold CA writes, run step (one step at a time), release. The building block for failover,
   * admin switches and failback: `withWriteHold(async () => { await finalSync(); await switchTo(x) })`.
   */
  withWriteHold<T>(step: () => Promise<T>): Promise<T> {
    const run = async () => {
      this.holds++;
      try {
        return await step();
      } finally {
        this.holds--;
        this.drain();
      }
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /**
   * Make `to` the active CA (epoch+1, saved before anything is sent to it), then run the
   * promotion hooks. Call only inside withWriteHold. Hook failures are logged, not fatal.
   * `detail` is for people (logs, events); subscribers decide on `cause`.
   */
  async switchTo(to: string, cause: TransitionCause, detail: string): Promise<ArbiterState> {
    if (!this.opts.workers.includes(to)) throw new NoHealthyBackendError("ca", `unknown CA worker "${to}"`);
    if (to === this.state.active) return { ...this.state };
    const from = this.state.active;
    const next = { epoch: this.state.epoch + 1, active: to };
    await this.opts.commit({ ...next, change: { from, cause, at: this.sched.now() } }); // throws: then nothing changes here
    // A cluster's commit applies the stored state at once (observe): then it is not applied twice.
    if (this.state.epoch < next.epoch) this.applied(next, from, cause, detail);
    else if (this.lastChange) this.lastChange.reason = detail;
    this.opts.log?.warn({ from, to, epoch: next.epoch, cause, detail }, "active CA changed");
    this.drain(); // reads go to the new active at once; writes stay held until the step ends
    await this.runHooks({ from, to, epoch: next.epoch, cause, detail });
    await this.opts.promoted?.().catch((err: unknown) => this.opts.log?.error({ err, to, epoch: next.epoch }, "could not release the cluster-wide write hold of the promotion"));
    return { ...this.state };
  }

  /**
   * A new controller finishing a predecessor's promotion (it died before its hooks ran): the hooks
   * run for that transition, while the cluster-wide write hold still keeps CA writes away.
   */
  async resumePromotion(event: PromotionEvent): Promise<void> {
    this.opts.log?.warn({ from: event.from, to: event.to, epoch: event.epoch }, "resuming the promotion steps of the previous controller");
    await this.runHooks(event);
  }

  private async runHooks(event: PromotionEvent): Promise<void> {
    for (const hook of this.hooks) {
      try {
        await hook(event);
      } catch (err) {
        this.opts.log?.error({ err, from: event.from, to: event.to, epoch: event.epoch }, "promotion hook failed");
      }
    }
  }

  /** Admin action: make `to` active under the write hold. */
  setActive(to: string, detail = "admin request"): Promise<ArbiterState> {
    return this.withWriteHold(() => this.switchTo(to, "admin", detail));
  }

  /**
   * Adopt a state seen elsewhere (the cluster's) only if its epoch is higher (fencing). Returns
   * true if adopted. A change of active CA is a transition, with the cause stored with the state.
   */
  observe(state: CaState): boolean {
    if (state.epoch <= this.state.epoch || !this.opts.workers.includes(state.active)) return false;
    const from = this.state.active;
    if (this.state.epoch === 0 || from === state.active) this.state = { epoch: state.epoch, active: state.active };
    else this.applied(state, from, state.change?.cause ?? "failover", `adopted from the cluster's CA state at epoch ${state.epoch}`);
    this.drain();
    return true;
  }

  /** The CA pool saw a worker go down: fail over if it was the active one. */
  workerDown(name: string, reason: string): void {
    if (name === this.state.active) this.failover(`active CA ${name} down: ${reason}`);
  }

  /** The CA pool saw a worker come up (active checks only). Never a failback by itself. */
  workerUp(name: string): void {
    if (name === this.state.active) this.drain();
    else if (!this.opts.isUsable(this.state.active)) this.failover(`active CA ${this.state.active} still down, ${name} is up`);
  }

  /** This proxy may decide now (it became the controller): act on what its checks already saw. */
  reconsider(): void {
    if (!this.opts.isUsable(this.state.active)) this.failover(`active CA ${this.state.active} down when this proxy became the controller`);
  }

  private failover(reason: string): void {
    if (this.failingOver || !(this.opts.decides?.() ?? true)) return;
    this.failingOver = true;
    void this.withWriteHold(async () => {
      try {
        if (this.opts.isUsable(this.state.active)) return;
        const promotable = this.opts.isPromotable ?? this.opts.isUsable;
        const to = this.opts.workers.find((w) => w !== this.state.active && promotable(w));
        if (!to) {
          this.opts.log?.error({ active: this.state.active, reason }, "active CA is down and no standby is up: CA requests held");
          return;
        }
        await this.switchTo(to, "failover", reason);
      } catch (err) {
        this.opts.log?.error({ err, reason }, "failover failed");
      } finally {
        this.failingOver = false;
      }
    });
  }

  snapshot(): ArbiterSnapshot {
    return {
      epoch: this.state.epoch, active: this.state.active, holding: this.holds > 0 || !this.opts.isUsable(this.state.active),
      heldRequests: this.waiters.length + this.readWaiters.length, failingOver: this.failingOver, lastChange: this.lastChange,
    };
  }

  /** Refuse everything still waiting (shutdown). */
  close(): void {
    for (const w of [...this.waiters, ...this.readWaiters]) {
      w.cancel();
      w.reject(new NoHealthyBackendError("ca", "proxy shutting down"));
    }
    this.waiters = [];
    this.readWaiters = [];
  }
}
