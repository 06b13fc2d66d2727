// `puppet-ha proxy` as one object: the ProxyServer, the in-process sync service (when the config
// has a sync section), the sync peers of the CA workers, the promotion hook (serial advance, lag),
// the guarded failback and the admin listener, started and stopped together.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import type { Config } from "../config/schema.js";
import { UsageError } from "../errors.js";
import { createAdminApp } from "../health/app.js";
import { EventKind } from "../health/events.js";
import type { HealthCore } from "../health/health-status.js";
import type { SyncDestinationReport } from "../health/report.js";
import type { Logger } from "../log.js";
import { nodeCron } from "../sync/triggers.js";
import { createSyncService, type PassReport, type SyncService, type SyncServiceOptions } from "../sync/service.js";
import { healthReports } from "../sync/status.js";
import { parseLocation } from "../sync/rsync.js";
import { realScheduler } from "./scheduler.js";
import { closeAdmin, healthReport, listenAdmin, proxyActions, type AdminSource } from "./admin.js";
import type { ProxyCluster } from "./control/cluster.js";
import { controllerCron } from "./control/controller-cron.js";
import { FailbackDriver, type FailbackDriverOptions } from "./control/failback-driver.js";
import { promotionHook } from "./control/promotion.js";
import { ProxyServer, type ProxyServerOptions } from "./server.js";
import { httpSyncPeer, localSyncPeer, type SyncPeer } from "./control/sync-peer.js";
import { VERSION } from "../version.js";
import { keyFileWarning } from "../token.js";


export interface ProxyRuntimeOptions extends Omit<ProxyServerOptions, "config"> {
  /** The whole config file (proxy section required; admin and sync used). */
  config: Config;
  /** Test seams of the in-process sync service. */
  sync?: Pick<SyncServiceOptions, "clock" | "cron" | "watch" | "env">;
}

/** Failback with several proxies: the controller's alone, its final pull under the cluster-wide hold. */
function clusterFailback(c: ProxyCluster): Pick<FailbackDriverOptions, "quiesce" | "readyToQuiesce" | "decides"> {
  return { quiesce: (target, ms) => c.quiesce(target, ms), readyToQuiesce: () => c.readyToQuiesce(), decides: () => c.decides() };
}

export class ProxyRuntime {
  readonly proxy: ProxyServer;
  readonly sync: SyncService | undefined;
  readonly failback: FailbackDriver;
  private config: Config;
  private admin: Server | undefined;
  private readonly log: Logger;
  private readonly peers = new Map<string, SyncPeer>();
  private promotion: { lagMs: number | undefined; warnings: string[] } = { lagMs: undefined, warnings: [] };
  /** Last status of remote sync agents, refreshed in the background (never waited for by /health). */
  private remote = new Map<string, { at: number; report: SyncDestinationReport | undefined; refreshing: boolean }>();
  private readonly diverged = new Map<string, string>();
  private stopping: Promise<void> | undefined;
  /** Extra parts stopped with the runtime (the fleet counts' broker connection). */
  readonly onStop: (() => Promise<void>)[] = [];

