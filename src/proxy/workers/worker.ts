// A data-plane worker of `puppet-ha proxy` (proxy.workers > 1): serves agents on the listener all
// workers share and routes CA requests by the state the primary sends, applied (and acknowledged)
// before any further CA write; backend states, CRLs and config reloads come from the primary too.
import cluster from "node:cluster";
import type { Config } from "../../config/schema.js";
import { createLogger, type Logger } from "../../log.js";
import { createAccessLogger } from "../access-log.js";
import type { Arbiter } from "../control/arbiter.js";
import { Follower } from "../control/follower.js";
import { ProxyServer } from "../server.js";
import { parseToWorker, type BackendLine, type ToPrimary, type ToWorker, type WorkerView } from "./messages.js";
import type { WorkerPlane } from "./plane.js";

type Init = Extract<ToWorker, { type: "init" }>;

function send(msg: ToPrimary): void {
  if (process.connected) process.send?.(msg);
}

/** The worker side of the CA decision: the follower of the primary's state, tied to the local arbiter. */
export function followerPlane(follower: Follower, tell: (msg: ToPrimary) => void): WorkerPlane {
  return {
    role: "worker", follower,
    attach(arbiter: Arbiter) {
      const observe = () => {
        const s = follower.state;
        if (s) arbiter.observe({ epoch: s.epoch, active: s.active });
      };
      follower.onChange(observe);
      observe();
    },
    markDown: (pool, backend, reason) => tell({ type: "passive", pool, backend, reason }),
    revoked: () => tell({ type: "revoked" }),
  };
}

/** Backend states and drains as the primary's checks and admin actions set them. */
export function applyBackends(proxy: ProxyServer, lines: readonly BackendLine[]): void {
  for (const l of lines) {
    const pool = l.pool === "ca" ? proxy.ca : proxy.masters;
    if (!pool.get(l.name)) continue; // a master added by a reload this worker has not applied yet
    if (l.state !== "unknown") pool.setState(l.name, l.state, l.reason);
    if (pool.setDrained(l.name, l.drained) && !l.drained && l.pool === "ca") proxy.arbiter.workerUp(l.name);
  }
}

function firstInit(): Promise<Init> {
  return new Promise((resolve, reject) => {
    process.once("message", (raw) => {
      try {
        const msg = parseToWorker(raw);
        if (msg.type !== "init") throw new Error(`expected "init" from the primary, got "${msg.type}"`);
        resolve(msg);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    send({ type: "ready" });
  });
}

interface Handlers {
  log: Logger;
  /** The primary's view deadline (proxy.cluster), before the state is applied. */
  view(v: WorkerView): void;
  /** The primary's revision this worker has seen (reported with the state applied). */
  seen(revision: number): void;
  report(): void;
  stop(ms: number): void;
  /** A reloaded config was applied: take its log level too. */
  reloaded(cfg: Config): void;
}

async function handle(proxy: ProxyServer, follower: Follower, msg: ToWorker, o: Handlers): Promise<void> {
  switch (msg.type) {
    case "state":
      o.seen(msg.revision);
      o.view(msg.view);
      // Adopted: the follower's listeners observe it into the arbiter, then report it. Not newer:
      // held requests ask again (the deadline moved) and the primary hears this revision anyway.
      if (!follower.apply({ state: msg.state, revision: msg.revision })) {
        follower.viewChanged();
        o.report();
      }
      return;
    case "backends":
      applyBackends(proxy, msg.backends);
      return;
    case "crl":
      proxy.offerCrl(msg.pem, msg.source);
      return;
    case "reload":
      try {
        const cfg = msg.config as unknown as Config;
        proxy.reload(cfg.proxy as NonNullable<Config["proxy"]>);
        o.reloaded(cfg);
        send({ type: "reloaded", ok: true });
      } catch (err) {
        send({ type: "reloaded", ok: false, error: err instanceof Error ? err.message : String(err) });
      }
      return;
    case "stats": {
      const backends = [...proxy.ca.backends, ...proxy.masters.backends].map((b) => ({
        pool: b.pool === "ca" ? "ca" as const : "masters" as const, name: b.name, inFlight: b.outstanding, requests: b.requests, errors: b.errors,
      }));
      const metrics = await proxy.metrics.registry.getMetricsAsJSON();
      send({ type: "stats", id: msg.id, backends, heldRequests: proxy.arbiter.snapshot().heldRequests, connections: proxy.connections, caWritesInFlight: follower.writesInFlight, metrics });
      return;
    }
    case "stop":
      o.stop(msg.graceMs);
      return;
    case "init":
      o.log.warn("a second init from the primary was ignored");
  }
}

/** The worker process: wait for the primary's init, serve until told to stop (or the primary is gone). */
export async function runWorker(): Promise<void> {
  const init = await firstInit();
  const cfg = init.config as unknown as Config;
  const p = cfg.proxy as NonNullable<Config["proxy"]>;
  const log = createLogger(cfg.log).child({ worker: cluster.worker?.id });
  const accessLog = createAccessLogger(cfg.log, log);
  // One proxy: no deadline (a worker exits with its primary). proxy.cluster: the primary's view deadline.
  let view = init.view;
  const source = {
    deadline: () => view.deadline ?? Infinity,
    get unreachableSince() {
      return view.unreachableSince ?? undefined;
    },
  };
  const retryAfterS = Math.ceil((p.cluster?.ttl ?? 1000) / 1000);
  const follower = new Follower({ view: source, workers: p.ca.workers.map((w) => w.name), retryAfterS });
  if (init.state) follower.apply({ state: init.state, revision: init.revision });
  let revision = init.revision;
  const proxy = await ProxyServer.start({ config: p, log, accessLog, plane: followerPlane(follower, send) });
  proxy.onCaWrite = () => send({ type: "caWrite" });
  applyBackends(proxy, init.backends);
  proxy.offerCrl(init.crl.pem, init.crl.source);
  const report = () => send({ type: "applied", revision, epoch: follower.state?.epoch ?? 0, inFlight: follower.writesInFlight, holdAck: follower.holdAck() });
  follower.onChange(report);
  report();

  let stopping: Promise<void> | undefined;
  const stop = (graceMs?: number) => {
    stopping ??= proxy.stop(graceMs).then(() => {
      accessLog.flush();
      process.exit(0);
    });
  };
  const o: Handlers = {
    log, stop, report,
    view(v: WorkerView) {
      view = v;
    },
    reloaded(next: Config) {
      log.level = next.log.level;
      accessLog.level = next.log.level;
    },
    seen(rev: number) {
      revision = Math.max(revision, rev);
    },
  };
  process.on("message", (raw) => {
    let msg: ToWorker;
    try {
      msg = parseToWorker(raw);
    } catch (err) {
      log.error({ err: (err as Error).message }, "message from the primary refused");
      return;
    }
    handle(proxy, follower, msg, o).catch((err: unknown) => log.error({ err }, `worker: handling "${msg.type}" failed`));
  });
  // The primary drives reloads and stops; a signal to the whole process group must not kill a worker mid-request.
  process.on("SIGHUP", () => undefined);
  process.on("SIGTERM", () => stop());
  process.on("SIGINT", () => stop());
  process.on("disconnect", () => stop()); // the primary is gone
  send({ type: "listening", port: proxy.address.port });
  await new Promise<never>(() => undefined);
}
