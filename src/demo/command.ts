// `puppet-ha demo`: the whole system on loopback with real puppetservers (install what is missing,
// build or reuse the cluster in a state dir, run a first agent, then serve or play a scenario).
import type { Command } from "commander";
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { PuppetHaError, UsageError } from "../errors.js";
import { detectPuppetSystem } from "./cluster/system.js";
import { DEMO_NODE, Demo } from "./demo-cluster.js";
import { describeRun, serveUntil, whatToTry } from "./interactive.js";
import { CLUSTER_PACKAGES, DEMO_PACKAGES, checkPortsFree, demoClusterPorts, demoPorts, ensurePackages } from "./preflight.js";
import { Progress } from "./progress.js";
import { runClusterStory } from "./cluster-story.js";
import { runFailoverStory } from "./scenario.js";

export const DEFAULT_STATE_DIR = "/var/lib/puppet-ha-demo";

interface DemoFlags {
  stateDir: string;
  basePort?: string;
  scenario?: string;
  proxies?: string;
  readyTimeout: string;
  broker?: boolean;
}

type Scenario = "failover" | "cluster";
const SCENARIOS: Scenario[] = ["failover", "cluster"];

export interface DemoSettings {
  stateDir: string;
  base: number | undefined;
  scenario: Scenario | undefined;
  proxies: 1 | 2;
  readyTimeoutMs: number;
}

/** Validates the flags; every mistake is a UsageError naming the flag and the bad value. */
export function parseFlags(f: DemoFlags): DemoSettings {
  const scenario = f.scenario as Scenario | undefined;
  if (scenario !== undefined && !SCENARIOS.includes(scenario)) throw new UsageError(`--scenario must be "failover" or "cluster", not "${String(f.scenario)}"`);
  const base = f.basePort === undefined ? undefined : Number(f.basePort);
  const ready = Number(f.readyTimeout);
  if (!Number.isFinite(ready) || ready < 10) throw new UsageError(`--ready-timeout must be a number of seconds (at least 10), not "${f.readyTimeout}"`);
  return { stateDir: resolve(f.stateDir), base, scenario, proxies: parseProxies(f.proxies, scenario), readyTimeoutMs: ready * 1000 };
}

function parseProxies(flag: string | undefined, scenario: Scenario | undefined): 1 | 2 {
  if (flag === undefined) return scenario === "cluster" ? 2 : 1;
  if (!/^\d+$/.test(flag)) throw new UsageError(`--proxies must be a whole number (1 or 2), not "${flag}"`);
  const n = Number(flag);
  if (n === 0) throw new UsageError("--proxies must be 1 or 2, not 0: agents need at least one proxy");
  if (n > 2) throw new UsageError(`--proxies ${flag} is not supported: the demo runs 1 proxy, or 2 behind a load balancer`);
  if (scenario === "cluster" && n !== 2) throw new UsageError("--scenario cluster needs two proxies: --proxies 2 (or leave --proxies out)");
  if (scenario === "failover" && n !== 1) throw new UsageError("--scenario failover runs with one proxy: leave --proxies out, or use --scenario cluster for two");
  return n === 2 ? 2 : 1;
}

