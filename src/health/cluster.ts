// The cluster part of /health and /metrics (proxy.cluster only): members with their applied epoch,
// view age and CA writes in flight, the controller, and the judgement "CA writes refused" while
// this proxy cannot reach etcd and its view deadline has passed.
import type { ClusterSnapshot } from "../proxy/control/cluster.js";
import type { HealthCore } from "./health-status.js";
import type { ClusterReport } from "./report.js";

export function clusterReport(c: ClusterSnapshot): ClusterReport {
  return {
    name: c.name, controller: c.controller ?? null, isController: c.isController,
    etcdUnreachableSince: c.etcdUnreachableSince === undefined ? null : new Date(c.etcdUnreachableSince).toISOString(),
    viewAgeMs: c.viewAgeMs ?? null,
    members: c.members.map((m) => ({ name: m.name, adminUrl: m.adminUrl, appliedEpoch: m.appliedEpoch, viewAgeMs: m.viewAgeMs, caWritesInFlight: m.caWritesInFlight })),
    leaseRenewals: c.counters.leaseRenewals, leaseRenewalFailures: c.counters.leaseRenewalFailures,
    controllerChanges: c.counters.controllerChanges, viewDeadlineMisses: c.counters.viewDeadlineMisses,
  };
}

/** Add the cluster to a judged health report: degraded while CA writes are held or refused for etcd. */
export function withCluster(core: HealthCore, c: ClusterSnapshot): HealthCore {
  const reasons: string[] = [];
  const since = c.etcdUnreachableSince === undefined ? undefined : new Date(c.etcdUnreachableSince).toISOString();
  if (since !== undefined && c.viewDeadlineInMs <= 0) reasons.push(`CA writes refused, etcd unreachable since ${since}`);
  else if (since !== undefined) reasons.push(`CA writes held, etcd unreachable since ${since}`);
  else if (c.viewDeadlineInMs <= 0) reasons.push("CA writes refused: no current view of the CA state in etcd yet");
  if (c.controller === undefined) reasons.push("no controller proxy: no failover or failback until one is elected");
  const status = core.status === "ok" && reasons.length > 0 ? "degraded" : core.status;
  // The cluster's reasons first: `puppet-ha check` prints the first one.
  return { ...core, status, reasons: [...reasons, ...core.reasons], cluster: clusterReport(c) };
}
