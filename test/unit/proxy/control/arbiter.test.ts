// The CA state machine in memory: failover, epoch persistence and fencing, the write hold with an
// injected clock, promotion hooks under the hold, no automatic failback.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { Arbiter } from "../../../../src/proxy/control/arbiter.js";
import { openFileState } from "../../../../src/proxy/control/store.js";
import { fileState } from "./file-state.js";
import { FencedError, NoHealthyBackendError, StaleStateError, StateError, WritesInFlightError } from "../../../../src/errors.js";
import { FakeClock, flush } from "../fake-clock.js";

function setup(opts: { workers?: string[]; up?: string[]; state?: ReturnType<typeof fileState> } = {}) {
  const workers = opts.workers ?? ["ca1", "ca2", "ca3"];
  const up = new Set(opts.up ?? workers);
  const clock = new FakeClock();
  const state = opts.state ?? fileState(undefined, workers[0]);
  const store = state.store;
  const arbiter = new Arbiter({ workers, initial: state.initial, commit: state.commit, isUsable: (n) => up.has(n), holdMs: 1000, scheduler: clock });
  const down = (n: string) => {
    up.delete(n);
    arbiter.workerDown(n, "test");
  };
  const upAgain = (n: string) => {
    up.add(n);
    arbiter.workerUp(n);
  };
  return { arbiter, clock, store, up, down, upAgain };
}

test("a fresh arbiter starts on the first worker at epoch 1 and saves it", async () => {
  const { arbiter, store } = setup();
  assert.equal(arbiter.active, "ca1");
  assert.equal(arbiter.epoch, 1);
  assert.deepEqual(await store.read(), { state: { epoch: 1, active: "ca1" }, revision: 1 });
});

test("the saved state is read back at start", () => {
  const { arbiter } = setup({ state: fileState({ epoch: 7, active: "ca2" }) });
  assert.equal(arbiter.active, "ca2");
  assert.equal(arbiter.epoch, 7);
});

test("a saved state naming an unknown worker is a clear error", () => {
  assert.throws(() => setup({ state: fileState({ epoch: 3, active: "ca9" }) }), (err: unknown) => {
    assert.ok(err instanceof StateError);
    assert.match(err.message, /"ca9".*not in proxy\.ca\.workers \(ca1, ca2, ca3\)/);
    return true;
  });
});

test("reads and writes go to the active CA without waiting when all is well", () => {
  const { arbiter } = setup();
  assert.equal(arbiter.acquire(false), "ca1");
  assert.equal(arbiter.acquire(true), "ca1");
});

test("failover: the first usable standby is promoted, epoch+1, persisted, with the reason", async () => {
  const { arbiter, store, up, down } = setup();
  up.delete("ca2");
  down("ca1");
  await flush();
  assert.equal(arbiter.active, "ca3");
  assert.equal(arbiter.epoch, 2);
  const saved = (await store.read())?.state;
  assert.deepEqual([saved?.epoch, saved?.active, saved?.change?.from, saved?.change?.cause], [2, "ca3", "ca1", "failover"]);
  assert.match(arbiter.snapshot().lastChange?.reason ?? "", /active CA ca1 down: test/);
});

test("a standby going down changes nothing", async () => {
  const { arbiter, down } = setup();
  down("ca2");
  await flush();
  assert.equal(arbiter.active, "ca1");
  assert.equal(arbiter.epoch, 1);
});

test("writes held during failover are released to the new active; hooks run before release", async () => {
  const { arbiter, down } = setup();
  const order: string[] = [];
  let finishHook!: () => void;
  arbiter.onPromotion(async (e) => {
    order.push(`hook ${e.from}->${e.to}@${e.epoch}`);
    await new Promise<void>((r) => (finishHook = r));
    order.push("hook done");
  });
  down("ca1");
  const write = arbiter.acquire(true);
  assert.ok(write instanceof Promise);
  void write.then((n) => order.push(`write to ${n}`));
  await flush();
  assert.deepEqual(order, ["hook ca1->ca2@2"]);
  // Reads go to the new active at once, while writes are still held by the hook.
  assert.equal(arbiter.acquire(false), "ca2");
  assert.ok(arbiter.acquire(true) instanceof Promise);
  finishHook();
  await flush();
  assert.deepEqual(order, ["hook ca1->ca2@2", "hook done", "write to ca2"]);
  assert.equal(arbiter.acquire(true), "ca2");
});

