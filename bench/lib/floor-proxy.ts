// The floor under puppet-ha's CPU per request (bench/proxy-cpu.ts --floor): the same Node TLS
// server settings and the same undici Pool dispatch as the proxy, with none of its logic (no
// routing, admission, timers, retries, counters, metrics). What this costs is Node + undici + TLS
// + the kernel; the difference to puppet-ha is what puppet-ha's own code adds.
//
//   node --import tsx bench/lib/floor-proxy.ts PORT CERT KEY CA CRL BACKEND_URL...   # proxy
//   node --import tsx bench/lib/floor-proxy.ts PORT CERT KEY CA CRL self             # answer itself
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { TLSSocket } from "node:tls";
import { Pool, type Dispatcher } from "undici";

const [port, cert, key, ca, crl, ...backends] = process.argv.slice(2) as [string, string, string, string, string, ...string[]];
const self = backends[0] === "self";
const pools = self ? [] : backends.map((u) => new Pool(u, { connections: 256, pipelining: 1, keepAliveTimeout: 20_000, headersTimeout: 0, bodyTimeout: 0 }));
let next = 0;
const kTail = Symbol("identity headers");
type Tagged = TLSSocket & { [kTail]?: string[] };

/** The X-Client-* headers once per connection, as puppet-ha does. */
function tail(s: Tagged): string[] {
  let t = s[kTail];
  if (t) return t;
  const peer = s.getPeerX509Certificate();
  t = peer
    ? ["X-Client-Verify", s.authorized ? "SUCCESS" : "FAILED", "X-Client-DN", peer.subject.split("\n").reverse().join(","), "X-Client-Cert", encodeURIComponent(peer.toString())]
    : ["X-Client-Verify", "NONE"];
  return (s[kTail] = t);
}

class Handler implements Dispatcher.DispatchHandler {
  private held: Buffer | undefined;
  constructor(private readonly res: ServerResponse) {}
  onConnect(): void {}
  onHeaders(status: number, raw: Buffer[], _resume: () => void, statusText: string): boolean {
    const h: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = (raw[i] as Buffer).toString("latin1");
      if (name.toLowerCase() !== "connection" && name.toLowerCase() !== "keep-alive") h.push(name, (raw[i + 1] as Buffer).toString("latin1"));
    }
    this.res.writeHead(status, statusText, h);
    return true;
  }
  onData(chunk: Buffer): boolean {
    if (this.held) this.res.write(this.held);
    this.held = chunk;
    return true;
  }
  onComplete(): void {
    this.res.end(this.held);
  }
  onError(): void {
    this.res.destroy();
  }
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  if (self) {
    res.writeHead(200, { "content-type": "text/plain", "content-length": 8 });
    res.end("running\n");
    return;
  }
  const headers: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (!(raw[i] as string).toLowerCase().startsWith("x-client-")) headers.push(raw[i] as string, raw[i + 1] as string);
  headers.push(...tail(req.socket as Tagged), "X-Forwarded-For", req.socket.remoteAddress ?? "", "X-Forwarded-Proto", "https");
  const pool = pools[next++ % pools.length] as Pool;
  pool.dispatch({ method: req.method ?? "GET", path: req.url ?? "/", headers }, new Handler(res));
}

const server = createServer({
  cert: readFileSync(cert), key: readFileSync(key), ca: readFileSync(ca), crl: readFileSync(crl), requestCert: true, rejectUnauthorized: false,
  keepAliveTimeout: 5000,
}, handle);
server.listen(Number(port), "127.0.0.1");
process.once("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  for (const p of pools) void p.destroy();
});
