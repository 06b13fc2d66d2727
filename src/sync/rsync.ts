// rsync as the copy engine: where a cadir lives, the exact argument vectors (pure, so tests pin
// them down), what rsync's output means, and one runner that maps every failure to RsyncError.
import { execa } from "execa";
import { RsyncError } from "./errors.js";

export type Location = { kind: "local"; path: string } | { kind: "remote"; host: string; path: string };

/** A cadir as written in the config: `/path` or `[user@]host:/path`. */
export function parseLocation(text: string): Location {
  if (text.startsWith("/")) return { kind: "local", path: text.replace(/\/+$/, "") || "/" };
  const i = text.indexOf(":");
  return { kind: "remote", host: text.slice(0, i), path: text.slice(i + 1).replace(/\/+$/, "") || "/" };
}

/** The rsync operand for a directory's contents (trailing slash: copy the contents). */
export function operand(loc: Location): string {
  return loc.kind === "local" ? `${loc.path}/` : `${loc.host}:${loc.path}/`;
}

/** The ssh argument vector as one `-e` string; rsync splits it on spaces and honours quotes. */
export function sshOption(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "")}'`)).join(" ");
}

export interface CopyPlan {
  from: Location;
  to: Location;
  ssh: readonly string[];
}

function base(plan: CopyPlan, compare: "checksum" | "quick" | "always" = "checksum"): string[] {
  const remote = plan.from.kind === "remote" || plan.to.kind === "remote";
  const how = compare === "checksum" ? ["--checksum"] : compare === "always" ? ["--ignore-times"] : [];
  return ["-a", ...how, ...(remote ? ["-e", sshOption(plan.ssh)] : [])];
}

/** What a copy would do, without doing it: one itemized line per change. */
export function dryRunArgs(plan: CopyPlan): string[] {
  return [...base(plan), "--delete", "--dry-run", "--itemize-changes", "--", operand(plan.from), operand(plan.to)];
}

/**
 * Refresh a local mirror of a cadir (staging of the source, reading a remote destination).
 * puppetserver's atomic-write temp files (`serial4722...tmp`) and rsync's own leftovers are never
 * staged (and removed from the mirror if an older pass staged one): they vanish mid-copy and are
 * not CA state. See isTransient in cadir.ts.
 */
export function mirrorArgs(plan: CopyPlan, compare: "checksum" | "quick" = "checksum"): string[] {
  return [
    ...base(plan, compare), "--delete", "--delete-excluded", "--exclude=*[0-9]tmp", "--exclude=.~tmp~/",
    "--itemize-changes", "--", operand(plan.from), operand(plan.to),
  ];
}

/**
 * The incremental copy: exactly the paths given on stdin (NUL-separated), which the manifests
 * showed to differ. Every listed file is transferred whatever its size and mtime say; a listed
 * path missing in the staged source is deleted. The safety options are copyArgs'.
 */
export function listedCopyArgs(plan: CopyPlan & { backupDir: string; maxDeletes: number }): string[] {
  return [
    ...base(plan, "always"), "--from0", "--files-from=-", "--delete-missing-args", "--delay-updates",
    `--max-delete=${plan.maxDeletes}`, "--backup", `--backup-dir=${plan.backupDir}`, "--stats",
    "--", operand(plan.from), operand(plan.to),
  ];
}

/** The stdin of a --from0 --files-from=- run. */
export function fileList(paths: readonly string[]): string {
  return paths.map((p) => `${p}\0`).join("");
}

/** The files at the top of a cadir only, compared by checksum (no deletions: mirrorArgs does those). */
export function topLevelArgs(plan: CopyPlan): string[] {
  return [...base(plan), "--exclude=*/", "--exclude=*[0-9]tmp", "--itemize-changes", "--", operand(plan.from), operand(plan.to)];
}

/** rsync exit 24: "some files vanished before they could be transferred" (a CSR signed mid-copy). */
export const RSYNC_VANISHED = 24;

/**
 * The copy. --delay-updates puts every new file in place only at the end (a killed rsync leaves
 * the old files, never a truncated one); --backup keeps everything replaced or deleted;
 * --max-delete is the backstop behind the dry-run count (rsync exits 25 when it stops deletions).
 */
export function copyArgs(plan: CopyPlan & { backupDir: string; maxDeletes: number }): string[] {
  return [
    ...base(plan), "--delete", "--delay-updates", `--max-delete=${plan.maxDeletes}`,
    "--backup", `--backup-dir=${plan.backupDir}`, "--stats",
    "--", operand(plan.from), operand(plan.to),
  ];
}

export interface Itemized {
  /** Paths rsync would create or update (content or attributes). */
  updates: string[];
  deletes: string[];
}

/** Parse `--itemize-changes` output ("*deleting   x", ">f+++++++++ signed/a.pem", ".d..t...... ./"). */
export function parseItemized(stdout: string): Itemized {
  const out: Itemized = { updates: [], deletes: [] };
  for (const line of stdout.split("\n")) {
    const m = /^([<>ch.*][fdLDS*][^ ]{9}|\*deleting) +(.+)$/.exec(line);
    if (!m) continue;
    const [, code, path] = m as unknown as [string, string, string];
    if (code.startsWith("*deleting")) out.deletes.push(path);
    else if (code.startsWith(".") && !/[^.]/.test(code.slice(2))) continue; // nothing to do
    else out.updates.push(path);
  }
  return out;
}

/** "Total transferred file size: 1,234 bytes" from `--stats`. */
export function parseTransferredBytes(stdout: string): number {
  const m = /Total transferred file size: ([\d,.]+)/.exec(stdout);
  return m ? Number((m[1] as string).replace(/[,.]/g, "")) : 0;
}

export interface RsyncRunner {
  command: string;
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
}

/** Run rsync with an argument vector (never a shell); any failure becomes an RsyncError. */
export async function runRsync(
  r: RsyncRunner, args: string[], what: string, acceptExitCodes: readonly number[] = [], input?: string,
): Promise<{ stdout: string; stderr: string }> {
  const res = await execa(r.command, args, {
    reject: false,
    ...(input !== undefined ? { input } : {}),
    timeout: r.timeoutMs,
    forceKillAfterDelay: 2000,
    stripFinalNewline: false,
    ...(r.env ? { env: r.env, extendEnv: false } : {}),
  });
  if (res.failed && !(res.exitCode !== undefined && acceptExitCodes.includes(res.exitCode))) {
    const stderr = String(res.stderr ?? "") || (res.cause instanceof Error ? res.cause.message : "");
    throw new RsyncError({
      exitCode: res.exitCode,
      signal: res.signal,
      timedOut: res.timedOut,
      stderr,
      what,
    }, { cause: res.cause });
  }
  return { stdout: String(res.stdout), stderr: String(res.stderr) };
}
