// The interactive demo: after the first agent run, print what is running and what to try (status
// page, health, metrics, twitch, killing the primary, failback), then serve until Ctrl-C.
import { join } from "node:path";
import type { AgentRunResult } from "./cluster/agent.js";
import type { InstanceName } from "./cluster/descriptor.js";
import { CLUSTER_TIMING, DEMO_NODE, type Demo } from "./demo-cluster.js";
import { brokerCommands } from "./broker.js";

/** The lines naming the load balancer, both proxies and the etcd members (with --proxies 2). */
function proxySetLines(demo: Demo): string[] {
  const set = demo.proxies;
  if (!set) return [];
  const p = demo.opts.ports;
  const cp = demo.opts.clusterPorts;
  return [
    `  load balancer (agents' server and ca_server)  https://localhost:${p.frontEnd}   haproxy (TCP) pid ${set.balancer?.pid() ?? "?"}, log ${set.balancerLog}`,
    ...set.names.map((n) => `  ${n.padEnd(8)} https://127.0.0.1:${n === "proxy-1" ? cp?.proxy1 ?? "?" : cp?.proxy2 ?? "?"}   pid ${set.proxies.get(n)?.pid() ?? "?"}, status page ${set.adminUrl(n)}/, log ${set.logFile(n)}`),
    `  etcd     ${(demo.etcd?.endpoints ?? []).map((u, i) => `etcd${i + 1} ${u} pid ${demo.etcd?.pid(`etcd${i + 1}`) ?? "?"}`).join(", ")}`,
  ];
}

/** One line about an agent run, e.g. "exit 2 (changes applied) in 4.1 s, catalog compiled by m1". */
export function describeRun(r: AgentRunResult): string {
  const meaning: Record<number, string> = { 0: "no changes", 2: "changes applied", 4: "failures", 6: "changes and failures", 1: "failed" };
  const master = /compiled by (m\d)/.exec(r.stdout)?.[1];
  return `exit ${r.exitCode} (${r.timedOut ? "timed out" : meaning[r.exitCode] ?? "unexpected"}) in ${(r.durationMs / 1000).toFixed(1)} s${master ? `, catalog compiled by ${master}` : ""}`;
}

