// Arbiter tests' CA state: the real single-proxy file store in a temp directory (removed when the
// test file ends), optionally seeded with a file of the older {epoch, active} form.
import { after } from "node:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileCaStateStore, openFileState, type CaState } from "../../../../src/proxy/control/store.js";

const dir = mkdtempSync(join(tmpdir(), "puppet-ha-arbiter-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** A fresh state file (seeded with `seed` when given) opened for an Arbiter: {initial, commit}, and the store to inspect. */
export function fileState(seed?: { epoch: number; active: string }, first = "ca1"): { initial: CaState; commit: (next: CaState) => Promise<void>; store: FileCaStateStore; path: string } {
  const path = join(dir, `arbiter-${++n}.json`);
  if (seed) writeFileSync(path, `${JSON.stringify(seed)}\n`);
  return { ...openFileState(path, first), store: new FileCaStateStore(path), path };
}
