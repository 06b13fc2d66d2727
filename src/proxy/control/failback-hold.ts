// The controller's side of a guarded failback with several proxies: put a write hold into the CA
// state, wait until every live member acknowledges it with no CA write in flight, run the final
// step (the pull), then switch and release in one write. Any failure releases the hold unchanged.
import { FailbackRefusedError, HoldNotAcknowledgedError } from "../../errors.js";
import type { Scheduler } from "../scheduler.js";
import { holdAcknowledged, type MemberRecord } from "./members.js";
import type { CaStateStore, StoredState } from "./store.js";

export interface HeldSwitchOptions {
  store: CaStateStore;
  /** The live members (a linearizable read of the registry). */
  members(): Promise<MemberRecord[]>;
  holdId: string;
  /** The CA worker to switch to. */
  target: string;
  /** How long every member has to acknowledge. */
  ackTimeoutMs: number;
  /** How often the registry is read while waiting. */
  pollMs: number;
  scheduler: Scheduler;
  /** Runs with the hold acknowledged cluster-wide (no CA write in flight anywhere): the final pull. */
  finalStep(): Promise<void>;
}

export async function heldSwitch(o: HeldSwitchOptions): Promise<StoredState> {
  const prev = await o.store.read();
  if (!prev) throw new FailbackRefusedError("no CA state to fail back from");
  if (prev.state.hold) throw new FailbackRefusedError(`a write hold (${prev.state.hold.id}) is already in place`);
  const started = o.scheduler.now();
  const held = await o.store.compareAndSet(prev, { ...prev.state, hold: { id: o.holdId, target: o.target, since: started } });
  try {
    for (;;) {
      const ack = holdAcknowledged(await o.members(), o.holdId);
      if (ack.done) break;
      if (o.scheduler.now() - started >= o.ackTimeoutMs) throw new HoldNotAcknowledgedError(o.holdId, ack.waitingFor, o.ackTimeoutMs);
      await new Promise<void>((resolve) => o.scheduler.setTimeout(resolve, o.pollMs));
    }
    await o.finalStep();
  } catch (err) {
    await o.store.compareAndSet(held, prev.state).catch(() => undefined); // a successor clears it otherwise
    throw err;
  }
  const change = { from: prev.state.active, cause: "failback" as const, at: o.scheduler.now() };
  return o.store.compareAndSet(held, { epoch: prev.state.epoch + 1, active: o.target, change });
}

/**
 * A new controller finding a hold left by a predecessor that died mid-failback: release it and
 * stay on the current active (the pull may not have finished). Returns the state written, if any.
 */
export async function clearOrphanHold(store: CaStateStore): Promise<StoredState | undefined> {
  const s = await store.read();
  if (!s?.state.hold) return undefined;
  const { hold: _released, ...rest } = s.state;
  return store.compareAndSet(s, rest);
}
