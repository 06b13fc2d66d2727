// One guarded pass for one destination: stage the source, refresh both manifests, guard, check
// the delete cap, copy the changed paths, verify.
//
// The source (the active CA's cadir, local or remote) is first staged into a local mirror, and
// everything after works on that mirror: the guard approves exactly the bytes that are then
// copied, even while the active CA keeps writing (a file caught mid-write is refused by the guard
// and picked up by the next pass, never copied). A remote destination is read through a mirror as
// well, so guard and manifest code never speak ssh.
//
// Incremental: a pass costs what changed. The manifest caches (tree.ts) tell which files changed
// by their stat; only those are staged, hashed and copied (rsync --files-from), and an appended
// inventory.txt is parsed from where it ended (inspect.ts). The full verification (`full`)
// trusts no cache: it stages with --checksum, hashes every file and parses every line.
import { createHash } from "node:crypto";
import { chmod, cp, mkdir, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Logger } from "../log.js";
import { DeleteLimitError, DivergenceError, IncompleteSourceError, ManifestMismatchError, RsyncError } from "./errors.js";
import { filesToSave, type Difference } from "./guard.js";
import type { Dirty, TreeRef } from "./inspect.js";
import type { Journal } from "./journal.js";
import { fileList, listedCopyArgs, mirrorArgs, topLevelArgs, RSYNC_VANISHED, parseItemized, parseLocation, parseTransferredBytes, runRsync, type Location, type RsyncRunner } from "./rsync.js";
import type { Scanner } from "./scanner.js";

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
  scanner: Scanner;
  /** The change journal of a local cadir (absent: every pass stats the whole tree). */
  journal?: (dir: string) => Journal;
  /** The full verification: no cache is trusted. */
  full: boolean;
  log: Logger;
  now: () => number;
  /** Throws (FencingError) when the epoch moved on or the destination became active. */
  recheck: () => Promise<void>;
  /** Told as soon as the pass finds the destination behind. */
  onBehind?: () => void;
}

export interface PassOutcome {
  copied: boolean;
  bytes: number;
  updates: number;
  deletes: number;
  backupDir?: string;
  /** sha256 over the verified manifest (sorted "path size sha256" lines) and its file count. */
  digest: string;
  files: number;
  full: boolean;
  /** Files hashed and bytes read by this pass (both sides). */
  hashed: number;
  hashedBytes: number;
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
  const cache = (n: string) => join(own, "cache", `${n}.json`);
  const mirrorRef: TreeRef = { dir: src.mirror, cache: cache("source-mirror"), location: ctx.cadirs[src.name] as string };
  const destRef: TreeRef = dst.loc.kind === "local"
    ? { dir: dst.loc.path, cache: cache("destination"), location: ctx.cadirs[dst.name] as string }
    : { dir: dst.mirror, cache: cache("destination-mirror"), location: ctx.cadirs[dst.name] as string };
  await prepareMirror(src.mirror);

  const sourceDirty = await stage(ctx, src, mirrorRef, cache("source-stat"));
  const destDirty: Dirty = dst.loc.kind === "local" ? await journaled(ctx, dst.loc.path) : await mirrorRemote(ctx, dst, ctx.full);
  const plan = await ctx.scanner.call("inspect", { source: { ...mirrorRef, dirty: sourceDirty }, dest: { ...destRef, dirty: destDirty }, full: ctx.full });
  const { verdict } = plan;
  if (verdict.verdict === "incomplete-source") throw new IncompleteSourceError(`${src.name} (${mirrorRef.location})`, verdict.problems);
  if (verdict.verdict === "diverged") {
    const savedTo = await saveExtras(ctx, destRef.dir, verdict.differences);
    throw new DivergenceError(ctx.destination, verdict.differences, savedTo);
  }
  if (plan.deletes.length > ctx.maxDeletes) throw new DeleteLimitError(ctx.destination, plan.deletes, ctx.maxDeletes);
  const cost = { full: ctx.full, hashed: plan.hashed, hashedBytes: plan.hashedBytes };
  if (plan.updates.length === 0 && plan.deletes.length === 0) {
    const v = await ctx.scanner.call("verify", mirrorRef, destRef, []);
    return { copied: false, bytes: 0, updates: 0, deletes: 0, digest: v.digest, files: v.files, ...cost };
  }
  ctx.onBehind?.();
  await ctx.recheck();
  const backupDir = join(ctx.backupDir, ctx.destination, stamp(ctx.now()));
  const listed = [...plan.updates, ...plan.deletes];
  const copyPlan = { from: { kind: "local", path: src.mirror } as Location, to: dst.loc, ssh: ctx.ssh, backupDir, maxDeletes: ctx.maxDeletes };
  const res = await runRsync(ctx.rsync, listedCopyArgs(copyPlan), `copy ${src.name} -> ${dst.name}`, [], fileList(listed));
  const bytes = parseTransferredBytes(res.stdout);

