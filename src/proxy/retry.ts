// Retry and failure policy, pure: which upstream failures are retried, which mark the backend
// down (passive check), and which HTTP status the client gets.

/**
 * connect:          no connection was made (refused, connect timeout): nothing was sent.
 * reset:            connected, then failed before any response byte (reset, hang up).
 * response-timeout: connected, no response headers within timeouts.response.
 * backend-down:     the backend was marked down while this request waited for its answer.
 */
export type FailureKind = "connect" | "connect-timeout" | "reset" | "response-timeout" | "backend-down";

export interface RetryInput {
  kind: FailureKind;
  /** GET or HEAD. */
  idempotent: boolean;
  /** The request body (if any) is buffered and can be sent again. */
  replayable: boolean;
  /** Re-sends already made after a failure other than connect (at most one allowed). */
  resends: number;
  /** Attempts made so far (all kinds). */
  attempts: number;
  /** Upper bound of attempts (backends in the pool + 1). */
  maxAttempts: number;
}

/** Whether to send the request again (to the next master, or to the — maybe new — active CA). */
export function shouldRetry(i: RetryInput): boolean {
  if (i.attempts >= i.maxAttempts || !i.replayable) return false;
  switch (i.kind) {
    case "connect":
    case "connect-timeout":
      // Nothing reached the backend: safe for any method, CA writes included.
      return true;
    case "reset":
    case "backend-down":
      // Something may have reached the backend: only reads, and only once.
      return i.idempotent && i.resends === 0;
    case "response-timeout":
      return false;
  }
}

/**
 * Whether a failure counts against the re-send and attempt budgets. Only a failure the request
 * itself may have caused does (a reset on a fresh connection: a request that crashes backends
 * must not crash them all). A reset on a reused keep-alive connection, or the backend being
 * marked down by others, says nothing about the request: when a CA dies with many pooled
 * connections, a re-send can land on another of its dead connections before Node has seen it
 * close, and the read must still reach the CA that becomes active (issue 12, item 8). These are
 * bounded by the dead backend's pooled connections and by its single down transition.
 */
export function chargesBudget(kind: FailureKind, reusedSocket: boolean): boolean {
  if (kind === "backend-down") return false;
  if (kind === "reset") return !reusedSocket;
  return true;
}

/**
 * Whether a failure on real traffic marks the backend down. A reset on a reused keep-alive socket
 * is the backend closing an idle connection as we wrote to it, not a dead backend.
 */
export function marksDown(kind: FailureKind, reusedSocket: boolean): boolean {
  if (kind === "backend-down") return false;
  if (kind === "reset") return !reusedSocket;
  return true;
}

/** The status a client gets when no retry is made. */
export function statusFor(kind: FailureKind): 502 | 504 {
  return kind === "connect-timeout" || kind === "response-timeout" ? 504 : 502;
}
