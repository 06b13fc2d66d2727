// Real `puppet agent` runs through the cluster's TLS front end: a new node gets its cert,
// catalogs from both compile masters and files reports; a master killed with SIGKILL does not
// fail runs; the CA CLI works through the front end with the pp_cli_auth admin cert.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadCluster, type AgentRunResult, type InstanceName } from "./cluster/client.js";

const cluster = loadCluster();
const MASTERS: InstanceName[] = ["m1", "m2"];

function explain(r: AgentRunResult): string {
  return `agent ${r.certname} exit ${r.exitCode} after ${r.durationMs} ms${r.timedOut ? " (timed out)" : ""}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** Access-log lines of `name` for `method path-prefix` answered `status`. */
function served(name: InstanceName, method: string, pathPrefix: string, status = 200): string[] {
  return cluster.accessLog(name).filter((l) => l.includes(`"${method} ${pathPrefix}`) && new RegExp(`" ${status} `).test(l));
}

test("a new agent gets a cert, a catalog and files a report through the front end", async () => {
  const certname = "e2e-new-node";
  const r = await cluster.runAgent(certname);
  assert.equal(r.exitCode, 2, `expected a run with changes (exit 2)\n${explain(r)}`);
  assert.match(r.stdout, /puppet-ha e2e catalog for e2e-new-node compiled by m[12]/);

  // The CSR went to the primary CA and was autosigned; the cert chains to the cluster's CA.
  assert.equal(served("ca1", "PUT", `/puppet-ca/v1/certificate_request/${certname}`).length, 1);
  assert.ok(existsSync(join(r.dirs.ssldir, "certs", `${certname}.pem`)), "agent cert saved");
  assert.match(readFileSync(join(cluster.instances.ca1.cadir, "inventory.txt"), "utf8"), new RegExp(`/CN=${certname}\\n`));
  assert.deepEqual(served("ca2", "PUT", "/puppet-ca/"), [], "the standby CA received no CA write");

  // Catalog and report were served by a compile master, with the agent authenticated by header.
  const catalogs = MASTERS.flatMap((m) => served(m, "POST", `/puppet/v3/catalog/${certname}`));
  const reports = MASTERS.flatMap((m) => served(m, "PUT", `/puppet/v3/report/${certname}`));
  assert.equal(catalogs.length, 1, "one catalog compiled");
  assert.equal(reports.length, 1, "one report stored");
  const summary = readFileSync(join(r.dirs.publicdir, "last_run_summary.yaml"), "utf8");
  assert.match(summary, /changed: 1/);
});

test("catalogs are compiled by both masters", async () => {
  const certname = "e2e-round-robin";
  const compiledBy = new Set<string>();
  // Round robin is per request, and a run makes a fixed number of master requests (5 or 6), so
  // the catalog POST could land on the same master run after run: 1, then 2 extra requests
  // between runs make the count odd at least once.
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
    assert.ok(served(m, "POST", `/puppet/v3/catalog/${certname}`).length >= 1, `${m} access log shows a catalog for ${certname}`);
  }
});

test("agent runs still succeed after kill -9 of a compile master", async (t) => {
  await cluster.kill("m2", "KILL");
  t.after(() => cluster.start("m2")); // the next test file gets the whole cluster back
  const before = served("m1", "POST", "/puppet/v3/catalog/").length;
  for (const certname of ["e2e-after-kill-1", "e2e-after-kill-2"]) {
    const r = await cluster.runAgent(certname);
    assert.equal(r.exitCode, 2, explain(r));
    assert.match(r.stdout, /compiled by m1/);
  }
  assert.equal(served("m1", "POST", "/puppet/v3/catalog/").length, before + 2);
  const status = (await cluster.statuses()).find((s) => s.name === "m2");
  assert.equal(status?.state, "stopped");
});

test("the CA CLI works through the front end with the pp_cli_auth admin cert", async () => {
  const r = await cluster.runCaCli(["list", "--all"]);
  assert.equal(r.exitCode, 0, `puppetserver ca list: ${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /puppet-ha-proxy/);
  assert.match(r.stdout, /e2e-new-node/);
  // Without the admin cert the same API is refused: header auth sees no pp_cli_auth.
  const anon = await cluster.frontEndRequest("/puppet-ca/v1/certificate_statuses/any");
  assert.equal(anon.status, 403);
});