  private constructor(o: ProxyRuntimeOptions, proxy: ProxyServer) {
    const cfg = o.config;
    this.config = cfg;
    this.proxy = proxy;
    this.log = o.log.child({ part: "proxy" });
    const p = cfg.proxy as NonNullable<Config["proxy"]>;
    const primary = p.ca.workers[0]?.name as string;
    if (cfg.sync) {
      const arbiter = proxy.arbiter;
      const cluster = proxy.cluster;
      this.sync = createSyncService({
        config: cfg.sync,
        arbiter: { current: () => Promise.resolve({ epoch: arbiter.epoch, active: arbiter.active }) },
        log: o.log,
        ...o.sync,
        // Several proxies: scheduled passes on the controller only (started when elected, stopped when it steps down).
        ...(cluster ? { cron: controllerCron(o.sync?.cron ?? nodeCron, cluster.leadership()) } : {}),
      });
      this.sync.events.on("pass", (r: PassReport) => this.notePass(r));
      proxy.metrics.countSyncPasses(this.sync.events); // every pass, not the last one per scrape
    }
    for (const w of p.ca.workers) {
      if (w.sync) this.peers.set(w.name, httpSyncPeer({ worker: w.name, url: w.sync, tokenFile: cfg.admin.tokenFile }));
      else if (this.sync && this.writesLocally(w.name)) this.peers.set(w.name, localSyncPeer(this.sync, w.name));
    }
    const sched = o.scheduler ?? realScheduler;
    const peerCallMs = () => Math.max(200, Math.min(5000, Math.floor((this.config.proxy?.ca.holdWrites ?? 10_000) / 3)));
    this.failback = new FailbackDriver({
      arbiter: proxy.arbiter, primary,
      primaryHealth: () => {
        const b = proxy.ca.get(primary);
        const up = b?.state === "up" && !b.drained;
        return { up, state: b ? `${b.drained ? "drained" : b.state}${b.lastCheckError ? `: ${b.lastCheckError}` : ""}` : "unknown" };
      },
      peer: () => this.peers.get(primary),
      policy: p.ca.failback, afterMs: p.ca.failbackAfter,
      pullTimeoutMs: Math.max(60_000, cfg.sync?.rsync.timeout ?? 0),
      finalTimeoutMs: () => Math.max(500, (this.config.proxy?.ca.holdWrites ?? 10_000) - 500),
      events: proxy.events, log: this.log, scheduler: sched,
      ...(proxy.cluster ? clusterFailback(proxy.cluster) : {}),
      ...(o.plane?.role === "primary" && !proxy.cluster ? { quiesce: o.plane.quiesce.bind(o.plane) } : {}),
    });
    proxy.arbiter.onTransition((t) => this.sync?.noteEpoch(t.epoch));
    proxy.arbiter.onPromotion(promotionHook({
      peer: (w) => this.peers.get(w),
      serialGap: () => this.config.proxy?.ca.serialGap ?? 0,
      timeoutMs: peerCallMs,
      events: proxy.events, log: this.log,
      record: (r) => {
        this.promotion = { lagMs: "lagMs" in r ? r.lagMs : this.promotion.lagMs, warnings: r.warnings };
      },
    }));
    if (this.sync) {
      const sync = this.sync;
      // Cheap: the worker merges requests into at most one more pass. In a cluster only the controller syncs.
      const cluster = proxy.cluster;
      proxy.onCaWrite = () => {
        if (!cluster || cluster.decides()) void sync.requestPass(undefined, "ca-write").catch(() => undefined);
      };
    }
  }

  /** Start the proxy, in-process sync, failback watch and admin listener. */
  static async start(o: ProxyRuntimeOptions): Promise<ProxyRuntime> {
    if (!o.config.proxy) throw new UsageError("the config has no proxy section");
    let rt: ProxyRuntime | undefined;
    const cluster = o.config.proxy.cluster && { config: o.config.proxy.cluster, adminUrl: () => (rt ? rt.adminUrl : "") };
    const proxy = await ProxyServer.start({ ...o, config: o.config.proxy, ...(cluster ? { cluster } : {}) });
    try {
      rt = new ProxyRuntime(o, proxy);
      const source = rt.source();
      // fleet.broker: the fleet's counts on the status page (loaded only then); "never reported" from a local cadir.
      const fleet = o.config.fleet?.broker && new (await import("../twitch/fleet/fleet-counts.js")).FleetCountsWatcher(
        { ...o.config.fleet, broker: o.config.fleet.broker }, o.log.child({ part: "fleet" }), Date.now,
        (await import("../twitch/fleet/signed-certnames.js")).signedCertnamesOf(o.config.sync?.cadirs, () => proxy.arbiter.active)).start();
      if (fleet) rt.onStop.push(() => fleet.stop());
      const plane = o.plane?.role === "primary" ? o.plane : undefined;
      const report = () => (fleet ? { ...healthReport(source), fleet: fleet.counts } : healthReport(source));
      const app = createAdminApp({
        getReport: plane ? () => plane.report(report()) : report, actions: proxyActions(source), events: proxy.events, metrics: proxy.metrics,
        tokenFile: o.config.admin.tokenFile, version: VERSION, logger: o.log.child({ part: "admin" }),
      });
      rt.admin = await listenAdmin(app, o.config.admin);
      const adminKeyWarning = o.config.admin.tls && keyFileWarning(o.config.admin.tls.key, "admin TLS key");
      if (adminKeyWarning) o.log.warn(adminKeyWarning);
      if (rt.sync) {
        rt.sync.noteEpoch(proxy.arbiter.epoch);
        await rt.sync.start();
      }
      rt.failback.start();
      proxy.cluster?.start();
      o.log.info({ part: "admin", listen: rt.adminAddress, tls: Boolean(o.config.admin.tls), sync: rt.sync ? rt.sync.destinations : undefined }, "admin listening");
      return rt;
    } catch (err) {
      if (rt) await rt.stop(0);
      else await proxy.stop(0);
      throw err;
    }
  }

