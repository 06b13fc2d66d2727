// Fencing: every pass acts for one epoch; nothing acts for an epoch older than the latest known,
// and the active CA's cadir is never a destination. Pure decisions, used by the service.
import type { ArbiterState } from "./arbiter.js";

export type FenceDecision = { ok: true } | { ok: false; reason: string };

/** May a pass into `destination` act on this arbiter answer, given the latest epoch known? */
export function fencePass(latestEpoch: number | undefined, state: ArbiterState, destination: string, wantEpoch?: number): FenceDecision {
  if (latestEpoch !== undefined && state.epoch < latestEpoch) {
    return { ok: false, reason: `refused: the arbiter says epoch ${state.epoch}, older than the latest known ${latestEpoch}` };
  }
  if (wantEpoch !== undefined && state.epoch !== wantEpoch) {
    return { ok: false, reason: `refused: asked for epoch ${wantEpoch}, the arbiter is at epoch ${state.epoch}` };
  }
  if (state.active === destination) {
    return { ok: false, reason: `refused: ${destination} is the active CA at epoch ${state.epoch} and is never written` };
  }
  return { ok: true };
}

/** Just before the copy: the arbiter must still say the same epoch and active CA. */
export function fenceRecheck(started: ArbiterState, now: ArbiterState, destination: string): FenceDecision {
  if (now.epoch !== started.epoch || now.active !== started.active) {
    return { ok: false, reason: `refused: the pass for epoch ${started.epoch} (active ${started.active}) is stale, the arbiter now says epoch ${now.epoch} (active ${now.active})` };
  }
  return fencePass(undefined, now, destination);
}
