// Members whose record vanished less than ttl ago still count for a failback hold; and nothing is
// safe before this proxy has watched the registry for ttl.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GoneMembers } from "../../../../src/proxy/control/gone-members.js";

test("a member whose record vanished counts from the first read without it until ttl after", () => {
  const g = new GoneMembers(10_000);
  g.observe(["a", "b"], 0);
  g.observe(["a", "b"], 2000);
  g.observe(["a"], 4000);
  g.observe(["a"], 6000);
  assert.equal(g.safeFrom(), 14_000);
  assert.deepEqual(g.describe(12_000), ["b (its record vanished 8.0 s ago: it may act until ttl has passed)"]);
  assert.deepEqual(g.describe(14_000), [], "ttl after the first read without it");
  g.observe(["a"], 15_000);
  assert.equal(g.safeFrom(), 10_000, "forgotten once ttl has passed: only the start of watching is left");
});

test("a member that comes back no longer counts; one that leaves again counts from then", () => {
  const g = new GoneMembers(10_000);
  g.observe(["a", "b"], 0);
  g.observe(["a"], 1000);
  g.observe(["a", "b"], 2000);
  assert.equal(g.safeFrom(), 10_000);
  g.observe(["a"], 5000);
  assert.equal(g.safeFrom(), 15_000);
  assert.match(g.describe(5000)[0] ?? "", /^b \(its record vanished 0\.0 s ago/);
});

test("before ttl of watching, a member that vanished unseen may still be acting", () => {
  const g = new GoneMembers(10_000);
  assert.equal(g.safeFrom(), Infinity, "nothing read yet");
  assert.deepEqual(g.describe(0), ["this proxy has watched the member registry for less than ttl"]);
  g.observe(["a"], 1000);
  assert.equal(g.safeFrom(), 11_000);
  assert.equal(g.describe(10_999).length, 1);
  assert.deepEqual(g.describe(11_000), []);
});
