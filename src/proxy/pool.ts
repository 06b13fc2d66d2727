// Backend state and selection, pure (no sockets): up/down with the reason and time of the last
// change, requests in flight, and picking by round-robin, least outstanding requests, or pinning.

export type BackendState = "unknown" | "up" | "down";

export interface BackendInfo {
  name: string;
  url: string;
}

export interface Backend extends BackendInfo {
  readonly pool: string;
  /** "unknown" until the first check answers; usable like "up" (see usable()). */
  state: BackendState;
  since: number;
  reason: string;
  /** Requests in flight (for least-connections and the health view). */
  outstanding: number;
  /** Consecutive active check results in the current direction. */
  checkSuccesses: number;
  checkFailures: number;
  lastCheck: number | undefined;
  lastCheckOk: boolean | undefined;
  lastLatencyMs: number | undefined;
  lastCheckError: string | undefined;
  passiveFailures: number;
  /** Drained by an operator: no new requests; checks go on but do not undrain it. */
  drained: boolean;
  /** Requests sent to it, and of those the ones that failed (connect, reset, timeout). */
  requests: number;
  errors: number;
}

export type Balance = "round-robin" | "least-connections";
export type StateListener = (b: Backend, previous: BackendState) => void;

/** A backend can take traffic until it is proven down (startup is optimistic), unless drained. */
export function usable(b: Backend): boolean {
  return b.state !== "down" && !b.drained;
}

export class BackendPool {
  readonly name: string;
  /** Replaced as a whole (never mutated) when members change on reload: see reconcile(). */
  backends: readonly Backend[];
  balance: Balance;
  private next = 0;
  private readonly listeners: StateListener[] = [];
  private readonly now: () => number;

  constructor(name: string, members: readonly BackendInfo[], balance: Balance = "round-robin", now: () => number = Date.now) {
    this.name = name;
    this.balance = balance;
    this.now = now;
    this.backends = members.map((m) => this.fresh(m));
  }

  private fresh(m: BackendInfo): Backend {
    return {
      name: m.name, url: m.url, pool: this.name, state: "unknown", since: this.now(), reason: "not checked yet",
      outstanding: 0, checkSuccesses: 0, checkFailures: 0, lastCheck: undefined, lastCheckOk: undefined,
      lastLatencyMs: undefined, lastCheckError: undefined, passiveFailures: 0, drained: false, requests: 0, errors: 0,
    };
  }

  /**
   * New members in the given order (config reload). A member with the same name and URL keeps its
   * Backend object (state, counters, connections); a new name or a changed URL gets a fresh one
   * ("unknown", usable until its first check). Returns what was added and removed; the caller
   * attaches connections and checks to `added` and retires `removed`.
   */
  reconcile(members: readonly BackendInfo[]): { added: Backend[]; removed: Backend[] } {
    const old = new Map(this.backends.map((b) => [b.name, b]));
    const added: Backend[] = [];
    const next = members.map((m) => {
      const b = old.get(m.name);
      if (b && b.url === m.url) {
        old.delete(m.name);
        return b;
      }
      const f = this.fresh(m);
      added.push(f);
      return f;
    });
    this.backends = next;
    return { added, removed: [...old.values()] };
  }

  get(name: string): Backend | undefined {
    return this.backends.find((b) => b.name === name);
  }

  onChange(listener: StateListener): void {
    this.listeners.push(listener);
  }

  /** Set a backend's state; listeners hear only real changes. Returns true when it changed. */
  setState(name: string, state: "up" | "down", reason: string): boolean {
    const b = this.get(name);
    if (!b || b.state === state) return false;
    const previous = b.state;
    b.state = state;
    b.since = this.now();
    b.reason = reason;
    for (const l of this.listeners) l(b, previous);
    return true;
  }

  /** Drain (no new requests) or enable a backend. Returns true when it changed. */
  setDrained(name: string, drained: boolean): boolean {
    const b = this.get(name);
    if (!b || b.drained === drained) return false;
    b.drained = drained;
    return true;
  }

  /**
   * The backend for the next request, skipping `exclude` (already tried) and unusable ones;
   * undefined when none is left.
   */
  pick(exclude?: ReadonlySet<Backend>): Backend | undefined {
    const list = this.backends;
    const n = list.length;
    if (this.balance === "least-connections") {
      let best: Backend | undefined;
      // Start at the rotating index so ties are spread instead of always hitting the first.
      for (let k = 0; k < n; k++) {
        const b = list[(this.next + k) % n] as Backend;
        if (!usable(b) || exclude?.has(b)) continue;
        if (!best || b.outstanding < best.outstanding) best = b;
      }
      this.next = (this.next + 1) % n;
      return best;
    }
    for (let k = 0; k < n; k++) {
      const i = (this.next + k) % n;
      const b = list[i] as Backend;
      if (!usable(b) || exclude?.has(b)) continue;
      this.next = (i + 1) % n;
      return b;
    }
    return undefined;
  }

  /** The first usable backend in configured order (file_bucket_file pinning). */
  pinned(exclude?: ReadonlySet<Backend>): Backend | undefined {
    return this.backends.find((b) => usable(b) && !exclude?.has(b));
  }

  anyUsable(): boolean {
    return this.backends.some(usable);
  }
}
