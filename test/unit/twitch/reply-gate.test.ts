// When the controller verifies replies (src/twitch/fleet/reply-gate.ts): a START is held unverified
// until its start timeout matters, every other answer is verified at once, and a forged START
// never changes a node's outcome. Real signed messages, a counting verifier, time passed in.
import { test } from "node:test";
import assert from "node:assert/strict";
import { identityFromPem, seal } from "../../../src/twitch/broker/envelope.js";
import { PuppetTrust } from "../../../src/twitch/broker/trust.js";
import { claimReply } from "../../../src/twitch/fleet/broker-client.js";
import { ReplyGate, type ClaimedReply } from "../../../src/twitch/fleet/reply-gate.js";
import { Wave } from "../../../src/twitch/fleet/waves.js";
import { createTestCa } from "../../helpers/pki.js";

const ca = createTestCa("gate");
const trust = new PuppetTrust(ca.certPem, undefined);
const n1 = ca.issue("n1.example");
const mallory = ca.issue("mallory.example");
const idOf = (c: typeof n1) => identityFromPem(c.certname, c.certPem, c.keyPem);
const ID = "req-00000001";
const run = { exitCode: 0, status: "success", outcome: "unchanged", changed: 0, failed: 0, total: 5, durationMs: 900, message: "" };

/** The message `signer` sends claiming to be n1, and a count of the verifications it costs. */
function message(kind: "start" | "complete" | "noop", signer = n1, verified = { n: 0 }): ClaimedReply {
  const c = claimReply(seal({ id: ID, certname: "n1.example", kind, time: 1, ...(kind === "complete" ? { run } : {}) }, idOf(signer)), trust, 65536);
  if (!("verify" in c)) throw new Error(c.reason);
  return { reply: c.reply, verify: () => (verified.n++, c.verify()) };
}

function setup() {
  const rejected: string[] = [];
  const gate = new ReplyGate((certname, reason) => rejected.push(`${certname}: ${reason}`));
  const w = new Wave(["n1.example"], { canary: 0, concurrency: 1, maxFailures: 0, startTimeoutMs: 1000, runTimeoutMs: 5000 });
  w.take(0);
  return { gate, w, rejected };
}

test("the first START of an asked node is held unverified; the verified COMPLETE discards it unread", () => {
  const { gate, w } = setup();
  const verified = { n: 0 };
  assert.equal(gate.offer(message("start", n1, verified), 10, w.stateOf("n1.example") === "asked"), undefined);
  assert.deepEqual(gate.held, ["n1.example"]);
  assert.equal(verified.n, 0, "no signature checked for the START");
  const done = gate.offer(message("complete", n1, verified), 900, false);
  assert.equal(done?.kind, "complete");
  assert.equal(verified.n, 1, "one check per node and wave: the COMPLETE's");
  assert.deepEqual(gate.held, []);
  w.reply(done, 900);
  assert.equal(w.rows[0]?.state, "ok");
});

test("a held genuine START is verified when the start timeout passes: the node runs from the START's arrival", () => {
  const { gate, w } = setup();
  gate.offer(message("start"), 10, true);
  assert.ok(!w.startOverdue("n1.example", 1000) && w.startOverdue("n1.example", 1001));
  const s = gate.confirm("n1.example");
  assert.deepEqual([s?.reply.kind, s?.at], ["start", 10]);
  w.reply(s!.reply, s!.at);
  w.tick(1001);
  assert.equal(w.rows[0]?.state, "running");
  assert.equal(w.rows[0]?.startedAt, 10);
  w.tick(5011);
  assert.equal(w.rows[0]?.state, "no-answer", "the run timeout counts from the START");
});

test("a forged START changes nothing: held, it fails at the start timeout and the node is no-answer", () => {
  const { gate, w, rejected } = setup();
  gate.offer(message("start", mallory), 10, true);
  assert.equal(gate.confirm("n1.example"), undefined);
  assert.deepEqual(rejected, ["n1.example: reply claims n1.example but is signed by mallory.example"]);
  w.tick(1001);
  assert.equal(w.rows[0]?.state, "no-answer");
  assert.match(w.rows[0]?.message ?? "", /no START or NOOP/);
});

test("a genuine START behind a held forged one is verified on arrival and the node runs", () => {
  const { gate, w, rejected } = setup();
  const verified = { n: 0 };
  gate.offer(message("start", mallory, verified), 10, true);
  const real = gate.offer(message("start", n1, verified), 20, true);
  assert.equal(real?.kind, "start");
  assert.equal(verified.n, 1);
  assert.deepEqual(gate.held, [], "the verified START replaces the held one");
  w.reply(real, 20);
  w.tick(1500);
  assert.equal(w.rows[0]?.state, "running");
  assert.deepEqual(rejected, []);
});

test("NOOP and COMPLETE are verified at once: forged ones are rejected and change nothing", () => {
  const { gate, w, rejected } = setup();
  const verified = { n: 0 };
  assert.equal(gate.offer(message("noop", mallory, verified), 10, true), undefined);
  assert.equal(gate.offer(message("complete", mallory, verified), 11, true), undefined);
  assert.equal(verified.n, 2);
  assert.equal(rejected.length, 2);
  assert.equal(w.rows[0]?.state, "asked");
});

test("a START for a node already running or ended is ignored without a check", () => {
  const { gate } = setup();
  const verified = { n: 0 };
  assert.equal(gate.offer(message("start", n1, verified), 10, false), undefined);
  assert.equal(verified.n, 0);
  assert.deepEqual(gate.held, []);
});
