// What a node refuses over the broker, answering nothing (only logging): forged, tampered,
// revoked or non-allowlisted signers, expired, future and replayed requests, malformed and huge
// messages. Each bad message is followed by a good probe on the same subject: once the probe is
// answered the bad one has been handled (NATS keeps order per publisher), so no sleeping.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createTestCa } from "../../helpers/pki.js";
import { identityFromPem } from "../../../src/twitch/broker/envelope.js";
import { startFleet, startNode, type FleetNode } from "./broker-harness.js";
import { identityOf, testController, type TestController } from "./broker-client.js";

const NO_MATCH = { facts: ["os.family=Nothing"] };

/** Send `bad`, then a probe that NOOPs; return the replies to the bad request and the drop log. */
async function sendThenProbe(c: TestController, node: FleetNode, badId: string, bad: Uint8Array) {
  c.publish(node.certname, bad);
  const probe = c.request({ filter: NO_MATCH });
  c.publish(node.certname, c.sealed(probe));
  await c.until(probe.id, (rs) => rs.some((r) => r.kind === "noop"));
  const drops = node.logs().filter((l) => l.msg === "fleet request dropped");
  return { replies: c.replies.filter((r) => r.id === badId), drop: drops[drops.length - 1] };
}

test("forged, tampered, revoked and non-allowlisted requests get no answer and run nothing", async (t) => {
  const fleet = await startFleet(t, { controllers: ["controller.example", "controller2.example", "intruder.example"] });
  // controller2's certificate is revoked in the CRL the node reads.
  const revoked = fleet.files("controller2.example");
  writeFileSync(fleet.crlFile, fleet.ca.crl({ revoked: [revoked.issued.serialHex] }));
  const node = await startNode(t, fleet, "node1.example");
  const c = await testController(t, fleet);

  // A certificate with the controller's name from another CA.
  const evil = createTestCa("evil").issue("controller.example");
  let req = c.request();
  let r = await sendThenProbe(c, node, req.id, c.sealed(req, identityFromPem("controller.example", evil.certPem, evil.keyPem)));
  assert.deepEqual(r.replies, []);
  assert.equal(r.drop?.reason, "untrusted-cert");

  // The real certificate, signed with another key.
  req = c.request();
  r = await sendThenProbe(c, node, req.id, c.sealed(req, identityFromPem("controller.example", c.identity.certPem, evil.keyPem)));
  assert.equal(r.drop?.reason, "bad-signature");
  assert.deepEqual(r.replies, []);

  // Signed, then a field changed.
  req = c.request({ options: { noop: true, tags: [], environment: undefined, splay: false } });
  const tampered = Buffer.from(Buffer.from(c.sealed(req)).toString("utf8").replace('"noop":true', '"noop":false'));
  r = await sendThenProbe(c, node, req.id, tampered);
  assert.equal(r.drop?.reason, "bad-signature");

  // Revoked signer.
  req = c.request();
  r = await sendThenProbe(c, node, req.id, c.sealed(req, identityOf(revoked)));
  assert.equal(r.drop?.reason, "untrusted-cert");
  assert.match(String(r.drop?.detail), /revoked/);

  // A valid cert of the CA whose certname is not on broker.allow.
  req = c.request();
  r = await sendThenProbe(c, node, req.id, c.sealed(req, identityOf(fleet.files("intruder.example"))));
  assert.equal(r.drop?.reason, "signer-not-allowed");

  assert.equal(node.twitch.fake.calls(), 0, "nothing ran");
});

test("expired, future and replayed requests are dropped; a request seen before never runs twice", async (t) => {
  const fleet = await startFleet(t);
  const node = await startNode(t, fleet, "node1.example");
  const c = await testController(t, fleet);

  let req = c.request({ time: Date.now() - 10 * 60_000, ttl: 60_000 });
  let r = await sendThenProbe(c, node, req.id, c.sealed(req));
  assert.equal(r.drop?.reason, "expired");
  req = c.request({ time: Date.now() + 5 * 60_000 });
  r = await sendThenProbe(c, node, req.id, c.sealed(req));
  assert.equal(r.drop?.reason, "future");
  req = c.request({ ttl: 24 * 3_600_000 });
  r = await sendThenProbe(c, node, req.id, c.sealed(req));
  assert.equal(r.drop?.reason, "ttl-too-long");
  assert.equal(node.twitch.fake.calls(), 0);

  // A good request runs once; the same bytes again only repeat the answer already given.
  const good = c.request();
  const bytes = c.sealed(good);
  c.publish(node.certname, bytes);
  await c.until(good.id, (rs) => rs.some((x) => x.kind === "complete"));
  c.publish(node.certname, bytes);
  await c.until(good.id, (rs) => rs.filter((x) => x.kind === "complete").length === 2);
  assert.equal(node.twitch.fake.calls(), 1, "the replay did not run puppet again");
  assert.ok(node.logs().some((l) => l.msg === "fleet request seen before; not run again" && l.request === good.id));
});

test("malformed, unsigned, oversized messages and bad fields are dropped; a bad filter from a trusted signer is refused", async (t) => {
  const fleet = await startFleet(t);
  const node = await startNode(t, fleet, "node1.example");
  const c = await testController(t, fleet);
  const cases: [string, Uint8Array][] = [
    ["malformed", Buffer.from("not json {")],
    ["malformed", Buffer.from(JSON.stringify({ v: 1, payload: c.request() }))],
    ["too-large", Buffer.alloc(100 * 1024, 0x20)],
    ["bad-request", c.sealed({ ...c.request(), action: "reboot" } as never)],
    ["bad-request", c.sealed(c.request({ options: { noop: false, tags: ["bad tag!"], environment: undefined, splay: false } }))],
  ];
  for (const [reason, data] of cases) {
    const r = await sendThenProbe(c, node, "none", data);
    assert.equal(r.drop?.reason, reason, `${reason}: ${String(r.drop?.detail)}`);
  }
  const badFilter = c.request({ filter: { facts: ["role=~(unclosed"] } });
  c.publish(node.certname, c.sealed(badFilter));
  const [refusal] = await c.until(badFilter.id, (rs) => rs.length === 1);
  assert.equal(refusal?.kind, "refused");
  assert.match(String(refusal?.reason), /bad filter: fact filter "role=~\(unclosed": bad regex/);
  assert.equal(node.twitch.fake.calls(), 0);
});

test("two requests at once: one run (START then COMPLETE), the other is refused as already running", async (t) => {
  const fleet = await startFleet(t, { controllers: ["controller.example", "controller2.example"] });
  const node = await startNode(t, fleet, "node1.example");
  const c1 = await testController(t, fleet);
  const c2 = await testController(t, fleet, fleet.files("controller2.example"));
  node.twitch.fake.hold();
  const a = c1.request();
  const b = c2.request();
  c1.publish(node.certname, c1.sealed(a));
  c2.publish(node.certname, c2.sealed(b, c2.identity));
  await node.twitch.fake.started();
  const all = await c1.until(a.id, () => c1.replies.some((r) => r.id === b.id) && c1.replies.some((r) => r.id === a.id));
  const kinds = [...all, ...c1.replies.filter((r) => r.id === b.id)].map((r) => r.kind).sort();
  assert.deepEqual(kinds, ["refused", "start"]);
  const refused = c1.replies.find((r) => r.kind === "refused");
  assert.equal(refused?.reason, "already running");
  node.twitch.fake.release();
  const started = c1.replies.find((r) => r.kind === "start") as { id: string };
  await c1.until(started.id, (rs) => rs.some((r) => r.kind === "complete"));
  assert.equal(node.twitch.fake.calls(), 1);
});
