// The payloads of fleet messages. A request `{id, time, ttl, filter, action, options}` is what a
// controller signs; a reply `{id, certname, kind, time, ...}` is what a node signs. Both are
// checked field by field here (pure code) after ./envelope.ts has checked who signed them.
import { ENVIRONMENT, MAX_TAGS, TAG, type RunOptions } from "../params.js";
import type { WireFilter } from "./filter.js";
import { REQUEST_ID, isSubjectCertname } from "./subjects.js";

export interface FleetRequest {
  id: string;
  /** When the controller sent it, ms since the epoch. */
  time: number;
  /** How long after `time` a node may still act on it, ms. */
  ttl: number;
  filter: WireFilter;
  action: "run";
  options: RunOptions;
}

export type ReplyKind = "noop" | "start" | "complete" | "refused";

export interface RunReport {
  exitCode: number | null;
  status: string;
  outcome: string | null;
  changed: number | null;
  failed: number | null;
  total: number | null;
  durationMs: number;
  message: string;
}

export interface FleetReply {
  id: string;
  certname: string;
  kind: ReplyKind;
  time: number;
  /** noop: what did not match; refused: why. */
  reason?: string;
  run?: RunReport;
}

export class BadMessageError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

/** The request fields, strictly: unknown keys and bad values throw BadMessageError. */
export function readRequest(p: Record<string, unknown>): FleetRequest {
  const keys = Object.keys(p);
  const extra = keys.filter((k) => !["id", "time", "ttl", "filter", "action", "options"].includes(k));
  if (extra.length > 0) throw new BadMessageError(`unknown request field "${extra[0]?.slice(0, 40)}"`);
  if (typeof p.id !== "string" || !REQUEST_ID.test(p.id)) throw new BadMessageError("request id must be 8-64 of [A-Za-z0-9_-]");
  if (typeof p.time !== "number" || !Number.isSafeInteger(p.time)) throw new BadMessageError("request time must be ms since the epoch");
  if (typeof p.ttl !== "number" || !Number.isSafeInteger(p.ttl) || p.ttl <= 0) throw new BadMessageError("request ttl must be a positive number of ms");
  if (p.action !== "run") throw new BadMessageError(`unknown action ${JSON.stringify(p.action)?.slice(0, 40)}`);
  if (!isObject(p.filter)) throw new BadMessageError("request filter must be an object");
  const f = p.filter;
  const fExtra = Object.keys(f).filter((k) => !["certname", "facts", "classes", "environment"].includes(k));
  if (fExtra.length > 0) throw new BadMessageError(`unknown filter field "${fExtra[0]?.slice(0, 40)}"`);
  return { id: p.id, time: p.time, ttl: p.ttl, filter: f, action: "run", options: readOptions(p.options) };
}

/** Run options with the same grammar as the HTTP trigger's query (../params.ts). */
export function readOptions(o: unknown): RunOptions {
  if (!isObject(o)) throw new BadMessageError("request options must be an object");
  const extra = Object.keys(o).filter((k) => !["noop", "tags", "environment", "splay"].includes(k));
  if (extra.length > 0) throw new BadMessageError(`unknown option "${extra[0]?.slice(0, 40)}"`);
  const bool = (k: string) => {
    const v = o[k];
    if (v !== undefined && typeof v !== "boolean") throw new BadMessageError(`option ${k} must be true or false`);
    return v === true;
  };
  const tags = o.tags ?? [];
  if (!Array.isArray(tags) || tags.length > MAX_TAGS || !tags.every((t) => typeof t === "string" && TAG.test(t))) {
    throw new BadMessageError(`option tags must be at most ${MAX_TAGS} Puppet tag names`);
  }
  const env = o.environment;
  if (env !== undefined && (typeof env !== "string" || !ENVIRONMENT.test(env))) throw new BadMessageError("option environment must match ^[a-z0-9_]+$");
  return { noop: bool("noop"), tags: tags as string[], environment: env, splay: bool("splay") };
}

const numOrNull = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const text = (v: unknown, max = 500): string => (typeof v === "string" ? v.slice(0, max) : "");

export function readReply(p: Record<string, unknown>): FleetReply {
  if (typeof p.id !== "string" || !REQUEST_ID.test(p.id)) throw new BadMessageError("reply id is not a request id");
  if (typeof p.certname !== "string" || !isSubjectCertname(p.certname)) throw new BadMessageError("reply certname is not a certname");
  if (p.kind !== "noop" && p.kind !== "start" && p.kind !== "complete" && p.kind !== "refused") throw new BadMessageError("unknown reply kind");
  if (typeof p.time !== "number") throw new BadMessageError("reply time must be a number");
  const r: FleetReply = { id: p.id, certname: p.certname, kind: p.kind, time: p.time };
  if (p.reason !== undefined) r.reason = text(p.reason);
  if (p.kind === "complete") {
    if (!isObject(p.run)) throw new BadMessageError("a complete reply carries run");
    const run = p.run;
    r.run = {
      exitCode: numOrNull(run.exitCode), status: text(run.status, 40), outcome: typeof run.outcome === "string" ? text(run.outcome, 40) : null,
      changed: numOrNull(run.changed), failed: numOrNull(run.failed), total: numOrNull(run.total),
      durationMs: numOrNull(run.durationMs) ?? 0, message: text(run.message),
    };
  }
  return r;
}

