// Real `puppet agent` runs through `puppet-ha proxy`: a new node gets its cert (CSR, autosign),
// catalogs from both compile masters and files reports; a master killed with SIGKILL in the
// middle of a loop of runs fails none of them. (The files run in name order on one cluster.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadCluster, type AgentRunResult, type InstanceName } from "./cluster/client.js";
import { explain, poll, served } from "./support.js";

const cluster = loadCluster();
const MASTERS: InstanceName[] = ["m1", "m2"];

test("the front end is puppet-ha proxy", () => {
  assert.equal(cluster.frontEnd.kind, "puppet-ha", "run the e2e tier with PUPPET_HA_E2E_FRONTEND unset or puppet-ha");
});

test("a new agent gets a cert, a catalog and files a report through the proxy", async () => {
  const certname = "e2e-new-node";
  const r = await cluster.runAgent(certname);
  assert.equal(r.exitCode, 2, `expected a run with changes (exit 2)\n${explain(r)}`);
  assert.match(r.stdout, /puppet-ha e2e catalog for e2e-new-node compiled by m[12]/);

  // The CSR went to the primary CA and was autosigned; the cert chains to the cluster's CA.
  assert.equal(served(cluster, "ca1", "PUT", `/puppet-ca/v1/certificate_request/${certname}`).length, 1);
  assert.ok(existsSync(join(r.dirs.ssldir, "certs", `${certname}.pem`)), "agent cert saved");
  assert.match(readFileSync(join(cluster.instances.ca1.cadir, "inventory.txt"), "utf8"), new RegExp(`/CN=${certname}\\n`));
  assert.deepEqual(served(cluster, "ca2", "PUT", "/puppet-ca/"), [], "the standby CA received no CA write");

  // Catalog and report were served by a compile master, with the agent authenticated by header.
  const catalogs = MASTERS.flatMap((m) => served(cluster, m, "POST", `/puppet/v3/catalog/${certname}`));
  const reports = MASTERS.flatMap((m) => served(cluster, m, "PUT", `/puppet/v3/report/${certname}`));
  assert.equal(catalogs.length, 1, "one catalog compiled");
  assert.equal(reports.length, 1, "one report stored");
  const summary = readFileSync(join(r.dirs.publicdir, "last_run_summary.yaml"), "utf8");
  assert.match(summary, /changed: 1/);
});

test("catalogs are compiled by both masters", async () => {
  const certname = "e2e-round-robin";
  const compiledBy = new Set<string>();
  // Round robin is per request, and a run makes a fixed number of master requests, so the
  // catalog POST could land on the same master run after run: 1, then 2 extra requests between
  // runs make the count odd at least once.
  for (let i = 0; i < 4 && compiledBy.size < 2; i++) {
    const r = await cluster.runAgent(certname);
    assert.equal(r.exitCode, 2, explain(r));
    const m = /compiled by (m[12])/.exec(r.stdout);
    assert.ok(m, explain(r));
    compiledBy.add(m[1] as string);
    for (let k = 0; k <= i; k++) assert.equal((await cluster.frontEndRequest("/status/v1/simple")).status, 200);
  }
  assert.deepEqual([...compiledBy].sort(), ["m1", "m2"]);
  for (const m of MASTERS) {
    assert.ok(served(cluster, m, "POST", `/puppet/v3/catalog/${certname}`).length >= 1, `${m} access log shows a catalog for ${certname}`);
  }
});

test("kill -9 of a compile master during a loop of agent runs fails no run", async (t) => {
  const certnames = ["e2e-loop-1", "e2e-loop-2"];
  // Enrolled first, so the loop below is compile traffic only (the CA is not under test here).
  for (const c of certnames) assert.equal((await cluster.runAgent(c)).exitCode, 2);
  const m2Before = cluster.accessLog("m2").length;
  // One sequential loop per agent (two runs of one agent at once would meet its run lock).
  const loop = Promise.all(certnames.map(async (c) => {
    const out = [];
    for (let i = 0; i < 4; i++) out.push(await cluster.runAgent(c));
    return out;
  })).then((perAgent) => perAgent.flat());
  // Kill m2 once it is serving this loop's requests: runs are in flight against it.
  await poll("m2 serving the loop", () => (cluster.accessLog("m2").length > m2Before + 2 ? true : undefined), 60_000, 50);
  await cluster.kill("m2", "KILL");
  t.after(() => cluster.start("m2")); // the next files get the whole cluster back
  const runs = await loop;
  for (const r of runs) assert.equal(r.exitCode, 2, explain(r));
  // Each agent's last run started after the kill: compiled by m1.
  const lastRuns = [runs[3], runs[7]] as AgentRunResult[];
  assert.ok(lastRuns.every((r) => /compiled by m1/.test(r.stdout)), lastRuns.map(explain).join("\n"));
  assert.equal((await cluster.statuses()).find((s) => s.name === "m2")?.state, "stopped");
});
