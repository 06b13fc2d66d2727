// The CA state store: one record {epoch, active, cause?, hold?} read as a whole, changed only by
// compare-and-set on its revision, epoch never going down. Two implementations: the file store
// (one proxy, the embedded default; below) and the etcd store (several proxies; etcd-store.ts).
import { readFileSync } from "node:fs";
import { FencedError, StaleStateError, StateError } from "../../errors.js";
import { writeFileAtomic } from "../../atomic-file.js";

/** A guarded failback's write hold: every member must stop CA writes and acknowledge `id`. */
export interface CaHold {
  id: string;
  /** The CA worker the failback will switch to once every member acknowledged. */
  target: string;
  /** When the controller put the hold in place (its clock, ms since the epoch). */
  since: number;
}

/** Why the active CA changed: decisions switch on this, never on a human-readable reason. */
export type TransitionCause = "failover" | "admin" | "failback";
export const TRANSITION_CAUSES: readonly TransitionCause[] = ["failover", "admin", "failback"];

/** A change of active CA as a proxy applied it: what events, metrics, CRL refresh, sync and serial advance subscribe to. */
export interface CaTransition {
  epoch: number;
  from: string;
  to: string;
  /** From the stored change record; "failover" when a state carries none (written by a bare store user). */
  cause: TransitionCause;
}

/** How the current epoch came to be (persisted with it, so every proxy sees the same record). */
export interface CaChange {
  from: string;
  cause: TransitionCause;
  /** The controller's clock when it wrote the change (ms since the epoch). */
  at: number;
}

export interface CaState {
  epoch: number;
  active: string;
  change?: CaChange;
  hold?: CaHold;
}

export interface StoredState {
  state: CaState;
  /** Changes on every write; what compareAndSet compares (etcd: the key's mod revision). */
  revision: number;
}

export interface CaStateStore {
  /** The current state (for etcd: a linearizable read); undefined when it was never written. */
  read(): Promise<StoredState | undefined>;
  /**
   * Write `next` if the state is still `prev` (undefined: never written). Throws StaleStateError
   * when it changed since, FencedError when next.epoch < prev's epoch, NotControllerError (etcd)
   * when the writer no longer holds the controller key. Nothing changes when it throws.
   */
  compareAndSet(prev: StoredState | undefined, next: CaState): Promise<StoredState>;
  /** Calls back on changes seen (a hint: read() is the truth); returns a stop function. */
  watch(onChange: (s: StoredState) => void): () => void;
}

/** The epoch only rises: refuse before anything is sent. */
export function checkEpoch(prev: StoredState | undefined, next: CaState): void {
  if (prev && next.epoch < prev.state.epoch) throw new FencedError(next.epoch, prev.state.epoch);
}

export function serializeState(s: CaState): string {
  return JSON.stringify({ epoch: s.epoch, active: s.active, ...(s.change ? { change: s.change } : {}), ...(s.hold ? { hold: s.hold } : {}) });
}

/** Parse and check a stored state; `where` names the file or key in the error. */
export function parseCaState(text: string, where: string): CaState {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (cause) {
    throw new StateError(where, "not valid JSON", { cause });
  }
  const o = (v ?? {}) as { epoch?: unknown; active?: unknown; change?: unknown; hold?: unknown };
  if (typeof v !== "object" || !Number.isSafeInteger(o.epoch) || (o.epoch as number) < 1 || typeof o.active !== "string" || o.active === "") {
    throw new StateError(where, 'expected {"epoch": <integer >= 1>, "active": "<CA worker name>", "hold"?: {...}}');
  }
  const state: CaState = { epoch: o.epoch as number, active: o.active };
  if (o.change !== undefined) {
    const c = (o.change ?? {}) as Partial<CaChange>;
    if (typeof c.from !== "string" || !TRANSITION_CAUSES.includes(c.cause as TransitionCause) || typeof c.at !== "number") {
      throw new StateError(where, `change must be {"from": "<CA worker name>", "cause": "${TRANSITION_CAUSES.join('" | "')}", "at": <ms>}`);
    }
    state.change = { from: c.from, cause: c.cause as TransitionCause, at: c.at };
  }
  if (o.hold !== undefined) {
    const h = (o.hold ?? {}) as Partial<CaHold>;
    if (typeof h.id !== "string" || typeof h.target !== "string" || h.target === "" || typeof h.since !== "number") {
      throw new StateError(where, 'hold must be {"id": "<text>", "target": "<CA worker name>", "since": <ms>}');
    }
    state.hold = { id: h.id, target: h.target, since: h.since };
  }
  return state;
}

/**
 * A commit function for the Arbiter over any store: compare-and-set against the last state this
 * process read or wrote (a state changed by anyone else meanwhile is refused: StaleStateError).
 */
export function storeCommit(store: CaStateStore, read: StoredState): (next: CaState) => Promise<void> {
  let current = read;
  return async (next) => {
    current = await store.compareAndSet(current, next);
  };
}

/** One proxy's arbiter state: the file store opened (epoch 1 on `first` when new) and its commit. */
export function openFileState(path: string, first: string): { initial: CaState; commit: (next: CaState) => Promise<void> } {
  const store = new FileCaStateStore(path);
  const stored = store.open(first);
  return { initial: stored.state, commit: storeCommit(store, stored) };
}

/**
 * The single-proxy store: a JSON file replaced atomically (temp file, fsync, rename) with a
 * revision counter in it. A file of the older form {epoch, active} (written before the revision
 * existed) reads as revision 0; the first write makes it revision 1.
 */
export class FileCaStateStore implements CaStateStore {
  private readonly listeners = new Set<(s: StoredState) => void>();

  constructor(readonly path: string) {}

  read(): Promise<StoredState | undefined> {
    return new Promise((resolve) => resolve(this.readSync()));
  }

  compareAndSet(prev: StoredState | undefined, next: CaState): Promise<StoredState> {
    return new Promise((resolve) => resolve(this.compareAndSetSync(prev, next)));
  }

  /** At start: the stored state, or epoch 1 on `first` written now when there is none (synchronous). */
  open(first: string): StoredState {
    return this.readSync() ?? this.compareAndSetSync(undefined, { epoch: 1, active: first });
  }

  watch(onChange: (s: StoredState) => void): () => void {
    this.listeners.add(onChange);
    return () => this.listeners.delete(onChange);
  }

  /** Synchronous from read to rename: nothing else in this process can interleave. */
  private compareAndSetSync(prev: StoredState | undefined, next: CaState): StoredState {
    const current = this.readSync();
    if ((current === undefined) !== (prev === undefined) || (current?.revision ?? 0) !== (prev?.revision ?? 0)) {
      throw new StaleStateError(prev?.revision ?? 0, current?.revision ?? 0);
    }
    checkEpoch(current, next);
    const text = serializeState(next);
    const stored = { state: parseCaState(text, this.path), revision: (current?.revision ?? 0) + 1 };
    writeFileAtomic(this.path, `${text.slice(0, -1)},"revision":${stored.revision}}\n`);
    for (const l of this.listeners) l(stored);
    return stored;
  }

  private readSync(): StoredState | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new StateError(this.path, "cannot read", { cause: err });
    }
    const state = parseCaState(text, this.path);
    const rev = (JSON.parse(text) as { revision?: unknown }).revision;
    if (rev !== undefined && (!Number.isSafeInteger(rev) || (rev as number) < 0)) throw new StateError(this.path, "revision must be an integer >= 0");
    return { state, revision: (rev as number | undefined) ?? 0 };
  }
}
