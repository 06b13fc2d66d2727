// Backends as forwarding sees them: a pool member plus its keep-alive connection pool and the
// GET/HEAD exchanges waiting on it (re-sent elsewhere if it is marked down).
//
// Connections are undici Pools, not node:http Agents: `dispatch` costs about half the CPU of
// http.request + Agent per request (measured with bench/proxy-cpu.ts), and the proxy's hot path
// is mostly that. undici's headers/body timeouts are off: forward.ts runs its own timers (style.md
// §5); only the TCP connect is timed by undici's connector, the one place that knows when a
// connection is really being made for a request (time queued for a free connection is not).
import type { Socket } from "node:net";
import { buildConnector, Pool } from "undici";
import type { Backend, BackendPool } from "./pool.js";

/** What an upstream needs to know of a waiting exchange. */
export interface Waiting {
  backendDown(): void;
}

export interface Upstream extends Backend {
  dispatcher: Pool;
  /** GET/HEAD exchanges sent to it with no response yet. */
  waiting: Set<Waiting>;
}

/** Set on socket errors: the connection had answered earlier requests (see reusedSocket()). */
const kReused = Symbol("puppet-ha.reused");

/**
 * Whether an upstream error happened on a keep-alive connection that had already carried a
 * response: a reset there is the backend closing an idle connection, not a dead backend.
 * undici does not say which socket a request used, so the connector tags the socket's errors;
 * "other side closed" errors carry the socket's byte counts instead.
 */
export function reusedSocket(err: unknown): boolean {
  const e = err as { [kReused]?: boolean; socket?: { bytesRead?: number } };
  return e[kReused] ?? (e.socket?.bytesRead ?? 0) > 0;
}

function tagErrors(this: Socket, err: Error): void {
  (err as { [kReused]?: boolean })[kReused] = this.bytesRead > 0;
}

/** Settings read at each new connection (so a reload applies to the next one). */
export interface UpstreamSettings {
  /** timeouts.connect: the TCP connect itself, timed by undici's connector (queue time excluded). */
  connectMs: number;
}

/** Turn every backend of a pool into an Upstream (in place: the pool keeps the same objects). */
export function attachUpstreams(pool: BackendPool, settings: UpstreamSettings): Upstream[] {
  const out = pool.backends as Upstream[];
  for (const b of out) {
    b.waiting = new Set();
    let connectMs = settings.connectMs;
    let connect = buildConnector({ timeout: connectMs });
    // One pool per backend. Idle connections are closed after 20 s, before Jetty's 30 s idle
    // timeout can close them under a request. Headers and body timeouts are the proxy's own.
    b.dispatcher = new Pool(b.url, {
      connections: 256, pipelining: 1, keepAliveTimeout: 20_000, keepAliveMaxTimeout: 20_000,
      headersTimeout: 0, bodyTimeout: 0,
      connect: (opts, cb) => {
        if (connectMs !== settings.connectMs) connect = buildConnector({ timeout: (connectMs = settings.connectMs) });
        return connect(opts, (err, socket) => {
        // Listens before undici's own handler, so the tag is there when the request hears of it.
        if (socket) socket.prependListener("error", tagErrors);
          (cb as (...a: unknown[]) => void)(err, socket);
        });
      },
    });
  }
  return out;
}

/** Re-send what waited on a backend that was just marked down. */
export function backendWentDown(b: Upstream): void {
  for (const w of [...b.waiting]) w.backendDown();
}

export function closeUpstreams(list: readonly Upstream[]): void {
  for (const b of list) void b.dispatcher.destroy().catch(() => undefined);
}
