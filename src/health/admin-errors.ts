// Errors the admin actions throw. Their HTTP statuses are in src/errors.ts's catalog; the admin
// API renders them (and every other PuppetHaError) with src/http-error.ts.
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