test("with no standby up, writes are held, then refused after holdMs (503 at the edge)", async () => {
  const { arbiter, clock, down } = setup({ workers: ["ca1", "ca2"], up: ["ca1"] });
  down("ca1");
  await flush();
  assert.equal(arbiter.active, "ca1");
  const w = arbiter.acquire(true) as Promise<string>;
  const outcome = w.then(() => "released", (e: unknown) => (e instanceof NoHealthyBackendError ? "refused" : String(e)));
  clock.advance(999);
  await flush();
  assert.equal(arbiter.snapshot().heldRequests, 1);
  clock.advance(1);
  assert.equal(await outcome, "refused");
  assert.equal(arbiter.snapshot().heldRequests, 0);
  // No CA worker is up at all: reads are refused at once.
  assert.throws(() => arbiter.acquire(false), NoHealthyBackendError);
});

test("held writes go to a standby that comes up later (epoch+1)", async () => {
  const { arbiter, down, upAgain } = setup({ workers: ["ca1", "ca2"], up: ["ca1"] });
  down("ca1");
  await flush();
  const w = arbiter.acquire(true) as Promise<string>;
  upAgain("ca2");
  assert.equal(await w, "ca2");
  assert.equal(arbiter.epoch, 2);
});

test("held writes go back to the active CA when it recovers before any standby", async () => {
  const { arbiter, down, upAgain } = setup({ workers: ["ca1", "ca2"], up: ["ca1"] });
  down("ca1");
  await flush();
  const w = arbiter.acquire(true) as Promise<string>;
  upAgain("ca1");
  assert.equal(await w, "ca1");
  assert.equal(arbiter.epoch, 1);
});

test("no automatic failback: the old primary coming back stays standby", async () => {
  const { arbiter, down, upAgain } = setup();
  down("ca1");
  await flush();
  assert.equal(arbiter.active, "ca2");
  upAgain("ca1");
  await flush();
  assert.equal(arbiter.active, "ca2");
  assert.equal(arbiter.epoch, 2);
});

test("setActive (admin) switches under the hold: epoch+1, hooks called", async () => {
  const { arbiter } = setup();
  const seen: number[] = [];
  arbiter.onPromotion((e) => void seen.push(e.epoch));
  const s = await arbiter.setActive("ca3", "maintenance");
  assert.deepEqual(s, { epoch: 2, active: "ca3" });
  assert.deepEqual(seen, [2]);
  assert.deepEqual(await arbiter.setActive("ca3"), { epoch: 2, active: "ca3" }, "no-op when already active");
  await assert.rejects(arbiter.setActive("nope"), NoHealthyBackendError);
});

test("withWriteHold runs steps one at a time and holds writes for the whole step", async () => {
  const { arbiter } = setup();
  const log: string[] = [];
  let release!: () => void;
  const a = arbiter.withWriteHold(async () => {
    log.push("a start");
    await new Promise<void>((r) => (release = r));
    log.push("a end");
  });
  const b = arbiter.withWriteHold(() => Promise.resolve(void log.push("b")));
  await flush();
  assert.ok(arbiter.holding);
  const w = arbiter.acquire(true) as Promise<string>;
  assert.deepEqual(log, ["a start"]);
  release();
  await Promise.all([a, b]);
  assert.deepEqual(log, ["a start", "a end", "b"]);
  assert.equal(await w, "ca1");
  assert.equal(arbiter.holding, false);
});

test("a failing hook is logged and does not keep writes held", async () => {
  const { arbiter, down } = setup();
  arbiter.onPromotion(() => {
    throw new Error("serial advance failed");
  });
  down("ca1");
  const w = arbiter.acquire(true) as Promise<string>;
  assert.equal(await w, "ca2");
});

test("fencing: a lower or equal epoch seen elsewhere is never adopted", () => {
  const { arbiter } = setup();
  assert.equal(arbiter.observe({ epoch: 5, active: "ca2" }), true);
  assert.equal(arbiter.observe({ epoch: 4, active: "ca3" }), false);
  assert.equal(arbiter.observe({ epoch: 5, active: "ca3" }), false);
  assert.equal(arbiter.active, "ca2");
});