  get adminAddress(): { host: string; port: number } {
    const a = (this.admin as Server).address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** This proxy's admin URL as the other proxies of a cluster reach it. */
  get adminUrl(): string {
    const { host, port } = this.adminAddress;
    const name = host === "0.0.0.0" || host === "::" ? hostname() : host.includes(":") ? `[${host}]` : host;
    return `${this.config.admin.tls ? "https" : "http"}://${name}:${port}`;
  }

  /** What the admin listener reads. */
  private source(): AdminSource {
    return {
      proxy: this.proxy, primary: this.config.proxy?.ca.workers[0]?.name ?? "", failback: this.failback,
      admin: () => this.config.admin, promotion: () => this.promotion, sync: () => this.syncReports(),
    };
  }

  /** GET /health's judged state (without version and events). */
  report(): HealthCore {
    return healthReport(this.source());
  }

  /** A cadir the in-process service writes (a destination) or can advance (local). */
  private writesLocally(worker: string): boolean {
    const text = this.config.sync?.cadirs[worker];
    return text !== undefined && (this.sync?.destinations.includes(worker) === true || parseLocation(text).kind === "local");
  }

  /** Sync state of every cadir: the in-process destinations, then remote agents (cached). */
  syncReports(): SyncDestinationReport[] {
    const out: SyncDestinationReport[] = this.sync ? healthReports(this.sync.status().destinations) : [];
    const now = Date.now();
    for (const [worker, peer] of this.peers) {
      if (peer.where === "in-process") continue;
      const cached = this.remote.get(worker) ?? { at: 0, report: undefined, refreshing: false };
      this.remote.set(worker, cached);
      if (!cached.refreshing && now - cached.at > 2000) {
        cached.refreshing = true;
        peer.status(2000).then((r) => {
          cached.report = r;
          if (r) this.noteDivergence(worker, r.state === "diverged" ? JSON.stringify(r.divergence ?? []) : undefined, r.divergence?.map((d) => [d.serial && `serial ${d.serial}`, d.subject].filter(Boolean).join(" ")).join("; "));
        }, (err: Error) => {
          cached.report = { destination: worker, state: "error", lastError: err.message };
        }).finally(() => {
          cached.at = Date.now();
          cached.refreshing = false;
        });
      }
      if (cached.report && !out.some((r) => r.destination === worker)) out.push(cached.report);
    }
    return out;
  }

  private notePass(r: PassReport): void {
    const what = r.differences?.map((d) => [d.serial && `serial ${d.serial}`, d.subject, d.message].filter(Boolean).join(" ")).join("; ");
    this.noteDivergence(r.destination, r.result === "diverged" ? JSON.stringify(r.differences ?? []) : undefined, what);
  }

  /** One divergence event per distinct divergence of a cadir (passes repeat it every minute). */
  private noteDivergence(destination: string, key: string | undefined, what: string | undefined): void {
    if (key === undefined) {
      this.diverged.delete(destination);
      return;
    }
    if (this.diverged.get(destination) === key) return;
    this.diverged.set(destination, key);
    this.proxy.events.record(EventKind.divergence, `${destination} diverged from the active CA: ${what ?? "see /health"}; nothing copied, operator decision needed`);
  }

  /** SIGHUP: the proxy section (see ProxyServer.reload), failback policy, admin thresholds. */
  reload(next: Config): void {
    if (!next.proxy) throw new UsageError("the config has no proxy section");
    this.proxy.reload(next.proxy);
    this.failback.configure(next.proxy.ca.failback, next.proxy.ca.failbackAfter);
    const cur = this.config;
    const changed = (a: unknown, b: unknown) => JSON.stringify(a) !== JSON.stringify(b);
    const restart = [
      ...(changed(cur.proxy?.cluster, next.proxy.cluster) ? ["proxy.cluster"] : []),
      ...(changed(cur.sync, next.sync) ? ["sync"] : []),
      ...(cur.log.format !== next.log.format ? ["log.format"] : []),
      ...(changed(cur.admin.listen, next.admin.listen) || changed(cur.admin.tls, next.admin.tls) || cur.admin.tokenFile !== next.admin.tokenFile ? ["admin.listen/tls/tokenFile"] : []),
    ];
    this.config = { ...next, sync: cur.sync, admin: { ...next.admin, listen: cur.admin.listen, tls: cur.admin.tls, tokenFile: cur.admin.tokenFile } };
    if (restart.length > 0) this.log.warn({ keys: restart }, "these changes need a restart and were not applied");
  }

  /** Stop everything; in-flight proxied requests get graceMs (timeouts.shutdown). Idempotent. */
  stop(graceMs?: number): Promise<void> {
    this.stopping ??= (async () => {
      this.failback.stop();
      await Promise.all([
        this.proxy.stop(graceMs),
        this.admin ? closeAdmin(this.admin) : Promise.resolve(),
        this.sync?.stop(),
        ...this.onStop.map((f) => f()),
      ]);
    })();
    return this.stopping;
  }
}
