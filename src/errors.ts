// Typed errors with stable codes: the catalog of every code and its HTTP status, and the shared
// classes. Each failure has one class and one code (test/unit/errors.test.ts checks uniqueness);
// the listeners render them with src/http-error.ts, the CLI maps them to exit codes in src/main.ts.

/**
 * Every code any PuppetHaError carries, with the HTTP status a listener answers for it (500 for
 * failures that are ours, not the caller's). Codes are stable: never change or reuse one.
 */
export const ERROR_CATALOG: Readonly<Record<string, number>> = {
  // general
  E_USAGE: 400, E_CONFIG: 500, E_FILE: 500, E_LISTEN: 500, E_STATE: 500, E_STATE_FENCED: 409, E_INTERNAL: 500,
  // requests refused at a listener
  E_BAD_REQUEST: 400, E_TOO_LARGE: 413, E_UNAUTHORIZED: 401, E_FORBIDDEN: 403, E_HOST_NOT_ALLOWED: 403,
  E_CROSS_SITE: 403, E_NOT_FOUND: 404, E_METHOD: 405,
  // proxy
  E_NO_BACKEND: 503, E_UPSTREAM: 502, E_UPSTREAM_TIMEOUT: 504, E_WRITES_IN_FLIGHT: 503, E_SYNC_PEER: 502,
  E_CLIENT_TIMEOUT: 408, E_TOO_MANY_REQUESTS: 429, E_CRL_TOO_LARGE: 502,
  // proxy cluster (etcd)
  E_ETCD_UNAVAILABLE: 503, E_ETCD: 502, E_LEASE_EXPIRED: 503, E_LEASE_UNCONFIRMED: 503, E_NOT_CONTROLLER: 409, E_STALE_STATE: 409,
  E_HOLD_NOT_ACKNOWLEDGED: 503, E_FAILBACK_REFUSED: 409,
  // proxy workers (proxy.workers > 1)
  E_WORKER_MESSAGE: 500,
  // admin API
  E_UNKNOWN_BACKEND: 404, E_CONFLICT: 409, E_UNAVAILABLE: 503,
  // sync
  E_RSYNC: 500, E_DIVERGED: 409, E_SOURCE_INCOMPLETE: 500, E_MAX_DELETES: 409, E_FENCED: 409, E_MANIFEST: 500,
  E_ARBITER: 503, E_CADIR: 500, E_SYNC_FAILED: 500,
  // twitch
  E_TWITCH_PARAM: 400, E_TWITCH_RUNNING: 409, E_TWITCH_DISABLED: 423, E_TWITCH_AUTH_REQUIRED: 401,
  E_TWITCH_FORBIDDEN: 403, E_TWITCH_RATE_LIMIT: 429, E_TWITCH_RUN_FAILED: 500, E_TWITCH_SETTINGS: 500,
  E_FLEET_TARGET: 502, E_FLEET_FAILED: 500, E_FLEET_STATUS: 500, E_BROKER: 502,
  // admin CLI
  E_ADMIN_CALL: 502,
  // demo
  E_DEMO: 500, E_SYSTEM: 500, E_INSTALL: 500,
};

export class PuppetHaError extends Error {
  /** Stable, machine-readable code from ERROR_CATALOG; never change an existing one. */
  readonly code: string;
  /** The HTTP status a listener answers with (from ERROR_CATALOG; 500 for an uncatalogued code). */
  readonly status: number;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = ERROR_CATALOG[code] ?? 500;
    this.name = new.target.name;
  }
}

/** Wrong command-line usage (bad flag value, missing argument). */
export class UsageError extends PuppetHaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_USAGE", message, options);
  }
}

export interface ConfigProblem {
  /** Key path like `proxy.ca.workers[1].url`, or "" for the whole file. */
  path: string;
  message: string;
  /** 1-based line in the YAML file, where the parser knows it. */
  line?: number;
}

/** A config file that cannot be read, parsed or validated; carries every problem at once. */
export class ConfigError extends PuppetHaError {
  readonly file: string;
  readonly problems: readonly ConfigProblem[];
  constructor(file: string, problems: ConfigProblem[], options?: { cause?: unknown }) {
    super("E_CONFIG", `${file}: ${problems.length} problem(s) in config`, options);
    this.file = file;
    this.problems = problems;
  }
}

/** A file the command needs (config, cert, key, token) is missing or unreadable. */
export class FileAccessError extends PuppetHaError {
  readonly path: string;
  constructor(path: string, what: string, options?: { cause?: unknown; reason?: string }) {
    const reason = options?.reason ?? errnoText(options?.cause);
    super("E_FILE", `cannot read ${what} ${path}${reason ? `: ${reason}` : ""}`, options);
    this.path = path;
  }
}

