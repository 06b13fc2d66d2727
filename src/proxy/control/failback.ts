// Guarded failback, the decisions: may a failback start, is it time for an automatic one, may the
// switch happen after the final pull (fencing). Pure functions fed with data and a clock reading;
// the driver (failback-driver.ts) does the I/O.

export type FailbackPolicy = "manual" | "auto";

/** What /health shows in arbiter.failback.state (aborted carries its reason: "aborted: ..."). */
export type FailbackState = "idle" | "waiting" | "syncing" | "switching" | "done" | `aborted: ${string}`;

export interface Refusal {
  /** 409: contradicts the state; 503: cannot run now (the primary is down). */
  status: 409 | 503;
  reason: string;
}

export interface StartInputs {
  active: string;
  primary: string;
  /** Up by active checks and not drained. */
  primaryUp: boolean;
  /** Why not, when it is not up (its state and last check error). */
  primaryState: string;
  /** A failback is running now. */
  busy: boolean;
  /** A sync agent writes the primary's cadir (in process or proxy.ca.workers[].sync). */
  hasPeer: boolean;
}

/** Why a failback may not start now, or undefined when it may. */
export function failbackRefusal(i: StartInputs): Refusal | undefined {
  if (i.active === i.primary) return { status: 409, reason: `already on the primary CA ${i.primary}` };
  if (i.busy) return { status: 409, reason: "a failback is already running" };
  if (!i.primaryUp) return { status: 503, reason: `the primary CA ${i.primary} is not up by active checks (${i.primaryState})` };
  if (!i.hasPeer) return { status: 409, reason: `no sync agent writes the primary's cadir (configure the sync section or proxy.ca.workers[].sync for ${i.primary})` };
  return undefined;
}

export interface AutoInputs {
  now: number;
  policy: FailbackPolicy;
  afterMs: number;
  active: string;
  primary: string;
  primaryUp: boolean;
  busy: boolean;
  /** Since when the primary has been up without interruption (undefined: not up until now). */
  healthySince: number | undefined;
}

export interface AutoDecision {
  /** The new value of healthySince (reset whenever the primary is not up or already active). */
  healthySince: number | undefined;
  start: boolean;
  /** Time left before an automatic failback, while waiting for one. */
  remainingMs?: number;
}

/** Automatic failback: only after the primary has stayed up for failbackAfter; a flap restarts the wait. */
export function autoFailback(i: AutoInputs): AutoDecision {
  if (i.active === i.primary || !i.primaryUp) return { healthySince: undefined, start: false };
  const since = i.healthySince ?? i.now;
  if (i.policy !== "auto") return { healthySince: since, start: false };
  const remainingMs = Math.max(0, since + i.afterMs - i.now);
  return { healthySince: since, start: remainingMs === 0 && !i.busy, remainingMs };
}

export interface SwitchInputs {
  /** The epoch the final pull was made for. */
  pulledFor: number;
  /** What the final pull reported. */
  report: { epoch: number | null; result: string };
  /** The arbiter now, under the write hold. */
  epochNow: number;
  activeNow: string;
  /** The active CA when the failback started (the one pulled from). */
  activeBefore: string;
  primaryUp: boolean;
}

/** Fencing before the switch: why the switch must not happen, or undefined when it may. */
export function switchRefusal(i: SwitchInputs): string | undefined {
  if (i.epochNow !== i.pulledFor) return `fenced: the final pull was made for epoch ${i.pulledFor}, the arbiter is at epoch ${i.epochNow}`;
  if (i.activeNow !== i.activeBefore) return `the active CA changed from ${i.activeBefore} to ${i.activeNow} during the failback`;
  if (i.report.epoch !== i.pulledFor) return `fenced: the final pull reports epoch ${String(i.report.epoch)}, not ${i.pulledFor}`;
  if (i.report.result !== "in-sync") return `the final pull did not end in sync (${i.report.result})`;
  if (!i.primaryUp) return "the primary went down during the failback";
  return undefined;
}

export interface ViewInputs {
  policy: FailbackPolicy;
  active: string;
  primary: string;
  primaryUp: boolean;
  epoch: number;
  running: "syncing" | "switching" | undefined;
  last: { outcome: "done" | "aborted"; epoch: number; reason?: string } | undefined;
  remainingMs: number | undefined;
}

/** The state and detail /health shows. */
export function failbackView(i: ViewInputs): { state: FailbackState; detail?: string } {
  const wait = i.active === i.primary
    ? undefined
    : !i.primaryUp
      ? `primary ${i.primary} is not up`
      : i.policy === "auto"
        ? `primary ${i.primary} up; automatic failback in ${Math.ceil((i.remainingMs ?? 0) / 1000)}s`
        : `primary ${i.primary} up; POST /api/ca/failback to fail back`;
  if (i.running) return { state: i.running, detail: `failback to ${i.primary} from ${i.active} at epoch ${i.epoch}` };
  if (i.last?.outcome === "aborted" && i.active !== i.primary && i.last.epoch === i.epoch) {
    return { state: `aborted: ${i.last.reason ?? "unknown"}`, ...(wait ? { detail: wait } : {}) };
  }
  if (i.active !== i.primary) return { state: "waiting", ...(wait ? { detail: wait } : {}) };
  if (i.last?.outcome === "done" && i.last.epoch === i.epoch) return { state: "done", detail: `back on ${i.primary} at epoch ${i.epoch}` };
  return { state: "idle" };
}
