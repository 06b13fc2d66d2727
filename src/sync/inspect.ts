// The data side of a pass, run in the sync worker thread (scan-worker.ts): refresh the manifest
// caches of the staged source and the destination, parse what changed, run the guard, and say
// which paths to copy and delete; after the copy, check the written paths. Only small results
// (a verdict, path lists, counts) cross back to the event loop; manifests stay here.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
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

  tree(ref: Pick<TreeRef, "dir" | "cache">): Tree {
    let t = this.trees.get(ref.cache);
    if (!t || t.dir !== ref.dir) {
      t = new Tree(ref.dir, ref.cache);
      this.trees.set(ref.cache, t);
    }
    return t;
  }

  /** Stat a local source (no hashing): which paths changed since the last call, to stage them. */
  statSource(ref: TreeRef, dirty: Dirty): { changed: string[]; removed: string[]; statted: number; present: boolean; fresh: boolean } {
    const t = this.tree(ref);
    const fresh = t.entries.size === 0;
    const r = t.refresh({ hash: false, ...(dirty === "all" ? {} : { only: dirty }) });
    return { changed: r.changed, removed: r.removed, statted: r.statted, present: t.present, fresh };
  }

  inspect(req: InspectRequest): InspectResult {
    const src = this.tree(req.source);
    const dst = this.tree(req.dest);
    const refresh = (t: Tree, dirty: Dirty) => t.refresh({ hash: true, rehashAll: req.full, ...(dirty === "all" || req.full ? {} : { only: dirty, rehash: dirty }) });
    const a = refresh(src, req.source.dirty);
    const b = refresh(dst, req.dest.dirty);
    const res = { hashed: a.hashed + b.hashed, hashedBytes: a.hashedBytes + b.hashedBytes, statted: a.statted + b.statted };
    const source = this.snapshot(req.source, src, req.full);
    const dest = this.snapshot(req.dest, dst, req.full);
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
    dst.refresh({ hash: true, only: paths, rehash: paths });
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
    const h = createHash("sha256");
    for (const p of t.sortedPaths()) {
      const e = t.entries.get(p);
      if (e) h.update(`${p} ${e.size} ${e.sha256}\n`);
    }
    return h.digest("hex");
  }

  /** Forget a tree's cache (it was written outside our view, e.g. a failed copy). */
  forget(ref: Pick<TreeRef, "cache">): void {
    this.trees.get(ref.cache)?.clear();
    this.inventories.delete(ref.cache);
  }

  save(): void {
    for (const t of this.trees.values()) t.save();
  }

  private snapshot(ref: TreeRef, t: Tree, full: boolean): CadirSnapshot {
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
      isCert: (p) => t.entries.get(p)?.cert ?? false,
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

function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(0x0a); i !== -1; i = b.indexOf(0x0a, i + 1)) n++;
  return n;
}
