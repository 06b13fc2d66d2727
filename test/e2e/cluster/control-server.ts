// The cluster owner's control API on loopback: e2e test files (separate processes) ask it to
// kill, pause, resume or restart puppetservers and to restart the front end.
//   GET  /instances                         -> InstanceStatus[]
//   POST /instances/:name/kill?signal=KILL|TERM|STOP|CONT
//   POST /instances/:name/start             (restart on its existing dirs, wait until ready)
//   GET  /frontend                          -> FrontEndInfo + pid
//   POST /frontend/restart  {"kind":"haproxy"|"puppet-ha","configFile"?:string,"env"?:{NAME:value}}
//   POST /frontend/kill?signal=KILL|TERM|STOP|CONT|HUP
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Cluster } from "../../../src/demo/cluster/cluster.js";
import type { InstanceName } from "../../../src/demo/cluster/descriptor.js";
import type { Signal } from "../../../src/demo/cluster/puppetserver.js";
import { LOOPBACK } from "../../../src/demo/cluster/net.js";

const SIGNALS: Signal[] = ["KILL", "TERM", "STOP", "CONT"];

class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (!text) return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new HttpError(400, "body is not JSON");
  }
}

function signalParam(url: URL, allowed: string[] = SIGNALS): Signal {
  const s = (url.searchParams.get("signal") ?? "KILL").toUpperCase() as Signal;
  if (!allowed.includes(s)) throw new HttpError(400, `signal must be one of ${allowed.join(", ")}`);
  return s;
}

async function route(cluster: Cluster, req: http.IncomingMessage, readyTimeoutMs: number): Promise<unknown> {
  const url = new URL(req.url ?? "/", "http://control");
  const parts = url.pathname.split("/").filter(Boolean);
  const method = req.method ?? "GET";
  if (parts[0] === "instances") {
    if (parts.length === 1 && method === "GET") return Object.values(cluster.servers).map((s) => s.status());
    const server = cluster.servers[parts[1] as InstanceName] as Cluster["servers"][InstanceName] | undefined;
    if (!server) throw new HttpError(404, `no instance "${parts[1]}"`);
    if (method !== "POST") throw new HttpError(405, "use POST");
    if (parts[2] === "kill") {
      await server.signal(signalParam(url)).catch((e: Error) => { throw new HttpError(409, e.message); });
      return server.status();
    }
    if (parts[2] === "start") {
      if (server.state !== "stopped" && server.state !== "failed") throw new HttpError(409, `${server.info.name} is ${server.state}`);
      await server.start(readyTimeoutMs);
      return server.status();
    }
  }
  if (parts[0] === "frontend") {
    const fe = cluster.frontEnd;
    if (parts.length === 1 && method === "GET") return fe ? { ...fe.info, pid: fe.pid() } : null;
    if (method !== "POST") throw new HttpError(405, "use POST");
    if (parts[1] === "restart") {
      const body = await readJson(req);
      const kind = body.kind ?? fe?.info.kind ?? "haproxy";
      if (kind !== "haproxy" && kind !== "puppet-ha") throw new HttpError(400, "kind must be haproxy or puppet-ha");
      const configFile = typeof body.configFile === "string" ? body.configFile : undefined;
      const env = body.env as Record<string, string> | undefined;
      if (env !== undefined && (typeof env !== "object" || Object.values(env).some((v) => typeof v !== "string"))) {
        throw new HttpError(400, "env must be an object of strings");
      }
      const started = await cluster.restartFrontEnd(kind, configFile, env);
      return { ...started.info, pid: started.pid() };
    }
    if (parts[1] === "kill") {
      if (!fe) throw new HttpError(409, "no front end running");
      // HUP too: `puppet-ha proxy` reloads its config file on it.
      fe.signal(signalParam(url, [...SIGNALS, "HUP"]));
      return { ...fe.info, pid: fe.pid() };
    }
  }
  throw new HttpError(404, `no route ${method} ${url.pathname}`);
}

/** Starts the control API on a loopback port chosen by the OS; resolves to its base URL. */
export async function startControlServer(cluster: Cluster, readyTimeoutMs = 180_000): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    route(cluster, req, readyTimeoutMs).then(
      (body) => { res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(body)); },
      (err: Error) => {
        const status = err instanceof HttpError ? err.status : 500;
        res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify({ error: err.message }));
      },
    );
  });
  server.requestTimeout = 0; // a restart waits for a JVM: minutes, not the 5 min default cut-off
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${LOOPBACK}:${port}`,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
