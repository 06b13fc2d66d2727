// Per-destination sync status: a small state holder fed with pass events and changes seen, and a
// pure view of it (state, lag) at a given time. Served by the sync API and the proxy's /health.
//
// Lag: how long the destination has been behind the active CA. When a change of the source was
// seen (watch) or a dry-run found the destination behind, since the first such change not yet
// copied; otherwise, when the state is not in-sync, since the last success; 0 when in sync; null
// when it never succeeded and nothing better is known.
import type { Difference } from "./guard.js";

export type SyncState = "in-sync" | "syncing" | "diverged" | "error";

export interface LastPass {
  startedAt: string;
  durationMs: number;
  bytes: number;
  result: SyncState | "skipped";
  epoch: number | null;
  reasons: string[];
}

export interface DestinationStatus {
  name: string;
  location: string;
  /** The active CA it pulls from at the last pass (null before the first). */
  source: string | null;
  /** True when this cadir is the active CA's: it is never written. */
  isActive: boolean;
  state: SyncState;
  running: boolean;
  epoch: number | null;
  lastSuccess: string | null;
  lastError: { code: string; message: string; at: string; exitCode?: number; stderr?: string } | null;
  lagMs: number | null;
  behindSince: string | null;
  lastPass: LastPass | null;
  divergence: { differences: Difference[]; savedTo: string | null } | null;
  /** The last successful full verification (every file hashed) and what it cost. */
  lastFullVerification: FullVerification | null;
}

/** What the last full verification of a destination cost: files in its manifest, files and bytes hashed (both sides). */
export interface FullVerification {
  at: string;
  durationMs: number;
  files: number;
  hashed: number;
  hashedBytes: number;
}

export class DestinationTracker {
  private state: SyncState | undefined;
  private running = false;
  private passStart = 0;
  private behindSince: number | undefined;
  private changeDuringPass: number | undefined;
  private lastSuccess: number | undefined;
  source: string | null = null;
  isActive = false;
  epoch: number | null = null;
  lastError: DestinationStatus["lastError"] = null;
  lastPass: LastPass | null = null;
  divergence: DestinationStatus["divergence"] = null;
  lastFullVerification: DestinationStatus["lastFullVerification"] = null;

  constructor(readonly name: string, readonly location: string) {}

  /** The active cadir changed (watch): this destination is behind from now unless it already was. */
  changeSeen(now: number): void {
    this.behindSince ??= now;
    if (this.running && now >= this.passStart) this.changeDuringPass ??= now;
  }

  fullVerified(now: number, cost: Omit<FullVerification, "at">): void {
    this.lastFullVerification = { at: new Date(now).toISOString(), ...cost };
  }

  passStarted(now: number): void {
    this.running = true;
    this.passStart = now;
    this.changeDuringPass = undefined;
  }

  /** The dry-run found the destination behind: at least since this pass started. */
  behind(): void {
    this.behindSince ??= this.passStart;
  }

  passEnded(now: number, pass: Omit<LastPass, "startedAt" | "durationMs">, error?: DestinationStatus["lastError"], divergence?: DestinationStatus["divergence"]): void {
    this.running = false;
    this.lastPass = { ...pass, startedAt: new Date(this.passStart).toISOString(), durationMs: now - this.passStart };
    if (pass.result === "in-sync" || pass.result === "skipped") {
      this.state = "in-sync";
      this.lastSuccess = now;
      this.behindSince = this.changeDuringPass;
      this.divergence = null;
    } else {
      this.state = pass.result;
      this.lastError = error ?? null;
      this.divergence = divergence ?? null;
    }
    this.changeDuringPass = undefined;
  }

  view(now: number): DestinationStatus {
    const state: SyncState =
      this.state === "diverged" || this.state === "error"
        ? this.state
        : this.state === undefined || this.behindSince !== undefined
          ? "syncing"
          : "in-sync";
    return {
      name: this.name,
      location: this.location,
      source: this.source,
      isActive: this.isActive,
      state,
      running: this.running,
      epoch: this.epoch,
      lastSuccess: this.lastSuccess === undefined ? null : new Date(this.lastSuccess).toISOString(),
      lastError: this.lastError,
      lagMs: lagOf(state, now, this.behindSince, this.lastSuccess),
      behindSince: this.behindSince === undefined ? null : new Date(this.behindSince).toISOString(),
      lastPass: this.lastPass,
      divergence: this.divergence,
      lastFullVerification: this.lastFullVerification,
    };
  }
}

export function lagOf(state: SyncState, now: number, behindSince: number | undefined, lastSuccess: number | undefined): number | null {
  if (state === "in-sync") return 0;
  if (behindSince !== undefined) return Math.max(0, now - behindSince);
  if (lastSuccess !== undefined) return Math.max(0, now - lastSuccess);
  return null;
}

/**
 * The flat per-destination shape the admin listener's /health reports (src/health/report.ts
 * SyncDestinationReport), so the proxy can pass `healthReports(service.status())` straight on.
 */
export function healthReports(destinations: Readonly<Record<string, DestinationStatus>>) {
  return Object.values(destinations).map((d) => ({
    destination: d.name,
    ...(d.source !== null ? { source: d.source } : {}),
    state: d.state,
    ...(d.epoch !== null ? { epoch: d.epoch } : {}),
    ...(d.lagMs !== null ? { lagMs: d.lagMs } : {}),
    ...(d.lastSuccess !== null ? { lastSuccess: d.lastSuccess } : {}),
    ...(d.lastError !== null ? { lastError: `${d.lastError.code}: ${d.lastError.message}` } : {}),
    ...(d.lastPass !== null ? { lastPass: { at: d.lastPass.startedAt, durationMs: d.lastPass.durationMs, bytes: d.lastPass.bytes, result: d.lastPass.result } } : {}),
    ...(d.lastFullVerification !== null ? { lastFullVerification: d.lastFullVerification } : {}),
    ...(d.divergence !== null
      ? {
        divergence: d.divergence.differences.map((x) => ({
          ...(x.serial ? { serial: x.serial } : {}),
          ...(x.subject ? { subject: x.subject } : {}),
          file: x.path,
          reason: x.message,
        })),
      }
      : {}),
  }));
}
