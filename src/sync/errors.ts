// Typed errors of the sync agent, each with a stable code. Status and exit codes are decided by
// the caller (status API, `sync --once`), never here.
import { PuppetHaError } from "../errors.js";
import type { Difference } from "./guard.js";

/** rsync exited non-zero, was killed, or timed out. `exitCode` is rsync's own (23, 12, ...). */
export class RsyncError extends PuppetHaError {
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly timedOut: boolean;
  readonly stderr: string;
  constructor(args: { exitCode?: number; signal?: string; timedOut?: boolean; stderr: string; what: string }, options?: { cause?: unknown }) {
    const how = args.timedOut
      ? "timed out"
      : args.signal
        ? `killed by ${args.signal}`
        : `exit ${args.exitCode ?? "?"}${RSYNC_EXIT[args.exitCode ?? -1] ? ` (${RSYNC_EXIT[args.exitCode ?? -1]})` : ""}`;
    const firstLine = args.stderr.trim().split("\n")[0] ?? "";
    super("E_RSYNC", `rsync ${args.what} ${how}${firstLine ? `: ${firstLine}` : ""}`, options);
    this.exitCode = args.exitCode;
    this.signal = args.signal;
    this.timedOut = args.timedOut ?? false;
    this.stderr = args.stderr;
  }
}

/** rsync(1) EXIT VALUES, for messages. */
export const RSYNC_EXIT: Readonly<Record<number, string>> = {
  1: "syntax or usage error",
  2: "protocol incompatibility",
  3: "errors selecting input/output files, dirs",
  5: "error starting client-server protocol",
  10: "error in socket I/O",
  11: "error in file I/O",
  12: "error in rsync protocol data stream",
  20: "received SIGUSR1 or SIGINT",
  23: "partial transfer due to error",
  24: "partial transfer due to vanished source files",
  25: "the --max-delete limit stopped deletions",
  30: "timeout in data send/receive",
  35: "timeout waiting for daemon connection",
  255: "ssh failed",
};

/** The destination holds CA data the source lacks: nothing was copied or deleted. */
export class DivergenceError extends PuppetHaError {
  readonly destination: string;
  readonly differences: readonly Difference[];
  readonly savedTo: string | undefined;
  constructor(destination: string, differences: readonly Difference[], savedTo?: string) {
    const first = differences.slice(0, 3).map((d) => d.message).join("; ");
    const more = differences.length > 3 ? ` (+${differences.length - 3} more)` : "";
    super("E_DIVERGED", `${destination} diverged from the active CA: ${first}${more}`);
    this.destination = destination;
    this.differences = differences;
    this.savedTo = savedTo;
  }
}

/** The source is not a complete, parseable CA dir: nothing was copied. */
export class IncompleteSourceError extends PuppetHaError {
  readonly source: string;
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super("E_SOURCE_INCOMPLETE", `source ${source} is not a complete CA dir: ${problems.join("; ")}`);
    this.source = source;
    this.problems = problems;
  }
}

/** A pass would delete more files than sync.maxDeletes allows: nothing was copied. */
export class DeleteLimitError extends PuppetHaError {
  readonly files: readonly string[];
  readonly limit: number;
  constructor(destination: string, files: readonly string[], limit: number) {
    super("E_MAX_DELETES", `${destination}: the pass would delete ${files.length} files, more than maxDeletes ${limit} (${files.slice(0, 5).join(", ")}${files.length > 5 ? ", ..." : ""})`);
    this.files = files;
    this.limit = limit;
  }
}

/** A pass for an older epoch than the latest known, or one that would write the active CA. */
export class FencingError extends PuppetHaError {
  constructor(message: string) {
    super("E_FENCED", message);
  }
}

/** After the copy, the two sides do not match file for file. */
export class ManifestMismatchError extends PuppetHaError {
  readonly paths: readonly string[];
  constructor(destination: string, paths: readonly string[]) {
    super("E_MANIFEST", `${destination} does not match the source after the copy: ${paths.slice(0, 5).join(", ")}${paths.length > 5 ? ", ..." : ""}`);
    this.paths = paths;
  }
}

/** The arbiter (proxy admin API) could not tell the active CA and epoch. */
export class ArbiterError extends PuppetHaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_ARBITER", message, options);
  }
}

/** A cadir file could not be read or written (serial advance, snapshot). */
export class CadirError extends PuppetHaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_CADIR", message, options);
  }
}
