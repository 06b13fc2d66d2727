// Bearer tokens, for every listener and client: reading a token file (with an ssh-like permission
// warning), rotation without a restart, constant-time comparison, and keeping tokens out of logs.
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync, type Stats } from "node:fs";
import { FileAccessError } from "./errors.js";

/**
 * The ssh-like check of a secret file (token file, TLS key): a warning naming the file and the fix
 * when group or others may read or write it, else undefined. Warn rather than refuse: the file
 * stays usable (a refusal at a node's restart would be an outage); the warning is logged at every
 * start and reload. `groupRead`: TLS keys may be group-readable (Puppet's ssl dir and Debian's
 * ssl-cert group keep keys 0640 for the services that share them); tokens may not.
 */
export function modeWarning(path: string, mode: number, what: string, o: { groupRead?: boolean } = {}): string | undefined {
  const loose = mode & (o.groupRead ? 0o037 : 0o077);
  if (loose === 0) return undefined;
  const octal = (mode & 0o777).toString(8).padStart(4, "0");
  const fix = o.groupRead ? "chmod 640" : "chmod 600";
  return `${what} ${path} is readable or writable by ${o.groupRead ? "others (or writable by group)" : "group/others"} (mode ${octal}): run \`${fix} ${path}\` (and chown it to the service user)`;
}

/** Stat a TLS key and return modeWarning() for it (undefined when fine or unreadable). */
export function keyFileWarning(path: string, what: string): string | undefined {
  try {
    return modeWarning(path, statSync(path).mode, what, { groupRead: true });
  } catch {
    return undefined; // reading it reports the real problem
  }
}

/**
 * Read a token file: the first line's surrounding whitespace trimmed. A missing, unreadable or
 * empty file throws FileAccessError naming it; a loose mode goes to `warn`.
 */
export function readTokenFile(path: string, what = "token file", warn?: (message: string) => void): string {
  let text: string;
  let stats: Stats;
  try {
    stats = statSync(path);
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new FileAccessError(path, what, { cause });
  }
  const token = text.trim();
  if (token === "") throw new FileAccessError(path, what, { reason: "it is empty" });
  const w = modeWarning(path, stats.mode, what);
  if (w && warn) warn(w);
  return token;
}

const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

/** Compare in constant time: both sides are hashed to the same length first. */
export function tokensEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The token of an `Authorization: Bearer <token>` header, else undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = header ? /^Bearer[ ]+(\S+)\s*$/i.exec(header) : null;
  return m?.[1];
}

/**
 * A listener's expected token. Read at construction (a missing or empty file is a start-up error);
 * re-read when the file changes (a stat per check, compared by inode, size and mtime: no read per
 * request) and on reload() (SIGHUP). While the file is briefly missing or empty during a rotation,
 * the last good token stays in force, and `warn` says why.
 */
export class TokenFile {
  readonly path: string;
  readonly #what: string;
  readonly #warn: (message: string) => void;
  #digest: Buffer;
  #stamp: string;

  constructor(path: string, o: { what?: string; warn?: (message: string) => void } = {}) {
    this.path = path;
    this.#what = o.what ?? "token file";
    this.#warn = o.warn ?? (() => undefined);
    this.#stamp = this.#statStamp() ?? "";
    this.#digest = digest(readTokenFile(path, this.#what, this.#warn));
  }

  /** Re-read now (SIGHUP); throws FileAccessError and keeps the old token when the file is bad. */
  reload(): void {
    const stamp = this.#statStamp() ?? "";
    this.#digest = digest(readTokenFile(this.path, this.#what, this.#warn));
    this.#stamp = stamp;
  }

  /** True when `presented` equals the token; the time taken does not depend on where they differ. */
  matches(presented: string): boolean {
    this.#reloadIfChanged();
    return timingSafeEqual(digest(presented), this.#digest);
  }

  #reloadIfChanged(): void {
    const stamp = this.#statStamp();
    if (stamp === undefined || stamp === this.#stamp) return;
    try {
      this.reload();
    } catch (err) {
      this.#stamp = stamp; // warn once per change, not once per request
      this.#warn(`${(err as Error).message}; keeping the previous token`);
    }
  }

  #statStamp(): string | undefined {
    try {
      const s = statSync(this.path);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return undefined;
    }
  }
}

/** Query parameters whose values are credentials: never logged. */
const SECRET_PARAMS = /^(token|access_token|auth|password|secret|key|api_key|apikey)$/i;

/** A request target safe to log: values of credential-like query parameters become `[redacted]`. */
export function redactTarget(target: string | undefined): string {
  if (!target) return "";
  const q = target.indexOf("?");
  if (q < 0) return target;
  const parts = target.slice(q + 1).split("&").map((pair) => {
    const eq = pair.indexOf("=");
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    let key = rawKey;
    try {
      key = decodeURIComponent(rawKey.replace(/\+/g, " "));
    } catch {
      // keep the raw key
    }
    return SECRET_PARAMS.test(key.trim()) ? `${rawKey}=[redacted]` : pair;
  });
  return `${target.slice(0, q)}?${parts.join("&")}`;
}
