// Child processes of a benchmark run: started through execa with argument arrays (pinned to a CPU
// with taskset), tracked by PID, and always torn down (normal end, failure, Ctrl-C, SIGTERM).
import { readdirSync, readFileSync } from "node:fs";
import { execa, type ResultPromise } from "execa";

export interface Proc {
  name: string;
  pid: number;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  alive(): boolean;
  signal(sig: NodeJS.Signals): void;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** CPU list for taskset (e.g. "0"); undefined = no pinning. */
  cpu?: string;
  cwd?: string;
  env?: Record<string, string>;
  /** stdout+stderr go to this file (appended). */
  logFile?: string;
}

const running = new Map<number, Proc>();

export function start(name: string, cmd: string, args: string[], o: StartOptions = {}): Proc {
  const [file, argv] = o.cpu === undefined ? [cmd, args] : ["taskset", ["-c", o.cpu, cmd, ...args]];
  const out = o.logFile ? { file: o.logFile, append: true } : "ignore";
  const child: ResultPromise = execa(file, argv, {
    cwd: o.cwd, env: o.env, extendEnv: true, stdin: "ignore", stdout: out, stderr: out, reject: false, cleanup: true,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  let done = false;
  const exited = child.then(() => {
    done = true;
    running.delete(pid);
  });
  const p: Proc = {
    name, pid, exited,
    alive: () => !done,
    signal: (sig) => {
      if (!done) process.kill(pid, sig);
    },
    stop: async () => {
      if (done) return;
      try {
        process.kill(pid, "SIGCONT");
        process.kill(pid, "SIGTERM");
      } catch {
        return;
      }
      const t = setTimeout(() => { if (!done) process.kill(pid, "SIGKILL"); }, 5000);
      await exited;
      clearTimeout(t);
    },
  };
  running.set(pid, p);
  return p;
}

const cleanups = new Set<() => Promise<void>>();

/** Teardown for things started elsewhere (the e2e cluster); returns the unregister function. */
export function addCleanup(fn: () => Promise<void>): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** Stop every process still running (each by its own PID) and run the registered cleanups. */
export async function stopAll(): Promise<void> {
  await Promise.all([
    ...[...running.values()].map((p) => p.stop().catch(() => undefined)),
    ...[...cleanups].map((fn) => fn().catch(() => undefined)),
  ]);
}

let installed = false;
/** Tear everything down on Ctrl-C / SIGTERM / uncaught errors, then exit. */
export function installTeardown(): void {
  if (installed) return;
  installed = true;
  const bye = (code: number) => void stopAll().finally(() => process.exit(code));
  process.once("SIGINT", () => bye(130));
  process.once("SIGTERM", () => bye(143));
  process.on("uncaughtException", (err) => {
    process.stderr.write(`bench: ${err.stack ?? String(err)}\n`);
    bye(1);
  });
}

function children(): Map<number, number[]> {
  const byParent = new Map<number, number[]>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = byParent.get(ppid) ?? [];
      list.push(Number(d));
      byParent.set(ppid, list);
    } catch {
      // the process exited while we looked
    }
  }
  return byParent;
}

/** A PID and all its descendants (nginx master + workers). */
export function processTree(pid: number): number[] {
  const byParent = children();
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(byParent.get(out[i] as number) ?? []));
  return out;
}

/** utime+stime of one process in seconds (all its threads), 0 when gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 (utime, stime) are at index 11 and 12 after the command name.
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

const CLK_TCK = 100;

/** CPU seconds of a set of PIDs. */
export function treeCpu(pids: readonly number[]): number {
  return pids.reduce((s, p) => s + cpuSeconds(p), 0);
}

/** Resident set size in MB. */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}
