// Typed errors with stable codes. Each failure has one class; HTTP statuses and CLI exit codes
// are decided only at the edges (proxy responses, src/main.ts), never where the error is thrown.

export class PuppetHaError extends Error {
  /** Stable, machine-readable code; never change an existing one. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
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
  constructor(path: string, what: string, options?: { cause?: unknown }) {
    const reason = errnoText(options?.cause);
    super("E_FILE", `cannot read ${what} ${path}${reason ? `: ${reason}` : ""}`, options);
    this.path = path;
  }
}

/** No backend in a pool can take the request. HTTP 503 at the edge. */
export class NoHealthyBackendError extends PuppetHaError {
  readonly pool: string;
  constructor(pool: string, message = `no healthy backend in pool ${pool}`) {
    super("E_NO_BACKEND", message);
    this.pool = pool;
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

/** A write carrying an older epoch than the one already recorded (fencing). */
export class FencedError extends PuppetHaError {
  readonly epoch: number;
  readonly current: number;
  constructor(epoch: number, current: number) {
    super("E_FENCED", `epoch ${epoch} is older than the recorded epoch ${current}`);
    this.epoch = epoch;
    this.current = current;
  }
}

/** The request was refused before it was forwarded (bad target, too large). HTTP 4xx at the edge. */
export class BadRequestError extends PuppetHaError {
  readonly status: 400 | 413;
  constructor(status: 400 | 413, message: string) {
    super(status === 413 ? "E_TOO_LARGE" : "E_BAD_REQUEST", message);
    this.status = status;
  }
}

/** The proxy refused a client for its own behaviour (too slow a body, too many requests at once). */
export class ClientLimitError extends PuppetHaError {
  readonly status: 408 | 429;
  constructor(status: 408 | 429, message: string) {
    super(status === 408 ? "E_CLIENT_TIMEOUT" : "E_TOO_MANY_REQUESTS", message);
    this.status = status;
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
