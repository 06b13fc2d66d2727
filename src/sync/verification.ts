// When a pass is the full verification (every file hashed, every line parsed, no cache trusted),
// and each destination's record of the last one (in memory, and on disk for `sync --once`).
//
// Passes on `sync.schedule` and the watch are incremental; the full verification has its own,
// slower cron (`sync.verify`, default hourly) and also runs for the first pass at every epoch
// (after every failover and failback, and at start), when asked, and for `--once` hourly.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

/** A request reason that asks for a full verification (the proxy may send it; so does `sync.verify`). */
export const FULL_VERIFY_REASON = "full-verify";

/** The reason of the passes `sync.verify` starts. */
export const VERIFY_SCHEDULE_REASON = `${FULL_VERIFY_REASON} (sync.verify)`;

/** `sync --once` (system cron) verifies the whole tree again when its last full verification is older. */
export const ONCE_FULL_EVERY_MS = 3_600_000;

export interface Verified {
  epoch: number;
  at: number;
}

/**
 * Whether a pass is the full verification: when asked (sync.verify, the proxy), and for the first
 * pass at each epoch (after every failover and failback); `--once` also when its last one is an
 * hour old. The `sync.schedule` cron and the watch only start incremental passes.
 */
export function wantsFullVerification(reasons: readonly string[], epoch: number, last: Verified | undefined, now: number): boolean {
  if (!last || last.epoch !== epoch) return true;
  if (reasons.includes("once") && now - last.at >= ONCE_FULL_EVERY_MS) return true;
  return reasons.some((r) => r.startsWith(FULL_VERIFY_REASON));
}

/** Each destination's last successful full verification, kept in <workDir>/<destination>/cache/verified.json. */
export class VerificationLog {
  private readonly last = new Map<string, Verified>();

  constructor(private readonly workDir: string) {}

  private file(dest: string): string {
    return join(this.workDir, dest, "cache", "verified.json");
  }

  async lastOf(dest: string): Promise<Verified | undefined> {
    if (!this.last.has(dest)) {
      const v = await readFile(this.file(dest), "utf8").then((t) => JSON.parse(t) as Verified, () => undefined);
      if (v && Number.isInteger(v.epoch) && Number.isFinite(v.at)) this.last.set(dest, v);
    }
    return this.last.get(dest);
  }

  async record(dest: string, v: Verified): Promise<void> {
    this.last.set(dest, v);
    await mkdir(dirname(this.file(dest)), { recursive: true, mode: 0o700 });
    await writeFile(this.file(dest), JSON.stringify(v));
  }
}
