// The single-proxy CA state store: compare-and-set on a revision kept in the file, epoch fencing,
// the older {epoch, active} file, a failback hold round trip, and clear errors for bad files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileCaStateStore } from "../../../../src/proxy/control/store.js";
import { FencedError, StaleStateError, StateError } from "../../../../src/errors.js";

function tempStore(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), "puppet-ha-store-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "arbiter.json");
  return { path, store: new FileCaStateStore(path) };
}

test("first write on an absent file, then compare-and-set on the revision read", async (t) => {
  const { path, store } = tempStore(t);
  assert.equal(await store.read(), undefined);
  const first = await store.compareAndSet(undefined, { epoch: 1, active: "ca1" });
  assert.deepEqual(first, { state: { epoch: 1, active: "ca1" }, revision: 1 });
  const second = await store.compareAndSet(first, { epoch: 2, active: "ca2" });
  assert.equal(second.revision, 2);
  assert.deepEqual(await store.read(), second);
  assert.deepEqual(JSON.parse(readFileSync(path, "utf8")), { epoch: 2, active: "ca2", revision: 2 });
});

test("a write based on a stale read is refused and changes nothing", async (t) => {
  const { store } = tempStore(t);
  const first = await store.compareAndSet(undefined, { epoch: 1, active: "ca1" });
  await store.compareAndSet(first, { epoch: 2, active: "ca2" });
  await assert.rejects(store.compareAndSet(first, { epoch: 3, active: "ca3" }), StaleStateError);
  await assert.rejects(store.compareAndSet(undefined, { epoch: 9, active: "ca3" }), StaleStateError);
  assert.deepEqual((await store.read())?.state, { epoch: 2, active: "ca2" });
});

test("the epoch never goes down; the same epoch may change the hold", async (t) => {
  const { store } = tempStore(t);
  const s = await store.compareAndSet(undefined, { epoch: 5, active: "ca1" });
  await assert.rejects(store.compareAndSet(s, { epoch: 4, active: "ca2" }), FencedError);
  const held = await store.compareAndSet(s, { epoch: 5, active: "ca1", hold: { id: "fb-1", target: "ca2", since: 1234 } });
  assert.deepEqual((await store.read())?.state.hold, { id: "fb-1", target: "ca2", since: 1234 });
  const released = await store.compareAndSet(held, { epoch: 6, active: "ca2" });
  assert.equal(released.state.hold, undefined);
});

test("a file written by the older store ({epoch, active}) reads as revision 0; only a writer that read it may replace it", async (t) => {
  const { path, store } = tempStore(t);
  writeFileSync(path, '{"epoch":7,"active":"ca2"}\n');
  const s = await store.read();
  assert.deepEqual(s, { state: { epoch: 7, active: "ca2" }, revision: 0 });
  await assert.rejects(store.compareAndSet(undefined, { epoch: 8, active: "ca1" }), StaleStateError);
  assert.equal((await store.compareAndSet(s, { epoch: 8, active: "ca1" })).revision, 1);
});

test("bad files are StateErrors naming the file and what is expected", async (t) => {
  const { path, store } = tempStore(t);
  for (const [text, re] of [["{", /not valid JSON/], ['{"epoch":0,"active":"ca1"}', /integer >= 1/], ['{"epoch":1,"active":"ca1","hold":{"id":1}}', /hold must be/]] as const) {
    writeFileSync(path, text);
    await assert.rejects(store.read(), (err: unknown) => err instanceof StateError && err.message.startsWith(path) && re.test(err.message));
  }
});

test("watchers hear every successful write, and nothing after they stop", async (t) => {
  const { store } = tempStore(t);
  const seen: number[] = [];
  const stop = store.watch((s) => seen.push(s.state.epoch));
  const s = await store.compareAndSet(undefined, { epoch: 1, active: "ca1" });
  await store.compareAndSet(s, { epoch: 2, active: "ca2" }).catch(() => undefined);
  await store.compareAndSet(s, { epoch: 3, active: "ca2" }).catch(() => undefined); // stale: not heard
  stop();
  await store.compareAndSet(await store.read(), { epoch: 4, active: "ca1" });
  assert.deepEqual(seen, [1, 2]);
});

test("the change record (from, cause, at) is kept with the epoch; an unknown cause is a StateError", async (t) => {
  const { path, store } = tempStore(t);
  const s = await store.compareAndSet(undefined, { epoch: 2, active: "ca2", change: { from: "ca1", cause: "failover", at: 42 } });
  assert.deepEqual((await store.read())?.state, s.state);
  assert.deepEqual(s.state.change, { from: "ca1", cause: "failover", at: 42 });
  writeFileSync(path, '{"epoch":3,"active":"ca1","change":{"from":"ca2","cause":"because","at":1}}');
  await assert.rejects(store.read(), /change must be \{"from": "<CA worker name>", "cause": "failover" \| "admin" \| "failback"/);
});