/** No backend in a pool can take the request. HTTP 503 at the edge (Retry-After: retryAfterS, default 5). */
export class NoHealthyBackendError extends PuppetHaError {
  readonly pool: string;
  readonly retryAfterS: number | undefined;
  constructor(pool: string, message = `no healthy backend in pool ${pool}`, retryAfterS?: number) {
    super("E_NO_BACKEND", message);
    this.pool = pool;
    this.retryAfterS = retryAfterS;
  }
}

/** The backend did not answer within the proxy's own timer. HTTP 504 at the edge. */
export class UpstreamTimeoutError extends PuppetHaError {
  readonly backend: string;
  readonly phase: "connect" | "response";
  constructor(backend: string, phase: "connect" | "response", ms: number) {
    super("E_UPSTREAM_TIMEOUT", `backend ${backend}: no ${phase} within ${ms} ms`);
    this.backend = backend;
    this.phase = phase;
  }
}

/** The backend failed (refused, reset, bad answer). HTTP 502 at the edge. */
export class UpstreamError extends PuppetHaError {
  readonly backend: string;
  constructor(backend: string, message: string, options?: { cause?: unknown }) {
    super("E_UPSTREAM", `backend ${backend}: ${message}`, options);
    this.backend = backend;
  }
}

/** CA writes already sent to the active CA did not finish in time (a failback must not switch then). */
export class WritesInFlightError extends PuppetHaError {
  constructor(count: number, ms: number, why?: string) {
    super("E_WRITES_IN_FLIGHT", why ?? `${count} CA write(s) still in flight on the active CA after ${ms} ms`);
  }
}

/** A bind or listen failure (address in use, not allowed). */
export class ListenError extends PuppetHaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_LISTEN", message, options);
  }
}

/** The short text of a Node system error (`ENOENT: no such file or directory`), if it is one. */
export function errnoText(err: unknown): string | undefined {
  if (err && typeof err === "object" && "code" in err && typeof err.code === "string") {
    const e = err as NodeJS.ErrnoException;
    const words: Record<string, string> = {
      ENOENT: "no such file or directory",
      EACCES: "permission denied",
      EISDIR: "is a directory",
      EADDRINUSE: "address already in use",
      EADDRNOTAVAIL: "address not available",
    };
    return words[e.code ?? ""] ?? e.code;
  }
  return undefined;
}

/** The proxy's persisted state (arbiter file, saved CRL) is unreadable or names unknown workers. */
export class StateError extends PuppetHaError {
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super("E_STATE", `${path}: ${message}`, options);
    this.path = path;
  }
}

/** A state write carrying an older epoch than the one already recorded (fencing of the proxy's state). */
export class FencedError extends PuppetHaError {
  readonly epoch: number;
  readonly current: number;
  constructor(epoch: number, current: number) {
    super("E_STATE_FENCED", `epoch ${epoch} is older than the recorded epoch ${current}`);
    this.epoch = epoch;
    this.current = current;
  }
}

/** The request was refused before it was forwarded (bad target, too large). HTTP 4xx at the edge. */
export class BadRequestError extends PuppetHaError {
  declare readonly status: 400 | 413;
  constructor(status: 400 | 413, message: string) {
    super(status === 413 ? "E_TOO_LARGE" : "E_BAD_REQUEST", message);
  }
}

/** No credentials where a listener needs them (401; `challenge` goes into WWW-Authenticate). */
export class UnauthorizedError extends PuppetHaError {
  readonly challenge: string;
  constructor(message: string, challenge: string) {
    super("E_UNAUTHORIZED", message);
    this.challenge = challenge;
  }
}

/** Credentials were presented but are wrong (403). */
export class ForbiddenError extends PuppetHaError {
  constructor(message: string) {
    super("E_FORBIDDEN", message);
  }
}

/** The request's Host header names none of the listener's names (DNS rebinding guard). 403. */
export class HostNotAllowedError extends PuppetHaError {
  readonly host: string;
  constructor(host: string) {
    super("E_HOST_NOT_ALLOWED", `Host "${host.slice(0, 100)}" is not one of this listener's names`);
    this.host = host;
  }
}

/** No route for the method and path. 404. */
export class NotFoundError extends PuppetHaError {
  constructor(message = "Not found") {
    super("E_NOT_FOUND", message);
  }
}

/** The route exists but not for this method (405 with Allow). */
export class MethodNotAllowedError extends PuppetHaError {
  readonly allow: readonly string[];
  constructor(allow: readonly string[]) {
    super("E_METHOD", "Method not allowed");
    this.allow = allow;
  }
}

