// The manifest cache of one local directory, the way git's index avoids rehashing: every regular
// file's (size, mtime, ctime, inode) and its sha256, persisted between passes. A refresh stats the
// files and hashes only those whose stat changed. Synchronous on purpose: it runs in the sync
// worker thread (scan-worker.ts), never on the proxy's event loop.
//
// Racy-git rule: a file whose ctime is within RACY_MS of the moment it was stat'ed could be
// rewritten again within the same timestamp tick without its stat changing, so it is hashed again
// at the next refresh until it is older than that. Times are kept as float milliseconds (exact to
// well under a microsecond today): a file trusted from its stat was last changed more than RACY_MS
// before it was looked at, so any later write moves its ctime by more than that; nanoseconds are
// not needed, and a stat without BigInts costs a third less (100,000 files per final pull).
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import { isTransient, isTransientName, parsesAsCert, type Manifest, type ManifestEntry } from "./cadir.js";

export const RACY_MS = 2000;
const CACHE_VERSION = 2;

export interface TreeEntry extends ManifestEntry {
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  /** The refresh that last saw it (a whole-tree refresh drops entries it did not see). */
  seen: number;
  /** Stat'ed too close to its last change to trust the stat next time. */
  racy: boolean;
  /** signed/*.pem only: one parseable certificate (a file caught mid-write is not). */
  cert?: boolean;
}

export interface RefreshOptions {
  /** Only these paths (files or directories) may have changed; default: stat the whole tree. */
  only?: readonly string[];
  /** Hash every file again, trusting no cached stat (the full verification). */
  rehashAll?: boolean;
  /** Hash these paths even if their stat looks unchanged (rsync just wrote them). */
  rehash?: readonly string[];
  /** Hash file contents (false: stat only, for a source that is only staged from). */
  hash: boolean;
  /** Check that signed/*.pem files parse as certificates (the source's completeness). */
  certs?: boolean;
  /** The wall clock in ms, for the racy rule (file times are wall-clock times). */
  nowMs: number;
}

export interface RefreshResult {
  changed: string[];
  removed: string[];
  statted: number;
  hashed: number;
  hashedBytes: number;
}

export class Tree {
  readonly entries = new Map<string, TreeEntry>();
  present = false;
  /** Bumped whenever an entry is added, removed or changes content (to reuse a digest). */
  generation = 0;
  /** Paths in sorted order, kept up to date by binary insertion (a re-sort of 100,000 costs ~80 ms). */
  private sorted: string[] | undefined;
  private refreshes = 0;

  constructor(readonly dir: string, private readonly cacheFile?: string) {
    if (cacheFile) this.load();
  }

  manifest(): Manifest {
    return this.entries;
  }

  refresh(opts: RefreshOptions): RefreshResult {
    const res: RefreshResult = { changed: [], removed: [], statted: 0, hashed: 0, hashedBytes: 0 };
    const forced = new Set(opts.rehash ?? []);
    const mark = ++this.refreshes;
    const seen = (p: string) => this.entries.get(p)?.seen === mark;
    const visit = (rel: string, st: Stats) => {
      res.statted++;
      const old = this.entries.get(rel);
      const same = old && !old.racy && old.size === st.size && old.mtimeMs === st.mtimeMs && old.ctimeMs === st.ctimeMs && old.ino === st.ino;
      if (same && !opts.rehashAll && !forced.has(rel)) {
        old.seen = mark;
        return;
      }
      const e: TreeEntry = { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, sha256: "", racy: st.ctimeMs >= opts.nowMs - RACY_MS, seen: mark };
      if (opts.hash) {
        const data = readOrUndefined(`${this.dir}/${rel}`);
        if (data === undefined) return; // vanished between stat and read: not seen
        e.size = data.length;
        e.sha256 = createHash("sha256").update(data).digest("hex");
        if (opts.certs && rel.startsWith("signed/")) e.cert = parsesAsCert(data);
        res.hashed++;
        res.hashedBytes += data.length;
      }
      // Stat-only: a changed stat is a change. Hashed: only a changed content is.
      if (!old || !opts.hash || old.sha256 !== e.sha256 || old.size !== e.size) {
        res.changed.push(rel);
        this.generation++;
      }
      if (!old && this.sorted) this.sorted.splice(lowerBound(this.sorted, rel), 0, rel);
      this.entries.set(rel, e);
    };
    const root = statOrUndefined(this.dir);
    this.present = root?.isDirectory() ?? false;
    if (opts.only && this.present) {
      for (const raw of opts.only) {
        const rel = raw.replace(/\/+$/, "");
        if (rel === "" || rel === "." || isTransient(rel)) continue;
        const st = statOrUndefined(join(this.dir, rel));
        if (st?.isDirectory()) this.walk(rel, visit);
        else if (st?.isFile()) visit(rel, st);
        if (!st?.isFile()) {
          // Gone (or now a directory): drop it and everything cached under it that was not seen.
          for (const p of [...this.entries.keys()]) if ((p === rel || p.startsWith(`${rel}/`)) && !seen(p)) this.drop(p, res);
        }
      }
    } else {
      if (this.present) this.walk("", visit);
      for (const [p, e] of [...this.entries]) if (e.seen !== mark) this.drop(p, res);
    }
    return res;
  }

