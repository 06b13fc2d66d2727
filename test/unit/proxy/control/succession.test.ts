// When a new controller may act: at once after a clean release, a first election or its own
// earlier tenure; otherwise ttl after it first received an answer that included its predecessor's
// last renewal (the marker's mod revision), or ttl from now if it never did.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Succession } from "../../../../src/proxy/control/succession.js";
import type { KeyValue } from "../../../../src/proxy/control/etcd-codec.js";

const marker = (value: string, modRevision: number): KeyValue => ({ key: "/c.last", value, modRevision, createRevision: 1, version: 1, lease: "" });

test("no marker, a released one or one naming this member: act at once", () => {
  const s = new Succession(10_000);
  assert.equal(s.actFrom(undefined, 500, "proxy-b"), 500);
  assert.equal(s.actFrom(marker("released:proxy-a", 7), 500, "proxy-b"), 500);
  assert.equal(s.actFrom(marker("held:proxy-b", 7), 500, "proxy-b"), 500);
});

test("held by another: ttl after the first answer served at the marker's revision or later", () => {
  const s = new Succession(10_000);
  s.observe(1000, 5);
  s.observe(3000, 8);
  s.observe(5000, 9);
  assert.equal(s.actFrom(marker("held:proxy-a", 8), 6000, "proxy-b"), 13_000);
  assert.equal(s.actFrom(marker("held:proxy-a", 6), 6000, "proxy-b"), 13_000, "revision 6 was first included in the answer at 3 s");
  assert.equal(s.actFrom(marker("held:proxy-a", 10), 6000, "proxy-b"), 16_000, "never seen: ttl from now");
  assert.equal(s.actFrom(marker("held:proxy-a", 4), 12_000, "proxy-b"), 12_000, "seen long ago: its deadline has passed");
});

test("answers older than ttl are dropped, except the newest of them (it proves 'at once' for the most revisions)", () => {
  const s = new Succession(10_000);
  for (let t = 0; t <= 30_000; t += 1000) s.observe(t, t / 1000);
  assert.equal(s.actFrom(marker("held:proxy-a", 3), 30_000, "proxy-b"), 30_000);
  assert.equal(s.actFrom(marker("held:proxy-a", 25), 30_000, "proxy-b"), 35_000);
});
