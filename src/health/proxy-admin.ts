// The minimal admin listener of the proxy issue (express): `GET /health` and `/health/live`. It
// reads the proxy only through ProxySnapshotSource; the full admin app (src/health/app.ts) replaces it.
import express, { type Express } from "express";
import { createServer, type Server } from "node:http";
import type { ListenAddress } from "../config/units.js";
import { ListenError } from "../errors.js";
import type { ProxySnapshotSource } from "../proxy/snapshot.js";

export function createProxyHealthApp(source: ProxySnapshotSource): Express {
  const app = express();
  app.disable("x-powered-by");
  app.get("/health", (_req, res) => {
    const s = source.snapshot();
    res.status(s.healthy ? 200 : 503).json({ status: s.healthy ? "healthy" : "unhealthy", ...s });
  });
  app.get("/health/live", (_req, res) => {
    res.type("text/plain").send("alive\n");
  });
  app.use((_req, res) => {
    res.status(404).type("text/plain").send("not found\n");
  });
  return app;
}

/** Listen with the admin app; resolves once bound (port 0 gives a free port: read server.address()). */
export async function startProxyAdmin(source: ProxySnapshotSource, at: ListenAddress): Promise<Server> {
  const server = createServer(createProxyHealthApp(source));
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(new ListenError(`admin: cannot listen on ${at.host}:${at.port}: ${err.code ?? err.message}`, { cause: err })));
    server.listen(at.port, at.host, () => resolve());
  });
  return server;
}

export function stopProxyAdmin(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
