// The wave of a `fleet run` over the broker, as a pure state machine fed with replies and a clock:
// a canary batch runs first and alone; then at most `concurrency` nodes are asked or running at
// once, the window sliding as nodes finish; once failures pass `maxFailures` no new node is asked.
// A node that neither STARTs nor says NOOP within startTimeout, or does not COMPLETE within
// runTimeout, is "no-answer".
import type { FleetReply } from "../broker/messages.js";

export type NodeState =
  | "pending" | "asked" | "running"
  | "ok" | "changed" | "failed" | "refused" | "skipped" | "no-answer" | "not-started";

export const FAILURES: ReadonlySet<NodeState> = new Set(["failed", "refused", "no-answer", "not-started"]);
const TERMINAL: ReadonlySet<NodeState> = new Set(["ok", "changed", "failed", "refused", "skipped", "no-answer", "not-started"]);

export interface WaveOptions {
  canary: number;
  concurrency: number;
  /** Stop asking new nodes once more than this many failed. */
  maxFailures: number;
  startTimeoutMs: number;
  runTimeoutMs: number;
}

export interface NodeRow {
  certname: string;
  state: NodeState;
  askedAt: number | undefined;
  startedAt: number | undefined;
  endedAt: number | undefined;
  exitCode: number | null;
  outcome: string | null;
  changed: number | null;
  failed: number | null;
  durationMs: number | null;
  message: string;
}

export class Wave {
  readonly #o: WaveOptions;
  readonly #rows = new Map<string, NodeRow>();
  /** Rows asked or running: what tick() and open look at (never the whole fleet). */
  readonly #open = new Set<NodeRow>();
  readonly #order: string[];
  #next = 0;
  #inFlight = 0;
  #failures = 0;
  #stopped = false;

  constructor(certnames: readonly string[], o: WaveOptions) {
    this.#o = o;
    this.#order = [...certnames];
    for (const c of certnames) {
      this.#rows.set(c, { certname: c, state: "pending", askedAt: undefined, startedAt: undefined, endedAt: undefined, exitCode: null, outcome: null, changed: null, failed: null, durationMs: null, message: "" });
    }
  }

  get rows(): NodeRow[] {
    return this.#order.map((c) => this.#rows.get(c) as NodeRow);
  }

  get failures(): number {
    return this.#failures;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  has(certname: string): boolean {
    return this.#rows.has(certname);
  }

  /** Nodes still asked or running (whose requests may need sending again after a broker restart). */
  get open(): string[] {
    return [...this.#open].map((r) => r.certname);
  }

  get done(): boolean {
    return this.#next >= this.#order.length && this.#inFlight === 0;
  }

  /** The nodes to ask now; they count as in flight from `now`. */
  take(now: number): string[] {
    if (this.#stopped) return [];
    const canaryPhase = this.#next < this.#o.canary;
    const limit = canaryPhase ? Math.min(this.#o.canary, this.#o.concurrency) : this.#o.concurrency;
    // The canary batch must be over before anything else starts.
    if (!canaryPhase && this.#next === this.#o.canary && this.#next > 0 && this.#inFlight > 0) return [];
    const out: string[] = [];
    const end = canaryPhase ? this.#o.canary : this.#order.length;
    while (this.#inFlight < limit && this.#next < Math.min(end, this.#order.length)) {
      const row = this.#rows.get(this.#order[this.#next++] as string) as NodeRow;
      row.state = "asked";
      row.askedAt = now;
      this.#open.add(row);
      this.#inFlight++;
      out.push(row.certname);
    }
    return out;
  }

  /** A verified reply from a node of this wave. Late or repeated replies change nothing. */
  reply(r: FleetReply, now: number): void {
    const row = this.#rows.get(r.certname);
    if (!row || (row.state !== "asked" && row.state !== "running")) return;
    if (r.kind === "start") {
      row.state = "running";
      row.startedAt = now;
      return;
    }
    if (r.kind === "noop") return this.#end(row, "skipped", now, `filter: ${r.reason ?? "no match"}`);
    if (r.kind === "refused") return this.#end(row, "refused", now, r.reason ?? "refused");
    const run = r.run;
    if (!run) return this.#end(row, "failed", now, "complete without a run report");
    Object.assign(row, { exitCode: run.exitCode, outcome: run.outcome, changed: run.changed, failed: run.failed, durationMs: run.durationMs });
    const state: NodeState = run.exitCode === 0 ? "ok" : run.exitCode === 2 ? "changed" : "failed";
    this.#end(row, state, now, state === "failed" ? run.message : "");
  }

  /** Time out the nodes that have been silent too long. */
  tick(now: number): void {
    for (const row of this.#open) {
      if (row.state === "asked" && now - (row.askedAt as number) > this.#o.startTimeoutMs) {
        this.#end(row, "no-answer", now, `no START or NOOP within ${this.#o.startTimeoutMs} ms`);
      } else if (row.state === "running" && now - (row.startedAt as number) > this.#o.runTimeoutMs) {
        this.#end(row, "no-answer", now, `started but no COMPLETE within ${this.#o.runTimeoutMs} ms`);
      }
    }
  }

  #end(row: NodeRow, state: NodeState, now: number, message: string): void {
    row.state = state;
    row.endedAt = now;
    row.message = message;
    this.#open.delete(row);
    this.#inFlight--;
    if (FAILURES.has(state)) this.#failures++;
    const canaryFailed = this.#next <= this.#o.canary && this.#failures > 0;
    if (this.#failures > this.#o.maxFailures || canaryFailed) this.#stop();
  }

  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (; this.#next < this.#order.length; this.#next++) {
      const row = this.#rows.get(this.#order[this.#next] as string) as NodeRow;
      row.state = "not-started";
      row.message = "not asked: the failure threshold was passed";
    }
  }

  stateOf(certname: string): NodeState | undefined {
    return this.#rows.get(certname)?.state;
  }

  /** Asked longer ago than the start timeout and still without an answer. */
  startOverdue(certname: string, now: number): boolean {
    const row = this.#rows.get(certname);
    return row?.state === "asked" && now - (row.askedAt as number) > this.#o.startTimeoutMs;
  }

  isTerminal(certname: string): boolean {
    return TERMINAL.has(this.#rows.get(certname)?.state ?? "pending");
  }
}