test("a switch whose compare-and-set is refused changes nothing (the file changed, or its epoch is higher)", async () => {
  const state = fileState();
  const { arbiter, store } = setup({ state });
  const read = await store.read();
  await store.compareAndSet(read, { epoch: 9, active: "ca3" }); // someone with a higher epoch wrote meanwhile
  await assert.rejects(arbiter.setActive("ca2"), StaleStateError);
  assert.equal(arbiter.active, "ca1");
  assert.equal(arbiter.epoch, 1);
  assert.deepEqual((await store.read())?.state, { epoch: 9, active: "ca3" });
  await assert.rejects(store.compareAndSet(await store.read(), { epoch: 3, active: "ca1" }), FencedError);
});

test("the switch is persisted with its change record before anything else happens", async () => {
  const { arbiter, store, clock } = setup();
  clock.advance(1234);
  const at = clock.now();
  await arbiter.setActive("ca2");
  assert.deepEqual(await store.read(), { state: { epoch: 2, active: "ca2", change: { from: "ca1", cause: "admin", at } }, revision: 2 });
});

test("a state file of the older store ({epoch, active}, no revision) is loaded and written on", async () => {
  const state = fileState({ epoch: 4, active: "ca2" });
  assert.equal((JSON.parse(readFileSync(state.path, "utf8")) as { revision?: number }).revision, undefined, "open() of an existing file writes nothing");
  const { arbiter, store } = setup({ state });
  assert.deepEqual([arbiter.epoch, arbiter.active], [4, "ca2"]);
  await arbiter.setActive("ca1");
  const written = JSON.parse(readFileSync(state.path, "utf8")) as { epoch: number; active: string; change: { from: string; cause: string }; revision: number };
  assert.deepEqual([written.epoch, written.active, written.change.from, written.change.cause, written.revision], [5, "ca1", "ca2", "admin", 1]);
  assert.equal((await store.read())?.revision, 1);
  writeFileSync(state.path, "{");
  assert.throws(() => openFileState(state.path, "ca1"), (e: unknown) => e instanceof StateError && e.message.startsWith(state.path));
});

test("only a standby proven up is promoted; an unchecked one is waited for", async () => {
  const clock = new FakeClock();
  const checked = new Set<string>();
  const up = new Set(["ca2"]);
  const arbiter = new Arbiter({
    workers: ["ca1", "ca2"], ...fileState(), holdMs: 1000, scheduler: clock,
    isUsable: (n) => up.has(n), isPromotable: (n) => up.has(n) && checked.has(n),
  });
  arbiter.workerDown("ca1", "first check failed");
  await flush();
  assert.equal(arbiter.active, "ca1", "ca2 is not checked yet");
  checked.add("ca2");
  arbiter.workerUp("ca2");
  await flush();
  assert.equal(arbiter.active, "ca2");
});

test("writesDrained waits for CA writes already sent to the active CA, and times out with a typed error", async () => {
  const clock = new FakeClock();
  const arbiter = new Arbiter({ workers: ["ca1", "ca2"], ...fileState(), isUsable: () => true, holdMs: 1000, scheduler: clock });
  await arbiter.writesDrained(100); // nothing in flight: at once
  arbiter.writeStarted();
  arbiter.writeStarted();
  let drained = false;
  const p = arbiter.writesDrained(500).then(() => { drained = true; });
  arbiter.writeEnded();
  await flush();
  assert.equal(drained, false, "one write is still in flight");
  arbiter.writeEnded();
  await p;
  assert.equal(drained, true);

  arbiter.writeStarted();
  const late = arbiter.writesDrained(500);
  clock.advance(500);
  await assert.rejects(late, (e: Error) => e instanceof WritesInFlightError && /1 CA write\(s\) still in flight on the active CA after 500 ms/.test(e.message));
  arbiter.writeEnded();
});

test("writesDrained resolves as soon as the last write ended, whenever writes ended before (no settle rule a client could keep alive)", async () => {
  const clock = new FakeClock();
  const arbiter = new Arbiter({ workers: ["ca1", "ca2"], ...fileState(), isUsable: () => true, holdMs: 1000, scheduler: clock });
  arbiter.writeStarted();
  arbiter.writeEnded();
  assert.equal(arbiter.inFlightWrites, 0);
  await arbiter.writesDrained(5000); // at once, not "moments after a write ended"
  arbiter.writeStarted();
  const waiting = arbiter.writesDrained(5000);
  arbiter.writeEnded();
  await waiting;
});

