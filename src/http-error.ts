// The one way a listener (admin API, sync API, twitch) answers an error: the status from the
// error's catalog entry (src/errors.ts), then JSON `{error: {code, message}}` or one line of text,
// chosen by the request's Accept header (fastify's error handler is the model).
import type { IncomingMessage, ServerResponse } from "node:http";
import { MethodNotAllowedError, PuppetHaError, UnauthorizedError } from "./errors.js";

export type BodyFormat = "json" | "text";

interface Range {
  type: string;
  q: number;
  index: number;
}

function parseAccept(header: string): Range[] {
  return header.split(",").map((part, index) => {
    const [type = "", ...params] = part.trim().toLowerCase().split(";");
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    return { type: type.trim(), q: Number.isFinite(q) ? q : 0, index };
  }).filter((r) => r.type !== "");
}

function quality(ranges: Range[], offered: string): { q: number; specificity: number; index: number } {
  const [major] = offered.split("/");
  let best = { q: 0, specificity: -1, index: Infinity };
  for (const r of ranges) {
    const specificity = r.type === offered ? 2 : r.type === `${major}/*` ? 1 : r.type === "*/*" ? 0 : -1;
    if (specificity > best.specificity) best = { q: r.q, specificity, index: r.index };
  }
  return best;
}

/**
 * JSON or text for this request: the higher quality in Accept wins, then the more specific range,
 * then the one listed first; `*\/*`, no Accept or a tie give the listener's default.
 */
export function preferredFormat(accept: string | undefined, fallback: BodyFormat): BodyFormat {
  if (!accept) return fallback;
  const ranges = parseAccept(accept);
  const json = quality(ranges, "application/json");
  const text = quality(ranges, "text/plain");
  if (json.q !== text.q) return json.q > text.q ? "json" : "text";
  if (json.specificity !== text.specificity) return json.specificity > text.specificity ? "json" : "text";
  if (json.index !== text.index) return json.index < text.index ? "json" : "text";
  return fallback;
}

/** Write a body in the chosen format, with the headers every listener sets. */
export function sendBody(
  res: ServerResponse, status: number, format: BodyFormat, body: { text: string; json: unknown }, headers: Record<string, string> = {},
): void {
  const payload = format === "json" ? JSON.stringify(body.json) : body.text;
  res.writeHead(status, {
    "content-type": format === "json" ? "application/json; charset=utf-8" : "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(payload),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    ...headers,
  });
  res.end(payload);
}

export interface ErrorRendering {
  status: number;
  code: string;
  message: string;
  headers: Record<string, string>;
}

/** Status, code, message and headers for an error; anything untyped is a 500 with no detail. */
export function describeHttpError(err: unknown, internalMessage = "internal error (see the log)"): ErrorRendering {
  if (!(err instanceof PuppetHaError)) return { status: 500, code: "E_INTERNAL", message: internalMessage, headers: {} };
  const headers: Record<string, string> = {};
  if (err instanceof UnauthorizedError) headers["www-authenticate"] = err.challenge;
  if (err instanceof MethodNotAllowedError) headers.allow = err.allow.join(", ");
  return { status: err.status, code: err.code, message: err.message, headers };
}

export interface SendErrorOptions {
  /** Format when Accept does not decide (admin and sync APIs: json; twitch: text, like puppet-twitch). */
  fallback: BodyFormat;
  /** More top-level JSON fields (twitch keeps `status`, `message` for its clients). */
  extra?: Record<string, unknown>;
  /** More fields inside `error` (the sync API's `differences`). */
  details?: Record<string, unknown>;
  headers?: Record<string, string>;
  internalMessage?: string;
}

/**
 * Answer `err`. Once headers are out the only honest signal left is to cut the connection.
 * Returns the rendering, for the caller's log line.
 */
export function sendError(req: IncomingMessage, res: ServerResponse, err: unknown, o: SendErrorOptions): ErrorRendering {
  const r = describeHttpError(err, o.internalMessage);
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return r;
  }
  const json = { ...o.extra, error: { code: r.code, message: r.message, ...o.details } };
  sendBody(res, r.status, preferredFormat(req.headers.accept, o.fallback), { text: r.message, json }, { ...r.headers, ...o.headers });
  return r;
}
