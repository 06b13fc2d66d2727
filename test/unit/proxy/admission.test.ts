// Admission limits as a table: per client address, and for all clients without a cert together.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Admission } from "../../../src/proxy/admission.js";

test("per address: the (perClient+1)th request in flight is refused; a slot given back admits again", () => {
  const a = new Admission({ perClient: 2, unauthenticated: 10 });
  assert.equal(a.enter("192.0.2.1", true), undefined);
  assert.equal(a.enter("192.0.2.1", true), undefined);
  assert.match(a.enter("192.0.2.1", true) ?? "", /more than 2 requests in flight from 192\.0\.2\.1 \(proxy\.limits\.perClient\)/);
  assert.equal(a.enter("192.0.2.2", true), undefined, "other addresses are not affected");
  a.leave("192.0.2.1", true);
  assert.equal(a.enter("192.0.2.1", true), undefined);
  assert.deepEqual(a.inFlight, { total: 3, unauthenticated: 0, addresses: 2 });
});

test("without a cert: all addresses together share `unauthenticated` slots; certified clients are not counted there", () => {
  const a = new Admission({ perClient: 5, unauthenticated: 2 });
  assert.equal(a.enter("198.51.100.1", false), undefined);
  assert.equal(a.enter("198.51.100.2", false), undefined);
  assert.match(a.enter("198.51.100.3", false) ?? "", /more than 2 requests in flight from clients without a certificate \(proxy\.limits\.unauthenticated\)/);
  assert.equal(a.enter("198.51.100.3", true), undefined, "the same address with a cert");
  a.leave("198.51.100.1", false);
  assert.equal(a.enter("198.51.100.3", false), undefined);
  for (const [addr, auth] of [["198.51.100.2", false], ["198.51.100.3", true], ["198.51.100.3", false]] as const) a.leave(addr, auth);
  assert.deepEqual(a.inFlight, { total: 0, unauthenticated: 0, addresses: 0 }, "nothing left behind");
});

test("a refused request takes no slot", () => {
  const a = new Admission({ perClient: 1, unauthenticated: 1 });
  assert.equal(a.enter("192.0.2.9", false), undefined);
  assert.ok(a.enter("192.0.2.9", false));
  assert.ok(a.enter("192.0.2.10", false));
  assert.deepEqual(a.inFlight, { total: 1, unauthenticated: 1, addresses: 1 });
});