test("cluster: an arbiter that may not decide never fails over by itself; it adopts states from outside", async () => {
  const clock = new FakeClock();
  const up = new Set(["ca2"]);
  const a = new Arbiter({ workers: ["ca1", "ca2"], ...fileState({ epoch: 1, active: "ca1" }), isUsable: (n) => up.has(n), holdMs: 1000, scheduler: clock, decides: () => false });
  a.workerDown("ca1", "checks failed");
  await flush();
  assert.equal(a.epoch, 1);
  assert.equal(a.active, "ca1");
  assert.equal(a.observe({ epoch: 2, active: "ca2" }), true);
  assert.equal(a.active, "ca2");
});

test("cluster: a change of active CA is committed first; when the commit throws nothing changes and no hook runs", async () => {
  const clock = new FakeClock();
  const committed: { epoch: number; active: string; from: string; cause: string }[] = [];
  let refuse = true;
  const hooks: string[] = [];
  const a = new Arbiter({
    workers: ["ca1", "ca2"], initial: { epoch: 4, active: "ca1" }, isUsable: () => true, holdMs: 1000, scheduler: clock,
    commit: (next) => {
      if (refuse) return Promise.reject(new Error("not the controller"));
      committed.push({ epoch: next.epoch, active: next.active, from: next.change?.from ?? "", cause: next.change?.cause ?? "" });
      return Promise.resolve();
    },
  });
  a.onPromotion((e) => void hooks.push(`${e.to}@${e.epoch}:${e.cause}`));
  await assert.rejects(a.setActive("ca2"), /not the controller/);
  assert.deepEqual([a.epoch, a.active, hooks], [4, "ca1", []]);
  refuse = false;
  await a.setActive("ca2");
  assert.deepEqual(committed, [{ epoch: 5, active: "ca2", from: "ca1", cause: "admin" }]);
  assert.deepEqual([a.epoch, a.active, hooks], [5, "ca2", ["ca2@5:admin"]]);
});

test("transitions: every change of active CA this proxy applies is one typed {epoch, from, to, cause}, decided here or adopted", async () => {
  const { arbiter, down } = setup();
  const seen: unknown[] = [];
  arbiter.onTransition((t) => seen.push(t));
  down("ca1");
  await flush();
  await arbiter.setActive("ca3", "maintenance");
  assert.equal(arbiter.observe({ epoch: 9, active: "ca1", change: { from: "ca3", cause: "failback", at: 5 } }), true);
  assert.equal(arbiter.observe({ epoch: 10, active: "ca2" }), true, "a state without a change record");
  assert.deepEqual(seen, [
    { epoch: 2, from: "ca1", to: "ca2", cause: "failover" },
    { epoch: 3, from: "ca2", to: "ca3", cause: "admin" },
    { epoch: 9, from: "ca3", to: "ca1", cause: "failback" },
    { epoch: 10, from: "ca1", to: "ca2", cause: "failover" },
  ]);
});

test("transitions: a cluster's commit that applies the new state at once (observe) is not a second transition; the first state read is none", async () => {
  const clock = new FakeClock();
  const seen: string[] = [];
  const hooks: string[] = [];
  const ref: { a?: Arbiter } = {};
  const a = (ref.a = new Arbiter({
    workers: ["ca1", "ca2"], initial: { epoch: 0, active: "ca1" }, isUsable: () => true, holdMs: 1000, scheduler: clock,
    commit: (next) => {
      ref.a?.observe(next); // what ProxyCluster.commit does through the follower
      return Promise.resolve();
    },
  }));
  a.onTransition((t) => seen.push(`${t.from}->${t.to}@${t.epoch}:${t.cause}`));
  a.onPromotion((e) => void hooks.push(`${e.to}@${e.epoch}:${e.cause}`));
  assert.equal(a.observe({ epoch: 4, active: "ca1" }), true);
  assert.deepEqual(seen, [], "the first state a member reads is not a change");
  await a.setActive("ca2");
  assert.deepEqual(seen, ["ca1->ca2@5:admin"]);
  assert.deepEqual(hooks, ["ca2@5:admin"]);
  assert.equal(a.snapshot().lastChange?.reason, "admin request");
});
