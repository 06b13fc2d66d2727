// The data side of a pass, run in the sync worker thread (scan-worker.ts): refresh the manifest
// caches of the staged source and the destination, parse what changed, run the guard, and say
// which paths to copy and delete; after the copy, check the written paths. Only small results
// (a verdict, path lists, counts) cross back to the event loop; manifests stay here.
import { createHash } from "node:crypto";
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, utimesSync } from "node:fs";
import { dirname, join } from "node:path";
import { describeCadir, parseInventory, type CadirSnapshot, type Inventory, type InventoryProblem } from "./cadir.js";
import { guard, type GuardVerdict } from "./guard.js";
import { Tree } from "./tree.js";

export interface TreeRef {
  /** The local directory (a cadir, or the local mirror of one). */
  dir: string;
  /** Where its manifest cache is persisted. */
  cache: string;
  /** How it is named in the config (for messages). */
  location: string;
}

/** What may have changed in a tree since the last refresh: a list of paths, or anything. */
export type Dirty = readonly string[] | "all";

export interface InspectRequest {
  source: TreeRef & { dirty: Dirty };
  dest: TreeRef & { dirty: Dirty };
  /** The full verification: hash every file of both sides again and parse every inventory line. */
  full: boolean;
}

export interface InspectResult {
  verdict: GuardVerdict;
  /** Paths the destination lacks or has with other content (the copy's --files-from). */
  updates: string[];
  /** Paths only the destination has. */
  deletes: string[];
  /** Files hashed and bytes read this time (the pass's cost; a no-change pass hashes ~0). */
  hashed: number;
  hashedBytes: number;
  statted: number;
}

export interface VerifyResult {
  mismatched: string[];
  digest: string;
  files: number;
}

interface InventoryMemo {
  sha256: string;
  size: number;
  lines: number;
  problems: InventoryProblem[];
}

export class Inspector {
  private readonly trees = new Map<string, Tree>();
  private readonly inventories = new Map<string, InventoryMemo>();
  private readonly digests = new WeakMap<Tree, { generation: number; digest: string }>();

  /** @param now the wall clock (ms) for the racy rule; tests move it on instead of sleeping */
  constructor(private readonly now: () => number = Date.now) {}

  tree(ref: Pick<TreeRef, "dir" | "cache">): Tree {
    let t = this.trees.get(ref.cache);
    if (!t || t.dir !== ref.dir) {
      t = new Tree(ref.dir, ref.cache);
      this.trees.set(ref.cache, t);
    }
    return t;
  }

  /**
   * Stage a local source: stat it (no hashing) and copy the files whose stat changed since the
   * last call into the mirror, with their mode, owner and times (as rsync -a would). `staged`
   * is false when there is no stat cache yet or the source is absent: the caller stages whole.
   */
  stageLocal(ref: TreeRef, mirror: string, dirty: Dirty): { changed: string[]; removed: string[]; present: boolean; staged: boolean } {
    const t = this.tree(ref);
    const fresh = t.entries.size === 0;
    // Paths the journal named are staged whatever their stat says (a rewrite within one clock tick).
    const r = t.refresh({ hash: false, nowMs: this.now(), ...(dirty === "all" || fresh ? {} : { only: dirty, rehash: dirty }) });
    if (fresh || !t.present) return { changed: r.changed, removed: r.removed, present: t.present, staged: false };
    const removed = [...r.removed];
    const changed: string[] = [];
    for (const p of r.changed) {
      if (copyInto(ref.dir, mirror, p)) changed.push(p);
      else {
        // Vanished since the stat (a CSR removed by a signing): the next pass sees it as new if it returns.
        t.entries.delete(p);
        removed.push(p);
      }
    }
    for (const p of removed) rmSync(join(mirror, p), { force: true });
    return { changed, removed, present: true, staged: true };
  }

  inspect(req: InspectRequest): InspectResult {
    const src = this.tree(req.source);
    const dst = this.tree(req.dest);
    const refresh = (t: Tree, dirty: Dirty, certs: boolean) => t.refresh({ hash: true, certs, nowMs: this.now(), rehashAll: req.full, ...(dirty === "all" || req.full ? {} : { only: dirty, rehash: dirty }) });
    const a = refresh(src, req.source.dirty, true);
    const b = refresh(dst, req.dest.dirty, false);
    const res = { hashed: a.hashed + b.hashed, hashedBytes: a.hashedBytes + b.hashedBytes, statted: a.statted + b.statted };
    const source = this.snapshot(req.source, src, req.full, true);
    const dest = this.snapshot(req.dest, dst, req.full, false);
    if (source.inventory && dest.inventory && !req.full) {
      dest.inventoryIsSourcePrefix = this.isPrefix(req.source, req.dest);
      if (!dest.inventoryIsSourcePrefix) {
        // Not a plain append: compare line by line, as the full verification does.
        source.inventory = this.parseWhole(req.source);
        dest.inventory = this.parseWhole(req.dest);
      }
    }
    const verdict = guard(source, dest);
    const updates: string[] = [];
    const deletes: string[] = [];
    for (const [p, e] of src.entries) {
      const d = dst.entries.get(p);
      if (!d || d.size !== e.size || d.sha256 !== e.sha256) updates.push(p);
    }
    for (const p of dst.entries.keys()) if (!src.entries.has(p)) deletes.push(p);
    return { verdict, updates: updates.sort(), deletes: deletes.sort(), ...res };
  }

