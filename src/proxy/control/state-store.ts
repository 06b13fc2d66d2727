// Persistence for the arbiter's {epoch, active}: atomic replace (temp file, fsync, rename, fsync
// of the directory) and fencing (a lower epoch never overwrites a higher one).
import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../../atomic-file.js";
import { FencedError, StateError } from "../../errors.js";

export interface ArbiterState {
  epoch: number;
  active: string;
}

export interface ArbiterStore {
  load(): ArbiterState | undefined;
  /** Persist; throws FencedError when the stored epoch is higher. */
  save(state: ArbiterState): void;
}

export function parseArbiterState(text: string, path: string): ArbiterState {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (cause) {
    throw new StateError(path, "not valid JSON", { cause });
  }
  const o = v as { epoch?: unknown; active?: unknown };
  if (!o || typeof o !== "object" || !Number.isSafeInteger(o.epoch) || (o.epoch as number) < 1 || typeof o.active !== "string" || o.active === "") {
    throw new StateError(path, 'expected {"epoch": <integer >= 1>, "active": "<CA worker name>"}');
  }
  return { epoch: o.epoch as number, active: o.active };
}

export class FileArbiterStore implements ArbiterStore {
  constructor(readonly path: string) {}

  load(): ArbiterState | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new StateError(this.path, "cannot read", { cause: err });
    }
    return parseArbiterState(text, this.path);
  }

  save(state: ArbiterState): void {
    const current = this.load();
    if (current && current.epoch > state.epoch) throw new FencedError(state.epoch, current.epoch);
    writeFileAtomic(this.path, `${JSON.stringify({ epoch: state.epoch, active: state.active })}\n`);
  }
}

/** In-memory store for tests and library use; same fencing rule. */
export class MemoryArbiterStore implements ArbiterStore {
  saved: ArbiterState | undefined;
  constructor(initial?: ArbiterState) {
    this.saved = initial;
  }
  load(): ArbiterState | undefined {
    return this.saved && { ...this.saved };
  }
  save(state: ArbiterState): void {
    if (this.saved && this.saved.epoch > state.epoch) throw new FencedError(state.epoch, this.saved.epoch);
    this.saved = { ...state };
  }
}
