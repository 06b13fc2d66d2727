// The lease timing of the controller election and the member registry, checked like Patroni's
// rule: loopWait + 2 x retryTimeout <= ttl, so that one renewal cycle (a keep-alive and a check of
// the controller key, each allowed retryTimeout, after a pause of loopWait) fits in one lease.

export interface LeaseTiming {
  /** Lifetime of a proxy's etcd lease (whole seconds: etcd counts leases in seconds). */
  ttlMs: number;
  /** Pause between two renewals (counted from the start of the previous one). */
  loopWaitMs: number;
  /** How long one etcd request may take before it counts as failed. */
  retryTimeoutMs: number;
}

/** 10 s lease, renewed every 2 s, 3 s per etcd request: 2 + 2 x 3 = 8 <= 10 (Patroni's defaults were 30/10/10). */
export const DEFAULT_TIMING: Readonly<LeaseTiming> = Object.freeze({ ttlMs: 10_000, loopWaitMs: 2_000, retryTimeoutMs: 3_000 });

/** etcd refuses (silently raises) leases shorter than 1.5 election timeouts: 2 s with its defaults. */
export const MIN_TTL_MS = 2_000;

/**
 * The controller steps down this long before its lease could expire at the earliest: a tenth of
 * the ttl (1 s by default). It absorbs clock rate differences between this host and the etcd
 * leader and the scheduling delay of the step-down timer itself.
 */
export function stepDownMarginMs(t: LeaseTiming): number {
  return Math.ceil(t.ttlMs / 10);
}

/**
 * How long a member may trust its last linearizable read of the CA state (its view deadline):
 * shorter than its lease by the same margin, so that a member whose lease has expired (and which the
 * controller stops waiting for) can no longer act on its view.
 */
export function viewPeriodMs(t: LeaseTiming): number {
  return t.ttlMs - stepDownMarginMs(t);
}

/** Every mistake in a timing, each as [key, message]; empty when it is usable. */
export function timingProblems(t: LeaseTiming): [keyof LeaseTiming | "", string][] {
  const out: [keyof LeaseTiming | "", string][] = [];
  const s = (ms: number) => `${ms / 1000}s`;
  if (t.ttlMs % 1000 !== 0) out.push(["ttlMs", `must be whole seconds (etcd leases are counted in seconds), not ${t.ttlMs} ms`]);
  if (t.ttlMs < MIN_TTL_MS) out.push(["ttlMs", `must be at least ${s(MIN_TTL_MS)} (etcd does not grant shorter leases)`]);
  if (t.loopWaitMs < 100) out.push(["loopWaitMs", "must be at least 100ms"]);
  if (t.retryTimeoutMs < 100) out.push(["retryTimeoutMs", "must be at least 100ms"]);
  if (t.loopWaitMs + 2 * t.retryTimeoutMs > t.ttlMs) {
    out.push(["", `loopWait + 2 x retryTimeout must not exceed ttl: ${s(t.loopWaitMs)} + 2 x ${s(t.retryTimeoutMs)} = ${s(t.loopWaitMs + 2 * t.retryTimeoutMs)} > ${s(t.ttlMs)} (a renewal could not finish before the lease expires)`]);
  }
  return out;
}
