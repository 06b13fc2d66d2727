// Runs the real `puppet agent` once, fully isolated per certname (its own confdir, vardir,
// ssldir, publicdir, rundir, logdir), against the front end only, never a backend directly.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";

export interface AgentRunOptions {
  /** Defaults: the cluster's front end. */
  server?: string;
  port?: number;
  /** Appended after the harness's arguments (puppet takes the last value of a repeated setting). */
  extraArgs?: string[];
  /** Default 120 s; the run is killed after it. */
  timeoutMs?: number;
}

export interface AgentRunResult {
  certname: string;
  /** --detailed-exitcodes: 0 no changes, 2 changes, 4 failures, 6 both, 1 failed/locked. */
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  /** The agent's own dirs (ssldir holds its key and cert, publicdir last_run_summary.yaml). */
  dirs: AgentDirs;
}

export interface AgentDirs {
  root: string;
  confdir: string;
  vardir: string;
  ssldir: string;
  publicdir: string;
  rundir: string;
  logdir: string;
}

export function agentDirs(agentsDir: string, certname: string): AgentDirs {
  const root = join(agentsDir, certname);
  return {
    root,
    confdir: join(root, "conf"), vardir: join(root, "var"), ssldir: join(root, "ssl"),
    publicdir: join(root, "public"), rundir: join(root, "run"), logdir: join(root, "log"),
  };
}

/** The exact argument vector of one agent run (exported for tests of the harness itself). */
export function agentArgs(certname: string, dirs: AgentDirs, server: string, port: number, extraArgs: string[] = []): string[] {
  return [
    "agent", "--onetime", "--no-daemonize", "--detailed-exitcodes", "-t",
    "--confdir", dirs.confdir, "--vardir", dirs.vardir, "--ssldir", dirs.ssldir,
    "--publicdir", dirs.publicdir, "--rundir", dirs.rundir, "--logdir", dirs.logdir,
    "--certname", certname,
    "--server", server, "--ca_server", server,
    "--serverport", String(port), "--ca_port", String(port),
    // Do not wait two minutes for a cert that will not come (autosign off): fail the run now.
    ...(extraArgs.some((a) => a.startsWith("--waitforcert")) ? [] : ["--waitforcert", "0"]),
    ...extraArgs,
  ];
}

export async function runPuppetAgent(
  puppet: string, agentsDir: string, certname: string, server: string, port: number, opts: AgentRunOptions = {},
): Promise<AgentRunResult> {
  const dirs = agentDirs(agentsDir, certname);
  for (const d of Object.values(dirs) as string[]) await mkdir(d, { recursive: true });
  const started = Date.now();
  const r = await execa(puppet, agentArgs(certname, dirs, server, port, opts.extraArgs), {
    reject: false,
    timeout: opts.timeoutMs ?? 120_000,
    stdin: "ignore",
    env: { HOME: dirs.root, LANG: "C.UTF-8" },
  });
  return {
    certname,
    exitCode: r.exitCode ?? -1,
    stdout: r.stdout,
    stderr: r.stderr,
    durationMs: Date.now() - started,
    timedOut: r.timedOut,
    dirs,
  };
}
