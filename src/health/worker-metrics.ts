// /metrics for proxy.workers > 1: how many data-plane workers serve, how often one was restarted,
// and per worker (label `worker`) its connections, applied epoch and CA writes in flight. Set from
// the /health report; the workers' own counters are summed into the primary's by HealthMetrics.
import { Gauge, type Registry } from "prom-client";
import type { HealthReport } from "./report.js";

export class WorkerMetrics {
  readonly #workers: Gauge<"state">;
  readonly #restarts: Gauge;
  readonly #connections: Gauge<"worker">;
  readonly #epoch: Gauge<"worker">;
  readonly #writes: Gauge<"worker">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#workers = new Gauge({ name: "puppet_ha_proxy_workers", help: "Data-plane worker processes configured and serving (proxy.workers)", labelNames: ["state"], registers, aggregator: "first" });
    this.#restarts = new Gauge({ name: "puppet_ha_proxy_worker_restarts", help: "Workers started again after one died, since the proxy started", registers, aggregator: "first" });
    this.#connections = new Gauge({ name: "puppet_ha_proxy_worker_connections", help: "Agent connections open on each worker", labelNames: ["worker"], registers });
    this.#epoch = new Gauge({ name: "puppet_ha_proxy_worker_applied_epoch", help: "The CA epoch each worker routes by", labelNames: ["worker"], registers });
    this.#writes = new Gauge({ name: "puppet_ha_proxy_worker_ca_writes_in_flight", help: "CA writes in flight on each worker", labelNames: ["worker"], registers });
  }

  update(report: HealthReport): void {
    const w = report.workers;
    if (!w) return;
    this.#workers.set({ state: "configured" }, w.configured);
    this.#workers.set({ state: "serving" }, w.running);
    this.#restarts.set(w.restarts);
    for (const g of [this.#connections, this.#epoch, this.#writes]) g.reset();
    for (const x of w.list) {
      const worker = String(x.id);
      this.#connections.set({ worker }, x.connections);
      this.#epoch.set({ worker }, x.appliedEpoch);
      this.#writes.set({ worker }, x.caWritesInFlight);
    }
  }
}
