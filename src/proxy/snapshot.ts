// The read-only view of a running proxy that the admin listener (health now; metrics, status
// page and admin API later) reads. Plain data, built on demand; no live objects leak out.
import type { ArbiterSnapshot } from "./control/arbiter.js";
import { usable, type Backend, type BackendPool } from "./pool.js";

export interface BackendView {
  name: string;
  url: string;
  /** "drain" when an operator drained it, else its checked state. */
  state: Backend["state"] | "drain";
  usable: boolean;
  since: string;
  reason: string;
  outstanding: number;
  lastCheck: string | undefined;
  lastCheckOk: boolean | undefined;
  lastCheckError: string | undefined;
  lastLatencyMs: number | undefined;
  consecutiveFailures: number;
  passiveFailures: number;
  requests: number;
  errors: number;
}

export interface PoolView {
  name: string;
  balance: string;
  usable: number;
  backends: BackendView[];
}

export interface CrlView {
  number: string | undefined;
  thisUpdate: string;
  nextUpdate: string | undefined;
  source: string;
  lastFetch: { at: string; result: string } | undefined;
}

export interface ProxySnapshot {
  /** A CA worker (the active one) and a compile master are usable. */
  healthy: boolean;
  pools: { ca: PoolView; masters: PoolView };
  arbiter: ArbiterSnapshot;
  crl: CrlView;
}

/** What the admin listener needs from the proxy. */
export interface ProxySnapshotSource {
  snapshot(): ProxySnapshot;
}

const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());

export function poolView(pool: BackendPool, balance: string): PoolView {
  const backends = pool.backends.map((b) => ({
    name: b.name, url: b.url, state: b.drained ? "drain" as const : b.state, usable: usable(b), since: iso(b.since) as string,
    reason: b.reason, outstanding: b.outstanding, lastCheck: iso(b.lastCheck), lastCheckOk: b.lastCheckOk,
    lastCheckError: b.lastCheckError, lastLatencyMs: b.lastLatencyMs, consecutiveFailures: b.checkFailures,
    passiveFailures: b.passiveFailures, requests: b.requests, errors: b.errors,
  }));
  return { name: pool.name, balance, usable: backends.filter((b) => b.usable).length, backends };
}
