// Backend selection: round-robin, least outstanding requests, skipping down backends, pinning.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BackendPool, usable } from "../../../src/proxy/pool.js";

const members = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `m${i + 1}`, url: `http://127.0.0.1:${18140 + i}` }));
const names = (pool: BackendPool, k: number, exclude?: Set<never>) => Array.from({ length: k }, () => pool.pick(exclude)?.name ?? "-");

test("backends start unknown and usable until proven down", () => {
  const pool = new BackendPool("masters", members(2));
  assert.ok(pool.backends.every((b) => b.state === "unknown" && usable(b)));
});

const cases: { title: string; n: number; down?: string[]; picks: number; want: string[]; balance?: "round-robin" | "least-connections"; outstanding?: Record<string, number> }[] = [
  { title: "round-robin cycles in order", n: 3, picks: 6, want: ["m1", "m2", "m3", "m1", "m2", "m3"] },
  { title: "round-robin skips down backends", n: 3, down: ["m2"], picks: 4, want: ["m1", "m3", "m1", "m3"] },
  { title: "all down gives nothing", n: 2, down: ["m1", "m2"], picks: 2, want: ["-", "-"] },
  { title: "least-connections takes the least busy", n: 3, balance: "least-connections", outstanding: { m1: 5, m2: 1, m3: 3 }, picks: 2, want: ["m2", "m2"] },
  { title: "least-connections spreads ties", n: 3, balance: "least-connections", picks: 3, want: ["m1", "m2", "m3"] },
  { title: "least-connections skips down", n: 3, balance: "least-connections", down: ["m2"], outstanding: { m1: 5, m2: 0, m3: 3 }, picks: 1, want: ["m3"] },
];

for (const c of cases) {
  test(c.title, () => {
    const pool = new BackendPool("masters", members(c.n), c.balance ?? "round-robin");
    for (const d of c.down ?? []) pool.setState(d, "down", "test");
    for (const [n, o] of Object.entries(c.outstanding ?? {})) pool.get(n)!.outstanding = o;
    assert.deepEqual(names(pool, c.picks), c.want);
  });
}

test("pick skips backends already tried", () => {
  const pool = new BackendPool("masters", members(3));
  const tried = new Set([pool.get("m1")!, pool.get("m2")!]);
  assert.equal(pool.pick(tried)?.name, "m3");
  tried.add(pool.get("m3")!);
  assert.equal(pool.pick(tried), undefined);
});

test("pinning takes the first usable backend in configured order", () => {
  const pool = new BackendPool("masters", members(3));
  assert.equal(pool.pinned()?.name, "m1");
  pool.pick();
  assert.equal(pool.pinned()?.name, "m1", "round-robin state does not move the pin");
  pool.setState("m1", "down", "test");
  assert.equal(pool.pinned()?.name, "m2");
  assert.equal(pool.pinned(new Set([pool.get("m2")!]))?.name, "m3");
  pool.setState("m1", "up", "test");
  assert.equal(pool.pinned()?.name, "m1");
});

test("listeners hear only real state changes, with time and reason", () => {
  let now = 100;
  const pool = new BackendPool("masters", members(1), "round-robin", () => now);
  const heard: string[] = [];
  pool.onChange((b, prev) => heard.push(`${b.name}:${prev}->${b.state}`));
  now = 200;
  assert.equal(pool.setState("m1", "up", "check"), true);
  assert.equal(pool.setState("m1", "up", "check"), false);
  pool.setState("m1", "down", "refused");
  assert.deepEqual(heard, ["m1:unknown->up", "m1:up->down"]);
  assert.equal(pool.get("m1")!.reason, "refused");
  assert.equal(pool.get("m1")!.since, 200);
  assert.equal(pool.setState("nope", "down", "x"), false);
});

test("a drained backend takes no new requests until enabled", () => {
  const pool = new BackendPool("masters", members(2));
  pool.setState("m1", "up", "check");
  assert.equal(pool.setDrained("m1", true), true);
  assert.equal(pool.setDrained("m1", true), false);
  assert.deepEqual(names(pool, 3), ["m2", "m2", "m2"]);
  assert.equal(pool.pinned()?.name, "m2");
  assert.equal(pool.get("m1")!.state, "up", "drain is not a health state");
  pool.setDrained("m1", false);
  assert.equal(pool.pinned()?.name, "m1");
});

test("reconcile (reload): kept members keep their object and state, new or re-addressed ones start fresh", () => {
  let t = 0;
  const pool = new BackendPool("masters", [{ name: "m1", url: "http://a:1" }, { name: "m2", url: "http://a:2" }, { name: "m3", url: "http://a:3" }], "round-robin", () => t);
  pool.setState("m1", "up", "test");
  pool.setState("m2", "down", "test");
  const m1 = pool.get("m1");
  t = 5;
  const { added, removed } = pool.reconcile([{ name: "m4", url: "http://a:4" }, { name: "m1", url: "http://a:1" }, { name: "m2", url: "http://b:2" }]);
  assert.deepEqual(pool.backends.map((b) => b.name), ["m4", "m1", "m2"], "the new order");
  assert.equal(pool.get("m1"), m1, "same object: state and counters kept");
  assert.equal(pool.get("m1")?.state, "up");
  assert.deepEqual(added.map((b) => `${b.name} ${b.url} ${b.state} ${b.since}`), ["m4 http://a:4 unknown 5", "m2 http://b:2 unknown 5"]);
  assert.deepEqual(removed.map((b) => `${b.name} ${b.url}`).sort(), ["m2 http://a:2", "m3 http://a:3"]);
  assert.equal(pool.get("m2")?.state, "unknown", "a changed URL is a new backend");
  const seen = new Set<string>();
  for (let i = 0; i < 6; i++) seen.add(pool.pick()?.name ?? "");
  assert.deepEqual([...seen].sort(), ["m1", "m2", "m4"], "picks only current members");
});
