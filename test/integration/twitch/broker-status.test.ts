// Fleet status over the broker's JetStream key-value bucket: every node publishes its last run
// and a facts digest after any run (triggered over the broker, or scheduled: the summary file is
// watched); `fleet status` lists them, flags silent and never-reported nodes, and rejects a record
// signed by another node than its key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { connectBroker } from "../../../src/twitch/broker/connect.js";
import { seal } from "../../../src/twitch/broker/envelope.js";
import { bindBucket, readAllStatus } from "../../../src/twitch/broker/status.js";
import { PuppetTrust } from "../../../src/twitch/broker/trust.js";
import { runFleetStatus, statusRows } from "../../../src/twitch/fleet/broker-status.js";
import { summaryYaml } from "./fake-puppet.js";
import { fleetRun, memoryLog, startFleet, startNode, type Fleet } from "./broker-harness.js";
import { identityOf } from "./broker-client.js";

async function controllerKv(t: { after(fn: () => unknown): void }, fleet: Fleet) {
  const { log } = memoryLog();
  const nc = await connectBroker({ urls: [fleet.url], cert: fleet.controller.cert, key: fleet.controller.key, ca: fleet.caFile, name: "t" }, log);
  t.after(() => nc.close());
  return bindBucket(nc, "puppet_ha_fleet", true);
}

/** Resolves with the record once the node's key holds one that satisfies pred. */
async function recordOf(kv: Awaited<ReturnType<typeof controllerKv>>, certname: string, pred: (r: Record<string, unknown>) => boolean) {
  const iter = await kv.watch({ key: certname });
  for await (const e of iter) {
    const r = (JSON.parse(Buffer.from(e.value).toString("utf8")) as { payload: Record<string, unknown> }).payload;
    if (pred(r)) {
      iter.stop();
      return r;
    }
  }
  throw new Error("watch ended");
}

test("status records after a broker-triggered run and after a scheduled run; fleet status lists and flags", async (t) => {
  const fleet = await startFleet(t);
  const kv = await controllerKv(t, fleet); // the bucket exists before the nodes publish
  const n1 = await startNode(t, fleet, "node1.example", { facts: { os: { family: "Debian", name: "Debian", release: { full: "12.8" } }, kernel: "Linux" }, classes: ["ntp", "apache"] });
  n1.twitch.fake.summary(summaryYaml({ changed: 3, failed: 0 }));
  n1.twitch.fake.exitWith(2);
  const r = await fleetRun(fleet, ["node1.example"]);
  assert.equal(r.error, undefined);
  const rec = await recordOf(kv, "node1.example", (x) => (x.lastRun as { changed?: number } | null)?.changed === 3);
  assert.deepEqual(rec.facts, { "os.family": "Debian", "os.name": "Debian", "os.release.full": "12.8", kernel: "Linux", classes: "2" });

  // A scheduled run (not through twitch): the agent rewrites last_run_summary.yaml.
  writeFileSync(n1.twitch.fake.lastRunSummary, summaryYaml({ changed: 0, failed: 1, lastRun: Math.floor(Date.now() / 1000) }));
  const after = await recordOf(kv, "node1.example", (x) => (x.lastRun as { failed?: number } | null)?.failed === 1);
  assert.equal((after.lastRun as { outcome: string }).outcome, "failed");

  const nodesFile = `${fleet.dir}/nodes.txt`;
  writeFileSync(nodesFile, "node1.example\nnode2.example\n");
  let out = "";
  const io = { stdout: { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream, stderr: process.stderr };
  await assert.rejects(runFleetStatus({
    broker: [fleet.url], cert: fleet.controller.cert, key: fleet.controller.key, cacert: fleet.caFile, crl: fleet.crlFile,
    nodes: nodesFile, certname: [], json: true,
  }, io, memoryLog().log), /2 of 2 node\(s\) silent, failed or never reported/);
  const listed = JSON.parse(out) as { nodes: { node: string; state: string; outcome: string | null; failed: number | null }[] };
  assert.deepEqual(listed.nodes.map((n) => [n.node, n.state, n.outcome, n.failed]), [
    ["node1.example", "failed", "failed", 1],
    ["node2.example", "never-reported", null, null],
  ]);
});

test("a status record under node1's key signed by node2 is rejected", async (t) => {
  const fleet = await startFleet(t);
  const kv = await controllerKv(t, fleet);
  const forged = { certname: "node1.example", published: Date.now(), lastRun: null, facts: {} };
  await kv.put("node1.example", seal(forged, identityOf(fleet.files("node2.example"))));
  await kv.put("node3.example", seal({ ...forged, certname: "node3.example" }, identityOf(fleet.files("node3.example"))));
  const read = await readAllStatus(kv, PuppetTrust.fromFiles(fleet.caFile, fleet.crlFile), 1 << 20);
  assert.deepEqual(read.records.map((r) => r.certname), ["node3.example"]);
  assert.deepEqual(read.rejected.map((r) => r.key), ["node1.example"]);
});

test("statusRows: silent after the configured age, never reported, failed", () => {
  const now = Date.parse("2026-12-06T12:00:00Z");
  const rec = (certname: string, at: string, failed = 0) => ({
    certname, published: Date.parse(at), facts: {},
    lastRun: { time: at, outcome: failed ? "failed" : "unchanged", exitCode: failed ? 4 : 0, changed: 0, failed, total: 9, durationSeconds: 1 },
  });
  const rows = statusRows([rec("a", "2026-12-06T11:30:00Z"), rec("b", "2026-12-06T09:00:00Z"), rec("c", "2026-12-06T11:59:00Z", 2)], ["a", "b", "c", "d"], 2 * 3_600_000, now);
  assert.deepEqual(rows.map((r) => [r.node, r.state]), [["a", "ok"], ["b", "silent"], ["c", "failed"], ["d", "never-reported"]]);
});