  /** After the copy: hash the written paths of the destination and compare both manifests whole. */
  verify(source: TreeRef, dest: TreeRef, paths: readonly string[]): VerifyResult {
    const src = this.tree(source);
    const dst = this.tree(dest);
    dst.refresh({ hash: true, nowMs: this.now(), only: paths, rehash: paths });
    const mismatched: string[] = [];
    for (const [p, e] of src.entries) {
      const d = dst.entries.get(p);
      if (!d || d.size !== e.size || d.sha256 !== e.sha256) mismatched.push(p);
    }
    for (const p of dst.entries.keys()) if (!src.entries.has(p)) mismatched.push(p);
    return { mismatched: mismatched.sort(), digest: this.digest(src), files: src.entries.size };
  }

  /** sha256 over sorted "path size sha256" lines: the state "in sync at epoch E with X". */
  digest(t: Tree): string {
    const cached = this.digests.get(t);
    if (cached && cached.generation === t.generation) return cached.digest;
    const h = createHash("sha256");
    let chunk = "";
    for (const p of t.sortedPaths()) {
      const e = t.entries.get(p);
      if (e) chunk += `${p} ${e.size} ${e.sha256}\n`;
      if (chunk.length > 65_536) {
        h.update(chunk);
        chunk = "";
      }
    }
    const digest = h.update(chunk).digest("hex");
    this.digests.set(t, { generation: t.generation, digest });
    return digest;
  }

  /** Forget a tree's cache (it was written outside our view, e.g. a failed copy). */
  forget(ref: Pick<TreeRef, "cache">): void {
    this.trees.get(ref.cache)?.clear();
    this.inventories.delete(ref.cache);
  }

  save(): void {
    for (const t of this.trees.values()) t.save();
  }

  /** `certs`: whether signed/ files were checked (the source); the destination's are not needed. */
  private snapshot(ref: TreeRef, t: Tree, full: boolean, certs: boolean): CadirSnapshot {
    const read = (p: string) => {
      try {
        return readFileSync(join(ref.dir, p));
      } catch {
        return undefined;
      }
    };
    const inventory = t.entries.has("inventory.txt") ? (full ? this.parseWhole(ref) : this.appendedInventory(ref, t)) : undefined;
    return describeCadir({
      location: ref.location, present: t.present, manifest: t.manifest(), read,
      isCert: (p) => !certs || (t.entries.get(p)?.cert ?? false),
      ...(inventory ? { inventory } : {}),
    });
  }

  /** Parse only what was appended since the last look, when the old bytes are still the prefix. */
  private appendedInventory(ref: TreeRef, t: Tree): Inventory {
    const sha = t.entries.get("inventory.txt")?.sha256;
    const memo = this.inventories.get(ref.cache);
    if (memo && memo.sha256 === sha) return { entries: [], problems: memo.problems };
    const buf = readFileSync(join(ref.dir, "inventory.txt"));
    const appended = memo !== undefined && buf.length >= memo.size && (memo.size === 0 || buf[memo.size - 1] === 0x0a)
      && createHash("sha256").update(buf.subarray(0, memo.size)).digest("hex") === memo.sha256;
    const from = appended ? memo.size : 0;
    const tail = parseInventory(buf.subarray(from).toString("utf8"));
    const offset = appended ? memo.lines : 0;
    const problems = [...(appended ? memo.problems : []), ...tail.problems.map((p) => ({ ...p, line: p.line + offset }))];
    // Remember only a state that ends at a line end: a half-written last line is parsed again.
    const end = buf.lastIndexOf(0x0a) + 1;
    const lines = offset + countLines(buf.subarray(from, end));
    const endProblems = problems.filter((p) => p.line <= lines);
    this.inventories.set(ref.cache, { sha256: createHash("sha256").update(buf.subarray(0, end)).digest("hex"), size: end, lines, problems: endProblems });
    return { entries: tail.entries.map((e) => ({ ...e, line: e.line + offset })), problems };
  }

  private parseWhole(ref: TreeRef): Inventory {
    try {
      return parseInventory(readFileSync(join(ref.dir, "inventory.txt"), "utf8"));
    } catch {
      return { entries: [], problems: [] };
    }
  }

  /** The destination's inventory.txt is byte for byte a prefix of the source's, ending at a line end. */
  private isPrefix(source: TreeRef, dest: TreeRef): boolean {
    const d = readFileSync(join(dest.dir, "inventory.txt"));
    if (d.length > 0 && d[d.length - 1] !== 0x0a) return false;
    const s = readFileSync(join(source.dir, "inventory.txt"));
    return d.length <= s.length && s.subarray(0, d.length).equals(d);
  }
}

/** Copy one file into the mirror as `rsync -a` would (mode, owner when root, times); false if it vanished. */
function copyInto(fromDir: string, toDir: string, rel: string): boolean {
  const from = join(fromDir, rel);
  const to = join(toDir, rel);
  try {
    mkdirSync(dirname(to), { recursive: true, mode: 0o700 });
    copyFileSync(from, to);
    const st = statSync(from);
    chmodSync(to, st.mode & 0o7777);
    if (process.getuid?.() === 0) chownSync(to, st.uid, st.gid);
    utimesSync(to, st.atime, st.mtime);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(0x0a); i !== -1; i = b.indexOf(0x0a, i + 1)) n++;
  return n;
}
