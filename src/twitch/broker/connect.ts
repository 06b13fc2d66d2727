// Connecting to the fleet's NATS servers: mTLS with a Puppet certificate and key, the servers'
// certificates verified against the Puppet CA, reconnecting forever with jittered backoff. The
// NATS client is imported here only, and only when a broker connection is made.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../log.js";
import { BrokerError } from "./errors.js";

export interface BrokerEndpoint {
  urls: readonly string[];
  cert: string;
  key: string;
  ca: string;
  /** Name shown to the server (its connz), usually the certname. */
  name: string;
  inboxPrefix?: string;
  /** Give up connecting at start after this long (reconnects after that are forever). */
  connectTimeoutMs?: number;
  /** false: try once at start and fail (controllers); true: keep trying (nodes). */
  waitOnFirstConnect?: boolean;
}

/** Backoff for the n-th consecutive failed attempt: 250 ms doubling to 15 s, plus up to 20 % jitter. */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(15_000, 250 * 2 ** Math.min(attempt, 10));
  return Math.round(base + base * 0.2 * random());
}

export async function connectBroker(e: BrokerEndpoint, log: Logger): Promise<NatsConnection> {
  const { connect } = await import("@nats-io/transport-node");
  // The client asks for the delay on every pass of its dial loop, not once per attempt: count the
  // attempts from its "reconnecting" events instead.
  let attempt = 0;
  const nc = await connect({
    servers: [...e.urls],
    name: e.name,
    tls: { certFile: e.cert, keyFile: e.key, caFile: e.ca },
    maxReconnectAttempts: -1,
    reconnectDelayHandler: () => reconnectDelay(attempt),
    waitOnFirstConnect: e.waitOnFirstConnect ?? false,
    timeout: e.connectTimeoutMs ?? 10_000,
    pingInterval: 30_000,
    ...(e.inboxPrefix ? { inboxPrefix: e.inboxPrefix } : {}),
  }).catch((cause: unknown) => {
    throw new BrokerError(`cannot connect to the broker at ${e.urls.join(", ")}: ${(cause as Error).message}`, { cause });
  });
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "reconnecting") {
        attempt++;
      } else if (s.type === "reconnect") {
        attempt = 0;
        log.info({ server: s.server }, "broker reconnected");
      } else if (s.type === "disconnect") {
        log.warn({ server: s.server }, "broker connection lost; reconnecting");
      } else if (s.type === "error") {
        log.warn({ err: s.error }, "broker error");
      }
    }
  })();
  return nc;
}
