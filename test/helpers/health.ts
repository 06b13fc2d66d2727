// Builders for health inputs and reports in tests: a healthy two-CA, two-master setup by default,
// changed per test with small overrides.
import type { BackendReport, HealthReport, PoolReport, SyncDestinationReport } from "../../src/health/report.js";
import { assessHealth, type HealthInputs, type HealthThresholds } from "../../src/health/health-status.js";

export const NOW = new Date("2026-11-21T10:00:00.000Z");
export const DAY = 86_400_000;
export const THRESHOLDS: HealthThresholds = { maxSyncLagMs: 120_000, expiryWarnDays: 30 };

export function backend(name: string, state: BackendReport["state"] = "up", extra: Partial<BackendReport> = {}): BackendReport {
  return {
    name,
    url: `http://127.0.0.1:1814${name.slice(-1)}`,
    state,
    since: new Date(NOW.getTime() - 3_600_000).toISOString(),
    lastCheck: { at: new Date(NOW.getTime() - 1000).toISOString(), ok: state === "up", latencyMs: 4, ...(state === "down" ? { error: "ECONNREFUSED" } : {}) },
    consecutiveFailures: state === "down" ? 3 : 0,
    inFlight: 0,
    requests: 120,
    errors: 1,
    ...extra,
  };
}

export function pools(ca: BackendReport["state"][] = ["up", "up"], masters: BackendReport["state"][] = ["up", "up"]): PoolReport[] {
  return [
    { name: "ca", backends: ca.map((s, i) => backend(`ca${i + 1}`, s)) },
    { name: "masters", balance: "round-robin", backends: masters.map((s, i) => backend(`m${i + 1}`, s)) },
  ];
}

export function syncDest(extra: Partial<SyncDestinationReport> = {}): SyncDestinationReport {
  return {
    destination: "ca2",
    source: "ca1",
    state: "in-sync",
    epoch: 3,
    lagMs: 5000,
    lastSuccess: new Date(NOW.getTime() - 5000).toISOString(),
    lastPass: { at: new Date(NOW.getTime() - 5000).toISOString(), durationMs: 800, bytes: 2048, result: "ok" },
    ...extra,
  };
}

export function inputs(over: Partial<HealthInputs> = {}): HealthInputs {
  return {
    now: NOW,
    pools: pools(),
    arbiter: { active: "ca1", epoch: 3, primary: "ca1", failback: { policy: "manual", state: "idle" }, heldWrites: 0, warnings: [] },
    sync: [syncDest()],
    caCertNotAfter: new Date(NOW.getTime() + 3650 * DAY),
    crl: { nextUpdate: new Date(NOW.getTime() + 40 * DAY + 3_600_000), number: "7" },
    ...over,
  };
}

/** A whole report as GET /health would answer it. */
export function report(over: Partial<HealthInputs> = {}, events: HealthReport["events"] = []): HealthReport {
  const core = assessHealth(inputs(over), THRESHOLDS);
  return { ...core, version: "0.1.0-test", events };
}
