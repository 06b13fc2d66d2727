// One guarded pass for one destination: stage the source, snapshot both sides, guard, dry-run
// (delete cap), copy, verify manifests.
//
// The source (the active CA's cadir, local or remote) is first staged into a local mirror with
// `rsync --checksum`, and everything after works on that mirror: the guard approves exactly the
// bytes that are then copied, even while the active CA keeps writing (a file caught mid-write is
// refused by the guard and picked up by the next pass, never copied). A remote destination is
// read through a mirror as well, so guard and manifest code never speak ssh.
import { createHash } from "node:crypto";
import { chmod, cp, mkdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Logger } from "../log.js";
import { isTransient, readCadir, snapshotOf, type CadirSnapshot, type Manifest } from "./cadir.js";
import { DeleteLimitError, DivergenceError, IncompleteSourceError, ManifestMismatchError, RsyncError } from "./errors.js";
import { filesToSave, guard, type Difference } from "./guard.js";
import { copyArgs, dryRunArgs, mirrorArgs, RSYNC_VANISHED, parseItemized, parseLocation, parseTransferredBytes, runRsync, type Location, type RsyncRunner } from "./rsync.js";

export interface PassContext {
  destination: string;
  source: string;
  epoch: number;
  cadirs: Readonly<Record<string, string>>;
  backupDir: string;
  workDir: string;
  maxDeletes: number;
  ssh: readonly string[];
  rsync: RsyncRunner;
  log: Logger;
  now: () => number;
  /** Throws (FencingError) when the epoch moved on or the destination became active. */
  recheck: () => Promise<void>;
  /** Told as soon as the dry-run shows the destination is behind. */
  onBehind?: () => void;
}

export interface PassOutcome {
  copied: boolean;
  bytes: number;
  updates: number;
  deletes: number;
  backupDir?: string;
  manifest: Manifest;
}

interface Side {
  name: string;
  loc: Location;
  /** The local mirror of this cadir. */
  mirror: string;
}

export async function runPass(ctx: PassContext): Promise<PassOutcome> {
  // Each destination's worker owns <workDir>/<destination>/: passes for two destinations may run
  // at once and must never stage into the same mirror.
  const own = join(ctx.workDir, ctx.destination);
  const src = side(ctx, ctx.source, join(own, "source"));
  const dst = side(ctx, ctx.destination, join(own, "destination"));
  const source = await mirrored(ctx, src);
  const dest = dst.loc.kind === "local" ? await readCadir(dst.loc.path, ctx.cadirs[dst.name]) : await mirrored(ctx, dst);
  const verdict = guard(source, dest);
  if (verdict.verdict === "incomplete-source") throw new IncompleteSourceError(`${src.name} (${source.location})`, verdict.problems);
  if (verdict.verdict === "diverged") {
    const savedTo = await saveExtras(ctx, dst.loc.kind === "local" ? dst.loc.path : dst.mirror, verdict.differences);
    throw new DivergenceError(ctx.destination, verdict.differences, savedTo);
  }

  const plan = { from: { kind: "local", path: src.mirror } as Location, to: dst.loc, ssh: ctx.ssh };
  const dry = parseItemized((await runRsync(ctx.rsync, dryRunArgs(plan), `dry-run ${src.name} -> ${dst.name}`)).stdout);
  // Leftovers of a killed rsync (.~tmp~/) are removed but do not count against the cap.
  const deletes = dry.deletes.filter((p) => !isTransient(p));
  if (deletes.length > ctx.maxDeletes) throw new DeleteLimitError(ctx.destination, deletes, ctx.maxDeletes);
  if (dry.updates.length === 0 && dry.deletes.length === 0) {
    // Nothing to copy: still check file for file, as after a copy.
    const mismatched = compareManifests(source.manifest, dest.manifest);
    if (mismatched.length > 0) throw new ManifestMismatchError(ctx.destination, mismatched);
    return { copied: false, bytes: 0, updates: 0, deletes: 0, manifest: source.manifest };
  }
  ctx.onBehind?.();
  await ctx.recheck();
  const backupDir = join(ctx.backupDir, ctx.destination, stamp(ctx.now()));
  const maxDeletes = ctx.maxDeletes + dry.deletes.length - deletes.length;
  const res = await runRsync(ctx.rsync, copyArgs({ ...plan, backupDir, maxDeletes }), `copy ${src.name} -> ${dst.name}`);
  const bytes = parseTransferredBytes(res.stdout);

  const written = dst.loc.kind === "local" ? await readCadir(dst.loc.path) : await mirrored(ctx, dst);
  const mismatched = compareManifests(source.manifest, written.manifest);
  if (mismatched.length > 0) throw new ManifestMismatchError(ctx.destination, mismatched);
  ctx.log.debug({ destination: ctx.destination, updates: dry.updates.length, deletes: deletes.length, bytes }, "copy verified");
  return { copied: true, bytes, updates: dry.updates.length, deletes: deletes.length, backupDir, manifest: source.manifest };
}

