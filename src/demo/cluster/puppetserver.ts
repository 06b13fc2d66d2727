// One puppetserver JVM of the cluster: start it with the small-heap java command on its own
// config tree, wait until its status endpoint answers 200, signal it, stop it, tail its log.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setPriority } from "node:os";
import { execa, type ResultPromise } from "execa";
import type { InstanceInfo, InstanceState, InstanceStatus } from "./descriptor.js";
import type { PuppetSystem } from "./system.js";
import { pollUntil, request } from "./net.js";

export type Signal = "KILL" | "TERM" | "STOP" | "CONT";

/** The java command line of puppet-facts §1: 256 MB heap, SerialGC, C1 only. */
export function javaArgs(sys: PuppetSystem, info: InstanceInfo): string[] {
  return [
    "-Xms256m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
    "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens", "java.base/java.io=ALL-UNNAMED",
    "-Djruby.logger.class=com.puppetlabs.jruby_utils.jruby.Slf4jLogger", "-Dlogappender=STDOUT",
    ...(sys.jrubyLib ? [`-Djruby.lib=${sys.jrubyLib}`] : []),
    "-XX:+CrashOnOutOfMemoryError",
    `-XX:ErrorFile=${join(info.dir, "log", "hs_err_%p.log")}`,
    "-jar", sys.jar,
    "--config", join(info.dir, "conf.d"),
    "--bootstrap-config", join(info.dir, "services.d"),
    "--restart-file", join(info.dir, "run", "restart"),
  ];
}

export function tailFile(path: string, lines = 25): string {
  if (!existsSync(path)) return "(no log)";
  return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}

export class PuppetServer {
  private child: ResultPromise | undefined;
  private exited: Promise<void> = Promise.resolve();
  private exitNote: string | undefined;
  state: InstanceState = "stopped";

  constructor(readonly info: InstanceInfo, private readonly sys: PuppetSystem) {}

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  status(): InstanceStatus {
    return { name: this.info.name, state: this.state, pid: this.state === "stopped" ? null : this.pid, url: this.info.url };
  }

  /**
   * Starts the JVM (appending to its console log) without waiting for readiness. `nice` lowers
   * its CPU priority (through /usr/bin/nice, which execs java: same pid).
   */
  spawn(nice = 0): void {
    if (this.state !== "stopped" && this.state !== "failed") throw new Error(`${this.info.name} is already ${this.state}`);
    const log = { file: this.info.logFile, append: true } as const;
    const [cmd, args] = nice > 0
      ? ["nice", ["-n", String(nice), this.sys.java, ...javaArgs(this.sys, this.info)]]
      : [this.sys.java, javaArgs(this.sys, this.info)];
    this.child = execa(cmd, args, {
      cwd: this.sys.installDir,
      stdin: "ignore",
      stdout: log,
      stderr: log,
      reject: false,
      env: { HOME: this.info.dir, LANG: "C.UTF-8" },
    });
    this.state = "starting";
    this.exitNote = undefined;
    const child = this.child;
    this.exited = child.then((r) => {
      this.exitNote = r.signal ? `killed by ${r.signal}` : `exited with code ${String(r.exitCode)}`;
      if (this.child === child) this.state = this.state === "starting" ? "failed" : "stopped";
    });
  }

  /** Polls the status endpoint until 200; fails fast if the JVM dies, naming it and its log tail. */
  async waitReady(timeoutMs: number): Promise<void> {
    const url = this.info.url + this.info.readyPath;
    try {
      await pollUntil(`${this.info.name} (${url})`, async () => {
        const r = await request(url, { timeoutMs: 2000 });
        return r.status === 200 ? true : undefined;
      }, { timeoutMs, intervalMs: 300, abort: () => (this.exitNote ? `puppetserver ${this.exitNote}` : undefined) });
      this.state = "running";
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- last lines of ${this.info.logFile}:\n${tailFile(this.info.logFile)}`, { cause: err });
    }
  }

  async start(timeoutMs: number): Promise<void> {
    this.spawn();
    await this.waitReady(timeoutMs);
  }

  /**
   * Back to normal CPU priority after a niced start. Linux applies a priority per thread, so
   * every thread of the JVM is reset. Needs root; when refused it only costs start-up time.
   */
  unnice(): void {
    if (this.pid === null) return;
    try {
      for (const tid of readdirSync(`/proc/${this.pid}/task`)) setPriority(Number(tid), 0);
    } catch {
      // not root, or the process is gone: nothing to do
    }
  }

  /** Sends a signal; for KILL and TERM also waits for the process to be gone. */
  async signal(sig: Signal, waitMs = 20_000): Promise<void> {
    const pid = this.pid;
    if (pid === null || this.state === "stopped" || this.state === "failed") throw new Error(`${this.info.name} is not running`);
    process.kill(pid, `SIG${sig}`);
    if (sig === "STOP") this.state = "paused";
    else if (sig === "CONT") this.state = "running";
    else {
      // A stopped process only acts on TERM once it is continued.
      if (this.state === "paused") process.kill(pid, "SIGCONT");
      this.state = "stopped";
      await this.waitExit(waitMs, sig);
    }
  }

  private async waitExit(ms: number, sig: Signal): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((r) => { timer = setTimeout(() => r("timeout"), ms); });
    const r = await Promise.race([this.exited.then(() => "exited" as const), timedOut]);
    clearTimeout(timer);
    if (r === "timeout") {
      if (sig === "KILL") throw new Error(`${this.info.name} did not exit ${ms} ms after SIGKILL`);
      this.child?.kill("SIGKILL");
      await this.exited;
    }
  }

  /** Graceful stop (TERM, then KILL after 15 s); a no-op when not running. */
  async stop(): Promise<void> {
    if (!this.child || this.state === "stopped" || this.state === "failed") {
      await this.exited;
      return;
    }
    await this.signal("TERM", 15_000);
  }
}
