// The README's main job, for real: `puppet-ha demo --scenario failover` builds its own 4-JVM
// cluster in a temp state dir (ports 28140..28146, below Linux's ephemeral range, so the random
// ports of other clusters never collide), kills the primary CA, fails back and must lose nothing;
// then the interactive demo on the same state dir reuses the CA, serves a twitch, and Ctrl-C
// stops every process it started. scripts/run-tests.mjs runs this file after the shared e2e
// cluster is gone (one cluster at a time).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "../../src/demo/cluster/net.js";
import { execa } from "execa";
import { cliArgv, repoRoot, runCli } from "../helpers/cli.js";

const BASE = Number(process.env.PUPPET_HA_DEMO_E2E_BASE_PORT ?? "28140");
// A busy 2-core machine running other clusters can take minutes per JVM: a generous budget.
const COMMON = ["--base-port", String(BASE), "--ready-timeout", "600"];

test("demo: the failover story loses nothing, and a second (interactive) run reuses the CA state", { timeout: 25 * 60_000 }, async (t) => {
  const stateDir = await mkdtemp(join(tmpdir(), "puppet-ha-demo-e2e-"));
  let keep = true;
  t.after(async () => {
    if (keep) t.diagnostic(`state dir kept for inspection: ${stateDir}`);
    else await rm(stateDir, { recursive: true, force: true });
  });

  const story = await runCli(["demo", "--scenario", "failover", "--state-dir", stateDir, ...COMMON], { timeout: 15 * 60_000, forceKillAfterDelay: 30_000 });
  const out = `${String(story.stdout)}\n${String(story.stderr)}`;
  assert.equal(story.exitCode, 0, out);
  assert.match(out, /RESULT: nothing lost/);
  assert.match(out, /ca1 killed \(kill -9 \d+\)/);
  assert.match(out, /failover: ca2 active/);
  assert.match(out, /failback: ca1 active again/);
  assert.match(out, /ok {3}no serial issued twice across both inventories/);
  assert.match(out, /ok {3}every cert signed by the standby ca2 \([1-9]\d*\) is on ca1 after failback/);
  assert.match(out, /ok {3}every agent that enrolled \([1-9]\d*\) finds its cert's serial in ca1's inventory/);
  assert.doesNotMatch(out, /FAIL /);

  // The interactive demo on the same state dir: same CA, a working twitch, Ctrl-C stops it all.
  const caCert = readFileSync(join(stateDir, "ca1", "ca", "ca_crt.pem"), "utf8");
  const [node, pre] = cliArgv();
  // With --broker: a nats-server the demo node's twitch joins, and the proxy restarted with a fleet section.
  const demo = execa(node, [...pre, "demo", "--broker", "--state-dir", stateDir, ...COMMON], { cwd: repoRoot, reject: false, timeout: 15 * 60_000, forceKillAfterDelay: 30_000 });
  t.after(() => { demo.kill("SIGINT"); });
  let shown = "";
  await new Promise<void>((resolve, reject) => {
    demo.stdout?.on("data", (chunk: Buffer) => {
      shown += chunk.toString("utf8");
      if (shown.includes("Ctrl-C stops everything")) resolve();
    });
    void demo.then((r) => reject(new Error(`the demo exited (${String(r.exitCode)}) before it was up:\n${shown}\n${String(r.stderr)}`)));
  });
  assert.match(shown, /ca2: starting/);
  assert.match(shown, /demo-node through the proxy: exit [02] /);
  assert.match(shown, new RegExp(`Bearer \\$\\(cat ${stateDir}/frontend/admin\\.token\\)" http://127\\.0\\.0\\.1:${BASE + 1}/api/ca/failback`));
  assert.equal(readFileSync(join(stateDir, "ca1", "ca", "ca_crt.pem"), "utf8"), caCert, "the second run reused the CA");
  const token = readFileSync(join(stateDir, "twitch", "twitch.token"), "utf8").trim();
  const run = await request(`http://127.0.0.1:${BASE + 2}/puppet/twitch?async=false`, {
    method: "POST", headers: { Authorization: `Bearer ${token}` }, timeoutMs: 300_000,
  });
  assert.equal(run.status, 200, run.body);

  // The broker commands the demo prints work as printed: a run over the broker, then its status.
  assert.match(shown, /fleet broker: tls:\/\/127\.0\.0\.1:\d+, pid \d+/);
  const printed = (label: string) => (new RegExp(`^  ${label} +puppet-ha (fleet .+)$`, "m").exec(shown)?.[1] ?? "").split(" ");
  const fleetRun = await runCli([...printed("over the broker"), "--json"], { timeout: 300_000 });
  assert.equal(fleetRun.exitCode, 0, `${String(fleetRun.stdout)}\n${String(fleetRun.stderr)}`);
  const ran = JSON.parse(String(fleetRun.stdout)) as { results: { node: string; result: string }[] };
  assert.deepEqual(ran.results.map((r) => [r.node, ["ok", "changed"].includes(r.result)]), [["demo-node", true]]);
  const status = await runCli([...printed("fleet status"), "--json"], { timeout: 120_000 });
  assert.equal(status.exitCode, 0, String(status.stderr));
  assert.deepEqual((JSON.parse(String(status.stdout)) as { nodes: { node: string; state: string }[] }).nodes.map((n) => [n.node, n.state]), [["demo-node", "ok"]]);
  // The status page's fleet counts, "never reported" from the demo's local cadirs (the servers' own certs, the broker's, the admin's).
  const health = JSON.parse((await request(`http://127.0.0.1:${BASE + 1}/health`, { timeoutMs: 10_000 })).body) as { fleet?: { readAt?: string; neverReported?: number } };
  const fleet = health.fleet;
  assert.ok(fleet?.readAt !== undefined && typeof fleet.neverReported === "number" && fleet.neverReported >= 1, JSON.stringify(fleet));

  const pids = [...shown.matchAll(/pid (\d+)/g)].map((m) => Number(m[1])).filter((p) => p !== demo.pid);
  assert.ok(pids.length >= 6, `the demo names the PIDs of its processes:\n${shown}`);
  demo.kill("SIGINT");
  const end = await demo;
  assert.equal(end.exitCode, 0, `${shown}\n${String(end.stderr)}`);
  const alive = pids.filter((pid) => { try { process.kill(pid, 0); return true; } catch { return false; } });
  assert.deepEqual(alive, [], "every process the demo started is gone after Ctrl-C");
  keep = false;
});
