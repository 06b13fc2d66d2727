// Loopback networking helpers for the cluster harness: free ports, a small HTTP(S) request with
// a timeout, and polling with a deadline (never a blind sleep).
import { createServer, type AddressInfo } from "node:net";
import http from "node:http";
import https from "node:https";
import { setTimeout as delay } from "node:timers/promises";

export const LOOPBACK = "127.0.0.1";

/**
 * Free loopback ports. puppetserver (Jetty) and haproxy cannot be told to take port 0 and report
 * it back, so we bind port 0 ourselves, hold ALL the sockets open until every port is chosen (so
 * one call never returns the same port twice), then close them and hand the numbers over. The
 * window between close and the server's bind is small; another process grabbing a port in it
 * makes that instance fail to start with a clear "Address already in use" in its log tail.
 */
export async function freeLoopbackPorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const s = createServer();
      s.once("error", reject);
      s.listen(0, LOOPBACK, () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

export interface SimpleResponse {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
  /** HTTPS only: CA bundle, client cert and key (PEM text). */
  ca?: string;
  cert?: string;
  key?: string;
}

/** One HTTP(S) request with a hard timeout; rejects on connection errors and on timeout. */
export function request(url: string, opts: RequestOptions = {}): Promise<SimpleResponse> {
  const u = new URL(url);
  const lib = u.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(u, {
      method: opts.method ?? "GET",
      headers: opts.headers,
      agent: false,
      ...(u.protocol === "https:" ? { ca: opts.ca, cert: opts.cert, key: opts.key } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), headers: res.headers }));
      res.on("error", reject);
    });
    req.setTimeout(opts.timeoutMs ?? 5000, () => req.destroy(new Error(`timeout after ${opts.timeoutMs ?? 5000} ms: ${opts.method ?? "GET"} ${url}`)));
    req.on("error", reject);
    req.end(opts.body);
  });
}

/**
 * Calls `probe` every `intervalMs` until it returns a non-undefined value, `abort` returns a
 * reason to give up early (e.g. the process died), or the deadline passes.
 */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs, intervalMs = 250, abort }: { timeoutMs: number; intervalMs?: number; abort?: () => string | undefined },
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: Error | undefined;
  for (;;) {
    const reason = abort?.();
    if (reason) throw new Error(`${what}: ${reason}`);
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err instanceof Error ? err : new Error(String(err));
    }
    if (Date.now() >= deadline) {
      throw new Error(`${what}: not ready after ${timeoutMs} ms${last ? ` (last error: ${last.message})` : ""}`);
    }
    await delay(intervalMs);
  }
}
