// `puppet-ha demo --scenario failover`: agents enrolling in a loop, the primary CA killed with
// SIGKILL, the standby promoted, the primary back on its stale cadir, the guarded failback, and a
// summary that exits 0 only if nothing was lost.
import { setTimeout as delay } from "node:timers/promises";
import { readTokenFile } from "../token.js";
import { AgentLoop } from "./agent-loop.js";
import { request } from "./cluster/net.js";
import type { Demo } from "./demo-cluster.js";
import { formatSummary, gatherEvidence, lines } from "./summary.js";
import { failbackPauseMs } from "./verify.js";

/** Exit codes: 0 nothing lost, 1 something lost or a step failed, 3 failback not available here. */
export const SCENARIO_FAILBACK_UNAVAILABLE = 3;

type FailbackResult = { ok: true; ms: number; body: string } | { ok: false; unavailable: boolean; reason: string };

/** POST /api/ca/failback until it is accepted (409/503 = not in sync yet), then until ca1 is active. */
async function failback(demo: Demo, timeoutMs: number, aborted: () => boolean): Promise<FailbackResult> {
  const token = readTokenFile(demo.adminTokenFile, "admin token file");
  const t0 = Date.now();
  let last = "";
  while (Date.now() - t0 < timeoutMs && !aborted()) {
    const r = await request(`${demo.adminUrl}/api/ca/failback`, {
      method: "POST", headers: { Authorization: `Bearer ${token}` }, timeoutMs: timeoutMs,
    }).catch((err: Error) => ({ status: 0, body: err.message }));
    if ([404, 405, 501].includes(r.status)) return { ok: false, unavailable: true, reason: `POST /api/ca/failback answered ${r.status}` };
    last = `${r.status} ${r.body.slice(0, 200)}`;
    if (r.status >= 200 && r.status < 300) {
      while (Date.now() - t0 < timeoutMs) {
        if ((await demo.caView()).active === "ca1") return { ok: true, ms: Date.now() - t0, body: r.body };
        await delay(250);
      }
      break;
    }
    if (r.status !== 409 && r.status !== 503 && r.status !== 0) break;
    await delay(1000);
  }
  return { ok: false, unavailable: false, reason: `failback not done after ${timeoutMs / 1000} s (last answer: ${last})` };
}

export async function runFailoverStory(demo: Demo, say: (line: string) => void, aborted: () => boolean): Promise<number> {
  const { cluster } = demo;
  const { ca1 } = cluster.servers;
  const t0 = Date.now();
  const timeline: string[] = [];
  const mark = (text: string) => {
    timeline.push(`+${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s  ${text}`);
    say(text);
  };
  const start = await demo.caView();
  if (start.active !== "ca1") {
    say(`the proxy's active CA is ${start.active ?? "unknown"}, not the primary ca1: failing back first`);
    const fb = await failback(demo, 120_000, aborted);
    if (!fb.ok) throw new Error(`cannot start the story: ${fb.reason}`);
  }
  const offset = {
    ca1: lines(cluster.info("ca1").accessLog).length, ca2: lines(cluster.info("ca2").accessLog).length, proxy: lines(demo.proxyLog).length,
  };
  mark(`story starts: ca1 active (epoch ${(await demo.caView()).epoch ?? "?"}), 2 agents enrolling in a loop`);
  const loop = new AgentLoop((cn) => demo.agent(cn), `story-${Date.now().toString(36)}`);
  loop.start();
  const budget = demo.opts.readyTimeoutMs;
  let verdict = "";
  let code = 1;
  let failedBack = false;
  let pause = "not measured";
  try {
    await loop.waitOk(2, t0, budget, "agents before the failover", aborted);
    loop.phase = "failover";
    const pid = ca1.pid;
    await ca1.signal("KILL");
    const killedAt = Date.now();
    mark(`ca1 killed (kill -9 ${pid ?? "?"})`);
    for (;;) {
      const v = await demo.caView();
      if (v.active === "ca2") {
        mark(`failover: ca2 active (epoch ${v.epoch ?? "?"}) ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
        break;
      }
      if (Date.now() - killedAt > 60_000) throw new Error("the proxy did not promote ca2 within 60 s");
      await delay(200);
    }
    const promotedAt = Date.now();
    // ca1 restarts at once on its stale cadir (a JVM takes a while) while ca2 enrols agents.
    const back = ca1.start(budget).then(() => mark(`ca1 back (pid ${ca1.pid ?? "?"}), on its stale cadir; sync brings it up to date`));
    back.catch(() => undefined);
    await loop.waitOk(3, promotedAt, budget, "agents enrolled by the standby", aborted);
    await back;
    loop.phase = "failback";
    const proxyLines = () => lines(demo.proxyLog).slice(offset.proxy);
    const fb = await failback(demo, 120_000, aborted);
    if (fb.ok) {
      failedBack = true;
      const v = await demo.caView();
      const ms = failbackPauseMs(proxyLines(), fb.body);
      pause = ms === undefined ? `not reported by the proxy (the whole failback took ${(fb.ms / 1000).toFixed(1)} s)` : `${Math.round(ms)} ms (the whole failback took ${(fb.ms / 1000).toFixed(1)} s)`;
      mark(`failback: ca1 active again (epoch ${v.epoch ?? "?"}) after ${(fb.ms / 1000).toFixed(1)} s`);
      loop.phase = "after failback";
      const at = Date.now();
      await loop.waitOk(2, at, budget, "agents after the failback", aborted);
    } else {
      mark(`failback: ${fb.reason}`);
      verdict = fb.unavailable ? `incomplete: failback unavailable in this build (${fb.reason})` : `FAILED: ${fb.reason}`;
      code = fb.unavailable ? SCENARIO_FAILBACK_UNAVAILABLE : 1;
    }
  } catch (err) {
    verdict = `FAILED: ${(err as Error).message}`;
  } finally {
    say("waiting for the agent runs in flight");
    await loop.stop();
  }
  mark("story ends");
  const evidence = gatherEvidence({
    cadirs: { ca1: cluster.info("ca1").cadir, ca2: cluster.info("ca2").cadir },
    caAccess: { ca1: lines(cluster.info("ca1").accessLog).slice(offset.ca1), ca2: lines(cluster.info("ca2").accessLog).slice(offset.ca2) },
    proxyLogLines: lines(demo.proxyLog).slice(offset.proxy),
    agentsDir: cluster.agentsDir, runs: loop.runs, timeline, pause, failedBack,
  });
  const allOk = evidence.checks.every((c) => c.ok);
  if (!verdict) {
    verdict = allOk ? "nothing lost" : "LOST: see the failed checks above";
    code = allOk ? 0 : 1;
  } else if (!allOk && code !== 1) {
    verdict += "; and a check failed";
    code = 1;
  }
  process.stdout.write(formatSummary(evidence, (Date.now() - t0) / 1000, verdict));
  return code;
}
