// The CA arbiter: which CA worker is active and at what epoch, failover to the first usable
// standby, and the write hold (`hold writes -> async step -> switch -> release`) that failover,
// admin switches and the later guarded failback are all built on.
import { NoHealthyBackendError, StateError, WritesInFlightError } from "../errors.js";
import type { Logger } from "../log.js";
import type { TransitionCause } from "./control/store.js";
import type { ArbiterState, ArbiterStore } from "./state-store.js";

export interface Scheduler {
  now(): number;
  /** Run fn after ms; returns a cancel function. */
  setTimeout(fn: () => void, ms: number): () => void;
}

export const realScheduler: Scheduler = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

export interface PromotionEvent {
  from: string;
  to: string;
  epoch: number;
  reason: string;
  cause: TransitionCause;
}

/**
 * What the data plane asks about CA requests, and nothing else: where this CA request goes (a
 * worker name now, or later, or a typed error for the edge) and when a CA write starts and ends.
 * Two implementations: the Arbiter (one proxy) and ClusterCaRouter (control/cluster-router.ts).
 */
export interface CaRouter {
  acquire(write: boolean): string | Promise<string>;
  /** The epoch of the state that routes CA requests now (sent to the CA as X-Puppet-HA-Epoch). */
  readonly epoch: number;
  writeStarted(): void;
  writeEnded(): void;
}

/** Runs after the new {epoch, active} is saved and before held writes are released. */
export type PromotionHook = (event: PromotionEvent) => Promise<void> | void;

export interface ArbiterOptions {
  /** CA worker names in priority order (the first is the primary). */
  workers: readonly string[];
  store: ArbiterStore;
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
   * Several proxies: persist a change of active CA where the decision lives (the etcd store's
   * compare-and-set) before anything is sent to the new active; throws, and nothing changes here,
   * when this proxy is not the controller any more or the state moved on. Default: store.save.
   */
  commit?: (next: ArbiterState, from: string, cause: TransitionCause) => Promise<void>;
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
  lastChange: { at: number; from: string; to: string; reason: string } | undefined;
}

export class Arbiter implements CaRouter {
  private state: ArbiterState;
  private holds = 0;
  private writesInFlight = 0;
  private drainWaiters: (() => void)[] = [];
  private waiters: Waiter[] = [];
  private readWaiters: Waiter[] = [];
  private readonly hooks: PromotionHook[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private failingOver = false;
  private lastChange: ArbiterSnapshot["lastChange"];
  private readonly sched: Scheduler;

  constructor(private opts: ArbiterOptions, statePath = "<state>") {
    this.sched = opts.scheduler ?? realScheduler;
    const loaded = opts.store.load();
    if (loaded && !opts.workers.includes(loaded.active)) {
      throw new StateError(statePath, `names CA worker "${loaded.active}", which is not in proxy.ca.workers (${opts.workers.join(", ")})`);
    }
    this.state = loaded ?? { epoch: 1, active: opts.workers[0] as string };
    if (!loaded) opts.store.save(this.state);
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

  /** Register a hook run on every change of active CA, under the write hold. */
  onPromotion(hook: PromotionHook): void {
    this.hooks.push(hook);
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

  /** CA writes handed to a CA and not yet ended (see writeStarted). */
  get inFlightWrites(): number {
    return this.writesInFlight;
  }

  /**
   * A CA write was handed to a CA's connection pool. Counted until the CA's answer arrives or the
   * upstream request ends (error, timeouts.response), not until its client goes: a write whose client left
   * runs on to its end (forward.ts), so when the count is 0 no CA is still doing a write.
   */
  writeStarted(): void {
    this.writesInFlight++;
  }

  /** A CA write was answered or its upstream request ended (exactly once per writeStarted). */
  writeEnded(): void {
    this.writesInFlight = Math.max(0, this.writesInFlight - 1);
    if (this.writesInFlight > 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Resolves once no CA write is in flight; call it with writes held, before copying the active
   * CA's dir. A write already sent (a CSR being autosigned) changes the cadir until it answers:
   * a final pull taken before it ends would miss that certificate, and the next CA would issue
   * its serial again. Rejects with WritesInFlightError after ms. Since a write whose client left
   * is not aborted but runs to its end, no client can keep this from resolving for long: its
   * writes are held meanwhile and the ones in flight end within timeouts.response. Failover does
   * not wait: its old active is dead or hung, and the serial gap covers what it may have issued.
   */
  writesDrained(ms: number): Promise<void> {
    if (this.writesInFlight === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        cancel();
        resolve();
      };
      const cancel = this.sched.setTimeout(() => {
        this.drainWaiters = this.drainWaiters.filter((w) => w !== done);
        reject(new WritesInFlightError(this.writesInFlight, ms));
      }, ms);
      this.drainWaiters.push(done);
    });
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
   */
  async switchTo(to: string, reason: string, cause: TransitionCause = "failover"): Promise<ArbiterState> {
    if (!this.opts.workers.includes(to)) throw new NoHealthyBackendError("ca", `unknown CA worker "${to}"`);
    if (to === this.state.active) return { ...this.state };
    const from = this.state.active;
    const next = { epoch: this.state.epoch + 1, active: to };
    if (this.opts.commit) await this.opts.commit(next, from, cause); // throws: then nothing changes here
    if (this.state.epoch < next.epoch) this.opts.store.save(next); // throws FencedError: then nothing changes here
    this.state = next;
    this.lastChange = { at: this.sched.now(), from, to, reason };
    this.opts.log?.warn({ from, to, epoch: next.epoch, reason }, "active CA changed");
    this.drain(); // reads go to the new active at once; writes stay held until the step ends
    for (const hook of this.hooks) {
      try {
        await hook({ from, to, epoch: next.epoch, reason, cause });
      } catch (err) {
        this.opts.log?.error({ err, from, to, epoch: next.epoch }, "promotion hook failed");
      }
    }
    await this.opts.promoted?.().catch((err: unknown) => this.opts.log?.error({ err, to, epoch: next.epoch }, "could not release the cluster-wide write hold of the promotion"));
    return { ...this.state };
  }

  /** Admin action: make `to` active under the write hold. */
  setActive(to: string, reason = "admin request"): Promise<ArbiterState> {
    return this.withWriteHold(() => this.switchTo(to, reason, "admin"));
  }

  /** Adopt a state seen elsewhere only if its epoch is higher (fencing). Returns true if adopted. */
  observe(state: ArbiterState): boolean {
    if (state.epoch <= this.state.epoch || !this.opts.workers.includes(state.active)) return false;
    this.opts.store.save(state);
    this.state = { ...state };
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
        await this.switchTo(to, reason);
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
