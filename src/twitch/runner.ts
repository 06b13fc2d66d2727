// Starts puppet agent runs, exactly one at a time. The check for a run in flight and the taking
// of our own lock happen in one synchronous step, and the lock is released only after the agent
// process has exited (puppet-twitch released its mutex before the agent took its lock: a race).
import { randomUUID } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "./log.js";
import { AgentDisabledError, AlreadyRunningError } from "./errors.js";
import { exec } from "./exec.js";
import { disabledMessage, fsLockProbe, runLockState, type LockProbe } from "./locks.js";
import { agentArgv, describeOptions, type RunOptions } from "./params.js";
import { parseLastRunSummary, type LastRun } from "./summary.js";

export interface PuppetPaths {
  runLockFile: string;
  disabledLockFile: string;
  lastRunSummary: string;
}

export interface RunnerOptions {
  command: readonly string[];
  args: readonly string[];
  paths: PuppetPaths;
  timeoutMs: number;
  splayMaxMs: number;
  log: Logger;
  probe?: LockProbe;
  /** In [0, 1); the splay is floor(random() * splayMax). */
  random?: () => number;
  /** Waits for the splay; tests pass one that records and resolves at once. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  /** Called after every run (twitch reloads its TLS context: the agent may have fetched a new CRL). */
  onRunFinished?: (r: RunResult) => void;
}

export type RunStatus = "success" | "failed" | "locked" | "timeout";

export interface RunResult {
  id: string;
  caller: string;
  options: RunOptions;
  ok: boolean;
  status: RunStatus;
  exitCode: number | undefined;
  message: string;
  splayMs: number;
  startedAt: string;
  durationMs: number;
  /** The run summary the agent wrote, when it is from this run. */
  summary: LastRun | undefined;
}

interface Current {
  id: string;
  caller: string;
  options: RunOptions;
  startedAt: number;
  pid: number | undefined;
  done: Promise<RunResult>;
}

const EXIT_MEANING: Record<number, string> = { 1: "run failed or skipped", 4: "failures", 6: "changes and failures" };

export class AgentRunner {
  readonly #o: RunnerOptions;
  readonly #probe: LockProbe;
  readonly #now: () => number;
  #current: Current | undefined;
  #last: RunResult | undefined;
  readonly #stopping = new AbortController();

  constructor(o: RunnerOptions) {
    this.#o = o;
    this.#probe = o.probe ?? fsLockProbe;
    this.#now = o.now ?? Date.now;
  }

