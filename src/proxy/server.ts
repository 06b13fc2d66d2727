// The proxy process wiring: HTTPS listener with per-connection identity, pools, arbiter, health
// checker and CRL refresher glued together; access log, reload (SIGHUP) and draining stop.
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createSecureContext, type TLSSocket } from "node:tls";
import { ListenError, NoHealthyBackendError, StateError, UsageError } from "../errors.js";
import { EventKind, EventLog } from "../health/events.js";
import { HealthMetrics } from "../health/metrics.js";
import type { Logger } from "../log.js";
import { Arbiter } from "./control/arbiter.js";
import { realScheduler, type Scheduler } from "./scheduler.js";
import type { CaRouter } from "./control/ca-router.js";
import type { ProxyConfig } from "./config.js";
import { ProxyCluster } from "./control/cluster.js";
import { ClusterCaRouter } from "./control/cluster-router.js";
import type { ClusterConfig } from "./control/config.js";
import { CrlRefresher, type CrlFetch } from "./control/crl-refresh.js";
import { Admission } from "./admission.js";
import { Exchange, trackConnection, type ForwardContext } from "./forward.js";
import { HealthChecker, passiveFailure, type Probe } from "./health-check.js";
import { admitted, identify, identityOf, refuse } from "./identity.js";
import { BackendPool, usable, type BackendInfo } from "./pool.js";
import { classify } from "./route.js";
import { poolView, type ProxySnapshot, type ProxySnapshotSource } from "./snapshot.js";
import { openFileState, type CaState } from "./control/store.js";
import { replyError } from "./respond.js";
import { TlsMaterial } from "./tls.js";
import { keyFileWarning, redactTarget } from "../token.js";
import { attachUpstreams, backendWentDown, closeUpstreams, type Upstream, type UpstreamSettings } from "./upstream.js";
import type { ProcessPlane } from "./workers/plane.js";

export interface ProxyServerOptions {
  config: ProxyConfig;
  log: Logger;
  /** Where access log lines go (default: a child of log). See access-log.ts. */
  accessLog?: Logger;
  /** Test seams. */
  scheduler?: Scheduler;
  probe?: Probe;
  crlFetch?: CrlFetch;
  /** Shared with the admin listener (default: new ones). */
  events?: EventLog;
  metrics?: HealthMetrics;
  /**
   * proxy.cluster: the CA decision lives in etcd (control/cluster.ts), this proxy's admin URL as
   * the others reach it. Started by the caller once the admin listener is up (startCluster).
   */
  cluster?: { config: ClusterConfig; adminUrl: () => string };
  /** proxy.workers > 1: this process is the primary (no listener) or a data-plane worker (src/proxy/workers/). */
  plane?: ProcessPlane;
}

export class ProxyServer implements ProxySnapshotSource {
  readonly ca: BackendPool;
  readonly masters: BackendPool;
  readonly arbiter: Arbiter;
  /** With proxy.cluster: this proxy's part in the cluster (else undefined: the state file decides). */
  readonly cluster: ProxyCluster | undefined;
  /** What the data plane asks where CA requests go: the arbiter alone, or the cluster's follower first. */
  readonly router: CaRouter;
  readonly tls: TlsMaterial;
  /** Backend up/down and CRL reloads land here; the admin listener shows them. */
  readonly events: EventLog;
  readonly metrics: HealthMetrics;
  /** Told after every CA write answered 2xx (in-process sync asks for a pass). */
  onCaWrite: (() => void) | undefined;
  private readonly checker: HealthChecker;
  private readonly crl: CrlRefresher;
  private readonly server: Server;
  private readonly sockets = new Set<TLSSocket>();
  private readonly upstreams: Upstream[];
  private readonly ctx: ForwardContext;
  /** Requests in flight per client address and without a certificate (proxy.limits). */
  readonly admission: Admission;
  private readonly upstreamSettings: UpstreamSettings;
  private config: ProxyConfig;
  private readonly log: Logger;
  private readonly access: Logger;
  private stopping: Promise<void> | undefined;