  let written: readonly string[] = listed;
  if (dst.loc.kind === "remote") {
    const seen = await mirrorRemote(ctx, dst, false);
    written = [...listed, ...(seen === "all" ? [] : seen)];
  }
  const v = await ctx.scanner.call("verify", mirrorRef, destRef, written);
  if (v.mismatched.length > 0) throw new ManifestMismatchError(ctx.destination, v.mismatched);
  ctx.log.debug({ destination: ctx.destination, updates: plan.updates.length, deletes: plan.deletes.length, bytes }, "copy verified");
  return { copied: true, bytes, updates: plan.updates.length, deletes: plan.deletes.length, backupDir, digest: v.digest, files: v.files, ...cost };
}

function side(ctx: PassContext, name: string, mirror: string): Side {
  const text = ctx.cadirs[name];
  if (text === undefined) throw new IncompleteSourceError(name, [`"${name}" is not one of sync.cadirs`]);
  return { name, loc: parseLocation(text), mirror };
}

async function prepareMirror(mirror: string): Promise<void> {
  await mkdir(mirror, { recursive: true, mode: 0o700 });
  await chmod(dirname(mirror), 0o700); // <workDir>/<destination>: the mirrors hold ca_key.pem
}

/**
 * Bring the source mirror up to date; say which of its paths may have changed. A local source
 * with a stat cache has only the paths whose stat changed copied (by the worker); a remote one
 * (no stat over ssh), the first pass and the full verification stage the whole tree with rsync.
 */
async function stage(ctx: PassContext, src: Side, mirrorRef: TreeRef, statCache: string): Promise<Dirty> {
  if (src.loc.kind === "remote") return mirrorRemote(ctx, src, ctx.full);
  const statRef: TreeRef = { dir: src.loc.path, cache: statCache, location: mirrorRef.location };
  try {
    const st = await ctx.scanner.call("stageLocal", statRef, src.mirror, await journaled(ctx, src.loc.path));
    if (st.staged && !ctx.full) return [...st.changed, ...st.removed];
    // Absent source: rsync empties the mirror and the guard reports the absent dir.
    await mirrorWhole(ctx, src, "checksum");
    return "all";
  } catch (err) {
    // The stat cache may now claim what was not staged: forget it, the next pass stages everything.
    await ctx.scanner.call("forget", statRef);
    throw err;
  }
}

/**
 * What may have changed in a local cadir: the journal's paths when it can vouch for them. The
 * kernel queued the events of every write finished before this call; one turn of the event loop
 * (I/O callbacks run before setImmediate's) hands them to the journal before it is read.
 */
async function journaled(ctx: PassContext, dir: string): Promise<Dirty> {
  if (!ctx.journal) return "all";
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  const j = ctx.journal(dir).take(); // also when full: the journal then starts afresh from here
  return j.complete && !ctx.full ? j.paths : "all";
}

/**
 * Refresh the mirror of a remote cadir: the paths rsync changed ("all" after --checksum). Not
 * full: rsync's quick check (size and mtime) over the tree, which sees every new, removed or
 * resized file, then --checksum over the top-level files (serial, inventory.txt, ca_crl.pem...),
 * which puppetserver rewrites in place, maybe within the same second at the same size. A signed
 * cert rewritten in place at the same size and second waits for the full verification.
 */
async function mirrorRemote(ctx: PassContext, s: Side, full: boolean): Promise<Dirty> {
  await prepareMirror(s.mirror);
  if (full) {
    await mirrorWhole(ctx, s, "checksum");
    return "all";
  }
  const changed = await mirrorWhole(ctx, s, "quick");
  const plan = { from: s.loc, to: { kind: "local", path: s.mirror } as Location, ssh: ctx.ssh };
  const top = await runRsync(ctx.rsync, topLevelArgs(plan), `mirror ${s.name} (top-level files)`, [RSYNC_VANISHED]);
  return [...changed, ...parseItemized(top.stdout).updates];
}

async function mirrorWhole(ctx: PassContext, s: Side, compare: "checksum" | "quick"): Promise<string[]> {
  const plan = { from: s.loc, to: { kind: "local", path: s.mirror } as Location, ssh: ctx.ssh };
  try {
    // A file that vanished while staging is fine (see stage).
    const out = await runRsync(ctx.rsync, mirrorArgs(plan, compare), `mirror ${s.name}`, [RSYNC_VANISHED]);
    const items = parseItemized(out.stdout);
    return [...items.updates, ...items.deletes];
  } catch (err) {
    if (err instanceof RsyncError && err.exitCode === 23 && /change_dir .* failed: No such file or directory/.test(err.stderr)) {
      // The cadir does not exist: neither does its mirror (the guard then sees an absent dir).
      await rm(s.mirror, { recursive: true, force: true });
      return [];
    }
    throw err;
  }
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
