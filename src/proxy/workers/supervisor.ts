// The worker processes of `puppet-ha proxy` (proxy.workers > 1), as processes: forks them with
// node:cluster (one listener shared by all), starts another when one dies (with backoff), delivers
// messages, and waits for what they report. What the messages mean is primary.ts's business.
import cluster, { type Worker } from "node:cluster";
import type { Logger } from "../../log.js";
import type { ToWorker } from "./messages.js";

export interface Member {
  worker: Worker;
  pid: number;
  since: number;
  /** Sent "init": from then on it gets every broadcast and is waited for. */
  initialized: boolean;
  listening: boolean;
  applied: { revision: number; epoch: number; inFlight: number; holdAck: string | null };
}

export interface SupervisorOptions {
  count: number;
  log: Logger;
  received(m: Member, raw: unknown): void;
  /** A worker died; another starts after delayMs. */
  died(m: Member, how: string, delayMs: number): void;
}

export class Supervisor {
  readonly members = new Map<number, Member>();
  /** Workers started again after one died. */
  restarts = 0;
  stopping = false;
  private failures = 0;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly o: SupervisorOptions) {}

  start(): void {
    cluster.setupPrimary({ serialization: "advanced" });
    for (let i = 0; i < this.o.count; i++) this.fork();
  }

  private fork(): void {
    const worker = cluster.fork();
    const m: Member = { worker, pid: worker.process.pid ?? 0, since: Date.now(), initialized: false, listening: false, applied: { revision: -1, epoch: 0, inFlight: 0, holdAck: null } };
    this.members.set(worker.id, m);
    worker.on("message", (raw: unknown) => this.o.received(m, raw));
    worker.on("exit", (code: number | null, signal: string | null) => this.exited(m, code, signal));
    // A send to a worker that just died fails asynchronously (ERR_IPC_CHANNEL_CLOSED): its exit follows.
    worker.on("error", (err: Error) => this.o.log.warn({ worker: worker.id, err: err.message }, "worker IPC error"));
  }

  private exited(m: Member, code: number | null, signal: string | null): void {
    this.members.delete(m.worker.id);
    this.changed();
    if (this.stopping) return;
    // Backoff for a worker that keeps dying; one that ran a while starts again at once.
    this.failures = Date.now() - m.since > 30_000 ? 1 : this.failures + 1;
    const delay = Math.min(30_000, 100 * 2 ** (this.failures - 1));
    this.restarts++;
    this.o.died(m, signal ?? `exit code ${String(code)}`, delay);
    setTimeout(() => {
      if (!this.stopping) this.fork();
    }, delay).unref();
  }

  send(m: Member, msg: ToWorker): void {
    try {
      if (m.worker.isConnected()) m.worker.send(msg);
    } catch (err) {
      this.o.log.warn({ worker: m.worker.id, err: (err as Error).message }, "cannot reach a worker");
    }
  }

  broadcast(msg: ToWorker): void {
    for (const m of this.members.values()) if (m.initialized) this.send(m, msg);
  }

  /** A worker reported something or went away: waitFor() looks again. */
  changed(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves with the initialized workers for which `done` does not hold after ms (none: all done). */
  waitFor(done: (m: Member) => boolean, ms: number): Promise<Member[]> {
    return new Promise((resolve) => {
      const left = () => [...this.members.values()].filter((m) => m.initialized && !done(m));
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(left());
      };
      const check = () => {
        if (left().length === 0) finish();
      };
      const timer = setTimeout(finish, ms);
      this.waiters.add(check);
      check();
    });
  }

  /** Stop every worker (each finishes its requests for up to graceMs), then resolve. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const m of this.members.values()) {
      // A worker still starting reads no message yet; its default SIGTERM action ends it (it serves nothing).
      if (m.listening) this.send(m, { type: "stop", graceMs });
      else m.worker.process.kill("SIGTERM");
    }
    await this.waitFor(() => false, graceMs + 2000);
    for (const m of this.members.values()) m.worker.process.kill("SIGKILL");
  }
}
