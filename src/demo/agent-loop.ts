// Agents enrolling in a loop during the failover story: each worker runs `puppet agent -t` for a
// new certname after another (CSR, autosign, catalog, report), so every CA change meets traffic.
import { setTimeout as delay } from "node:timers/promises";
import type { AgentRunResult } from "./cluster/agent.js";

export interface LoopRun {
  certname: string;
  exitCode: number;
  ok: boolean;
  timedOut: boolean;
  startedAt: number;
  endedAt: number;
  /** Where the story was when the run started ("before", "failover", "after failback"...). */
  phase: string;
  stderrTail: string;
}

export class AgentLoop {
  readonly runs: LoopRun[] = [];
  phase = "before";
  private stopped = false;
  private workers: Promise<void>[] = [];
  private n = 0;

  constructor(
    private readonly run: (certname: string) => Promise<AgentRunResult>,
    private readonly prefix: string,
    private readonly concurrency = 2,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.workers = Array.from({ length: this.concurrency }, () => this.worker());
  }

  private async worker(): Promise<void> {
    while (!this.stopped) {
      this.n += 1;
      const certname = `${this.prefix}-${this.n}`;
      const phase = this.phase;
      const startedAt = this.now();
      const r = await this.run(certname).catch((err: unknown): AgentRunResult | undefined => {
        this.runs.push({ certname, exitCode: -1, ok: false, timedOut: false, startedAt, endedAt: this.now(), phase, stderrTail: String(err) });
        return undefined;
      });
      if (r) {
        const ok = r.exitCode === 0 || r.exitCode === 2;
        const stderrTail = r.stderr.trim().split("\n").slice(-2).join(" | ");
        this.runs.push({ certname, exitCode: r.exitCode, ok, timedOut: r.timedOut, startedAt, endedAt: this.now(), phase, stderrTail });
        if (ok) continue;
      }
      // A failed run: do not spin; the story goes on.
      await delay(1000);
    }
  }

  /** Successful runs that started at or after `since`. */
  okSince(since: number): LoopRun[] {
    return this.runs.filter((r) => r.ok && r.startedAt >= since);
  }

  /** Waits until `count` runs started at or after `since` have succeeded; throws naming the step after timeoutMs. */
  async waitOk(count: number, since: number, timeoutMs: number, what: string, aborted: () => boolean): Promise<void> {
    const deadline = this.now() + timeoutMs;
    while (this.okSince(since).length < count) {
      if (aborted()) throw new Error("interrupted");
      if (this.now() > deadline) {
        const failed = this.runs.filter((r) => !r.ok && r.startedAt >= since).slice(-3);
        const why = failed.map((r) => `${r.certname} exit ${r.exitCode}: ${r.stderrTail}`).join("; ");
        throw new Error(`${what}: only ${this.okSince(since).length} of ${count} agent runs succeeded in ${timeoutMs / 1000} s${why ? ` (${why})` : ""}`);
      }
      await delay(250);
    }
  }

  /** Lets the runs in flight finish and starts no more. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.workers);
  }
}