  /** Every path, sorted (byte order of UTF-16 code units, as `<` compares). */
  sortedPaths(): readonly string[] {
    this.sorted ??= [...this.entries.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return this.sorted;
  }

  private drop(p: string, res: RefreshResult): void {
    this.entries.delete(p);
    this.generation++;
    if (this.sorted) {
      const i = lowerBound(this.sorted, p);
      if (this.sorted[i] === p) this.sorted.splice(i, 1);
    }
    res.removed.push(p);
  }

  private walk(rel: string, visit: (rel: string, st: Stats) => void): void {
    let names: string[];
    try {
      names = readdirSync(rel ? `${this.dir}/${rel}` : this.dir);
    } catch (err) {
      if (vanished(err)) return; // removed while we read: the next refresh sees it
      throw err;
    }
    for (const name of names) {
      if (isTransientName(name)) continue; // its parents were checked on the way down
      const p = rel ? `${rel}/${name}` : name;
      const st = statOrUndefined(`${this.dir}/${p}`);
      if (st?.isDirectory()) this.walk(p, visit);
      else if (st?.isFile()) visit(p, st);
    }
  }

  /** Forget everything (the next refresh hashes every file). */
  clear(): void {
    this.entries.clear();
    this.generation++;
    this.sorted = undefined;
  }

  /** Persist the cache (write to a temp file, then rename: never a half-written cache). */
  save(): void {
    if (!this.cacheFile) return;
    const rows = [...this.entries].map(([p, e]) => [p, e.size, e.mtimeMs, e.ctimeMs, e.ino, e.sha256, e.racy ? 1 : 0, e.cert === undefined ? -1 : e.cert ? 1 : 0]);
    mkdirSync(dirname(this.cacheFile), { recursive: true, mode: 0o700 });
    const tmp = `${this.cacheFile}.${process.pid}.new`;
    writeFileSync(tmp, JSON.stringify({ version: CACHE_VERSION, dir: this.dir, rows }), { mode: 0o600 });
    renameSync(tmp, this.cacheFile);
  }

  private load(): void {
    let data: { version?: number; dir?: string; rows?: unknown[] };
    try {
      data = JSON.parse(readFileSync(this.cacheFile as string, "utf8")) as typeof data;
    } catch {
      return; // no cache or an unreadable one: hash everything once
    }
    if (data.version !== CACHE_VERSION || data.dir !== this.dir || !Array.isArray(data.rows)) return;
    for (const r of data.rows as [string, number, number, number, number, string, number, number][]) {
      this.entries.set(r[0], { size: r[1], mtimeMs: r[2], ctimeMs: r[3], ino: r[4], sha256: r[5], racy: r[6] === 1, seen: 0, ...(r[7] === -1 ? {} : { cert: r[7] === 1 }) });
    }
  }
}

function lowerBound(a: readonly string[], x: string): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as string) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function vanished(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}

function statOrUndefined(p: string): Stats | undefined {
  try {
    return statSync(p, { throwIfNoEntry: false });
  } catch (err) {
    if (vanished(err)) return undefined;
    throw err;
  }
}

function readOrUndefined(p: string): Buffer | undefined {
  try {
    return readFileSync(p);
  } catch (err) {
    if (vanished(err)) return undefined;
    throw err;
  }
}
