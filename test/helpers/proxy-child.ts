// `puppet-ha proxy` as a child process (from source, through tsx) on fixed loopback ports, so that a
// test can kill -9 it, stop it (SIGSTOP), resume it and start it again on the same config and ports.
// Teardown is registered at creation and kills it by PID.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { cliArgv, repoRoot } from "./cli.js";

export interface ProxyChildOptions {
  name: string;
  /** Where its config file and log go. */
  dir: string;
  /** The whole config file; proxy.listen and admin.listen must name the ports below. */
  config: Record<string, unknown>;
  port: number;
  adminPort: number;
  /** The admin token (for the readiness probe). */
  token: string;
}

export class ProxyChild {
  readonly name: string;
  readonly port: number;
  readonly adminUrl: string;
  private child: ChildProcess | undefined;
  private stopped = false;
  /** Between restart() and its readiness: not a target for more faults yet. */
  private starting = false;
  private readonly configFile: string;
  private readonly logFile: string;

  private constructor(private readonly o: ProxyChildOptions) {
    this.name = o.name;
    this.port = o.port;
    this.adminUrl = `http://127.0.0.1:${o.adminPort}`;
    this.configFile = join(o.dir, `${o.name}.json`);
    this.logFile = join(o.dir, `${o.name}.log`);
    writeFileSync(this.configFile, JSON.stringify(o.config, null, 2));
  }

  /** Start it; resolves once its admin listener answers (call ready() to wait for it). */
  static start(t: { after(fn: () => unknown): void }, o: ProxyChildOptions): ProxyChild {
    const p = new ProxyChild(o);
    t.after(() => p.kill());
    p.spawn();
    return p;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Alive (possibly stopped). */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Alive, started and not stopped. */
  get serving(): boolean {
    return this.running && !this.stopped && !this.starting;
  }

  private spawn(): void {
    const [node, pre] = cliArgv();
    const log = openSync(this.logFile, "a");
    this.child = spawn(node, [...pre, "proxy", "-c", this.configFile], { cwd: repoRoot, stdio: ["ignore", log, log] });
    closeSync(log);
    this.stopped = false;
  }

  /** Wait until the admin listener answers /health/live. */
  async ready(timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      try {
        const res = await fetch(`${this.adminUrl}/health/live`, { signal: AbortSignal.timeout(1000) });
        await res.body?.cancel();
        if (res.ok) return;
      } catch {
        /* not listening yet */
      }
      if (!this.running) throw new Error(`proxy ${this.name} exited (code ${this.child?.exitCode}); see ${this.logFile}`);
      if (Date.now() > end) throw new Error(`proxy ${this.name} not ready within ${timeoutMs} ms; see ${this.logFile}`);
      await sleep(100); // waiting for another process to come up: no clock to inject
    }
  }

  /** kill -9 by PID, and wait for the exit. */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
    c.kill("SIGKILL");
    await exited;
  }

  /** SIGSTOP: it keeps its sockets and answers nothing. */
  pause(): void {
    if (this.running) {
      this.child?.kill("SIGSTOP");
      this.stopped = true;
    }
  }

  /** SIGCONT. */
  resume(): void {
    if (this.running) this.child?.kill("SIGCONT");
    this.stopped = false;
  }

  /** Start again (after kill) on the same config and ports; resolves when ready. */
  async restart(): Promise<void> {
    this.starting = true;
    try {
      await this.kill();
      this.spawn();
      await this.ready();
    } finally {
      this.starting = false;
    }
  }

  /** One admin request with the token; the parsed JSON answer (undefined: no answer within ms). */
  async admin(method: string, path: string, ms = 1000): Promise<{ status: number; json: Record<string, unknown> } | undefined> {
    try {
      const res = await fetch(`${this.adminUrl}${path}`, { method, headers: { authorization: `Bearer ${this.o.token}` }, signal: AbortSignal.timeout(ms) });
      const text = await res.text();
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(text) as Record<string, unknown>;
      } catch {
        json = { text };
      }
      return { status: res.status, json };
    } catch {
      return undefined;
    }
  }
}
