// Errors the admin actions throw; the admin API maps their codes to HTTP statuses (and does the
// same for errors of src/errors.ts, by code).
import { PuppetHaError } from "../errors.js";

/** No backend of that name in any pool. HTTP 404. */
export class UnknownBackendError extends PuppetHaError {
  readonly backend: string;
  constructor(backend: string) {
    super("E_UNKNOWN_BACKEND", `no backend named "${backend}"`);
    this.backend = backend;
  }
}

/** The action contradicts the current state (failback while not in sync, failover with no standby up). HTTP 409. */
export class AdminConflictError extends PuppetHaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_CONFLICT", message, options);
  }
}

/** The action cannot run now (arbiter busy, state dir not writable). HTTP 503. */
export class AdminUnavailableError extends PuppetHaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_UNAVAILABLE", message, options);
  }
}

/** Bad parameters of an admin request. HTTP 400. */
export class AdminBadRequestError extends PuppetHaError {
  constructor(message: string) {
    super("E_BAD_REQUEST", message);
  }
}

const STATUS_BY_CODE: Record<string, number> = {
  E_BAD_REQUEST: 400,
  E_USAGE: 400,
  E_UNKNOWN_BACKEND: 404,
  E_CONFLICT: 409,
  E_DIVERGED: 409,
  E_UNAVAILABLE: 503,
  E_NO_BACKEND: 503,
  E_UPSTREAM: 503,
  E_UPSTREAM_TIMEOUT: 503,
};

/** HTTP status and body for an error an admin action threw (500 for anything untyped). */
export function adminErrorResponse(err: unknown): { status: number; body: { error: { code: string; message: string } } } {
  if (err instanceof PuppetHaError) {
    return { status: STATUS_BY_CODE[err.code] ?? 500, body: { error: { code: err.code, message: err.message } } };
  }
  return { status: 500, body: { error: { code: "E_INTERNAL", message: "internal error (see the proxy log)" } } };
}
