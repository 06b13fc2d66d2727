// Backends as forwarding sees them: a pool member plus its keep-alive agent, parsed address and
// the GET/HEAD exchanges waiting on it (re-sent elsewhere if it is marked down).
import { Agent as HttpAgent, type Agent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { Backend, BackendPool } from "./pool.js";

/** What an upstream needs to know of a waiting exchange. */
export interface Waiting {
  backendDown(): void;
}

export interface Upstream extends Backend {
  agent: Agent;
  https: boolean;
  hostname: string;
  port: number;
  /** GET/HEAD exchanges sent to it with no response yet. */
  waiting: Set<Waiting>;
}

/** Turn every backend of a pool into an Upstream (in place: the pool keeps the same objects). */
export function attachUpstreams(pool: BackendPool): Upstream[] {
  const out = pool.backends as Upstream[];
  for (const b of out) {
    const u = new URL(b.url);
    b.https = u.protocol === "https:";
    b.hostname = u.hostname.replace(/^\[|\]$/g, "");
    b.port = Number(u.port || (b.https ? 443 : 80));
    b.waiting = new Set();
    // One keep-alive agent per backend. Free sockets are closed after 20 s, before Jetty's 30 s
    // idle timeout can close them under a request; LIFO keeps a few sockets warm.
    const opts = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: 20_000, scheduling: "lifo" as const };
    b.agent = b.https ? new HttpsAgent(opts) : new HttpAgent(opts);
  }
  return out;
}

/** Re-send what waited on a backend that was just marked down. */
export function backendWentDown(b: Upstream): void {
  for (const w of [...b.waiting]) w.backendDown();
}

export function closeUpstreams(list: readonly Upstream[]): void {
  for (const b of list) b.agent.destroy();
}