  private constructor(o: ProxyServerOptions) {
    const c = o.config;
    this.config = c;
    this.log = o.log.child({ part: "proxy" });
    this.access = o.accessLog ?? o.log.child({ part: "access" });
    const sched = o.scheduler ?? realScheduler;
    this.events = o.events ?? new EventLog();
    this.metrics = o.metrics ?? new HealthMetrics();
    this.ca = new BackendPool("ca", c.ca.workers, "round-robin", () => sched.now());
    this.masters = new BackendPool("masters", c.masters.workers, c.masters.balance, () => sched.now());
    this.upstreamSettings = { connectMs: c.timeouts.connect };
    this.upstreams = [...attachUpstreams(this.ca, this.upstreamSettings), ...attachUpstreams(this.masters, this.upstreamSettings)];
    for (const pool of [this.ca, this.masters]) this.metrics.registerBackends(pool.name, pool.backends.map((b) => b.name));
    const statePath = join(c.stateDir, "arbiter.json");
    const workers = c.ca.workers.map((w) => w.name);
    const plane = o.plane;
    const worker = plane?.role === "worker" ? plane : undefined;
    const cluster = (this.cluster = o.cluster && new ProxyCluster({
      config: o.cluster.config, workers, adminUrl: o.cluster.adminUrl, scheduler: sched, log: this.log, applyDrained: (names) => this.applyDrained(names),
      ...(plane?.role === "primary" ? { dataPlane: plane.holdAcks } : {}),
    }));
    const arbiterState = (): { initial: CaState; commit: (next: CaState) => Promise<void> } => {
      if (cluster) return cluster.arbiterState();
      const initial = { epoch: 0, active: workers[0] as string };
      if (worker) return { initial, commit: () => Promise.reject(new StateError(statePath, "a data-plane worker does not decide the active CA (the primary process does)")) };
      const file = openFileState(statePath, workers[0] as string);
      const primary = plane?.role === "primary" ? plane : undefined;
      return primary ? { initial: file.initial, commit: async (next) => { await primary.commit(next); await file.commit(next); } } : file;
    };
    this.arbiter = new Arbiter({
      // One proxy: the state file (through the workers first when there are any). A cluster: etcd,
      // through the controller's commit. A data-plane worker never decides: it follows the primary.
      workers, ...arbiterState(),
      isUsable: (n) => { const b = this.ca.get(n); return b !== undefined && usable(b); },
      isPromotable: (n) => { const b = this.ca.get(n); return b?.state === "up" && !b.drained; },
      holdMs: c.ca.holdWrites, scheduler: sched, log: this.log,
      ...(cluster ? { decides: () => cluster.decides(), promoted: () => cluster.promoted() } : {}),
      ...(worker ? { decides: () => false } : {}),
    }, statePath);
    cluster?.attach(this.arbiter);
    worker?.attach(this.arbiter);
    const follower = cluster?.member.follower ?? worker?.follower;
    this.router = follower
      ? new ClusterCaRouter({ follower, arbiter: this.arbiter, holdMs: () => this.config.ca.holdWrites, scheduler: sched })
      : this.arbiter;
    this.tls = new TlsMaterial(c.tls, c.stateDir);
    this.tls.load();
    const keyWarning = keyFileWarning(c.tls.key, "proxy TLS key");
    if (keyWarning) this.log.warn(keyWarning);
    this.crl = new CrlRefresher({
      activeUrl: () => (this.ca.get(this.arbiter.active) as Upstream).url,
      offer: (pem, source) => this.tls.offer(pem, source),
      adopted: () => {
        this.swapContext();
        this.events.record(EventKind.crlReload, `CRL ${this.tls.crl.info.number?.toString() ?? "(no number)"} adopted from ${this.tls.crl.source}`);
      },
      refused: (reason) => this.events.record("crl-refused", reason),
      intervalMs: c.ca.crlRefresh, timeoutMs: c.timeouts.connect + c.health.timeout, maxBytes: () => this.config.ca.crlMaxSize,
      fetch: o.crlFetch, scheduler: sched, log: this.log,
      fetched: (result) => this.metrics.operator.crlFetched(result),
    });
    this.checker = new HealthChecker(
      [{ pool: this.ca, path: c.health.caPath }, { pool: this.masters, path: c.health.masterPath }],
      c.health, { probe: o.probe, scheduler: sched },
    );
    for (const pool of [this.ca, this.masters]) {
      pool.onChange((b, previous) => {
        this.log[b.state === "down" ? "warn" : "info"]({ pool: pool.name, backend: b.name, from: previous, to: b.state, reason: b.reason }, `backend ${b.state}`);
        if (b.state === "down" || previous !== "unknown") {
          this.events.record(b.state === "down" ? EventKind.backendDown : EventKind.backendUp, `${pool.name} ${b.name} ${b.state}: ${b.reason}`);
        }
        if (b.state === "down") {
          backendWentDown(b as Upstream);
          if (pool === this.ca) this.arbiter.workerDown(b.name, b.reason);
        } else if (pool === this.ca) this.arbiter.workerUp(b.name);
      });
    }
    // Every change of active CA this proxy applies (decided here or adopted from the cluster).
    this.arbiter.onTransition((t) => {
      this.metrics.countTransition(t.cause);
      void this.crl.kick();
    });
    this.ctx = {
      timeouts: c.timeouts, limits: c.limits, pinFileBucket: c.masters.pinFileBucket, ca: this.ca, masters: this.masters,
      arbiter: this.router, revoked: worker ? () => worker.revoked() : () => void this.crl.kick(),
      // A worker marks the backend down locally at once (as the primary's line will), so that its
      // own retries and held CA reads do not go back to it meanwhile; the primary still decides.
      markDown: (b, reason) => {
        passiveFailure(b.pool === "ca" ? this.ca : this.masters, b, reason);
        worker?.markDown(b.pool === "ca" ? "ca" : "masters", b.name, reason);
      },
      admission: (this.admission = new Admission({ perClient: c.limits.perClient, unauthenticated: c.limits.unauthenticated })),
      ended: (ex) => this.finished(ex), draining: false,
    };
    this.server = createServer({
      ...this.tls.contextOptions(), requestCert: true, rejectUnauthorized: false,
      maxHeaderSize: c.limits.headerSize, headersTimeout: c.timeouts.clientHeaders, requestTimeout: c.timeouts.clientRequest,
      keepAliveTimeout: c.timeouts.clientIdle, handshakeTimeout: c.timeouts.clientHeaders,
      connectionsCheckingInterval: Math.min(1000, c.timeouts.clientHeaders),
    }, (req, res) => this.handle(req, res));
    this.server.on("secureConnection", (s: TLSSocket) => this.accept(s));
    this.server.on("tlsClientError", (err: NodeJS.ErrnoException, s: TLSSocket) => {
      this.log.debug({ err: err.code ?? err.message, remote: s.remoteAddress }, "TLS handshake failed");
    });
  }

