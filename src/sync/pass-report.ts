// What one sync pass reports (the "pass" event, the answer to a request) and how its error is
// shown in the status: shared by the service, its API and the proxy that embeds it.
import type { PuppetHaError } from "../errors.js";
import { DeleteLimitError, RsyncError } from "./errors.js";
import type { Difference } from "./guard.js";
import type { DestinationStatus, SyncState } from "./status.js";

export interface PassReport {
  destination: string;
  ok: boolean;
  result: SyncState | "skipped" | "cancelled";
  epoch: number | null;
  source: string | null;
  durationMs: number;
  bytes: number;
  reasons: string[];
  /** sha256 over the verified manifest (path, size, sha256) both sides share, when in sync. */
  manifest?: string;
  /** Files in that manifest. */
  files?: number;
  /** True for a full verification (no cache trusted: every file hashed, every line parsed). */
  full?: boolean;
  /** Files hashed by this pass (a no-change incremental pass hashes none). */
  hashed?: number;
  /** Bytes read to hash them. */
  hashedBytes?: number;
  error?: PuppetHaError;
  differences?: readonly Difference[];
}

/** A pass that did not run: the worker was closed while the request waited. */
export function cancelledPass(destination: string): PassReport {
  return { destination, ok: false, result: "cancelled", epoch: null, source: null, durationMs: 0, bytes: 0, reasons: [] };
}

/** The status's lastError for a failed pass (rsync's exit code and stderr, the files over the delete cap). */
export function errorView(e: PuppetHaError, now: number): DestinationStatus["lastError"] {
  return {
    code: e.code, message: e.message, at: new Date(now).toISOString(),
    ...(e instanceof RsyncError ? { ...(e.exitCode !== undefined ? { exitCode: e.exitCode } : {}), stderr: e.stderr } : {}),
    ...(e instanceof DeleteLimitError ? { stderr: e.files.join("\n") } : {}),
  };
}

/** The fields of the "sync pass" log line. */
export function logLine(r: PassReport): Record<string, unknown> {
  return {
    destination: r.destination, source: r.source, epoch: r.epoch, result: r.result, durationMs: r.durationMs, bytes: r.bytes, reasons: r.reasons,
    ...(r.full !== undefined ? { full: r.full } : {}),
    ...(r.files !== undefined ? { files: r.files, hashed: r.hashed, hashedBytes: r.hashedBytes } : {}),
  };
}
