// The one interface between the data plane and the CA control plane: where a CA request goes,
// and when a CA write starts and ends. Everything else about CA state stays behind it.

/**
 * What the data plane asks about CA requests, and nothing else: where this CA request goes (a
 * worker name now, or later, or a typed error for the edge) and when a CA write starts and ends.
 * Two implementations: the Arbiter (one proxy, arbiter.ts) and ClusterCaRouter (cluster-router.ts).
 */
export interface CaRouter {
  acquire(write: boolean): string | Promise<string>;
  /** The epoch of the state that routes CA requests now (sent to the CA as X-Puppet-HA-Epoch). */
  readonly epoch: number;
  writeStarted(): void;
  writeEnded(): void;
}
