// `puppet-ha demo --scenario cluster`: two proxies behind one load balancer, agents enrolling in a
// loop, the CONTROLLER proxy killed with SIGKILL, the other taking over, the dead one back as a
// follower, and a summary that exits 0 only if nothing was lost and the CA decision held.
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { AgentLoop, type LoopRun } from "./agent-loop.js";
import type { ClusterView, ProxySet } from "./cluster/proxy-set.js";
import type { Demo } from "./demo-cluster.js";
import type { Check } from "./summary.js";
import { runsWithoutCert } from "./summary.js";
import { duplicateSerials, parseInventory } from "./verify.js";

/** Polls `probe` every 200 ms until it returns a value; throws naming `what` after timeoutMs. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, aborted: () => boolean): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (aborted()) throw new Error("interrupted");
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await delay(200);
  }
}

/** The controller both proxies agree on, with the CA state they route by. */
async function agreed(set: ProxySet): Promise<ClusterView | undefined> {
  const views = await Promise.all(set.names.map((n) => set.view(n)));
  const first = views[0];
  const same = first?.controller && views.every((v) => v?.controller === first.controller && v.etcdUnreachableSince === null && v.members.length === set.names.length);
  return same ? first : undefined;
}

/** The story's own checks, decided from the runs and the cadirs (pure but for reading files). */
export function clusterChecks(o: { runs: LoopRun[]; killedAt: number; before: ClusterView; after: ClusterView; cadirs: Record<string, string>; agentsDir: string }): Check[] {
  const failed = o.runs.filter((r) => !r.ok);
  const stray = failed.filter((r) => !(r.startedAt <= o.killedAt && r.endedAt >= o.killedAt));
  const read = (d: string) => parseInventory(existsSync(join(d, "inventory.txt")) ? readFileSync(join(d, "inventory.txt"), "utf8") : "");
  const inv = new Map(Object.entries(o.cadirs).map(([name, d]) => [name, read(d)]));
  const dups = duplicateSerials(...inv.values());
  const lost = runsWithoutCert(o.runs.filter((r) => r.ok), o.agentsDir, inv.get(o.after.active ?? "") ?? []);
  return [
    { ok: stray.length === 0, text: stray.length === 0 ? `every failed agent run (${failed.length}) was in flight when the proxy died` : `runs failed that were not in flight at the kill: ${stray.map((r) => r.certname).join(", ")}` },
    { ok: o.after.active === o.before.active && o.after.epoch === o.before.epoch, text: `the CA decision held: ${o.after.active ?? "?"} active at epoch ${String(o.after.epoch)} (before: ${o.before.active ?? "?"} at ${String(o.before.epoch)})` },
    { ok: dups.length === 0, text: dups.length === 0 ? "no serial issued twice across both inventories" : `serial issued twice: ${dups.map((d) => d.serial).join(", ")}` },
    { ok: lost.length === 0, text: lost.length === 0 ? `every agent that enrolled (${o.runs.filter((r) => r.ok).length}) finds its cert's serial in the active CA's inventory` : `agents whose cert is not on the active CA: ${lost.map((r) => r.certname).join(", ")}` },
  ];
}

export async function runClusterStory(demo: Demo, say: (line: string) => void, aborted: () => boolean): Promise<number> {
  const set = demo.proxies;
  if (!set) throw new Error("the cluster story needs two proxies (--proxies 2)");
  const t0 = Date.now();
  const timeline: string[] = [];
  const mark = (text: string) => {
    timeline.push(`+${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s  ${text}`);
    say(text);
  };
  const budget = demo.opts.readyTimeoutMs;
  const before = await waitFor("both proxies agreeing on a controller", () => agreed(set), 60_000, aborted);
  const dead = before.controller as string;
  const survivor = set.names.find((n) => n !== dead) as string;
  mark(`story starts: ${dead} is the controller, ${before.active ?? "?"} the active CA (epoch ${String(before.epoch)}); 2 agents enrolling through the load balancer`);
  const loop = new AgentLoop((cn) => demo.agent(cn), `cluster-${Date.now().toString(36)}`);
  loop.start();
  let killedAt = Number.POSITIVE_INFINITY;
  let after: ClusterView | undefined;
  let verdict = "";
  try {
    await loop.waitOk(2, t0, budget, "agents before the kill", aborted);
    loop.phase = "handover";
    killedAt = Date.now();
    const pid = await set.signal(dead, "KILL");
    mark(`${dead} (the controller) killed (kill -9 ${String(pid)})`);
    after = await waitFor(`${survivor} taking over`, async () => {
      const v = await set.view(survivor);
      return v?.isController && v.controller === survivor ? v : undefined;
    }, 60_000, aborted);
    mark(`handover: ${survivor} is the controller ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
    loop.phase = "after handover";
    await loop.waitOk(3, Date.now(), budget, "agents after the handover", aborted);
    await set.startProxy(dead);
    await waitFor(`${dead} back as a follower`, async () => {
      const v = await set.view(dead);
      return v && !v.isController && v.controller === survivor ? true : undefined;
    }, 60_000, aborted);
    mark(`${dead} back (pid ${String(set.proxies.get(dead)?.pid())}) as a follower of ${survivor}`);
  } catch (err) {
    verdict = `FAILED: ${(err as Error).message}`;
  } finally {
    say("waiting for the agent runs in flight");
    await loop.stop();
  }
  mark("story ends");
  const { cluster } = demo;
  const checks = after ? clusterChecks({
    runs: loop.runs, killedAt, before, after, cadirs: { ca1: cluster.info("ca1").cadir, ca2: cluster.info("ca2").cadir }, agentsDir: cluster.agentsDir,
  }) : [];
  const allOk = checks.length > 0 && checks.every((c) => c.ok);
  verdict ||= allOk ? "nothing lost" : "LOST: see the failed checks above";
  process.stdout.write(formatClusterSummary(loop.runs, timeline, checks, (Date.now() - t0) / 1000, verdict));
  return allOk && !verdict.startsWith("FAILED") ? 0 : 1;
}

export function formatClusterSummary(runs: LoopRun[], timeline: string[], checks: Check[], totalS: number, verdict: string): string {
  const failed = runs.filter((r) => !r.ok);
  return [
    "",
    `=== puppet-ha demo: controller handover (${totalS.toFixed(1)} s)`,
    "timeline:",
    ...timeline.map((t) => `  ${t}`),
    `agent runs: ${runs.length} (${runs.length - failed.length} ok, ${failed.length} failed)${failed.length ? `: ${failed.map((r) => `${r.certname} exit ${r.exitCode} (${r.phase})`).join(", ")}` : ""}`,
    "checks:",
    ...checks.map((c) => `  ${c.ok ? "ok  " : "FAIL"} ${c.text}`),
    `RESULT: ${verdict}`,
    "",
  ].join("\n");
}
