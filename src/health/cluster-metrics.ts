// /metrics for a proxy with proxy.cluster: whether it is the controller, its view age and etcd
// reachability, every member's applied epoch and CA writes in flight, and the lease renewals and
// failures, controller changes and view-deadline misses it counted. Set from the /health report.
import { Counter, Gauge, type Registry } from "prom-client";
import type { HealthReport } from "./report.js";

type CounterKey = "leaseRenewals" | "leaseRenewalFailures" | "controllerChanges" | "viewDeadlineMisses";

export class ClusterMetrics {
  readonly #controller: Gauge;
  readonly #viewAge: Gauge;
  readonly #etcdReachable: Gauge;
  readonly #memberEpoch: Gauge<"member">;
  readonly #memberWrites: Gauge<"member">;
  readonly #counters: Record<CounterKey, Counter>;
  readonly #seen: Record<CounterKey, number> = { leaseRenewals: 0, leaseRenewalFailures: 0, controllerChanges: 0, viewDeadlineMisses: 0 };

  constructor(registry: Registry) {
    const registers = [registry];
    this.#controller = new Gauge({ name: "puppet_ha_cluster_controller", help: "1 while this proxy is the cluster's controller (decides failover and failback)", registers });
    this.#viewAge = new Gauge({ name: "puppet_ha_cluster_view_age_seconds", help: "Age of this proxy's last consistent read of the CA state in etcd", registers });
    this.#etcdReachable = new Gauge({ name: "puppet_ha_cluster_etcd_reachable", help: "1 while reads of etcd succeed, 0 while they fail (CA writes held, then refused)", registers });
    this.#memberEpoch = new Gauge({ name: "puppet_ha_cluster_member_applied_epoch", help: "The CA epoch each member proxy has applied (its record in etcd)", labelNames: ["member"], registers });
    this.#memberWrites = new Gauge({ name: "puppet_ha_cluster_member_ca_writes_in_flight", help: "CA writes in flight on each member proxy (its record in etcd)", labelNames: ["member"], registers });
    const counter = (name: string, help: string) => new Counter({ name, help, registers });
    this.#counters = {
      leaseRenewals: counter("puppet_ha_cluster_lease_renewals_total", "Successful renewals of the controller lease while this proxy holds it"),
      leaseRenewalFailures: counter("puppet_ha_cluster_lease_renewal_failures_total", "Failed renewals of the controller lease while this proxy holds it"),
      controllerChanges: counter("puppet_ha_cluster_elected_total", "Times this proxy became the controller"),
      viewDeadlineMisses: counter("puppet_ha_cluster_view_deadline_misses_total", "Times this proxy's view deadline passed (CA writes refused until etcd answers)"),
    };
  }

  update(report: HealthReport): void {
    const c = report.cluster;
    if (!c) return;
    this.#controller.set(c.isController ? 1 : 0);
    if (c.viewAgeMs !== null) this.#viewAge.set(c.viewAgeMs / 1000);
    this.#etcdReachable.set(c.etcdUnreachableSince === null ? 1 : 0);
    this.#memberEpoch.reset();
    this.#memberWrites.reset();
    for (const m of c.members) {
      this.#memberEpoch.set({ member: m.name }, m.appliedEpoch);
      this.#memberWrites.set({ member: m.name }, m.caWritesInFlight);
    }
    for (const k of Object.keys(this.#seen) as CounterKey[]) {
      const delta = c[k] - this.#seen[k];
      if (delta > 0) this.#counters[k].inc(delta);
      this.#seen[k] = c[k];
    }
  }
}
