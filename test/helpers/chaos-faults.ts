// The fault schedule of the cluster chaos test: from a seeded PRNG, every 0.7-2 s one fault on a
// proxy child (kill -9, SIGSTOP), an etcd member (SIGSTOP, kill -9; at most two down) or a CA
// worker (stopped or killed; one at a time), each repaired 0.5-3.5 s later (a stopped CA 1-7 s).
// A CA worker that may be active is only hit while both cadirs hold the same certificates: a CA
// dying with certificates left to sync is the documented loss window, not a proxy guarantee.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Fault } from "./ca-history-checker.js";
import type { EtcdCluster, EtcdMember } from "./etcd.js";
import type { FakeCaWorker } from "./fake-ca-worker.js";
import type { ProxyChild } from "./proxy-child.js";

export interface ChaosTargets {
  proxies: readonly ProxyChild[];
  etcd: EtcdCluster;
  cas: readonly FakeCaWorker[];
}

export class FaultSchedule {
  readonly faults: Fault[] = [];
  private readonly repairs = new Set<Promise<void>>();
  private readonly etcdDown = new Set<EtcdMember>();

  constructor(private readonly rand: () => number, private readonly t: ChaosTargets) {}

  /** Inject faults for ms. */
  async run(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      await sleep(700 + this.rand() * 1300); // the schedule's own pace
      await this.one(this.rand(), Math.round(500 + this.rand() * 3000));
    }
  }

  /** Wait for every pending repair, then resume and restart whatever is still down. */
  async heal(): Promise<void> {
    await Promise.all([...this.repairs]);
    const { etcd, cas, proxies } = this.t;
    for (const m of etcd.members) m.resume();
    await Promise.all(etcd.members.map((m) => etcd.waitHealthy(m)));
    for (const c of cas) c.resume();
    for (const p of proxies) p.resume();
  }

  private async one(r: number, ms: number): Promise<void> {
    const serving = this.t.proxies.filter((p) => p.serving);
    const etcdUp = this.t.etcd.members.filter((m) => !this.etcdDown.has(m));
    if (r < 0.2 && serving.length > 1) {
      const p = this.pick(serving);
      await p.kill();
      this.note("kill -9 proxy", p.name);
      this.later(ms, () => p.restart());
    } else if (r < 0.38 && serving.length > 1) {
      const p = this.pick(serving);
      p.pause();
      this.note("SIGSTOP proxy", p.name);
      this.later(ms, () => p.resume());
    } else if (r < 0.64 && this.etcdDown.size < 2) {
      const m = this.pick(etcdUp);
      const kill = r >= 0.52;
      if (kill) await m.kill();
      else m.pause();
      this.etcdDown.add(m);
      this.note(kill ? "kill -9 etcd" : "SIGSTOP etcd", m.name);
      this.later(ms, async () => {
        if (kill) await m.restart();
        else m.resume();
        this.etcdDown.delete(m);
      });
    } else if (r >= 0.64) {
      const up = this.t.cas.filter((c) => c.running && !c.isPaused);
      if (up.length < 2) return; // one CA fault at a time
      const c = this.caTarget(up);
      if (r < 0.82) {
        c.pause();
        this.note("stop CA", c.name);
        this.later(ms * 2, () => c.resume()); // 1-7 s: long enough, sometimes, for a failover
      } else {
        await c.kill();
        this.note("kill CA", c.name);
        this.later(ms, () => c.restart());
      }
    }
  }

  /** Any CA while both cadirs hold the same certificates; else the one with fewer (the standby). */
  private caTarget(up: FakeCaWorker[]): FakeCaWorker {
    const inventory = (c: FakeCaWorker) => readFileSync(join(c.dir, "inventory.txt"), "utf8");
    const [a, b] = up.map(inventory) as [string, string];
    if (a === b) return this.pick(up);
    return (a.length < b.length ? up[0] : up[1]) as FakeCaWorker;
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rand() * xs.length)] as T;
  }

  private note(kind: string, target: string): void {
    this.faults.push({ at: Date.now(), kind, target });
  }

  private later(ms: number, fix: () => Promise<void> | void): void {
    const p: Promise<void> = sleep(ms).then(fix).finally(() => this.repairs.delete(p));
    p.catch(() => undefined); // awaited, and failing the test, in heal()
    this.repairs.add(p);
  }
}
