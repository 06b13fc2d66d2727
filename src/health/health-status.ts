// Decides whether the Puppet infrastructure behind the proxy is ok, degraded or down, and why.
// Pure: fed with the proxy's snapshot and a clock reading; the admin app adds version and events.
import type { ArbiterReport, BackendReport, HealthReport, PoolReport, SyncDestinationReport } from "./report.js";
import { expiryReport } from "./expiry.js";

/** Everything in a HealthReport except what the admin app adds (version, events). */
export type HealthCore = Omit<HealthReport, "version" | "events">;

export interface HealthInputs {
  now: Date;
  pools: PoolReport[];
  arbiter: ArbiterReport;
  sync: SyncDestinationReport[];
  /** notAfter of the CA certificate agents trust, when known. */
  caCertNotAfter?: Date;
  /** nextUpdate (and CRL Number) of the CRL the proxy serves and checks, when known. */
  crl?: { nextUpdate?: Date; number?: string };
}

export interface HealthThresholds {
  /** admin.maxSyncLag, in ms. */
  maxSyncLagMs: number;
  /** admin.expiryWarnDays. */
  expiryWarnDays: number;
}

const DAY = 86_400_000;

export function assessHealth(input: HealthInputs, thresholds: HealthThresholds): HealthCore {
  const down: string[] = [];
  const degraded: string[] = [];
  caReasons(input, down, degraded);
  masterReasons(input.pools.find((p) => p.name === "masters"), down, degraded);
  syncReasons(input.sync, thresholds.maxSyncLagMs, degraded);
  if (input.arbiter.heldWrites > 0) degraded.push(`${input.arbiter.heldWrites} CA write(s) held`);
  for (const w of input.arbiter.warnings) degraded.push(`arbiter: ${w}`);

  const expiry: HealthCore["expiry"] = {};
  if (input.caCertNotAfter) {
    expiry.caCert = expiryReport(input.caCertNotAfter, input.now);
    expiryReasons("CA certificate", input.caCertNotAfter, input.now, thresholds.expiryWarnDays, down, degraded);
  }
  if (input.crl?.nextUpdate) {
    expiry.crl = { ...expiryReport(input.crl.nextUpdate, input.now), ...(input.crl.number !== undefined ? { number: input.crl.number } : {}) };
    // Agents and the proxy's own TLS reject an expired CRL: every agent request fails.
    expiryReasons("CRL", input.crl.nextUpdate, input.now, thresholds.expiryWarnDays, down, degraded);
  }

  const status = down.length > 0 ? "down" : degraded.length > 0 ? "degraded" : "ok";
  return {
    status,
    reasons: [...down, ...degraded],
    time: input.now.toISOString(),
    pools: input.pools,
    arbiter: input.arbiter,
    sync: input.sync,
    expiry,
  };
}

function caReasons(input: HealthInputs, down: string[], degraded: string[]): void {
  const pool = input.pools.find((p) => p.name === "ca");
  const { active, primary } = input.arbiter;
  if (!pool || pool.backends.length === 0) {
    down.push("no CA worker configured");
    return;
  }
  const activeBackend = pool.backends.find((b) => b.name === active);
  const standbysUp = pool.backends.filter((b) => b.name !== active && b.state === "up").map((b) => b.name);
  if (activeBackend?.state !== "up") {
    const what = activeBackend ? `active CA ${active} is ${activeBackend.state}` : `active CA ${active} is not a CA worker`;
    if (standbysUp.length === 0) down.push(`${what} and no standby CA is up: agents cannot get certificates`);
    else degraded.push(`${what}; standby ${standbysUp.join(", ")} up, failover pending`);
  }
  if (active !== primary) degraded.push(`running on standby CA ${active} (primary ${primary})`);
  for (const b of pool.backends) {
    if (b.name !== active && b.state === "down") degraded.push(`standby CA ${b.name} is down${lastError(b)}`);
  }
}

function masterReasons(pool: PoolReport | undefined, down: string[], degraded: string[]): void {
  const masters = pool?.backends ?? [];
  const up = masters.filter((b) => b.state === "up");
  if (up.length === 0) {
    down.push(masters.length === 0 ? "no compile master configured" : "no compile master is up: agents cannot get catalogs");
    return;
  }
  for (const b of masters) {
    if (b.state === "down") degraded.push(`compile master ${b.name} is down${lastError(b)}`);
  }
}

function syncReasons(sync: SyncDestinationReport[], maxSyncLagMs: number, degraded: string[]): void {
  for (const s of sync) {
    if (s.state === "diverged") {
      degraded.push(`sync ${s.destination} diverged from ${s.source ?? "the active CA"} (${s.divergence?.length ?? 0} difference(s)): operator decision needed`);
    } else if (s.state === "error") {
      degraded.push(`sync ${s.destination} failed${s.lastError ? `: ${s.lastError}` : ""}`);
    }
    if (s.lagMs !== undefined && s.lagMs > maxSyncLagMs) {
      degraded.push(`sync ${s.destination} lags ${formatMs(s.lagMs)} (max ${formatMs(maxSyncLagMs)})`);
    }
  }
}

function expiryReasons(what: string, notAfter: Date, now: Date, warnDays: number, down: string[], degraded: string[]): void {
  const left = notAfter.getTime() - now.getTime();
  if (left <= 0) down.push(`${what} expired ${notAfter.toISOString()}`);
  else if (left <= warnDays * DAY) degraded.push(`${what} expires in ${formatMs(left)} (${notAfter.toISOString()})`);
}

function lastError(b: BackendReport): string {
  return b.lastCheck?.error ? ` (${b.lastCheck.error})` : "";
}

/** A short human duration: 45s, 3m10s, 5h2m, 12d3h. */
export function formatMs(ms: number): string {
  if (Math.abs(ms) < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(Math.abs(ms) / 1000);
  const sign = ms < 0 ? "-" : "";
  if (s < 60) return `${sign}${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${sign}${m}m${s % 60 ? `${s % 60}s` : ""}`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${sign}${h}h${m % 60 ? `${m % 60}m` : ""}`;
  const d = Math.floor(h / 24);
  return `${sign}${d}d${h % 24 ? `${h % 24}h` : ""}`;
}

/** The thresholds of the `admin` config section (maxSyncLag is already in ms there). */
export function healthThresholds(admin: { maxSyncLag: number; expiryWarnDays: number }): HealthThresholds {
  return { maxSyncLagMs: admin.maxSyncLag, expiryWarnDays: admin.expiryWarnDays };
}
