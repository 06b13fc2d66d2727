// Starting what the benchmark measures and what it measures against: the compiled puppet-ha
// (built privately under node_modules/.cache so a half-edited dist/ never matters), haproxy and nginx,
// each from a generated config, each ready once a request through it answers.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { get, waitUntil, type Tls } from "./net.js";
import { processTree, start, type Proc } from "./procs.js";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
// Under node_modules/.cache: ignored by git and eslint, and dependencies still resolve from there.
const buildDir = join(repoRoot, "node_modules", ".cache", "puppet-ha-bench");

let cli: [string, string[]] | undefined;

/**
 * The argument vector that runs `puppet-ha`: the compiled copy (tsc into node_modules/.cache/puppet-ha-bench/dist, far
 * less startup and per-request overhead than tsx), or the sources through tsx when that fails.
 */
export async function puppetHaCli(log: (s: string) => void, fromSource = false): Promise<[string, string[]]> {
  if (cli) return cli;
  if (!fromSource) {
    const tsc = join(repoRoot, "node_modules", "typescript", "bin", "tsc");
    const r = await execa(process.execPath, [tsc, "-p", join(repoRoot, "tsconfig.build.json"), "--outDir", join(buildDir, "dist")], { cwd: repoRoot, reject: false });
    if (r.exitCode === 0) {
      // dist/main.js reads ../package.json for its version.
      copyFileSync(join(repoRoot, "package.json"), join(buildDir, "package.json"));
      cli = [process.execPath, [join(buildDir, "dist", "cli.js")]];
      return cli;
    }
    log(`build of puppet-ha failed, running it from source through tsx: ${r.stdout.split("\n").slice(0, 3).join(" | ")}`);
  }
  cli = [process.execPath, ["--import", "tsx", join(repoRoot, "src", "cli.ts")]];
  return cli;
}

export type FrontEndKind = "puppet-ha" | "haproxy" | "nginx";

export interface FrontEnd {
  kind: FrontEndKind;
  label: string;
  port: number;
  proc: Proc;
  /** PIDs whose CPU time counts (nginx: master and workers). */
  pids(): number[];
  dir: string;
}

export interface LaunchOptions {
  label: string;
  port: number;
  dir: string;
  config: string;
  cpu?: string;
  /** Request through the front end that must answer 200 before it counts as ready. */
  readyPath: string;
  tls: Tls;
}

async function ready(o: LaunchOptions, p: Proc): Promise<void> {
  await waitUntil(`${o.label} on port ${o.port}`, async () => {
    const r = await get(`https://127.0.0.1:${o.port}${o.readyPath}`, { tls: o.tls, timeoutMs: 2000 });
    return r.status === 200;
  }, 30_000, () => (p.alive() ? undefined : `exited; see ${o.dir}`));
}

export async function launchFrontEnd(kind: FrontEndKind, o: LaunchOptions, log: (s: string) => void): Promise<FrontEnd> {
  mkdirSync(o.dir, { recursive: true });
  const logFile = join(o.dir, `${kind}.log`);
  let proc: Proc;
  if (kind === "haproxy") {
    const f = join(o.dir, "haproxy.cfg");
    writeFileSync(f, o.config);
    proc = start(o.label, "haproxy", ["-db", "-f", f], { cpu: o.cpu, logFile });
  } else if (kind === "nginx") {
    const f = join(o.dir, "nginx.conf");
    writeFileSync(f, o.config);
    proc = start(o.label, "nginx", ["-p", o.dir, "-c", f, "-g", "daemon off;"], { cpu: o.cpu, logFile });
  } else {
    const f = join(o.dir, "puppet-ha.yaml");
    writeFileSync(f, o.config);
    const [node, pre] = await puppetHaCli(log);
    proc = start(o.label, node, [...pre, "proxy", "-c", f], { cpu: o.cpu, logFile, cwd: repoRoot });
  }
  try {
    await ready(o, proc);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { kind, label: o.label, port: o.port, proc, dir: o.dir, pids: () => processTree(proc.pid) };
}

/** A plain process with a config file (backend nginx, originator haproxy), ready when `check` passes. */
export async function launchHelper(kind: "haproxy" | "nginx", label: string, dir: string, config: string, cpu: string | undefined, check: () => Promise<boolean>): Promise<Proc> {
  mkdirSync(dir, { recursive: true });
  const f = join(dir, `${kind}.conf`);
  writeFileSync(f, config);
  const logFile = join(dir, `${kind}.log`);
  const proc = kind === "haproxy"
    ? start(label, "haproxy", ["-db", "-f", f], { cpu, logFile })
    : start(label, "nginx", ["-p", dir, "-c", f, "-g", "daemon off;"], { cpu, logFile });
  try {
    await waitUntil(label, check, 20_000, () => (proc.alive() ? undefined : `exited; see ${logFile}`));
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return proc;
}
