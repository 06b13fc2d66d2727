// `fleet run` over a real nats-server (TLS, Puppet CA client certs, generated permissions) against
// nodes running twitch with a fake puppet: trigger, START/COMPLETE, filters, NOOP, refusals.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { summaryYaml } from "./fake-puppet.js";
import { fleetRun, startFleet, startNode } from "./broker-harness.js";
import { testController } from "./broker-client.js";

const FIXED = ["agent", "--onetime", "--no-daemonize", "--detailed-exitcodes"];

test("fleet run node1: the node STARTs the agent with the fixed vector and options, then COMPLETEs with its summary", async (t) => {
  const fleet = await startFleet(t);
  const n1 = await startNode(t, fleet, "node1.example");
  n1.twitch.fake.summary(summaryYaml({ changed: 3, failed: 0, total: 4.5 }));
  n1.twitch.fake.exitWith(2);
  const r = await fleetRun(fleet, ["node1.example"], { noop: true, tags: "ntp,apache::vhost" });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.json.results.map((x) => [x.node, x.result, x.exitCode, x.changed, x.failed, x.durationMs]), [["node1.example", "changed", 2, 3, 0, 4500]]);
  assert.deepEqual(n1.twitch.fake.argvs(), [[...FIXED, "--noop", "--tags", "ntp,apache::vhost"]]);
});

test("filters: certname glob, fact (= and =~), class; non-matching nodes answer NOOP and do not run", async (t) => {
  const fleet = await startFleet(t);
  const web = await startNode(t, fleet, "node1.example", { facts: { os: { family: "Debian" }, role: "web-frontend" }, classes: ["apache", "ntp"] });
  const db = await startNode(t, fleet, "node2.example", { facts: { os: { family: "RedHat" }, role: "db" }, classes: ["postgresql", "ntp"] });
  const nodes = ["node1.example", "node2.example"];

  let r = await fleetRun(fleet, nodes, { fact: ["os.family=Debian"] });
  assert.deepEqual(r.json.results.map((x) => x.result), ["ok", "skipped"]);
  assert.match(String(r.json.results[1]?.message), /fact os\.family/);
  assert.equal(r.error, undefined, "a NOOP is not a failure");

  r = await fleetRun(fleet, nodes, { fact: ["role=~^db"] });
  assert.deepEqual(r.json.results.map((x) => x.result), ["skipped", "ok"]);

  r = await fleetRun(fleet, nodes, { class: ["apache"] });
  assert.deepEqual(r.json.results.map((x) => x.result), ["ok", "skipped"]);

  const listFile = `${fleet.dir}/nodes.txt`;
  writeFileSync(listFile, "# the fleet\nnode1.example\nnode2.example\n");
  r = await fleetRun(fleet, [], { nodes: listFile, certname: ["node2.*"] });
  assert.deepEqual(r.json.results.map((x) => [x.node, x.result]), [["node2.example", "ok"]]);

  assert.equal(web.twitch.fake.calls(), 2);
  assert.equal(db.twitch.fake.calls(), 2);
});

test("a disabled agent is refused with its reason; the run fails (exit 1) and puppet never starts", async (t) => {
  const fleet = await startFleet(t);
  const n1 = await startNode(t, fleet, "node1.example");
  writeFileSync(n1.twitch.fake.disabledLockFile, JSON.stringify({ disabled_message: "kernel upgrade, back at 14:00" }));
  const r = await fleetRun(fleet, ["node1.example"]);
  assert.deepEqual(r.json.results.map((x) => [x.result, x.message]), [["refused", "disabled: kernel upgrade, back at 14:00"]]);
  assert.match(String((r.error as Error).message), /1 of 1 node\(s\) failed/);
  assert.equal(n1.twitch.fake.calls(), 0);
});

test("a failed run is reported with its exit code and message; the wave stops asking new nodes past the threshold", async (t) => {
  const fleet = await startFleet(t);
  const n1 = await startNode(t, fleet, "node1.example");
  const n2 = await startNode(t, fleet, "node2.example");
  n1.twitch.fake.exitWith(4, "Error: Could not retrieve catalog\n");
  n1.twitch.fake.summary(summaryYaml({ changed: 0, failed: 2 }));
  const r = await fleetRun(fleet, ["node1.example", "node2.example"], { canary: "1" });
  assert.deepEqual(r.json.results.map((x) => x.result), ["failed", "not-started"]);
  assert.match(String(r.json.results[0]?.message), /exited 4/);
  assert.equal(n2.twitch.fake.calls(), 0, "the canary failed: nobody else runs");
  assert.ok(r.error);
});

test("a node that never answers is reported no-answer after --start-timeout", async (t) => {
  const fleet = await startFleet(t);
  await startNode(t, fleet, "node1.example");
  const r = await fleetRun(fleet, ["node1.example", "node3.example"], { startTimeout: "500ms", canary: "0" });
  assert.deepEqual(r.json.results.map((x) => [x.node, x.result]), [["node1.example", "ok"], ["node3.example", "no-answer"]]);
  assert.ok(r.error);
});

test("--ca-url with the whole fleet in one window: one broadcast request; every signed certname answers or is no-answer", async (t) => {
  const fleet = await startFleet(t);
  const n1 = await startNode(t, fleet, "node1.example", { facts: { os: { family: "Debian" } } });
  const n2 = await startNode(t, fleet, "node2.example", { facts: { os: { family: "RedHat" } } });
  const broker = fleet.files("broker.example");
  const seen: string[] = [];
  const caServer = https.createServer({ cert: readFileSync(broker.cert), key: readFileSync(broker.key), ca: readFileSync(fleet.caFile), requestCert: true, rejectUnauthorized: true }, (req, res) => {
    seen.push(req.url ?? "");
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify([
      { name: "node1.example", state: "signed" }, { name: "node2.example", state: "signed" },
      { name: "node3.example", state: "signed" }, { name: "pending.example", state: "requested" },
    ]));
  });
  await new Promise<void>((resolve) => caServer.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => caServer.close(() => resolve())));
  const watcher = await testController(t, fleet);
  const r = await fleetRun(fleet, [], { caUrl: `https://127.0.0.1:${(caServer.address() as AddressInfo).port}`, canary: "0", concurrency: "10", fact: ["os.family=Debian"], startTimeout: "1s" });
  assert.deepEqual(seen, ["/puppet-ca/v1/certificate_statuses/any?state=signed"]);
  assert.deepEqual(r.json.results.map((x) => [x.node, x.result]), [["node1.example", "ok"], ["node2.example", "skipped"], ["node3.example", "no-answer"]]);
  assert.equal(n1.twitch.fake.calls(), 1);
  assert.equal(n2.twitch.fake.calls(), 0);
  // Both nodes answered the very same request (one broadcast, not one request per node).
  const ids = new Set(watcher.replies.filter((x) => x.kind === "start" || x.kind === "noop").map((x) => x.id));
  assert.equal(ids.size, 1, JSON.stringify(watcher.replies));
});