/** The first of SIGINT, SIGTERM, SIGHUP; `stop` tells whether one came. */
function watchSignals(): { stopped: Promise<NodeJS.Signals>; stop: () => boolean; dispose: () => void } {
  let got: NodeJS.Signals | undefined;
  let resolveStop: (s: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<NodeJS.Signals>((r) => { resolveStop = r; });
  const on = (sig: NodeJS.Signals) => {
    if (got) return;
    got = sig;
    process.stdout.write(`\n${sig}: stopping everything the demo started\n`);
    resolveStop(sig);
  };
  const sigs = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  for (const s of sigs) process.on(s, on);
  return { stopped, stop: () => got !== undefined, dispose: () => { for (const s of sigs) process.off(s, on); } };
}

export async function runDemo(flags: DemoFlags): Promise<number> {
  const o = parseFlags(flags);
  const progress = new Progress();
  const say = (line: string) => progress.line(line);
  await ensurePackages(say, o.proxies === 2 ? [...DEMO_PACKAGES, ...CLUSTER_PACKAGES] : DEMO_PACKAGES);
  let sys;
  try {
    sys = detectPuppetSystem({ haproxy: o.proxies === 2 });
  } catch (err) {
    throw new PuppetHaError("E_SYSTEM", (err as Error).message);
  }
  const ports = demoPorts(o.base);
  const clusterPorts = o.proxies === 2 ? demoClusterPorts(o.base) : undefined;
  await checkPortsFree({ ...ports, ...clusterPorts });
  await mkdir(o.stateDir, { recursive: true, mode: 0o750 }).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot create the state dir ${o.stateDir} (${err.code ?? err.message}): run as root or pass --state-dir DIR`);
  });
  const signals = watchSignals();
  const demo = await Demo.create({
    stateDir: o.stateDir, ports, sys, readyTimeoutMs: o.readyTimeoutMs, withTwitch: o.scenario === undefined,
    proxies: o.proxies, ...(clusterPorts ? { clusterPorts } : {}),
    say,
    onInstance: (name, event) => progress.instance(name, event),
  });
  try {
    const front = o.proxies === 2 ? "etcd, two proxies and a load balancer" : "the proxy";
    say(`starting ca1, ca2, m1, m2 and ${front} in ${o.stateDir} (JVMs need 30-90 s)`);
    const started = demo.start().then(() => "started" as const, (err: Error) => {
      throw new PuppetHaError("E_DEMO", `${err.message}\n(every instance logs under ${o.stateDir}/<name>/log/; --ready-timeout raises the wait)`, { cause: err });
    });
    started.catch(() => undefined);
    if ((await Promise.race([started, signals.stopped])) !== "started") return 130;
    progress.done();
    say(`first agent run: ${DEMO_NODE} through the proxy`);
    const first = await demo.agent(DEMO_NODE);
    say(`${DEMO_NODE}: ${describeRun(first)}`);
    if (first.exitCode !== 0 && first.exitCode !== 2) {
      process.stdout.write(`${first.stderr.trim().split("\n").slice(-5).join("\n")}\n`);
      if (o.scenario) throw new PuppetHaError("E_DEMO", `the first agent run failed (exit ${first.exitCode})`);
    }
    if (flags.broker === true && demo.twitch) {
      // Issue 16: the demo node's twitch joins a fleet broker; a failure here leaves the rest running.
      say(`fleet broker: nats-server on loopback, ${DEMO_NODE}'s twitch joins it`);
      await demo.joinBroker().then((b) => say(`fleet broker: ${b.url}, pid ${b.nats.pid}`), (err: Error) => say(`fleet broker not started: ${err.message.split("\n")[0] ?? ""}`));
    }
    if (o.scenario === "failover") {
      const code = await runFailoverStory(demo, say, signals.stop);
      return signals.stop() ? 130 : code;
    }
    if (o.scenario === "cluster") {
      const code = await runClusterStory(demo, say, signals.stop);
      return signals.stop() ? 130 : code;
    }
    process.stdout.write(whatToTry(demo, first));
    await serveUntil(signals.stopped, demo, say);
    return 0;
  } finally {
    progress.done();
    await demo.stop();
    signals.dispose();
    say("stopped");
  }
}

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("run the whole system on loopback with real puppetservers: two CAs, two compile masters, the proxy, a twitch")
    .option("--state-dir <dir>", "where the cluster lives; a second run reuses its CA state", DEFAULT_STATE_DIR)
    .option("--base-port <n>", "ports n (proxy), n+1 (admin), n+2 (twitch), n+3..n+6 (m1, m2, ca1, ca2), with --proxies 2 also n+7..n+15 (proxies, proxy-2 admin, etcd); default 8140, 8141, 2023, 18140-18143")
    .option("--scenario <name>", "play a story unattended, print a summary and exit (0 only if nothing was lost): failover (kill the primary CA, enrol on the standby, fail back) or cluster (two proxies: kill the controller proxy, the other takes over)")
    .option("--proxies <n>", "1 (default), or 2: a 3-member etcd, two proxies with proxy.cluster and haproxy (TCP) in front on the proxy's port; default 2 with --scenario cluster")
    .option("--ready-timeout <seconds>", "how long each puppetserver may take to start", "300")
    .option("--broker", "also start a fleet broker (nats-server) that the demo node's twitch joins, for `fleet run` over it")
    .action(async (flags: DemoFlags) => {
      const code = await runDemo(flags);
      if (code !== 0) process.exitCode = code;
    });
}