/** The text printed once the demo is up. Pure, so a test can read it. */
export function whatToTry(demo: Demo, firstRun: AgentRunResult): string {
  const { cluster } = demo;
  const p = demo.opts.ports;
  const pid = (n: InstanceName) => cluster.servers[n].pid ?? "?";
  const a = demo.adminUrl;
  const agentDir = join(cluster.agentsDir, "node-2");
  const lines = [
    "",
    `puppet-ha demo is running (state dir ${cluster.root}; demo pid ${process.pid})`,
    ...(demo.proxies ? proxySetLines(demo) : [
      `  proxy (agents' server and ca_server)  https://${cluster.frontEnd?.info.host ?? "localhost"}:${p.frontEnd}   pid ${cluster.frontEnd?.pid() ?? "?"}, log ${demo.proxyLog}`,
      `  admin listener, status page           ${a}/`,
    ]),
    `  CA workers       ca1 (primary) ${cluster.servers.ca1.info.url} pid ${pid("ca1")}, ca2 (standby) ${cluster.servers.ca2.info.url} pid ${pid("ca2")}`,
    `  compile masters  m1 ${cluster.servers.m1.info.url} pid ${pid("m1")}, m2 ${cluster.servers.m2.info.url} pid ${pid("m2")}`,
    ...(demo.twitch ? [`  twitch for ${DEMO_NODE}  ${demo.twitch.url}  pid ${demo.twitch.pid ?? "?"}`] : []),
    "",
    `First agent run: ${DEMO_NODE} through the proxy: ${describeRun(firstRun)}`,
    "",
    "Try:",
    `  status page     open ${a}/ in a browser (it refreshes itself)`,
    `  health          curl -s ${a}/health`,
    `  metrics         curl -s ${a}/metrics`,
    ...(demo.twitch ? [
      `  run ${DEMO_NODE.padEnd(12)}curl -X POST -H "Authorization: Bearer $(cat ${demo.twitch.tokenFile})" '${demo.twitch.url}/puppet/twitch?async=false'`,
      `  its status      curl -s -H "Authorization: Bearer $(cat ${demo.twitch.tokenFile})" ${demo.twitch.url}/puppet/status`,
    ] : []),
    ...(demo.broker ? brokerCommands(demo.broker, "puppet-ha", DEMO_NODE) : []),
    `  a new node      D=${agentDir}; puppet agent -t --certname node-2 --server localhost --serverport ${p.frontEnd} --ca_server localhost --ca_port ${p.frontEnd} \\`,
    "                    --confdir $D/conf --vardir $D/var --ssldir $D/ssl --publicdir $D/public --rundir $D/run --logdir $D/log",
    `  kill the primary CA   kill -9 ${pid("ca1")}     (ca1; the proxy promotes ca2 within seconds)`,
    `  watch the failover    curl -s ${a}/health | grep -o '"active":"[^"]*"'   (or the status page)`,
    ...(demo.proxies ? [
      `  who decides           curl -s ${a}/health | grep -o '"controller":"[^"]*"'   (proxy-2's: ${demo.proxies.adminUrl("proxy-2")}/health)`,
      `  kill that proxy       kill -9 ${demo.proxies.names.map((n) => `${demo.proxies?.proxies.get(n)?.pid() ?? "?"} (${n})`).join(" or ")}   (the other takes over within ttl ${CLUSTER_TIMING.ttl}; agents keep running)`,
      `  bring it back         kill -USR2 ${process.pid}   (starts every stopped proxy again: it rejoins as a follower)`,
    ] : []),
    `  bring ca1 back        kill -USR2 ${process.pid}   (restarts every stopped puppetserver of the demo on its own, now stale, cadir)`,
    `  fail back (guarded)   curl -X POST -H "Authorization: Bearer $(cat ${demo.adminTokenFile})" ${a}/api/ca/failback`,
    "",
    "Ctrl-C stops everything the demo started; a second run reuses the CA state in the state dir.",
    "",
  ];
  return lines.join("\n");
}

/** Restarts every proxy and puppetserver of the demo that is not running (SIGUSR2), one at a time. */
export async function restartStopped(demo: Demo, say: (line: string) => void): Promise<void> {
  for (const n of demo.proxies?.names ?? []) {
    if (demo.proxies?.proxies.get(n)?.pid()) continue;
    say(`${n}: restarting`);
    await demo.proxies?.startProxy(n).then((p) => say(`${n}: serving again, pid ${p.pid() ?? "?"}`), (err: Error) => say(`${n}: ${err.message.split("\n")[0] ?? "failed"}`));
  }
  for (const s of Object.values(demo.cluster.servers)) {
    if (s.state !== "stopped" && s.state !== "failed") continue;
    say(`${s.info.name}: restarting on its existing dirs`);
    const t0 = Date.now();
    try {
      await s.start(demo.opts.readyTimeoutMs);
      say(`${s.info.name}: ready after ${((Date.now() - t0) / 1000).toFixed(1)} s, pid ${s.pid ?? "?"}`);
    } catch (err) {
      say(`${s.info.name}: ${(err as Error).message.split("\n")[0] ?? "failed"}`);
    }
  }
}

/** Serves until `stopped` (the command's signal handler) resolves; SIGUSR2 restarts stopped servers. */
export async function serveUntil<T>(stopped: Promise<T>, demo: Demo, say: (line: string) => void): Promise<T> {
  let restarting = false;
  const usr2 = () => {
    if (restarting) return;
    restarting = true;
    void restartStopped(demo, say).finally(() => { restarting = false; });
  };
  process.on("SIGUSR2", usr2);
  try {
    return await stopped;
  } finally {
    process.off("SIGUSR2", usr2);
  }
}
