// Backends as forwarding sees them: a pool member plus its keep-alive connection pool and the
// GET/HEAD exchanges waiting on it (re-sent elsewhere if it is marked down).
//
// Connections are the proxy's own HTTP/1.1 client (upstream-client/), not undici: backends are
// known puppetservers taking one request at a time per connection, so the request head is one
// buffer, the response parser is small and strict, and the only timers are one connect timer per
// new connection and one idle sweep per pool. Header and body timeouts are forward.ts's own
// (style.md §5); the connect is timed by the connection itself, so time queued for a free
// connection is never the backend's failure.
import type { Backend, BackendPool } from "./pool.js";
import { UpstreamPool } from "./upstream-client/pool.js";

/** What an upstream needs to know of a waiting exchange. */
export interface Waiting {
  backendDown(): void;
}

export interface Upstream extends Backend {
  dispatcher: UpstreamPool;
  /** GET/HEAD exchanges sent to it with no response yet. */
  waiting: Set<Waiting>;
}

/** Settings read at each new connection (so a reload applies to the next one). */
export interface UpstreamSettings {
  /** timeouts.connect: the TCP connect itself (queue time excluded). */
  connectMs: number;
}

/** Turn every backend of a pool into an Upstream (in place: the pool keeps the same objects). */
export function attachUpstreams(pool: BackendPool, settings: UpstreamSettings): Upstream[] {
  const out = pool.backends as Upstream[];
  for (const b of out) {
    b.waiting = new Set();
    // One pool per backend. Idle connections are closed after 20 s, before Jetty's 30 s idle
    // timeout can close them under a request.
    b.dispatcher = new UpstreamPool(b.url, { connections: 256, keepAliveMs: 20_000, connectMs: () => settings.connectMs });
  }
  return out;
}

/** Re-send what waited on a backend that was just marked down. */
export function backendWentDown(b: Upstream): void {
  for (const w of [...b.waiting]) w.backendDown();
}

export function closeUpstreams(list: readonly Upstream[]): void {
  for (const b of list) b.dispatcher.destroy();
}