  /** Create, load state and TLS, listen; the first health checks start at once. */
  static async start(o: ProxyServerOptions): Promise<ProxyServer> {
    const p = new ProxyServer(o);
    if (o.plane?.role === "primary") {
      // The workers listen; the primary checks backends and keeps the CRL current for them.
      p.checker.start();
      p.crl.start();
      return p;
    }
    await new Promise<void>((resolve, reject) => {
      p.server.once("error", (err) => reject(new ListenError(`cannot listen on ${o.config.listen.host}:${o.config.listen.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err })));
      p.server.listen(o.config.listen.port, o.config.listen.host, () => resolve());
    });
    if (o.plane?.role !== "worker") {
      p.checker.start();
      p.crl.start();
    }
    p.log.info({ listen: p.address, active: p.arbiter.active, epoch: p.arbiter.epoch, crlNumber: p.tls.crl.info.number?.toString() }, "proxy listening");
    return p;
  }

  /** Agent connections open now. */
  get connections(): number {
    return this.sockets.size;
  }

  get address(): { host: string; port: number } {
    const a = this.server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** A new TLS connection: refuse a presented cert that failed verification or is revoked. */
  private accept(socket: TLSSocket): void {
    const { identity, refuse: refused } = identify(socket);
    const revoked = identity.serial !== undefined && this.tls.crl.info.revoked.has(identity.serial);
    if (refused !== undefined || revoked) {
      this.log.info({ remote: socket.remoteAddress, certname: identity.certname, reason: refused ?? "revoked" }, "client certificate refused");
      this.metrics.operator.clientCertRefused(refused ?? "revoked");
      refuse(socket);
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    trackConnection(socket);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    // Requests parsed before (or despite) the refusal at accept(): not one of them is forwarded.
    if (!admitted(req.socket)) {
      req.socket.destroy();
      return;
    }
    const route = classify(req.method ?? "", req.url ?? "");
    if (!route.ok) {
      const started = process.hrtime.bigint();
      replyError(res, 400, route.reason, { close: true });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.metrics.observeRequest(req.url?.startsWith("/puppet-ca/") ? "ca" : "masters", "none", 400, seconds);
      if (this.config.accessLog) {
        this.access.info({
          method: req.method, path: redactTarget(req.url), status: 400, ms: Math.round(seconds * 1e5) / 100, client: req.socket.remoteAddress,
          certname: identityOf(req.socket)?.certname, reason: route.reason,
        });
      }
      return;
    }
    if (this.ctx.draining) res.shouldKeepAlive = false;
    new Exchange(this.ctx, req, res, route).start();
  }

  /**
   * The one place a proxied request ends (ForwardContext.ended): metrics, the access log line
   * when proxy.accessLog is on, and the CA-write notice for in-process sync.
   */
  private finished(ex: Exchange): void {
    const backend = ex.backend;
    this.metrics.observeRequest(backend ? backend.pool : ex.route.pool === "ca" ? "ca" : "masters", backend ? backend.name : "none", ex.status, Number(process.hrtime.bigint() - ex.started) / 1e9);
    if (this.config.accessLog) this.logAccess(ex);
    if (ex.route.caWrite && ex.status >= 200 && ex.status < 300) this.onCaWrite?.();
  }

  private logAccess(ex: Exchange): void {
    this.access.info({
      method: ex.req.method, path: redactTarget(ex.route.target), status: ex.status, client: ex.address, bytes: ex.req.socket.bytesWritten - ex.startBytes,
      ms: Math.round(Number(process.hrtime.bigint() - ex.started) / 1e4) / 100, pool: ex.route.pool, backend: ex.backend?.name,
      certname: ex.identity?.certname, attempts: ex.attempts > 1 ? ex.attempts : undefined, error: ex.error?.code,
    });
  }

  /** Install the current cert/key/CA/CRL for new handshakes; cut connections of revoked certs. */
  private swapContext(): void {
    try {
      this.server.setSecureContext(this.tls.contextOptions());
    } catch (err) {
      // The running context stays; the CRL check at accept() still applies the new revocations.
      this.log.error({ err: err instanceof Error ? err.message : String(err) }, "TLS context update failed");
    }
    const revoked = this.tls.crl.info.revoked;
    for (const s of this.sockets) {
      const serial = identityOf(s)?.serial;
      if (serial !== undefined && revoked.has(serial)) {
        refuse(s);
        s.destroy();
      }
    }
    this.log.info({ crlNumber: this.tls.crl.info.number?.toString(), source: this.tls.crl.source }, "TLS context updated");
  }

  /** Admin action: make the first standby proven up the active CA (epoch+1, under the write hold). */
  async failover(reason = "admin failover"): Promise<{ epoch: number; active: string }> {
    const to = this.ca.backends.find((b) => b.name !== this.arbiter.active && b.state === "up" && !b.drained);
    if (!to) throw new NoHealthyBackendError("ca", "no standby CA worker is up");
    return this.arbiter.setActive(to.name, reason);
  }

  /** Admin action: no new requests to a backend (the active CA cannot be drained: fail over first). */
  drain(name: string): void {
    const b = this.ca.get(name) ?? this.masters.get(name);
    if (!b) throw new UsageError(`no backend named "${name}"`);
    if (b.pool === "ca" && b.name === this.arbiter.active) throw new UsageError(`"${name}" is the active CA: fail over first`);
    if ((b.pool === "ca" ? this.ca : this.masters).setDrained(name, true)) this.log.warn({ backend: name }, "backend drained");
  }

  /** Admin action: undo drain(). */
  enable(name: string): void {
    const pool = this.ca.get(name) ? this.ca : this.masters.get(name) ? this.masters : undefined;
    if (!pool) throw new UsageError(`no backend named "${name}"`);
    if (pool.setDrained(name, false)) {
      this.log.info({ backend: name }, "backend enabled");
      if (pool === this.ca) this.arbiter.workerUp(name);
    }
  }

  /** Cluster: adopt the cluster-wide drained set (the active CA is never drained here: fail over first). */
  private applyDrained(names: ReadonlySet<string>): void {
    for (const b of [...this.ca.backends, ...this.masters.backends]) {
      const want = names.has(b.name) && !(b.pool === "ca" && b.name === this.arbiter.active);
      if (want === b.drained) continue;
      if (want) this.drain(b.name);
      else this.enable(b.name);
    }
  }

  /** A CRL fetched elsewhere (proxy.workers: by the primary): "" when adopted (valid and newer), else why not. */
  offerCrl(pem: string, source: string): string {
    const why = this.tls.offer(pem, source);
    if (why === "") this.swapContext();
    return why;
  }

  /** Fetch the CRL from the active CA now (tests, admin). */
  refreshCrl(): Promise<void> {
    return this.crl.kick();
  }

  /**
   * Apply a new proxy config without dropping in-flight requests: TLS files (cert, key, CA, CRL)
   * are re-read, timeouts, limits, balance and health parameters replaced, compile masters added
   * and removed. Throws (and changes nothing) when the TLS files cannot be loaded. Changes that
   * need a restart (listen, stateDir, CA workers) are logged and not applied.
   */
  reload(next: ProxyConfig): void {
    const cur = this.config;
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    const needRestart: string[] = (["listen", "stateDir"] as const).filter((k) => !same(cur[k], next[k]));
    if (!same(cur.ca.workers, next.ca.workers)) needRestart.push("ca.workers");
    // Node takes the header limit when the listener is created only.
    if (cur.limits.headerSize !== next.limits.headerSize) needRestart.push("limits.headerSize");
    const tls = new TlsMaterial(next.tls, cur.stateDir);
    tls.crl = this.tls.crl; // never go back to an older CRL
    tls.load();
    createSecureContext(tls.contextOptions()); // a key that does not match its cert throws here, before anything changes
    Object.assign(this.tls, { files: tls.files, cert: tls.cert, key: tls.key, ca: tls.ca, caCerts: tls.caCerts, crl: tls.crl });
    this.swapContext();
    this.config = next;
    Object.assign(this.ctx, { timeouts: next.timeouts, limits: next.limits, pinFileBucket: next.masters.pinFileBucket });
    this.ctx.admission.limits = { perClient: next.limits.perClient, unauthenticated: next.limits.unauthenticated };
    this.upstreamSettings.connectMs = next.timeouts.connect;
    this.masters.balance = next.masters.balance;
    if (!same(cur.masters.workers, next.masters.workers)) this.replaceMasters(next.masters.workers, next.timeouts.response);
    this.checker.params = next.health;
    this.arbiter.setHoldMs(next.ca.holdWrites);
    this.crl.setIntervalMs(next.ca.crlRefresh);
    this.server.headersTimeout = next.timeouts.clientHeaders;
    this.server.requestTimeout = next.timeouts.clientRequest;
    this.server.keepAliveTimeout = next.timeouts.clientIdle;
    if (needRestart.length > 0) this.log.warn({ keys: needRestart }, "config reloaded; these changes need a restart and were not applied");
    else this.log.info("config reloaded");
  }

  /** Reload: add and remove compile masters; requests in flight on a removed one may finish. */
  private replaceMasters(workers: readonly BackendInfo[], graceMs: number): void {
    const { added, removed } = this.masters.reconcile(workers);
    // attachUpstreams works in place on a pool's members: hand it just the new ones.
    this.upstreams.push(...attachUpstreams({ backends: added } as unknown as BackendPool, this.upstreamSettings));
    this.checker.membersChanged(this.masters, added, removed);
    this.metrics.registerBackends(this.masters.name, added.map((b) => b.name));
    const deadline = Date.now() + graceMs;
    const retire = (b: Upstream) => {
      if (b.outstanding > 0 && Date.now() < deadline && !this.stopping) {
        setTimeout(retire, 200, b).unref();
        return;
      }
      const i = this.upstreams.indexOf(b);
      if (i >= 0) this.upstreams.splice(i, 1);
      closeUpstreams([b]);
    };
    for (const b of removed as Upstream[]) retire(b);
    const names = (l: readonly { name: string }[]) => l.map((b) => b.name);
    this.log.warn({ added: names(added), removed: names(removed), masters: names(this.masters.backends) }, "compile masters changed");
    this.events.record("config", `compile masters changed on reload: ${[...names(added).map((n) => `+${n}`), ...names(removed).map((n) => `-${n}`)].join(" ")}`);
  }

  snapshot(): ProxySnapshot {
    const ca = poolView(this.ca, "active/standby");
    const masters = poolView(this.masters, this.masters.balance);
    const arbiter = this.arbiter.snapshot();
    const info = this.tls.crl.info;
    const lf = this.crl.lastFetch;
    return {
      healthy: ca.backends.some((b) => b.name === arbiter.active && b.usable) && masters.usable > 0,
      pools: { ca, masters }, arbiter,
      crl: {
        number: info.number?.toString(), thisUpdate: info.thisUpdate.toISOString(), nextUpdate: info.nextUpdate?.toISOString(),
        source: this.tls.crl.source, lastFetch: lf && { at: new Date(lf.at).toISOString(), result: lf.result },
      },
    };
  }

  /**
   * Stop accepting, let in-flight requests finish for up to graceMs (timeouts.shutdown), then cut
   * what is left. Idempotent.
   */
  stop(graceMs = this.config.timeouts.shutdown): Promise<void> {
    this.stopping ??= (async () => {
      this.ctx.draining = true;
      this.checker.stop();
      this.crl.stop();
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), graceMs); });
      const idle = setInterval(() => this.server.closeIdleConnections(), 100);
      const timedOut = await Promise.race([closed.then(() => false), late]);
      clearInterval(idle);
      clearTimeout(timer);
      if (timedOut) {
        this.log.warn({ open: this.sockets.size }, "shutdown grace over: closing remaining connections");
        this.server.closeAllConnections();
        for (const s of this.sockets) s.destroy();
        await closed;
      }
      this.arbiter.close();
      await this.cluster?.stop();
      closeUpstreams(this.upstreams);
      this.log.info("proxy stopped");
    })();
    return this.stopping;
  }
}
