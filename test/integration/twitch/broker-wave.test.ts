// The controller's side against a real broker: replies whose signer is not the certname they
// claim are rejected, the broker's permissions keep a node to its own reply subject, and a broker
// restart in the middle of a wave loses nothing and runs nothing twice.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { connectBroker } from "../../../src/twitch/broker/connect.js";
import { seal } from "../../../src/twitch/broker/envelope.js";
import { inboxPrefix } from "../../../src/twitch/broker/subjects.js";
import { fleetRun, memoryLog, startFleet, startNode } from "./broker-harness.js";
import { SUBJECTS, identityOf, testController } from "./broker-client.js";

test("a reply signed by node2 claiming node1 is rejected; the broker refuses node2 publishing on node1's subject", async (t) => {
  const fleet = await startFleet(t);
  const c = await testController(t, fleet);
  const node2 = fleet.files("node2.example");
  const { log } = memoryLog();
  const nc = await connectBroker({ urls: [fleet.url], cert: node2.cert, key: node2.key, ca: fleet.caFile, name: "node2", inboxPrefix: inboxPrefix("node2.example") }, log);
  t.after(() => nc.close());
  const id = randomUUID();
  const lie = seal({ id, certname: "node1.example", kind: "complete", time: Date.now(), run: { exitCode: 0, status: "success", durationMs: 1, message: "" } }, identityOf(node2));
  nc.publish(SUBJECTS.reply(id, "node1.example"), lie); // not allowed by the broker
  nc.publish(SUBJECTS.reply(id, "node2.example"), lie); // allowed subject, lying payload
  const honest = seal({ id, certname: "node2.example", kind: "noop", time: Date.now(), reason: "certname" }, identityOf(node2));
  nc.publish(SUBJECTS.reply(id, "node2.example"), honest);
  await c.until(id, (rs) => rs.length === 1);
  assert.deepEqual(c.replies.map((r) => [r.certname, r.kind]), [["node2.example", "noop"]]);
  assert.deepEqual(c.rejected, ["reply claims node1.example but is signed by node2.example"], "only the allowed subject got through, and was rejected");
});

test("the broker restarts mid-wave: the held run COMPLETEs after it comes back, every node is reported, puppet ran once each", async (t) => {
  const fleet = await startFleet(t);
  const n1 = await startNode(t, fleet, "node1.example");
  const n2 = await startNode(t, fleet, "node2.example");
  n1.twitch.fake.hold();
  n2.twitch.fake.hold();
  const wave = fleetRun(fleet, ["node1.example", "node2.example"], { canary: "0", startTimeout: "20s" });
  await n1.twitch.fake.started();
  await n2.twitch.fake.started();
  await fleet.nats.stop();
  // Both runs finish while the broker is down: their COMPLETEs wait in the clients' buffers.
  n1.twitch.fake.release();
  await n1.twitch.runner.idle();
  await fleet.nats.start();
  n2.twitch.fake.release();
  const r = await wave;
  assert.equal(r.error, undefined, JSON.stringify(r.json));
  assert.deepEqual(r.json.results.map((x) => [x.node, x.result]), [["node1.example", "ok"], ["node2.example", "ok"]]);
  assert.equal(n1.twitch.fake.calls(), 1);
  assert.equal(n2.twitch.fake.calls(), 1);
});

test("fleet run with the broker down fails at once with a clear error", async (t) => {
  const fleet = await startFleet(t);
  await fleet.nats.stop();
  await assert.rejects(fleetRun(fleet, ["node1.example"]).then((r) => { throw r.error; }), /cannot connect to the broker at tls:\/\/127\.0\.0\.1:\d+/);
});
