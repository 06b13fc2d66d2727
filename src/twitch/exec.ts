// Running puppet for twitch: node:child_process with an argument vector (never a shell), stdin
// closed, stdout and stderr collected (with their interleaving) up to a limit, and a timeout that
// sends SIGTERM, then SIGKILL after a grace period. In place of execa, which added ~15 MB to
// twitch's idle RSS on every node (issue 16).
import { spawn } from "node:child_process";

export interface ExecResult {
  /** undefined when the process did not exit by itself (signal, or never started). */
  exitCode: number | undefined;
  signal: NodeJS.Signals | undefined;
  stdout: string;
  stderr: string;
  /** stdout and stderr as they came. */
  all: string;
  timedOut: boolean;
  /** Why the process could not be started (ENOENT, EACCES...). */
  spawnError: string | undefined;
  /** Not exit code 0, for any reason. */
  failed: boolean;
}

export interface ExecOptions {
  timeoutMs: number;
  /** After the timeout's SIGTERM, SIGKILL this much later. */
  killAfterMs?: number;
  /** Most bytes kept of each stream (the first ones). */
  maxBuffer?: number;
}

export interface Started {
  pid: number | undefined;
  result: Promise<ExecResult>;
}

export function exec(file: string, args: readonly string[], o: ExecOptions): Started {
  const max = o.maxBuffer ?? 16 * 1024 * 1024;
  const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], shell: false });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const all: Buffer[] = [];
  let outBytes = 0;
  let errBytes = 0;
  const keep = (to: Buffer[], chunk: Buffer, bytes: number): number => {
    if (bytes < max) {
      const part = chunk.subarray(0, max - bytes);
      to.push(part);
      all.push(part);
    }
    return bytes + chunk.length;
  };
  child.stdout.on("data", (c: Buffer) => (outBytes = keep(out, c, outBytes)));
  child.stderr.on("data", (c: Buffer) => (errBytes = keep(err, c, errBytes)));
  let timedOut = false;
  let killer: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGTERM");
    killer = setTimeout(() => child.kill("SIGKILL"), o.killAfterMs ?? 10_000);
  }, o.timeoutMs);
  const result = new Promise<ExecResult>((resolve) => {
    let spawnError: string | undefined;
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      clearTimeout(killer);
      const exitCode = code ?? undefined;
      resolve({
        exitCode, signal: signal ?? undefined, timedOut, spawnError,
        stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), all: Buffer.concat(all).toString("utf8"),
        failed: exitCode !== 0 || timedOut || spawnError !== undefined,
      });
    };
    child.once("error", (e: NodeJS.ErrnoException) => {
      spawnError = `cannot run ${file}: ${e.code ?? e.message}`;
      // A process that never started emits no "close".
      if (child.pid === undefined) done(null, null);
    });
    child.once("close", done);
  });
  return { pid: child.pid, result };
}
