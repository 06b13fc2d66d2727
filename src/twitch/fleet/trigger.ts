// Triggers one node's twitch and turns whatever happens into a result row; never throws.
import type { RunOptions } from "../params.js";
import { httpRequest, type ClientTls } from "./http.js";
import type { Target } from "./targets.js";

export interface FleetRequest extends RunOptions {
  wait: boolean;
  timeoutMs: number;
  token: string | undefined;
  tls: ClientTls;
}

export interface NodeResult {
  node: string;
  url: string;
  ok: boolean;
  /** HTTP status, or null when no answer came (refused, timed out, TLS failure). */
  status: number | null;
  /** triggered, complete, failed, running, disabled, refused, error. */
  outcome: string;
  message: string;
  durationMs: number;
  exitCode: number | null;
  changed: number | null;
  failed: number | null;
}

export function triggerQuery(r: RunOptions & { wait: boolean }): string {
  const q = new URLSearchParams();
  if (r.wait) q.set("async", "false");
  if (r.noop) q.set("noop", "true");
  if (r.tags.length) q.set("tags", r.tags.join(","));
  if (r.environment) q.set("environment", r.environment);
  if (r.splay) q.set("splay", "true");
  const s = q.toString();
  return s ? `?${s}` : "";
}

const OUTCOME: Record<number, string> = { 200: "complete", 202: "triggered", 409: "running", 423: "disabled", 500: "failed" };

/** Read the fields twitch's JSON answers carry; tolerate a non-JSON (puppet-twitch) answer. */
function readAnswer(body: string): { message: string; run: Record<string, unknown> | undefined; disabled: string | undefined } {
  try {
    const j = JSON.parse(body) as Record<string, unknown>;
    const run = j.run && typeof j.run === "object" ? (j.run as Record<string, unknown>) : undefined;
    return {
      message: typeof j.message === "string" ? j.message : body.trim(),
      run,
      disabled: typeof j.disabled_message === "string" ? j.disabled_message : undefined,
    };
  } catch {
    return { message: body.trim().slice(0, 300), run: undefined, disabled: undefined };
  }
}

const numOrNull = (v: unknown): number | null => (typeof v === "number" ? v : null);

export async function triggerNode(t: Target, r: FleetRequest, now: () => number = Date.now): Promise<NodeResult> {
  const started = now();
  const headers: Record<string, string> = { accept: "application/json" };
  if (r.token) headers.authorization = `Bearer ${r.token}`;
  const base = { node: t.node, url: t.url, exitCode: null, changed: null, failed: null };
  try {
    const a = await httpRequest(`${t.url}/puppet/twitch${triggerQuery(r)}`, { method: "POST", headers, tls: r.tls, timeoutMs: r.timeoutMs });
    const { message, run, disabled } = readAnswer(a.body);
    const ok = a.status === 200 || a.status === 202;
    const outcome = OUTCOME[a.status] ?? (a.status === 401 || a.status === 403 ? "refused" : "error");
    return {
      ...base,
      ok,
      status: a.status,
      outcome,
      message: disabled !== undefined ? `disabled: ${disabled}` : message,
      durationMs: now() - started,
      exitCode: numOrNull(run?.exitCode),
      changed: numOrNull(run?.changed),
      failed: numOrNull(run?.failed),
    };
  } catch (err) {
    return { ...base, ok: false, status: null, outcome: "error", message: (err as Error).message, durationMs: now() - started };
  }
}
