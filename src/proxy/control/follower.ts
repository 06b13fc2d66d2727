// What every proxy of a cluster does with the CA state it has read: route CA requests from local
// memory (no etcd round trip per request), gate CA writes on the view deadline and on a failback's
// write hold, count its CA writes in flight and say when it acknowledges a hold.
import { realScheduler, type Scheduler } from "../scheduler.js";
import type { CaState, CaTransition, StoredState } from "./store.js";


export type CaRoute =
  | { kind: "worker"; worker: string; epoch: number }
  /** Wait (onChange) and ask again; the caller's own hold timer bounds the wait. */
  | { kind: "hold"; reason: string }
  /** 503 with Retry-After at the edge. */
  | { kind: "refuse"; reason: string; retryAfterS: number };

/** The parts of ClusterView the follower needs. */
export interface ViewSource {
  /** Until when CA writes may be forwarded on this view. */
  deadline(): number;
  /** Since when reads have been failing (undefined while they succeed). */
  readonly unreachableSince: number | undefined;
}

export interface FollowerOptions {
  view: ViewSource;
  /** CA worker names of proxy.ca.workers: a state naming another is not applied. */
  workers: readonly string[];
  /** Retry-After for refused writes. */
  retryAfterS: number;
  scheduler?: Scheduler;
}

export class Follower {
  private readonly sched: Scheduler;
  private applied: StoredState | undefined;
  private inFlight = 0;
  private readonly listeners = new Set<() => void>();
  private readonly transitionListeners = new Set<(t: CaTransition) => void>();

  constructor(private readonly opts: FollowerOptions) {
    this.sched = opts.scheduler ?? realScheduler;
  }

  get state(): CaState | undefined {
    return this.applied?.state;
  }

  get writesInFlight(): number {
    return this.inFlight;
  }

  /**
   * Adopt a state read from etcd (periodic read or watch) if it is newer: a higher epoch, or the same
   * epoch at a later revision (a hold put or removed). Returns true when adopted.
   */
  apply(s: StoredState): boolean {
    const cur = this.applied;
    if (!this.opts.workers.includes(s.state.active)) return false;
    if (cur && (s.state.epoch < cur.state.epoch || (s.state.epoch === cur.state.epoch && s.revision <= cur.revision))) return false;
    this.applied = { state: { ...s.state }, revision: s.revision };
    if (cur && s.state.epoch > cur.state.epoch && s.state.active !== cur.state.active) {
      const t: CaTransition = { epoch: s.state.epoch, from: cur.state.active, to: s.state.active, cause: s.state.change?.cause ?? "failover" };
      for (const l of [...this.transitionListeners]) l(t);
    }
    this.changed();
    return true;
  }

  /** Where a CA request goes now. Reads follow the last known active even when etcd is unreachable. */
  route(caWrite: boolean): CaRoute {
    const s = this.applied?.state;
    if (!s) return { kind: "hold", reason: "no CA state read from etcd yet" };
    if (!caWrite) return { kind: "worker", worker: s.active, epoch: s.epoch };
    const now = this.sched.now();
    const since = this.opts.view.unreachableSince;
    if (now >= this.opts.view.deadline()) {
      const why = since === undefined ? "no current view of the CA state" : `etcd unreachable since ${new Date(since).toISOString()}`;
      return { kind: "refuse", reason: `CA writes refused: ${why}`, retryAfterS: this.opts.retryAfterS };
    }
    if (s.hold) return { kind: "hold", reason: `failback write hold ${s.hold.id} (to ${s.hold.target})` };
    if (since !== undefined) return { kind: "hold", reason: `etcd unreachable since ${new Date(since).toISOString()}` };
    return { kind: "worker", worker: s.active, epoch: s.epoch };
  }

  /** A CA write was sent to `route`'s worker; call the returned function once when it has ended. */
  writeStarted(): () => void {
    this.inFlight++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.inFlight--;
      if (this.inFlight === 0) this.changed();
    };
  }

  /** The hold id this proxy acknowledges: a hold is in place and none of its CA writes is in flight. */
  holdAck(): string | null {
    const hold = this.applied?.state.hold;
    return hold && this.inFlight === 0 ? hold.id : null;
  }

  /**
   * Called on every change of active CA this proxy applies (not for the first state it reads).
   * `from` is the CA this proxy routed to before: it may differ from change.from when this proxy
   * missed an epoch in between.
   */
  onTransition(fn: (t: CaTransition) => void): () => void {
    this.transitionListeners.add(fn);
    return () => this.transitionListeners.delete(fn);
  }

  /** Called whenever a route may have changed (state applied, writes drained, view read). */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The view read again (or failed): held requests should ask again. */
  viewChanged(): void {
    this.changed();
  }

  private changed(): void {
    for (const l of [...this.listeners]) l();
  }
}
