// The failover story's verdict logic: inventories, CSRs a CA signed, failed proxy requests, the
// failback write pause, serials issued twice, and the demo's port layout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { duplicateSerials, failbackPauseMs, failedProxyRequests, parseInventory, serialRanges, signedCsrs } from "../../../src/demo/verify.js";
import { demoPorts } from "../../../src/demo/preflight.js";

const inv1 = "0x0001 2026-11-20T08:19:27UTC 2031-11-20T08:19:27UTC /CN=ca1\n0x0002 2026-11-20T08:19:28UTC 2031-11-20T08:19:28UTC /CN=node-a\n";

test("an inventory line gives a normalised serial and the subject", () => {
  assert.deepEqual(parseInventory(inv1).map((e) => [e.serial, e.subject]), [["0x1", "/CN=ca1"], ["0x2", "/CN=node-a"]]);
  assert.deepEqual(parseInventory("garbage\n\n"), []);
});

test("the same line on both CAs is one issue; one serial with two subjects is issued twice", () => {
  const a = parseInventory(inv1);
  assert.deepEqual(duplicateSerials(a, parseInventory(inv1)), []);
  const b = parseInventory("0x0002 2026-11-20T08:20:00UTC 2031-11-20T08:20:00UTC /CN=node-b\n");
  assert.deepEqual(duplicateSerials(a, b).map((d) => d.serial), ["0x2"]);
});

test("CSRs signed are the certificate_request PUTs a CA answered 200", () => {
  const lines = [
    '127.0.0.1 - - [21/Nov/2026:10:00:00 +0000] "PUT /puppet-ca/v1/certificate_request/story-1?environment=production HTTP/1.1" 200 0 "-" "Puppet/7.23.0" 12 3400',
    '127.0.0.1 - - [21/Nov/2026:10:00:01 +0000] "PUT /puppet-ca/v1/certificate_request/story-2 HTTP/1.1" 400 10 "-" "Puppet" 3 3400',
    '127.0.0.1 - - [21/Nov/2026:10:00:02 +0000] "GET /puppet-ca/v1/certificate/story-1 HTTP/1.1" 200 1900 "-" "Puppet" 3 -',
  ];
  assert.deepEqual(signedCsrs(lines), ["story-1"]);
});

test("failed proxy requests are access lines answered 5xx; other log lines are ignored", () => {
  const lines = [
    JSON.stringify({ part: "access", method: "GET", path: "/puppet/v3/node/a", status: 200 }),
    JSON.stringify({ part: "access", method: "PUT", path: "/puppet-ca/v1/certificate_request/a", status: 502 }),
    JSON.stringify({ part: "arbiter", msg: "failover", status: 500 }),
    "not json",
  ];
  const r = failedProxyRequests(lines);
  assert.equal(r.total, 2);
  assert.deepEqual(r.failed, [{ method: "PUT", path: "/puppet-ca/v1/certificate_request/a", status: 502 }]);
});

test("the failback write pause comes from the failback answer, else from a failback log line", () => {
  assert.equal(failbackPauseMs([], JSON.stringify({ result: { from: "ca2", to: "ca1", writePauseMs: 264 } })), 264);
  assert.equal(failbackPauseMs([JSON.stringify({ msg: "failback done", heldRequests: 3, writePauseMs: 120 })]), 120);
  assert.equal(failbackPauseMs([JSON.stringify({ msg: "failover", writePauseMs: 5 })]), undefined);
});

test("serials are summarised as ranges", () => {
  assert.equal(serialRanges(["0x6", "0x7", "0x1012", "0x1013", "0x1015"]), "0x6-0x7, 0x1012-0x1013, 0x1015");
  assert.equal(serialRanges([]), "none");
});

test("the demo's ports: Puppet's own by default, seven consecutive ones from --base-port", () => {
  assert.deepEqual(demoPorts(), { frontEnd: 8140, admin: 8141, twitch: 2023, m1: 18140, m2: 18141, ca1: 18142, ca2: 18143 });
  assert.deepEqual(demoPorts(28140), { frontEnd: 28140, admin: 28141, twitch: 28142, m1: 28143, m2: 28144, ca1: 28145, ca2: 28146 });
  assert.throws(() => demoPorts(80), /--base-port/);
});