/** The proxy refused a client for its own behaviour (too slow a body, too many requests at once). */
export class ClientLimitError extends PuppetHaError {
  declare readonly status: 408 | 429;
  constructor(status: 408 | 429, message: string) {
    super(status === 408 ? "E_CLIENT_TIMEOUT" : "E_TOO_MANY_REQUESTS", message);
  }
}

/** The CA answered the CRL fetch with more than proxy.ca.crlMaxSize bytes: refused, the current CRL stays. */
export class CrlTooLargeError extends PuppetHaError {
  readonly limit: number;
  constructor(url: string, limit: number) {
    super("E_CRL_TOO_LARGE", `CRL from ${url} is larger than ${limit} bytes (proxy.ca.crlMaxSize): refused, the current CRL stays`);
    this.limit = limit;
  }
}

/** No etcd endpoint answered in time (all down, partitioned, or the cluster has lost quorum). */
export class EtcdUnavailableError extends PuppetHaError {
  readonly endpoints: readonly string[];
  constructor(what: string, endpoints: readonly string[], detail: string, options?: { cause?: unknown }) {
    super("E_ETCD_UNAVAILABLE", `etcd ${what}: no endpoint answered (${endpoints.join(", ")}): ${detail}`, options);
    this.endpoints = endpoints;
  }
}

/** etcd answered with an error (its gRPC status code and message are kept). */
export class EtcdError extends PuppetHaError {
  readonly grpcCode: number | undefined;
  constructor(what: string, endpoint: string, grpcCode: number | undefined, message: string) {
    super("E_ETCD", `etcd ${what} at ${endpoint}: ${message}${grpcCode === undefined ? "" : ` (gRPC code ${grpcCode})`}`);
    this.grpcCode = grpcCode;
  }
}

/** The etcd lease is gone (expired or revoked): whatever was bound to it has been deleted. */
export class LeaseExpiredError extends PuppetHaError {
  readonly leaseId: string;
  constructor(leaseId: string) {
    super("E_LEASE_EXPIRED", `etcd lease ${leaseId} has expired or was revoked`);
    this.leaseId = leaseId;
  }
}

/**
 * A lease renewal that cannot be counted: etcd answered it in an older raft term than the
 * linearizable check that followed, so a deposed etcd leader may have answered it from its own
 * memory (etcd before 3.4.30 / 3.5.13 renews leases on a stale leader) while the real leader lets
 * the lease run out.
 */
export class LeaseRenewalUnconfirmedError extends PuppetHaError {
  constructor(leaseId: string, renewalTerm: number, checkTerm: number) {
    super("E_LEASE_UNCONFIRMED", `etcd lease ${leaseId}: renewal answered in raft term ${renewalTerm}, the check after it ran in term ${checkTerm}; a deposed etcd leader may have answered it, so it is not counted`);
  }
}

/** A CA state write by a proxy that is not (or no longer) the controller. */
export class NotControllerError extends PuppetHaError {
  constructor(member: string, holder: string | undefined) {
    super("E_NOT_CONTROLLER", `${member} may not change the CA state: the controller is ${holder ?? "nobody"}`);
  }
}

/** A CA state write based on a state that has changed since it was read (compare-and-set lost). */
export class StaleStateError extends PuppetHaError {
  readonly expected: number;
  readonly current: number;
  constructor(expected: number, current: number) {
    super("E_STALE_STATE", `the CA state changed since it was read (revision ${expected}, now ${current})`);
    this.expected = expected;
    this.current = current;
  }
}

/** A failback's write hold was not acknowledged by every live proxy in time: the failback is aborted. */
export class HoldNotAcknowledgedError extends PuppetHaError {
  readonly waitingFor: readonly string[];
  constructor(holdId: string, waitingFor: readonly string[], ms: number) {
    super("E_HOLD_NOT_ACKNOWLEDGED", `write hold ${holdId} not acknowledged within ${ms} ms by ${waitingFor.join(", ")}: failback aborted, nothing changed`);
    this.waitingFor = waitingFor;
  }
}

/** A failback that cannot start in the current CA state (none yet, or another hold in place). */
export class FailbackRefusedError extends PuppetHaError {
  constructor(message: string) {
    super("E_FAILBACK_REFUSED", message);
  }
}

/** A message between the proxy's primary and a data-plane worker that does not match its schema (proxy/workers/messages.ts). */
export class WorkerMessageError extends PuppetHaError {
  constructor(from: string, type: string, problems: string) {
    super("E_WORKER_MESSAGE", `bad message "${type}" from ${from}: ${problems}`);
  }
}