  /** Throws AgentDisabledError or AlreadyRunningError; otherwise the agent may start now. */
  check(): void {
    const disabled = disabledMessage(this.#probe.readFile(this.#o.paths.disabledLockFile));
    if (disabled !== undefined) throw new AgentDisabledError(disabled);
    if (this.#current) throw new AlreadyRunningError(this.#current.pid);
    const lock = runLockState(this.#probe.readFile(this.#o.paths.runLockFile), (pid) => this.#probe.cmdline(pid));
    if (lock.state === "live") throw new AlreadyRunningError(lock.pid);
    if (lock.state === "stale") this.#o.log.warn({ lockFile: this.#o.paths.runLockFile, reason: lock.reason }, "ignoring a stale run lock");
  }

  /** Check and take our lock in one synchronous step; `done` settles when the agent has exited. */
  start(options: RunOptions, caller: string): { id: string; done: Promise<RunResult> } {
    this.check();
    const current: Current = { id: randomUUID(), caller, options, startedAt: this.#now(), pid: undefined, done: Promise.resolve(undefined as never) };
    this.#current = current;
    current.done = this.#run(current).catch((err: unknown) => this.#crashed(current, err)).finally(() => {
      if (this.#current === current) this.#current = undefined;
    });
    return { id: current.id, done: current.done };
  }

  /** Twitch is stopping: a run still in its splay never starts; a started agent is left to finish. */
  shutdown(): void {
    this.#stopping.abort(new Error("twitch is stopping"));
  }

  /** Resolves when no run of ours is in flight. */
  async idle(): Promise<void> {
    while (this.#current) await this.#current.done;
  }

  get running(): { id: string; caller: string; options: RunOptions; startedAt: string; pid: number | undefined } | undefined {
    const c = this.#current;
    return c && { id: c.id, caller: c.caller, options: c.options, startedAt: new Date(c.startedAt).toISOString(), pid: c.pid };
  }

  get lastResult(): RunResult | undefined {
    return this.#last;
  }

  get paths(): PuppetPaths {
    return this.#o.paths;
  }

  get probe(): LockProbe {
    return this.#probe;
  }

  readSummary(): LastRun | undefined {
    const text = this.#probe.readFile(this.#o.paths.lastRunSummary);
    return text === undefined ? undefined : parseLastRunSummary(text);
  }

  /** `done` never rejects: an unexpected error becomes a failed run (async callers do not wait). */
  #crashed(c: Current, err: unknown): RunResult {
    const why = this.#stopping.signal.aborted ? "twitch is stopping" : err instanceof Error ? err.message : String(err);
    const message = `puppet agent run did not start: ${why}`;
    this.#o.log[this.#stopping.signal.aborted ? "warn" : "error"]({ run: c.id, caller: c.caller, err }, message);
    const result: RunResult = {
      id: c.id, caller: c.caller, options: c.options, ok: false, status: "failed", exitCode: undefined, message,
      splayMs: 0, startedAt: new Date(c.startedAt).toISOString(), durationMs: this.#now() - c.startedAt, summary: undefined,
    };
    this.#last = result;
    return result;
  }

  async #run(c: Current): Promise<RunResult> {
    const { log } = this.#o;
    let splayMs = 0;
    if (c.options.splay && this.#o.splayMaxMs > 0) {
      splayMs = Math.floor((this.#o.random ?? Math.random)() * this.#o.splayMaxMs);
      log.info({ run: c.id, splayMs }, "splaying before the run");
      await (this.#o.sleep ?? ((ms) => delay(ms, undefined, { signal: this.#stopping.signal })))(splayMs);
    }
    this.#stopping.signal.throwIfAborted();
    const [file, args] = agentArgv(this.#o.command, this.#o.args, c.options);
    const started = this.#now();
    const sub = exec(file, args, { timeoutMs: this.#o.timeoutMs, killAfterMs: 10_000 });
    c.pid = sub.pid;
    log.info({ run: c.id, caller: c.caller, pid: sub.pid, options: describeOptions(c.options) }, "puppet agent started");
    const r = await sub.result;
    const durationMs = this.#now() - started;
    const output = r.all;
    const tail = output.trim().split("\n").slice(-5).join(" | ");
    let status: RunStatus;
    let message: string;
    if (r.timedOut) {
      status = "timeout";
      message = `puppet agent timed out after ${this.#o.timeoutMs} ms and was killed`;
    } else if (r.exitCode === 0 || r.exitCode === 2) {
      status = "success";
      message = r.exitCode === 0 ? "no changes" : "changes applied";
    } else if (r.exitCode === 1 && /already in progress/i.test(output)) {
      status = "locked";
      message = "another puppet run took the lock first";
    } else if (r.exitCode !== undefined) {
      status = "failed";
      message = `puppet agent exited ${r.exitCode} (${EXIT_MEANING[r.exitCode] ?? "unexpected exit code"})${tail ? `: ${tail}` : ""}`;
    } else {
      status = "failed";
      message = `puppet agent did not run: ${r.signal ? `killed by ${r.signal}` : r.spawnError ?? "no exit code"}`;
    }
    let summary: LastRun | undefined;
    try {
      summary = this.readSummary();
      if (summary?.time !== undefined && Date.parse(summary.time) < c.startedAt - 1000) summary = undefined;
    } catch {
      summary = undefined;
    }
    const result: RunResult = {
      id: c.id, caller: c.caller, options: c.options, ok: status === "success", status,
      exitCode: r.exitCode, message, splayMs, startedAt: new Date(started).toISOString(), durationMs, summary,
    };
    this.#last = result;
    log[result.ok ? "info" : "warn"]({ run: c.id, caller: c.caller, exitCode: r.exitCode, status, durationMs }, `puppet agent finished: ${message}`);
    this.#o.onRunFinished?.(result);
    return result;
  }
}
