// The metrics an operator alerts on besides the health gauges: puppet_ha_build_info, config
// reloads, CRL fetch failures and refused client certificates. Call sites are one line each
// (src/proxy/run.ts, server.ts, crl-refresh.ts); deploy/monitoring's rules and dashboard use them.
import { Counter, Gauge, type Registry } from "prom-client";
import { VERSION } from "../version.js";
import type { HealthReport } from "./report.js";

/** prom-client defaults that `promtool check metrics` refuses (gauges named *_total). */
const MISNAMED_DEFAULTS = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"];

/** CRL fetch results that are not failures: the CA answered and its CRL was taken or not needed. */
const CRL_FETCH_OK = new Set(["adopted", "not modified", "not newer"]);

export class OperatorMetrics {
  readonly #reloads: Counter<"result">;
  readonly #crlFailures: Counter;
  readonly #refused: Counter<"reason">;
  readonly #primaryActive: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    new Gauge({
      name: "puppet_ha_build_info", help: "Always 1; the labels say which puppet-ha and Node.js run",
      labelNames: ["version", "nodejs"], registers, aggregator: "first",
    }).set({ version: VERSION, nodejs: process.versions.node }, 1);
    this.#reloads = new Counter({ name: "puppet_ha_config_reloads_total", help: "Config reloads (SIGHUP), by result (success, failure)", labelNames: ["result"], registers });
    this.#crlFailures = new Counter({ name: "puppet_ha_crl_fetch_failures_total", help: "CRL fetches from the active CA that failed (no answer, HTTP error, invalid CRL)", registers });
    this.#refused = new Counter({ name: "puppet_ha_client_certs_refused_total", help: "TLS client certificates refused, by reason (revoked, or the verification error)", labelNames: ["reason"], registers });
    this.#primaryActive = new Gauge({ name: "puppet_ha_ca_primary_active", help: "1 while the primary CA worker is the active one, 0 while a standby serves (after a failover)", registers, aggregator: "max" });
    for (const result of ["success", "failure"]) this.#reloads.inc({ result }, 0);
    this.#crlFailures.inc(0);
  }

  static dropMisnamedDefaults(registry: Registry): void {
    for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);
  }

  /** Sets the gauges derived from a health report (called by HealthMetrics.update). */
  update(report: HealthReport): void {
    this.#primaryActive.set(report.arbiter.active === report.arbiter.primary ? 1 : 0);
  }

  configReloaded(ok: boolean): void {
    this.#reloads.inc({ result: ok ? "success" : "failure" });
  }

  /** One CRL fetch finished with CrlRefresher's result text. */
  crlFetched(result: string): void {
    if (!CRL_FETCH_OK.has(result)) this.#crlFailures.inc();
  }

  /** A client certificate was refused: "revoked" or Node's verification error code. */
  clientCertRefused(reason: string): void {
    this.#refused.inc({ reason });
  }
}
