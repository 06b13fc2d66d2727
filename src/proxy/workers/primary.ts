// The primary process of `puppet-ha proxy` with proxy.workers > 1: keeps every data-plane worker
// (supervisor.ts) on its one CA decision (a new active CA is applied by every worker before by the
// arbiter; a failback hold is acknowledged by all), feeds them backends, CRLs and reloads, sums them up.
import { randomUUID } from "node:crypto";
import type { Config } from "../../config/schema.js";
import { HoldNotAcknowledgedError } from "../../errors.js";
import { EventKind } from "../../health/events.js";
import type { HealthCore } from "../../health/health-status.js";
import { withWorkers, type WorkerSnapshot } from "../../health/workers.js";
import type { Logger } from "../../log.js";
import { passiveFailure } from "../health-check.js";
import type { ProxyCluster } from "../control/cluster.js";
import type { ProxyRuntime } from "../runtime.js";
import type { ArbiterState } from "../control/arbiter.js";
import { parseToPrimary, type BackendLine, type ToPrimary, type ToWorker, type WorkerCaState, type WorkerView } from "./messages.js";
import type { PrimaryPlane } from "./plane.js";
import { Supervisor, type Member } from "./supervisor.js";

type Stats = Extract<ToPrimary, { type: "stats" }>;

export interface WorkerPoolOptions {
  count: number;
  log: Logger;
  /** How long every worker has to apply a new active CA; a worker that has not is killed (and restarted). */
  commitTimeoutMs?: number;
  /** How long /health and /metrics wait for a worker's numbers. */
  statsTimeoutMs?: number;
}

export class WorkerPool implements PrimaryPlane {
  readonly role = "primary" as const;
  private rt: ProxyRuntime | undefined;
  private config: Config | undefined;
  /** What the workers route by: undefined until the primary has a state (proxy.cluster: its first read). */
  private state: WorkerCaState | undefined;
  private view: WorkerView = { deadline: null, unreachableSince: null };
  private lastSent = "";
  private revision = 0;
  private readonly sup: Supervisor;
  private statsSeq = 0;
  private readonly pendingStats = new Map<number, (m: Member, s: Stats) => void>();
  private lastStats: { at: number; stats: Stats[] } | undefined;
  private lastBackends = "";
  private timer: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(private readonly o: WorkerPoolOptions) {
    this.log = o.log.child({ part: "workers" });
    this.sup = new Supervisor({
      count: o.count, log: this.log, received: (m, raw) => this.received(m, raw),
      died: (m, how, delayMs) => {
        this.log.error({ worker: m.worker.id, pid: m.pid, how, restartInMs: delayMs }, "worker died; starting another");
        this.rt?.proxy.events.record("worker", `worker ${m.worker.id} (pid ${m.pid}) died (${how}); another starts in ${delayMs} ms`);
      },
    });
  }

  private get members(): ReadonlyMap<number, Member> {
    return this.sup.members;
  }

  /** Fork the workers; call once the runtime (control plane, admin listener) is up. */
  start(rt: ProxyRuntime, config: Config): void {
    this.rt = rt;
    this.config = config;
    const { proxy } = rt;
    if (proxy.cluster) this.followCluster(proxy.cluster);
    else {
      this.state = { epoch: proxy.arbiter.epoch, active: proxy.arbiter.active };
      // The last promotion hook: the serial gap is advanced, writes may go to the new active.
      proxy.arbiter.onPromotion((e) => {
        if (this.state?.hold?.id === promotionHold(e.epoch)) this.setState({ epoch: e.epoch, active: e.to });
      });
    }
    for (const pool of [proxy.ca, proxy.masters]) pool.onChange(() => this.sendBackends());
    // Drains and reloaded masters change no state event: compare the table a few times a second.
    this.timer = setInterval(() => this.sendBackends(), 250);
    proxy.events.onRecord((e) => {
      if (e.kind === EventKind.crlReload) this.sup.broadcast({ type: "crl", pem: proxy.tls.crl.pem, source: proxy.tls.crl.source });
    });
    proxy.metrics.addSource(() => this.workerMetrics());
    this.sup.start();
  }