function side(ctx: PassContext, name: string, mirror: string): Side {
  const text = ctx.cadirs[name];
  if (text === undefined) throw new IncompleteSourceError(name, [`"${name}" is not one of sync.cadirs`]);
  return { name, loc: parseLocation(text), mirror };
}

/** Refresh a cadir's local mirror and read it; a missing cadir reads as absent. */
async function mirrored(ctx: PassContext, s: Side): Promise<CadirSnapshot> {
  const location = ctx.cadirs[s.name] as string;
  await mkdir(s.mirror, { recursive: true, mode: 0o700 });
  await chmod(dirname(s.mirror), 0o700); // <workDir>/<destination>: the mirrors hold ca_key.pem
  try {
    // A file that vanished while staging (a CSR removed by a signing) is fine: the guard checks
    // what was staged, and the change that removed it triggers another pass.
    await runRsync(ctx.rsync, mirrorArgs({ from: s.loc, to: { kind: "local", path: s.mirror }, ssh: ctx.ssh }), `mirror ${s.name}`, [RSYNC_VANISHED]);
  } catch (err) {
    if (err instanceof RsyncError && err.exitCode === 23 && /change_dir .* failed: No such file or directory/.test(err.stderr)) {
      return snapshotOf(location, new Map(), false);
    }
    throw err;
  }
  return readCadir(s.mirror, location);
}

/** One sha256 over a manifest (sorted "path size sha256" lines): "in sync at epoch E with X". */
export function manifestDigest(m: Manifest): string {
  const h = createHash("sha256");
  for (const [p, e] of [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) h.update(`${p} ${e.size} ${e.sha256}\n`);
  return h.digest("hex");
}

/** Paths whose size or sha256 differ, or that exist on one side only. */
export function compareManifests(a: Manifest, b: Manifest): string[] {
  const out: string[] = [];
  for (const [p, e] of a) {
    const o = b.get(p);
    if (!o || o.size !== e.size || o.sha256 !== e.sha256) out.push(p);
  }
  for (const p of b.keys()) if (!a.has(p)) out.push(p);
  return out.sort();
}

/** Copy the destination's files named by the differences aside, once per distinct divergence. */
async function saveExtras(ctx: PassContext, fromDir: string, differences: readonly Difference[]): Promise<string> {
  const files = filesToSave(differences);
  const id = createHash("sha256").update(JSON.stringify(differences)).digest("hex").slice(0, 12);
  const dir = join(ctx.backupDir, ctx.destination, `diverged-${id}`);
  const exists = await stat(dir).then(() => true, () => false);
  if (!exists) {
    for (const f of files) {
      await mkdir(join(dir, f, ".."), { recursive: true, mode: 0o700 });
      await cp(join(fromDir, f), join(dir, f), { preserveTimestamps: true });
    }
    ctx.log.warn({ destination: ctx.destination, savedTo: dir, files }, "diverged: extra files saved");
  }
  return dir;
}

/** A backup folder name from a time: 2026-11-21T09-30-00.123Z (no colons, sorts by time). */
export function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/:/g, "-");
}
