// Loopback helpers: free ports for external programs (they need a number in their config), a
// small HTTP(S) GET with a deadline, and polling until something answers.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";

export const LOOPBACK = "127.0.0.1";

/** Ports free right now on 127.0.0.1 (all held open together, so they differ). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, LOOPBACK, () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export interface Tls {
  ca?: string;
  cert?: string;
  key?: string;
}

export function get(url: string, o: { tls?: Tls; timeoutMs?: number; method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const https = url.startsWith("https:");
    const req = (https ? httpsRequest : httpRequest)(url, {
      method: o.method ?? "GET", agent: false, headers: o.headers, ...(https ? { ...o.tls, servername: "localhost" } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        clearTimeout(t);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), headers: res.headers });
      });
      res.on("error", reject);
    });
    const t = setTimeout(() => req.destroy(new Error("timeout")), o.timeoutMs ?? 5000);
    req.on("error", (err) => {
      clearTimeout(t);
      reject(err);
    });
    req.end();
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll fn until it returns true; throws with `what` after timeoutMs. */
export async function waitUntil(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 20_000, abort?: () => string | undefined): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    const why = abort?.();
    if (why) throw new Error(`${what}: ${why}`);
    try {
      if (await fn()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > end) throw new Error(`${what}: not ready after ${timeoutMs} ms${last ? ` (${last})` : ""}`);
    await sleep(100);
  }
}
