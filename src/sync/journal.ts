// A change journal of one local cadir (git's fsmonitor idea): inotify watches (fs.watch) on the
// cadir and its subdirectories record which paths changed, so that a pass stats and hashes those
// instead of all 100,000 files. Whenever the journal cannot vouch for what it saw (not watching
// yet, a watcher error, an event without a name, a burst too large), `take()` says so and the
// pass falls back to a whole-tree stat. The full verification never relies on it.
import { readdirSync, statSync, watch, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { isTransient } from "./cadir.js";

/** More changes than this between two passes: stat the whole tree instead. */
export const JOURNAL_MAX_PATHS = 5000;

export interface JournalTake {
  /** True when every change since the previous take is in `paths`. */
  complete: boolean;
  paths: string[];
}

export class Journal {
  private readonly watchers = new Map<string, { w: FSWatcher; ino: number }>();
  private dirty = new Set<string>();
  /** Everything since the last take is known (false until watching, and after any doubt). */
  private trusted = false;

  /**
   * @param onChange told of every path seen changing; a journal given one is a trigger only and
   *   keeps no list (nobody takes it)
   */
  constructor(readonly dir: string, private readonly onChange?: (path: string) => void) {}

  get watching(): boolean {
    return this.watchers.size > 0;
  }

  /** What changed since the last take; starts watching on the first call. */
  take(): JournalTake {
    const out = { complete: this.trusted && this.dirty.size <= JOURNAL_MAX_PATHS, paths: [...this.dirty] };
    this.dirty = new Set();
    if (this.watchers.size === 0) this.start();
    else this.trusted = true;
    if (!out.complete) out.paths = [];
    return out;
  }

  stop(): void {
    for (const { w } of this.watchers.values()) w.close();
    this.watchers.clear();
    this.trusted = false;
  }

  private start(): void {
    try {
      this.watchDir("");
      this.trusted = true;
    } catch {
      // The cadir does not exist yet (a fresh standby): try again at the next take.
      this.stop();
    }
  }

  private watchDir(rel: string): void {
    const abs = rel ? join(this.dir, rel) : this.dir;
    const ino = statSync(abs).ino;
    const w = watch(abs, { persistent: false }, (_event, name) => this.seen(rel, name));
    w.on("error", () => this.reset());
    this.watchers.set(rel, { w, ino });
    for (const e of readdirSync(abs, { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory() && !isTransient(p)) this.watchDir(p);
    }
  }

  private seen(rel: string, name: string | Buffer | null): void {
    if (name === null) return this.doubt(); // the kernel did not say which file
    const p = rel ? `${rel}/${String(name)}` : String(name);
    if (isTransient(p)) return;
    const watched = this.watchers.get(p);
    if (watched) {
      // A watched directory: its times changed (rsync sets them; its files report their own
      // events), or it was renamed or removed: then watch afresh and stat everything once.
      if (inodeOf(join(this.dir, p)) !== watched.ino) this.reset();
      return;
    }
    if (this.onChange) this.onChange(p);
    else this.dirty.add(p);
    try {
      if (statSync(join(this.dir, p)).isDirectory()) this.watchDir(p); // new: the pass walks it
    } catch {
      // gone again, or not a directory
    }
  }

  /** Stop watching: a journal is rebuilt (and its tree stat whole) at the next take; a trigger at once. */
  private reset(): void {
    this.stop();
    if (this.onChange) {
      this.start();
      this.onChange(".");
    }
  }

  private doubt(): void {
    this.trusted = false;
  }
}

function inodeOf(p: string): number | undefined {
  try {
    return statSync(p).ino;
  } catch {
    return undefined;
  }
}
