// The floor under puppet-ha's CPU per request (bench/proxy-cpu.ts --floor): the same Node TLS
// server settings and the same undici Pool dispatch as the proxy, with none of its logic (no
// routing, admission, timers, retries, counters, metrics). What this costs is Node + undici + TLS
// + the kernel; the difference to puppet-ha is what puppet-ha's own code adds.
//
//   node --import tsx bench/lib/floor-proxy.ts PORT CERT KEY CA CRL BACKEND_URL...   # proxy
//   node --import tsx bench/lib/floor-proxy.ts PORT CERT KEY CA CRL self             # answer itself
//   node --import tsx bench/lib/floor-proxy.ts PORT CERT KEY CA CRL raw BACKEND_PORT...
//     # no undici: a bare keep-alive HTTP/1.1 client on net.Socket that only understands
//     # Content-Length answers (what a client of our own could cost at best; not a usable proxy)
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import { connect, type Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { Pool, type Dispatcher } from "undici";

const [port, cert, key, ca, crl, ...backends] = process.argv.slice(2) as [string, string, string, string, string, ...string[]];
const self = backends[0] === "self";
const rawClient = backends[0] === "raw";
const rawPorts = rawClient ? backends.slice(1).map(Number) : [];
const pools = self || rawClient ? [] : backends.map((u) => new Pool(u, { connections: 256, pipelining: 1, keepAliveTimeout: 20_000, headersTimeout: 0, bodyTimeout: 0 }));
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

/** One upstream keep-alive connection of the "raw" mode: one request at a time, Content-Length only. */
class RawConnection {
  private readonly socket: Socket;
  private res: ServerResponse | undefined;
  private buf: Buffer | undefined;
  constructor(private readonly idle: RawConnection[], port: number) {
    this.socket = connect(port, "127.0.0.1");
    this.socket.setNoDelay(true);
    this.socket.on("data", (d: Buffer) => this.data(d));
  }
  send(head: string, res: ServerResponse): void {
    this.res = res;
    this.socket.write(head, "latin1");
  }
  private data(d: Buffer): void {
    const buf = (this.buf = this.buf ? Buffer.concat([this.buf, d]) : d);
    const end = buf.indexOf("\r\n\r\n");
    if (end === -1) return;
    const lines = buf.toString("latin1", 0, end).split("\r\n");
    const status = Number((lines[0] as string).slice(9, 12));
    const headers: string[] = [];
    let length = 0;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(":");
      const name = line.slice(0, colon);
      const lower = name.toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (lower === "content-length") length = Number(value);
      if (lower !== "connection" && lower !== "keep-alive") headers.push(name, value);
    }
    if (buf.length < end + 4 + length) return;
    this.buf = undefined;
    const res = this.res as ServerResponse;
    this.res = undefined;
    this.idle.push(this);
    res.writeHead(status, headers);
    res.end(buf.subarray(end + 4, end + 4 + length));
  }
}

const rawIdle = rawPorts.map(() => [] as RawConnection[]);

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
  if (rawClient) {
    let head = `${req.method ?? "GET"} ${req.url ?? "/"} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) head += `${headers[i] as string}: ${headers[i + 1] as string}\r\n`;
    const i = next++ % rawPorts.length;
    const idle = rawIdle[i] as RawConnection[];
    (idle.pop() ?? new RawConnection(idle, rawPorts[i] as number)).send(`${head}\r\n`, res);
    return;
  }
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
