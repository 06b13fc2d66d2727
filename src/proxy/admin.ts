// The proxy side of the admin listener: the HealthReport built from the proxy snapshot, the
// arbiter, failback and promotion state, sync status and CA cert/CRL expiry; the admin actions
// wired to the proxy; and the listener itself (HTTP or HTTPS, explicit timeouts).
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { FileAccessError, ListenError, NoHealthyBackendError, UsageError } from "../errors.js";
import { hostGuard } from "../health/app.js";
import type { AdminConfig } from "../health/config.js";
import type { AdminActions, CaState } from "../health/admin-api.js";
import { AdminConflictError, AdminUnavailableError, UnknownBackendError } from "../health/admin-errors.js";
import { assessHealth, healthThresholds, type HealthCore } from "../health/health-status.js";
import { withCluster } from "../health/cluster.js";
import { certNotAfter } from "../health/expiry.js";
import type { ArbiterReport, BackendReport, PoolReport, SyncDestinationReport } from "../health/report.js";
import { forwardToController } from "./control/admin-forward.js";
import type { FailbackDriver } from "./control/failback-driver.js";
import type { ProxyServer } from "./server.js";
import type { PoolView } from "./snapshot.js";

export interface AdminSource {
  proxy: ProxyServer;
  admin(): AdminConfig;
  primary: string;
  failback: FailbackDriver;
  promotion(): { lagMs: number | undefined; warnings: string[] };
  sync(): SyncDestinationReport[];
}

function poolReport(name: "ca" | "masters", v: PoolView, balance?: string): PoolReport {
  return {
    name,
    ...(balance ? { balance } : {}),
    backends: v.backends.map((b): BackendReport => ({
      name: b.name, url: b.url, state: b.state, since: b.since,
      ...(b.lastCheck !== undefined
        ? { lastCheck: { at: b.lastCheck, ok: b.lastCheckOk === true, ...(b.lastLatencyMs !== undefined ? { latencyMs: b.lastLatencyMs } : {}), ...(b.lastCheckError ? { error: b.lastCheckError } : {}) } }
        : {}),
      consecutiveFailures: b.consecutiveFailures, inFlight: b.outstanding, requests: b.requests, errors: b.errors,
    })),
  };
}

let caNotAfter: { pem: string; at: Date | undefined } | undefined;

/** notAfter of the first certificate of the CA bundle (cached per bundle text). */
function caCertNotAfter(pem: string): Date | undefined {
  if (caNotAfter?.pem !== pem) {
    let at: Date | undefined;
    try {
      at = certNotAfter(pem);
    } catch {
      at = undefined;
    }
    caNotAfter = { pem, at };
  }
  return caNotAfter.at;
}

/** GET /health's judged state, now. */
export function healthReport(s: AdminSource, now = new Date()): HealthCore {
  const snap = s.proxy.snapshot();
  const promo = s.promotion();
  const arbiter: ArbiterReport = {
    active: snap.arbiter.active, epoch: snap.arbiter.epoch, primary: s.primary, failback: s.failback.view(),
    heldWrites: snap.arbiter.heldRequests,
    ...(promo.lagMs !== undefined ? { lastFailoverLagMs: promo.lagMs } : {}),
    warnings: promo.warnings,
  };
  const info = s.proxy.tls.crl.info;
  const caCert = caCertNotAfter(s.proxy.tls.ca);
  const core = assessHealth({
    now,
    pools: [poolReport("ca", snap.pools.ca, "active/standby"), poolReport("masters", snap.pools.masters, snap.pools.masters.balance)],
    arbiter,
    sync: s.sync(),
    ...(caCert ? { caCertNotAfter: caCert } : {}),
    crl: { ...(info.nextUpdate ? { nextUpdate: info.nextUpdate } : {}), ...(info.number !== undefined ? { number: info.number.toString() } : {}) },
  }, healthThresholds(s.admin()));
  const cluster = s.proxy.cluster?.snapshot();
  return cluster ? withCluster(core, cluster) : core;
}

/** In a cluster, on a proxy that is not the controller: where CA decisions are forwarded to. */
function elsewhere(s: AdminSource) {
  const c = s.proxy.cluster;
  if (!c || c.decides()) return undefined;
  return { controllerUrl: c.controllerAdminUrl(), tokenFile: s.admin().tokenFile, timeoutMs: 25_000 };
}

/** In a cluster: record a drain/enable in etcd, where every proxy reads it (control/drains.ts). */
async function clusterWide(s: AdminSource, name: string, drained: boolean): Promise<void> {
  const c = s.proxy.cluster;
  if (!c) return;
  try {
    await c.drains.set(name, drained);
  } catch (err) {
    throw new AdminUnavailableError(`${drained ? "drained" : "enabled"} on this proxy only: etcd could not be written (${(err as Error).message}); retry`, { cause: err });
  }
}

/**
 * The admin actions on the running proxy; errors are typed for admin-errors.ts. With proxy.cluster,
 * failover and failback are the controller's: another proxy forwards them to it (admin-forward.ts).
 */
export function proxyActions(s: AdminSource): AdminActions {
  const { proxy } = s;
  const known = (name: string) => {
    if (!proxy.ca.get(name) && !proxy.masters.get(name)) throw new UnknownBackendError(name);
  };
  return {
    caState(): CaState {
      return { epoch: proxy.arbiter.epoch, active: proxy.arbiter.active, primary: s.primary, failback: s.failback.view() };
    },
    async failover() {
      const forward = elsewhere(s);
      if (forward) return forwardToController(forward, "/api/ca/failover");
      try {
        return await proxy.failover("admin failover");
      } catch (err) {
        if (err instanceof NoHealthyBackendError) throw new AdminConflictError(`failover refused: ${err.message}`, { cause: err });
        throw err;
      }
    },
    failback: () => {
      const forward = elsewhere(s);
      return forward ? forwardToController(forward, "/api/ca/failback") : s.failback.run("admin");
    },
    async drain(name) {
      known(name);
      try {
        proxy.drain(name);
      } catch (err) {
        if (err instanceof UsageError) throw new AdminConflictError(err.message, { cause: err });
        throw err;
      }
      await clusterWide(s, name, true);
      return { backend: name, drained: true };
    },
    async enable(name) {
      known(name);
      proxy.enable(name);
      await clusterWide(s, name, false);
      return { backend: name, drained: false };
    },
  };
}

/** Listen with the admin app: HTTPS when admin.tls is set; header/request timeouts set explicitly. */
export async function listenAdmin(adminApp: RequestListener, cfg: AdminConfig): Promise<Server> {
  const app = hostGuard(adminApp, cfg);
  let server: Server;
  if (cfg.tls) {
    const read = (path: string, what: string) => {
      try {
        return readFileSync(path);
      } catch (cause) {
        throw new FileAccessError(path, what, { cause });
      }
    };
    server = createHttpsServer({ cert: read(cfg.tls.cert, "admin TLS certificate"), key: read(cfg.tls.key, "admin TLS key") }, app);
  } else {
    server = createHttpServer(app);
  }
  server.headersTimeout = 10_000;
  // A failback request waits for the pulls and the switch: the answer may take a while, but the
  // request itself is small.
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  server.timeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(new ListenError(`admin: cannot listen on ${cfg.listen.host}:${cfg.listen.port}: ${err.code ?? err.message}`, { cause: err })));
    server.listen(cfg.listen.port, cfg.listen.host, () => resolve());
  });
  return server;
}

export function closeAdmin(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
