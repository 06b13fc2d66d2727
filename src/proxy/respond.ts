// Answers the proxy writes itself: a status with a short plain-text line, never a stack trace.
// Statuses come from the error catalog (src/errors.ts); the proxy keeps its plain-text format.
import type { ServerResponse } from "node:http";
import { BadRequestError, ClientLimitError, NoHealthyBackendError, UpstreamTimeoutError, type PuppetHaError } from "../errors.js";

const TITLES: Record<number, string> = {
  400: "Bad Request", 408: "Request Timeout", 413: "Payload Too Large", 429: "Too Many Requests", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
};

/** The HTTP status for a proxy error: its catalog status (src/errors.ts) for these, else 502. */
export function statusOf(err: PuppetHaError): number {
  if (err instanceof NoHealthyBackendError || err instanceof UpstreamTimeoutError || err instanceof BadRequestError || err instanceof ClientLimitError) return err.status;
  return 502;
}

/**
 * Write `<status> <title>: <message>`. Once headers are out, the only honest signal left is to cut
 * the connection. `close` asks the client to reconnect (after 413 the body is not drained).
 */
export function replyError(res: ServerResponse, status: number, message: string, opts: { retryAfter?: string; close?: boolean } = {}): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = `${status} ${TITLES[status] ?? "Error"}: ${message}\n`;
  const headers: Record<string, string | number> = { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) };
  if (opts.retryAfter) headers["retry-after"] = opts.retryAfter;
  if (opts.close) headers.connection = "close";
  res.writeHead(status, headers);
  res.end(body);
}
