// Members whose record vanished less than ttl ago still count for a failback hold; and nothing is
// safe before this proxy has watched the registry for ttl.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GoneMembers } from "../../../../src/proxy/control/gone-members.js";

test("a member whose record vanished is pending from the first read without it until ttl after", () => {
  const g = new GoneMembers(10_000);
  g.observe(["a", "b"], 0);
  g.observe(["a", "b"], 2000);
  g.observe(["a"], 4000);
  g.observe(["a"], 6000);
  assert.deepEqual(g.pending(12_000), { members: [{ name: "b", goneAt: 4000 }], watchedTooShort: false, watchedSince: 0 });
  assert.deepEqual(g.pending(14_000).members, [], "ttl after the first read without it");
  g.observe(["a"], 15_000);
  assert.deepEqual(g.pending(15_000).members, []);
});

test("a member that comes back is no longer pending; one that leaves again counts from then", () => {
  const g = new GoneMembers(10_000);
  g.observe(["a", "b"], 0);
  g.observe(["a"], 1000);
  g.observe(["a", "b"], 2000);
  assert.deepEqual(g.pending(3000).members, []);
  g.observe(["a"], 5000);
  assert.deepEqual(g.pending(5000).members, [{ name: "b", goneAt: 5000 }]);
});

test("before ttl of watching, a member that vanished unseen may still be acting", () => {
  const g = new GoneMembers(10_000);
  assert.equal(g.pending(0).watchedTooShort, true, "nothing read yet");
  g.observe(["a"], 1000);
  assert.equal(g.pending(10_999).watchedTooShort, true);
  assert.equal(g.pending(11_000).watchedTooShort, false);
});
