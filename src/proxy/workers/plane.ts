// The part a process plays when proxy.workers > 1, as ProxyServer and ProxyRuntime see it: the
// primary (control plane, no agent listener) or a worker (data plane following the primary's state).
import type { HealthCore } from "../../health/health-status.js";
import type { Arbiter } from "../control/arbiter.js";
import type { Follower } from "../control/follower.js";
import type { ArbiterState } from "../control/arbiter.js";

export interface PrimaryPlane {
  role: "primary";
  /** Before the arbiter applies a new active CA: every worker applies it (writes held) first. */
  commit(next: ArbiterState): Promise<void>;
  /** Failback's final pull: every worker holds CA writes and has none in flight (see FailbackDriverOptions.quiesce). */
  quiesce(target: string, ms: number): Promise<() => Promise<void>>;
  /** /health: the workers' requests, connections and held writes added to the primary's report. */
  report(core: HealthCore): Promise<HealthCore>;
  /** proxy.cluster: what this proxy's member record publishes for its workers (control/member.ts). */
  holdAcks: { acknowledged(holdId: string): boolean; writesInFlight(): number };
}

export interface WorkerPlane {
  role: "worker";
  /** The primary's CA state as this worker applied it: what ClusterCaRouter routes by. */
  follower: Follower;
  /** Tie the worker's arbiter (which never decides) to the follower, before any request is routed. */
  attach(arbiter: Arbiter): void;
  /** A request to a backend failed: the primary's pools judge it. */
  markDown(pool: "ca" | "masters", backend: string, reason: string): void;
  /** A revocation went through: the primary fetches the CRL. */
  revoked(): void;
}

export type ProcessPlane = PrimaryPlane | WorkerPlane;