  /** proxy.cluster: the workers follow what this proxy's follower applied from etcd, and its view deadline. */
  private followCluster(c: ProxyCluster): void {
    const f = c.member.follower;
    const forward = () => {
      const s = f.state;
      if (!s) return;
      const view = { deadline: f.route(true).kind === "refuse" ? -1 : c.member.view.deadline(), unreachableSince: c.member.view.unreachableSince ?? null };
      const next = { epoch: s.epoch, active: s.active, ...(s.hold ? { hold: s.hold } : {}) };
      const key = JSON.stringify([next, view]);
      if (key === this.lastSent) return;
      this.lastSent = key;
      this.setState(next, view);
    };
    f.onChange(forward);
    forward();
  }

  /** What this proxy's member record publishes for its workers (proxy.cluster). */
  readonly holdAcks = {
    acknowledged: (holdId: string) => [...this.members.values()].every((m) => !m.initialized || (m.applied.holdAck === holdId && m.applied.inFlight === 0)),
    writesInFlight: () => [...this.members.values()].reduce((n, m) => n + m.applied.inFlight, 0),
  };

  private received(m: Member, raw: unknown): void {
    let msg: ToPrimary;
    try {
      msg = parseToPrimary(raw, String(m.worker.id));
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "message from a worker refused");
      return;
    }
    const proxy = this.rt?.proxy;
    switch (msg.type) {
      case "ready":
        if (this.sup.stopping) {
          m.worker.process.kill("SIGTERM"); // started too late: nothing to serve any more
          return;
        }
        m.initialized = true;
        this.sup.send(m, this.init());
        return;
      case "listening":
        m.listening = true;
        this.log.info({ worker: m.worker.id, pid: m.pid, port: msg.port }, "worker listening");
        return;
      case "applied":
        m.applied = { revision: msg.revision, epoch: msg.epoch, inFlight: msg.inFlight, holdAck: msg.holdAck };
        this.sup.changed();
        proxy?.cluster?.member.follower.viewChanged(); // the member record republishes its acknowledgement
        return;
      case "passive": {
        const pool = msg.pool === "ca" ? proxy?.ca : proxy?.masters;
        const b = pool?.get(msg.backend);
        if (pool && b) passiveFailure(pool, b, msg.reason);
        return;
      }
      case "caWrite":
        proxy?.onCaWrite?.();
        return;
      case "revoked":
        void proxy?.refreshCrl();
        return;
      case "reloaded":
        if (!msg.ok) this.log.error({ worker: m.worker.id, err: msg.error }, "worker refused the reloaded config; it keeps its running config");
        return;
      case "stats":
        this.pendingStats.get(msg.id)?.(m, msg);
    }
  }

  private init(): ToWorker {
    const proxy = this.rt?.proxy;
    return {
      type: "init", config: this.config as unknown as Extract<ToWorker, { type: "init" }>["config"], ...(this.state ? { state: this.state } : {}), view: this.view, revision: this.revision,
      backends: this.backendLines(), crl: { pem: proxy?.tls.crl.pem ?? "", source: proxy?.tls.crl.source ?? "" },
    };
  }

  private setState(next: WorkerCaState, view: WorkerView = this.view): number {
    this.state = next;
    this.view = view;
    this.revision++;
    this.sup.broadcast({ type: "state", state: next, view, revision: this.revision });
    return this.revision;
  }

  private backendLines(): BackendLine[] {
    const proxy = this.rt?.proxy;
    if (!proxy) return [];
    return [...proxy.ca.backends, ...proxy.masters.backends].map((b) => ({
      pool: b.pool === "ca" ? "ca" as const : "masters" as const, name: b.name, state: b.state, reason: b.reason, drained: b.drained,
    }));
  }

  private sendBackends(): void {
    const lines = this.backendLines();
    const key = JSON.stringify(lines);
    if (key === this.lastBackends) return;
    this.lastBackends = key;
    this.sup.broadcast({ type: "backends", backends: lines });
  }

  async commit(next: ArbiterState): Promise<void> {
    const revision = this.setState({ epoch: next.epoch, active: next.active, hold: { id: promotionHold(next.epoch), target: next.active, since: Date.now() } });
    const late = await this.sup.waitFor((m) => m.applied.revision >= revision, this.o.commitTimeoutMs ?? 2000);
    for (const m of late) {
      // It may still route by the old epoch: it must not forward another CA write. Its successor starts on the new state.
      this.log.error({ worker: m.worker.id, pid: m.pid, epoch: next.epoch }, "worker did not apply the new CA state in time: killed");
      m.worker.process.kill("SIGKILL");
    }
  }

  async quiesce(target: string, ms: number): Promise<() => Promise<void>> {
    const id = randomUUID();
    const { hold: _previous, ...current } = this.state as WorkerCaState; // set at start without proxy.cluster (the only case that calls this)
    this.setState({ ...current, hold: { id, target, since: Date.now() } });
    const release = () => {
      if (this.state?.hold?.id === id) {
        const { hold: _released, ...rest } = this.state;
        this.setState(rest);
      }
      return Promise.resolve();
    };
    const late = await this.sup.waitFor((m) => m.applied.holdAck === id && m.applied.inFlight === 0, ms);
    if (late.length > 0) {
      await release();
      throw new HoldNotAcknowledgedError(id, late.map((m) => `worker ${m.worker.id} (pid ${m.pid})`), ms);
    }
    return release;
  }

  /** One round of numbers from every listening worker (those that do not answer in time are left out). */
  private stats(): Promise<Map<Member, Stats>> {
    const id = ++this.statsSeq;
    const asked = [...this.members.values()].filter((m) => m.listening);
    const got = new Map<Member, Stats>();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.pendingStats.delete(id);
        this.lastStats = { at: Date.now(), stats: [...got.values()] };
        resolve(got);
      };
      const timer = setTimeout(finish, this.o.statsTimeoutMs ?? 1000);
      this.pendingStats.set(id, (m, s) => {
        got.set(m, s);
        if (got.size === asked.length) finish();
      });
      if (asked.length === 0) finish();
      for (const m of asked) this.sup.send(m, { type: "stats", id });
    });
  }

  async report(core: HealthCore): Promise<HealthCore> {
    const got = await this.stats();
    const workers: WorkerSnapshot[] = [...this.members.values()].map((m) => {
      const s = got.get(m);
      return {
        id: m.worker.id, pid: m.pid, since: m.since, listening: m.listening, appliedEpoch: m.applied.epoch, caWritesInFlight: s?.caWritesInFlight ?? m.applied.inFlight,
        ...(s ? { stats: { backends: s.backends, heldRequests: s.heldRequests, connections: s.connections } } : {}),
      };
    });
    return withWorkers(core, { configured: this.o.count, restarts: this.sup.restarts, workers });
  }

  /** The workers' registries for /metrics (from the /health round made for the same scrape, if fresh). */
  private async workerMetrics(): Promise<Stats["metrics"][]> {
    const fresh = this.lastStats && Date.now() - this.lastStats.at < 500 ? this.lastStats.stats : [...(await this.stats()).values()];
    return fresh.map((s) => s.metrics);
  }

  /** SIGHUP: the primary applied `next`; every worker applies it too. */
  reload(next: Config): void {
    this.config = next;
    this.sup.broadcast({ type: "reload", config: next as unknown as Extract<ToWorker, { type: "reload" }>["config"] });
  }

  /** Stop every worker (each finishes its requests for up to graceMs), then resolve. */
  async stop(graceMs: number): Promise<void> {
    clearInterval(this.timer);
    await this.sup.stop(graceMs);
  }
}

const promotionHold = (epoch: number) => `promotion-${epoch}`;
