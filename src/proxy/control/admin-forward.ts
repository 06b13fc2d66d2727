// Admin actions on a proxy that is not the controller: CA decisions are the controller's alone, so
// POST /api/ca/failover and /api/ca/failback are forwarded to the controller's admin URL (from the
// member registry) with this proxy's admin token, and the controller's answer is passed back.
import { request } from "undici";
import { AdminConflictError, AdminUnavailableError } from "../../health/admin-errors.js";
import { readTokenFile } from "../../token.js";

export interface ForwardTarget {
  /** The controller's admin URL, undefined when there is none (or it is not registered yet). */
  controllerUrl: string | undefined;
  /** admin.tokenFile: every proxy of a cluster shares the admin token. */
  tokenFile: string | undefined;
  timeoutMs: number;
}

/** POST `path` on the controller; resolves with its JSON answer, throws the admin error matching its status. */
export async function forwardToController(t: ForwardTarget, path: "/api/ca/failover" | "/api/ca/failback"): Promise<unknown> {
  if (t.controllerUrl === undefined) throw new AdminUnavailableError(`${path} refused: no controller proxy known (etcd unreachable, or an election under way); retry shortly`);
  const url = new URL(path, t.controllerUrl);
  const headers: Record<string, string> = { accept: "application/json" };
  if (t.tokenFile) headers.authorization = `Bearer ${readTokenFile(t.tokenFile, "admin token file")}`;
  let res;
  try {
    res = await request(url, { method: "POST", headers, headersTimeout: t.timeoutMs, bodyTimeout: t.timeoutMs });
  } catch (cause) {
    throw new AdminUnavailableError(`${path}: the controller at ${url.origin} did not answer: ${(cause as Error).message}`, { cause });
  }
  const text = await res.body.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the error message
  }
  const o = typeof body === "object" && body !== null ? (body as { result?: unknown; message?: unknown; error?: unknown }) : undefined;
  if (res.statusCode >= 200 && res.statusCode < 300) return o && "result" in o ? o.result : body;
  const said = o?.message ?? o?.error;
  const msg = typeof said === "string" ? said : text.trim();
  const why = `the controller at ${url.origin} answered ${res.statusCode}: ${msg}`;
  throw res.statusCode === 409 ? new AdminConflictError(why) : new AdminUnavailableError(why);
}
