// One HTTP(S) request to the admin listener with a bearer token and a deadline, and the typed
// error for every way it can fail (not reachable, refused, unexpected answer).
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { PuppetHaError, UsageError } from "../errors.js";

export interface AdminTarget {
  /** http(s)://host:port without a trailing slash. */
  url: string;
  token: string | undefined;
  timeoutMs: number;
  /** PEM of the CA that signed an https admin listener's cert. */
  ca?: string;
  /**
   * Skip the host name check of an https listener's cert (the chain is still verified): only for
   * the token-less liveness probe, which reaches a listener bound to a wildcard or an address its
   * Puppet cert does not name.
   */
  anyName?: boolean;
}

export interface AdminAnswer {
  status: number;
  json: Record<string, unknown>;
}

/** The admin listener did not answer, or refused the request. Exit code 1. */
export class AdminCallError extends PuppetHaError {
  /** The admin listener's HTTP status, when it answered. */
  readonly httpStatus: number | undefined;
  constructor(message: string, status?: number, options?: { cause?: unknown }) {
    super("E_ADMIN_CALL", message, options);
    this.httpStatus = status;
  }
}

/** The API's own message from `{error: {code, message}}`, else the start of the body. */
function apiMessage(json: Record<string, unknown>, text: string): string {
  const e = json.error as { message?: unknown } | undefined;
  return typeof e?.message === "string" ? e.message : text.slice(0, 200).trim() || "(empty answer)";
}

export function adminCall(t: AdminTarget, method: "GET" | "POST", path: string, accept: number[] = [200]): Promise<AdminAnswer> {
  const target = `${t.url}${path}`;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: "application/json", ...(t.token ? { authorization: `Bearer ${t.token}` } : {}) };
    const send = t.url.startsWith("https:") ? httpsRequest : httpRequest;
    const req = send(target, { method, headers, agent: false, timeout: t.timeoutMs, ...(t.ca ? { ca: t.ca } : {}), ...(t.anyName ? { checkServerIdentity: () => undefined } : {}) }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => {
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // not JSON: reported below through the status check
        }
        const status = res.statusCode ?? 0;
        if (accept.includes(status)) resolve({ status, json });
        else if (status === 400 || status === 404) reject(new UsageError(`${method} ${path}: ${apiMessage(json, text)} (HTTP ${status})`));
        else reject(new AdminCallError(`${method} ${path} refused: ${apiMessage(json, text)} (HTTP ${status})`, status));
      });
      res.on("error", (err) => reject(new AdminCallError(`${target}: ${err.message}`, undefined, { cause: err })));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${t.timeoutMs} ms`)));
    req.on("error", (err: NodeJS.ErrnoException) => {
      reject(new AdminCallError(`cannot reach the admin listener at ${t.url}: ${err.code ?? err.message}`, undefined, { cause: err }));
    });
    req.end();
  });
}
