// Puppet's lock files: is a run in progress (agent_catalog_run.lock), is the agent disabled
// (agent_disabled.lock)? The decisions are pure; reading files and /proc is injected.
import { readFileSync } from "node:fs";
import { FileAccessError } from "../errors.js";

export interface LockProbe {
  /** File contents, or undefined when the file does not exist. */
  readFile(path: string): string | undefined;
  /** The argument vector of a live process, or undefined when no such process exists. */
  cmdline(pid: number): string[] | undefined;
}

export type RunLockState =
  | { state: "free" }
  | { state: "live"; pid: number }
  | { state: "stale"; pid: number | undefined; reason: string };

/**
 * A process counts as puppet when one of its arguments is the puppet program (`/usr/bin/puppet`,
 * `puppet`) or its title is what the agent sets while running (`puppet agent: applying ...`).
 * `node /tmp/puppet-module.test.ts` is not puppet.
 */
export function looksLikePuppet(argv: readonly string[]): boolean {
  return argv.some((a) => /(^|\/)puppet$/.test(a) || /^puppet[ :]/.test(a) || /(^|\/)puppet /.test(a));
}

/** The rule: live when the file holds the PID of a running puppet process, stale otherwise. */
export function runLockState(content: string | undefined, cmdline: (pid: number) => string[] | undefined): RunLockState {
  if (content === undefined) return { state: "free" };
  const text = content.trim();
  if (!/^\d{1,10}$/.test(text)) return { state: "stale", pid: undefined, reason: "no PID in the lock file" };
  const pid = Number(text);
  if (pid <= 0) return { state: "stale", pid, reason: "no PID in the lock file" };
  const argv = cmdline(pid);
  if (argv === undefined) return { state: "stale", pid, reason: `process ${pid} is not running` };
  if (!looksLikePuppet(argv)) return { state: "stale", pid, reason: `process ${pid} is not puppet` };
  return { state: "live", pid };
}

/** Puppet writes `{"disabled_message": "..."}`; older agents wrote an empty file. */
export function disabledMessage(content: string | undefined): string | undefined {
  if (content === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(content);
    if (parsed && typeof parsed === "object" && "disabled_message" in parsed) {
      const m: unknown = parsed.disabled_message;
      return typeof m === "string" ? m : JSON.stringify(m);
    }
  } catch {
    // Not JSON: the agent is still disabled, just without a reason we can show.
  }
  return "";
}

export const fsLockProbe: LockProbe = {
  readFile(path) {
    try {
      return readFileSync(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      // Typically EACCES: the twitch user must be in the group that owns puppet's statedir.
      throw new FileAccessError(path, "puppet state file", { cause: err });
    }
  },
  cmdline(pid) {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((s) => s !== "");
    } catch {
      return undefined;
    }
  },
};
