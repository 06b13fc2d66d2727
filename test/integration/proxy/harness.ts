// Integration harness for the proxy: a test PKI on disk, fake puppetserver-like backends that
// record what they got, a proxy on 127.0.0.1:0, and an HTTPS client with or without a cert.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { request as httpsRequest, Agent } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { createTestCa, type Issued, type TestCa } from "../../helpers/pki.js";
import { silentLogger, type Logger } from "../../../src/log.js";
import { proxySection, type ProxyConfig } from "../../../src/proxy/config.js";
import { ProxyServer } from "../../../src/proxy/server.js";

export interface Pki {
  dir: string;
  ca: TestCa;
  server: Issued;
  node1: Issued;
  node2: Issued;
  files: { cert: string; key: string; ca: string; crl: string };
}

let shared: Pki | undefined;

/** One PKI per test file (RSA key generation is slow); files in a fresh temp dir. */
export function pki(): Pki {
  if (shared) return shared;
  const dir = mkdtempSync(join(tmpdir(), "puppet-ha-proxy-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const ca = createTestCa("proxy-test");
  const server = ca.issue("puppet-ha.test", { sans: ["localhost", "127.0.0.1"] });
  const node1 = ca.issue("node1.test");
  const node2 = ca.issue("node2.test");
  const files = { cert: join(dir, "server.pem"), key: join(dir, "server.key"), ca: join(dir, "ca.pem"), crl: join(dir, "crl.pem") };
  writeFileSync(files.cert, server.certPem);
  writeFileSync(files.key, server.keyPem);
  writeFileSync(files.ca, ca.certPem);
  writeFileSync(files.crl, ca.crl({ number: 1 }));
  shared = { dir, ca, server, node1, node2, files };
  return shared;
}

export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  rawHeaders: string[];
  body: string;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

export interface FakeBackend {
  name: string;
  url: string;
  port: number;
  seen: Seen[];
  /** Requests the proxy made itself (CRL fetches), kept apart from traffic. */
  own: Seen[];
  /** Replace the request handler (default: 200 "<name> <method> <url>"). */
  handler: Handler;
  /** The CRL served to the proxy's own CRL fetches (default: none, the handler answers). */
  crl: string | undefined;
  /** Answer health checks? (default yes). */
  healthy: boolean;
  server: Server;
  sockets: Set<Socket>;
}

export async function fakeBackend(t: TestContext, name: string): Promise<FakeBackend> {
  const fb: FakeBackend = {
    name, url: "", port: 0, seen: [], own: [], healthy: true, sockets: new Set(), crl: undefined,
    handler: (req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`${name} ${req.method} ${req.url}`);
    },
    server: undefined as unknown as Server,
  };
  fb.server = createServer({ maxHeaderSize: 128 * 1024 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.url?.startsWith("/status/v1/simple")) {
        res.writeHead(fb.healthy ? 200 : 503).end(fb.healthy ? "running" : "error");
        return;
      }
      const body = Buffer.concat(chunks).toString();
      const seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, rawHeaders: req.rawHeaders, body };
      if (req.headers["user-agent"]?.startsWith("puppet-ha")) {
        fb.own.push(seen);
        if (fb.crl !== undefined && req.url === "/puppet-ca/v1/certificate_revocation_list/ca") {
          res.writeHead(200, { "content-type": "text/plain" }).end(fb.crl);
          return;
        }
      } else fb.seen.push(seen);
      fb.handler(req, res, body);
    });
  });
  fb.server.on("connection", (s: Socket) => {
    fb.sockets.add(s);
    s.on("close", () => fb.sockets.delete(s));
  });
  await new Promise<void>((r) => fb.server.listen(0, "127.0.0.1", r));
  t.after(() => closeBackend(fb));
  fb.port = (fb.server.address() as AddressInfo).port;
  fb.url = `http://127.0.0.1:${fb.port}`;
  return fb;
}

export function closeBackend(fb: FakeBackend): Promise<void> {
  return new Promise((resolve) => {
    if (!fb.server.listening) return resolve();
    fb.server.close(() => resolve());
    for (const s of fb.sockets) s.destroy();
  });
}

/** A proxy config (validated by the real schema) for these backends; `extra` overrides keys. */
export function proxyConfig(p: Pki, cas: FakeBackend[] | { name: string; url: string }[], masters: { name: string; url: string }[], extra: Record<string, unknown> = {}): ProxyConfig {
  const stateDir = mkdtempSync(join(p.dir, "state-"));
  const raw: Record<string, unknown> = {
    listen: "127.0.0.1:0",
    tls: p.files,
    ca: { workers: cas.map((c) => ({ name: c.name, url: c.url })), crlRefresh: "1h", holdWrites: "2s" },
    masters: { workers: masters.map((m) => ({ name: m.name, url: m.url })) },
    health: { interval: "50ms", timeout: "2s", rise: 1, fall: 1 },
    timeouts: { connect: "300ms", response: "1s", shutdown: "2s" },
    stateDir,
    accessLog: false,
  };
  for (const [k, v] of Object.entries(extra)) {
    raw[k] = v && typeof v === "object" && !Array.isArray(v) ? { ...(raw[k] as object), ...v } : v;
  }
  return proxySection.parse(raw);
}

export async function startProxy(t: TestContext, config: ProxyConfig, accessLog?: Logger): Promise<ProxyServer> {
  const proxy = await ProxyServer.start({ config, log: silentLogger(), accessLog });
  t.after(() => proxy.stop(0));
  return proxy;
}

export interface Answer {
  status: number;
  headers: IncomingMessage["headers"];
  body: string;
}

export interface CallOptions {
  method?: string;
  path: string;
  headers?: Record<string, string | string[]>;
  rawHeaders?: string[];
  body?: string | Buffer;
  client?: Issued;
  agent?: Agent;
}

/** One HTTPS request to the proxy, verifying its cert against the test CA. */
export function call(port: number, o: CallOptions): Promise<Answer> {
  const p = pki();
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: "127.0.0.1", port, method: o.method ?? "GET", path: o.path, ca: p.ca.certPem,
      servername: "localhost",
      ...(o.client ? { cert: o.client.certPem, key: o.client.keyPem } : {}),
      headers: o.rawHeaders ? ["Host", "localhost", ...o.rawHeaders] : o.headers, agent: o.agent ?? false,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(o.body);
  });
}

/** Resolve when cond() holds, polling every 10 ms; reject after ms. */
export async function until(cond: () => boolean, ms = 2000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * An address where TCP connects hang: a listener with backlog 0 that never accepts, its one
 * queue slot taken by a filler connection. Needs python3 (a Node listener always accepts).
 */
export async function blackhole(t: TestContext): Promise<{ url: string } | undefined> {
  const { spawn } = await import("node:child_process");
  const { connect } = await import("node:net");
  const py = spawn("python3", ["-c", "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()"], { stdio: ["pipe", "pipe", "ignore"] });
  t.after(() => {
    py.kill();
  });
  const port = await new Promise<number | undefined>((resolve) => {
    py.on("error", () => resolve(undefined));
    py.stdout.once("data", (d: Buffer) => resolve(Number(String(d).trim())));
  });
  if (!port) return undefined;
  const filler = connect(port, "127.0.0.1");
  t.after(() => {
    filler.destroy();
  });
  await new Promise((r) => filler.once("connect", r));
  return { url: `http://127.0.0.1:${port}` };
}

/** A URL where connects are refused (a port that was just closed). */
export async function refusedUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}`;
}
