// Prometheus metrics of the proxy on their own registry. The proxy calls observeRequest() on its
// hot path (cached label children, no per-request allocation once a backend was seen); sync passes
// are counted as the sync service emits them (countSyncPasses); gauges are set from the
// HealthReport at scrape time by update().
import type { EventEmitter } from "node:events";
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { BackendStateName, HealthReport, SyncStateName } from "./report.js";
import type { HealthEvent } from "./events.js";
import { RequestStats } from "./request-stats.js";
import { ClusterMetrics } from "./cluster-metrics.js";
import { OperatorMetrics } from "./operator-metrics.js";
import { WorkerMetrics } from "./worker-metrics.js";

/** getMetricsAsJSON() of another process's registry (a proxy worker's). */
export type MetricsJson = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>;

const BACKEND_STATES: BackendStateName[] = ["up", "down", "drain", "unknown"];
const SYNC_STATES: SyncStateName[] = ["in-sync", "syncing", "diverged", "error"];
/** Catalog compiles take seconds to minutes; CA and file requests milliseconds. */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const SYNC_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export class HealthMetrics {
  readonly registry = new Registry();
  readonly #requests: RequestStats;
  readonly #backendUp: Gauge<"pool" | "backend">;
  readonly #backendState: Gauge<"pool" | "backend" | "state">;
  readonly #checkLatency: Gauge<"pool" | "backend">;
  readonly #caActive: Gauge<"ca">;
  readonly #epoch: Gauge;
  readonly #failovers: Counter;
  readonly #failbacks: Counter;
  readonly #events: Counter<"kind">;
  readonly #heldWrites: Gauge;
  readonly #syncPasses: Counter<"destination" | "result">;
  readonly #syncDuration: Histogram<"destination">;
  readonly #syncLag: Gauge<"destination">;
  readonly #syncState: Gauge<"destination" | "state">;
  readonly #syncDiverged: Gauge<"destination">;
  readonly #syncDivergences: Gauge<"destination">;
  /** The last full verification of each destination: duration, files and bytes hashed, when. */
  readonly #verifyDuration: Gauge<"destination">;
  readonly #verifyFiles: Gauge<"destination">;
  readonly #verifyBytes: Gauge<"destination">;
  readonly #verifyTime: Gauge<"destination">;
  readonly #caCertExpiry: Gauge;
  readonly #crlExpiry: Gauge;
  readonly #health: Gauge<"status">;
  /** Build info, config reloads, CRL fetch failures, refused client certs (operator-metrics.ts). */
  readonly operator: OperatorMetrics;
  /** With proxy.cluster: controller, view, members, lease counters (cluster-metrics.ts). */
  readonly cluster: ClusterMetrics;
  /** With proxy.workers > 1: the worker processes (worker-metrics.ts). */
  readonly workers: WorkerMetrics;
  /** With proxy.workers > 1: the workers' registries, summed into this one at every scrape. */
  #sources: (() => Promise<MetricsJson[]>)[] = [];
  /** lastPass.at per remote destination already counted, so a pass is counted once. */
  readonly #countedPass = new Map<string, string>();
  /** Destinations whose passes arrive from the sync service itself: every one is counted there. */
  readonly #atSource = new Set<string>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.#requests = new RequestStats(this.registry, { counter: "puppet_ha_requests_total", histogram: "puppet_ha_request_duration_seconds" }, REQUEST_BUCKETS);
    this.#backendUp = new Gauge({ name: "puppet_ha_backend_up", help: "1 when the backend passes its health checks", labelNames: ["pool", "backend"], registers });
    this.#backendState = new Gauge({ name: "puppet_ha_backend_state", help: "1 for the backend's current state (up, down, drain, unknown)", labelNames: ["pool", "backend", "state"], registers });
    this.#checkLatency = new Gauge({ name: "puppet_ha_backend_check_latency_seconds", help: "Latency of the backend's last health check", labelNames: ["pool", "backend"], registers });
    this.#caActive = new Gauge({ name: "puppet_ha_ca_active", help: "1 for the active CA worker, 0 for the others", labelNames: ["ca"], registers });
    this.#epoch = new Gauge({ name: "puppet_ha_ca_epoch", help: "Arbiter epoch (rises on every change of active CA)", registers });
    this.#failovers = new Counter({ name: "puppet_ha_ca_failovers_total", help: "Failovers to a standby CA", registers });
    this.#failbacks = new Counter({ name: "puppet_ha_ca_failbacks_total", help: "Failbacks to the primary CA", registers });
    this.#events = new Counter({ name: "puppet_ha_events_total", help: "Events recorded, by kind", labelNames: ["kind"], registers });
    this.#heldWrites = new Gauge({ name: "puppet_ha_ca_held_writes", help: "CA write requests held during a failover or failback", registers });
    this.#syncPasses = new Counter({ name: "puppet_ha_sync_passes_total", help: "Sync passes, by destination and result", labelNames: ["destination", "result"], registers });
    this.#syncDuration = new Histogram({ name: "puppet_ha_sync_pass_duration_seconds", help: "Duration of sync passes", labelNames: ["destination"], buckets: SYNC_BUCKETS, registers });
    this.#syncLag = new Gauge({ name: "puppet_ha_sync_lag_seconds", help: "How far the destination cadir is behind the active CA", labelNames: ["destination"], registers });
    this.#syncState = new Gauge({ name: "puppet_ha_sync_state", help: "1 for the destination's current sync state", labelNames: ["destination", "state"], registers });
    this.#syncDiverged = new Gauge({ name: "puppet_ha_sync_diverged", help: "1 when the destination holds CA data the active CA lacks", labelNames: ["destination"], registers });
    this.#syncDivergences = new Gauge({ name: "puppet_ha_sync_divergences", help: "Number of differences found on a diverged destination", labelNames: ["destination"], registers });
    this.#verifyDuration = new Gauge({ name: "puppet_ha_sync_full_verification_duration_seconds", help: "Duration of the destination's last full verification (every file hashed)", labelNames: ["destination"], registers });
    this.#verifyFiles = new Gauge({ name: "puppet_ha_sync_full_verification_hashed_files", help: "Files hashed (both sides) by the destination's last full verification", labelNames: ["destination"], registers });
    this.#verifyBytes = new Gauge({ name: "puppet_ha_sync_full_verification_hashed_bytes", help: "Bytes hashed (both sides) by the destination's last full verification", labelNames: ["destination"], registers });
    this.#verifyTime = new Gauge({ name: "puppet_ha_sync_full_verification_timestamp_seconds", help: "Unix time the destination's last full verification ended", labelNames: ["destination"], registers });
    this.#caCertExpiry = new Gauge({ name: "puppet_ha_ca_cert_expiry_seconds", help: "Seconds until the CA certificate expires (negative once expired)", registers });
    this.#crlExpiry = new Gauge({ name: "puppet_ha_crl_expiry_seconds", help: "Seconds until the CRL's nextUpdate (negative once expired)", registers });
    this.#health = new Gauge({ name: "puppet_ha_health_status", help: "1 for the current /health status (ok, degraded, down)", labelNames: ["status"], registers });
    this.#failovers.inc(0);
    this.#failbacks.inc(0);
    this.operator = new OperatorMetrics(this.registry);
    this.cluster = new ClusterMetrics(this.registry);
    this.workers = new WorkerMetrics(this.registry);
    if (opts.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      OperatorMetrics.dropMisnamedDefaults(this.registry);
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Pre-creates the series of a pool's backends (optional: observeRequest creates them on first use). */
  registerBackends(pool: string, backends: readonly string[]): void {
    this.#requests.register(pool, backends);
  }

  /** Hot path: one proxied request finished. status 0 = no HTTP status (aborted before one). */
  observeRequest(pool: string, backend: string, status: number, seconds: number): void {
    this.#requests.observe(pool, backend, status, seconds);
  }

  /** One sync pass finished (its destination is counted at the source from now on). */
  observeSyncPass(destination: string, result: string, seconds: number): void {
    this.#atSource.add(destination);
    this.#count(destination, result, seconds);
  }

  /** Count every pass the in-process sync service emits ("pass" events of SyncService.events). */
  countSyncPasses(events: EventEmitter): void {
    events.on("pass", (r: { destination: string; result: string; durationMs: number }) => this.observeSyncPass(r.destination, r.result, r.durationMs / 1000));
  }

  #count(destination: string, result: string, seconds: number): void {
    this.#syncPasses.inc({ destination, result });
    this.#syncDuration.observe({ destination }, seconds);
  }

  /** Counts an event by its kind (a label only: the failover/failback counters follow countTransition). */
  countEvent(event: Pick<HealthEvent, "kind">): void {
    this.#events.inc({ kind: event.kind });
  }

  /** A change of active CA this proxy applied: a failback, or a failover (automatic or by an admin). */
  countTransition(cause: "failover" | "admin" | "failback"): void {
    if (cause === "failback") this.#failbacks.inc();
    else this.#failovers.inc();
  }

  /** Sets every gauge from a report (call right before serialising). */
  update(report: HealthReport): void {
    this.#backendUp.reset();
    this.#backendState.reset();
    this.#checkLatency.reset();
    for (const pool of report.pools) {
      for (const b of pool.backends) {
        this.#backendUp.set({ pool: pool.name, backend: b.name }, b.state === "up" ? 1 : 0);
        for (const state of BACKEND_STATES) this.#backendState.set({ pool: pool.name, backend: b.name, state }, b.state === state ? 1 : 0);
        if (b.lastCheck?.latencyMs !== undefined) this.#checkLatency.set({ pool: pool.name, backend: b.name }, b.lastCheck.latencyMs / 1000);
      }
    }
    this.#caActive.reset();
    const cas = report.pools.find((p) => p.name === "ca")?.backends.map((b) => b.name) ?? [];
    for (const ca of new Set([...cas, report.arbiter.active])) this.#caActive.set({ ca }, ca === report.arbiter.active ? 1 : 0);
    this.#epoch.set(report.arbiter.epoch);
    this.#heldWrites.set(report.arbiter.heldWrites);

    for (const g of [this.#syncLag, this.#syncState, this.#syncDiverged, this.#syncDivergences, this.#verifyDuration, this.#verifyFiles, this.#verifyBytes, this.#verifyTime]) g.reset();
    for (const s of report.sync) {
      const destination = s.destination;
      if (s.lagMs !== undefined) this.#syncLag.set({ destination }, s.lagMs / 1000);
      for (const state of SYNC_STATES) this.#syncState.set({ destination, state }, s.state === state ? 1 : 0);
      this.#syncDiverged.set({ destination }, s.state === "diverged" ? 1 : 0);
      this.#syncDivergences.set({ destination }, s.divergence?.length ?? 0);
      const v = s.lastFullVerification;
      // From a remote agent of another version a field may be missing: set only what is a number.
      const set = (g: Gauge<"destination">, x: number | undefined) => Number.isFinite(x) && g.set({ destination }, x as number);
      set(this.#verifyDuration, v && v.durationMs / 1000);
      set(this.#verifyFiles, v?.hashed);
      set(this.#verifyBytes, v?.hashedBytes);
      set(this.#verifyTime, v && Date.parse(v.at) / 1000);
      // A remote sync agent's passes are seen only through its status: its last pass per scrape.
      if (s.lastPass && !this.#atSource.has(destination) && this.#countedPass.get(destination) !== s.lastPass.at) {
        this.#countedPass.set(destination, s.lastPass.at);
        this.#count(destination, s.lastPass.result, s.lastPass.durationMs / 1000);
      }
    }

    const now = Date.parse(report.time);
    this.#caCertExpiry.reset();
    this.#crlExpiry.reset();
    if (report.expiry.caCert) this.#caCertExpiry.set((Date.parse(report.expiry.caCert.notAfter) - now) / 1000);
    if (report.expiry.crl) this.#crlExpiry.set((Date.parse(report.expiry.crl.notAfter) - now) / 1000);
    for (const status of ["ok", "degraded", "down"] as const) this.#health.set({ status }, report.status === status ? 1 : 0);
    this.operator.update(report);
    this.cluster.update(report);
    this.workers.update(report);
  }

  /** Other processes' metrics to add at every scrape (counters and histograms summed, see each metric's aggregator). */
  addSource(source: () => Promise<MetricsJson[]>): void {
    this.#sources.push(source);
  }

  /** The Prometheus text exposition of everything, after update(report). */
  async render(report: HealthReport): Promise<string> {
    this.update(report);
    if (this.#sources.length === 0) return this.registry.metrics();
    const others = (await Promise.all(this.#sources.map((s) => s()))).flat();
    const own = await this.registry.getMetricsAsJSON();
    return AggregatorRegistry.aggregate([own, ...others]).metrics();
  }
}
