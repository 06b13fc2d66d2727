// Guarded failback decisions, table-driven with an injected clock: when a failback may start and
// why not, automatic failback after failbackAfter (reset by a flap, never under manual), the
// fencing check before the switch, the state shown in /health; then the driver with a fake sync
// peer and an in-memory arbiter: writes held only during the final step, aborts keep the active.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Arbiter } from "../../../../src/proxy/control/arbiter.js";
import { fileState } from "./file-state.js";
import { autoFailback, failbackRefusal, failbackView, switchRefusal, type AutoInputs, type StartInputs } from "../../../../src/proxy/control/failback.js";
import { FailbackDriver } from "../../../../src/proxy/control/failback-driver.js";
import type { PullResult, SyncPeer } from "../../../../src/proxy/control/sync-peer.js";
import { EventLog } from "../../../../src/health/events.js";
import { AdminConflictError, AdminUnavailableError } from "../../../../src/health/admin-errors.js";
import { DivergenceError } from "../../../../src/sync/errors.js";
import { silentLogger } from "../../../../src/log.js";
import { FakeClock, flush } from "../fake-clock.js";

describe("failbackRefusal", () => {
  const base: StartInputs = { active: "ca2", primary: "ca1", primaryUp: true, primaryState: "up", busy: false, hasPeer: true };
  const cases: [string, Partial<StartInputs>, number | undefined, RegExp | undefined][] = [
    ["primary up, standby active: may start", {}, undefined, undefined],
    ["already on the primary: 409", { active: "ca1" }, 409, /already on the primary CA ca1/],
    ["a failback running: 409", { busy: true }, 409, /already running/],
    ["primary down: 503 with its state", { primaryUp: false, primaryState: "down: ECONNREFUSED" }, 503, /ca1 is not up by active checks \(down: ECONNREFUSED\)/],
    ["no sync agent for the primary: 409", { hasPeer: false }, 409, /no sync agent writes the primary's cadir/],
  ];
  for (const [name, over, status, reason] of cases) {
    test(name, () => {
      const r = failbackRefusal({ ...base, ...over });
      assert.equal(r?.status, status);
      if (reason) assert.match(r?.reason ?? "", reason);
    });
  }
});

describe("autoFailback (failbackAfter 60s)", () => {
  const base: AutoInputs = { now: 0, policy: "auto", afterMs: 60_000, active: "ca2", primary: "ca1", primaryUp: true, busy: false, healthySince: undefined };
  /** Steps of [time, primary up?, expect start?, expect remainingMs]. */
  const run = (steps: [number, boolean, boolean, number | undefined][], over: Partial<AutoInputs> = {}) => {
    let healthySince: number | undefined;
    for (const [now, primaryUp, start, remaining] of steps) {
      const d = autoFailback({ ...base, ...over, now, primaryUp, healthySince });
      healthySince = d.healthySince;
      assert.equal(d.start, start, `start at t=${now}`);
      assert.equal(d.remainingMs, remaining, `remaining at t=${now}`);
    }
  };
  test("starts once the primary has been up for failbackAfter", () => {
    run([[0, true, false, 60_000], [30_000, true, false, 30_000], [59_999, true, false, 1], [60_000, true, true, 0]]);
  });
  test("a flap of the primary restarts the wait", () => {
    run([[0, true, false, 60_000], [50_000, false, false, undefined], [55_000, true, false, 60_000], [110_000, true, false, 5000], [115_000, true, true, 0]]);
  });
  test("manual policy never starts by itself", () => {
    run([[0, true, false, undefined], [1e9, true, false, undefined]], { policy: "manual" });
  });
  test("nothing to do when already on the primary", () => {
    run([[0, true, false, undefined], [120_000, true, false, undefined]], { active: "ca1" });
  });
  test("never while a failback is running", () => {
    run([[0, true, false, 60_000], [60_000, true, false, 0]], { busy: true });
  });
});

describe("switchRefusal (fencing before the switch)", () => {
  const ok = { pulledFor: 4, report: { epoch: 4, result: "in-sync" }, epochNow: 4, activeNow: "ca2", activeBefore: "ca2", primaryUp: true };
  const cases: [string, Partial<typeof ok>, RegExp | undefined][] = [
    ["in sync at the same epoch: switch", {}, undefined],
    ["the arbiter moved on: fenced", { epochNow: 5 }, /fenced: the final pull was made for epoch 4, the arbiter is at epoch 5/],
    ["a pull for an older epoch: fenced", { report: { epoch: 3, result: "in-sync" } }, /fenced: the final pull reports epoch 3, not 4/],
    ["the active changed", { activeNow: "ca3" }, /changed from ca2 to ca3/],
    ["not in sync", { report: { epoch: 4, result: "error" } }, /did not end in sync \(error\)/],
    ["primary went down", { primaryUp: false }, /primary went down/],
  ];
  for (const [name, over, reason] of cases) {
    test(name, () => {
      const r = switchRefusal({ ...ok, ...over });
      if (reason) assert.match(r ?? "", reason);
      else assert.equal(r, undefined);
    });
  }
});

test("failbackView: the states /health shows", () => {
  const v = (over: Partial<Parameters<typeof failbackView>[0]>) => failbackView({
    policy: "manual", active: "ca2", primary: "ca1", primaryUp: true, epoch: 3, running: undefined, last: undefined, remainingMs: undefined, ...over,
  });
  assert.equal(v({ active: "ca1" }).state, "idle");
  assert.equal(v({}).state, "waiting");
  assert.match(v({}).detail ?? "", /POST \/api\/ca\/failback/);
  assert.match(v({ policy: "auto", remainingMs: 12_000 }).detail ?? "", /automatic failback in 12s/);
  assert.match(v({ primaryUp: false }).detail ?? "", /ca1 is not up/);
  assert.equal(v({ running: "syncing" }).state, "syncing");
  assert.equal(v({ running: "switching" }).state, "switching");
  assert.equal(v({ last: { outcome: "aborted", epoch: 3, reason: "ca1 diverged" } }).state, "aborted: ca1 diverged");
  assert.equal(v({ last: { outcome: "aborted", epoch: 2, reason: "old" } }).state, "waiting", "an abort of an older epoch is history");
  assert.equal(v({ active: "ca1", epoch: 4, last: { outcome: "done", epoch: 4 } }).state, "done");
});

/** A sync peer whose pulls are decided by the test. */
function fakePeer() {
  const calls: string[] = [];
  let behave: (epoch: number, final: boolean) => Promise<PullResult> = (epoch) => Promise.resolve({ destination: "ca1", epoch, result: "in-sync", durationMs: 5, bytes: 0 });
  const peer: SyncPeer = {
    worker: "ca1", where: "fake",
    pull(epoch, final) {
      calls.push(`${final ? "final" : "pull"}@${epoch}`);
      return behave(epoch, final);
    },
    advanceSerial: () => Promise.reject(new Error("not used")),
    status: () => Promise.resolve(undefined),
  };
  return { peer, calls, set: (f: typeof behave) => (behave = f) };
}

function driverSetup(over: { policy?: "manual" | "auto"; afterMs?: number } = {}) {
  const clock = new FakeClock();
  const up = new Set(["ca1", "ca2"]);
  const state = fileState({ epoch: 2, active: "ca2" });
  const store = state.store;
  const arbiter = new Arbiter({ workers: ["ca1", "ca2"], initial: state.initial, commit: state.commit, isUsable: (n) => up.has(n), holdMs: 5000, scheduler: clock });
  const events = new EventLog();
  const fp = fakePeer();
  const driver = new FailbackDriver({
    arbiter, primary: "ca1", primaryHealth: () => ({ up: up.has("ca1"), state: up.has("ca1") ? "up" : "down" }), peer: () => fp.peer,
    policy: over.policy ?? "manual", afterMs: over.afterMs ?? 60_000, pullTimeoutMs: 60_000, finalTimeoutMs: () => 4000,
    events, log: silentLogger(), scheduler: clock,
  });
  return { clock, up, store, arbiter, events, driver, ...fp };
}

test("driver: pull, then under the write hold final pull and switch (epoch+1); the pause is measured", async () => {
  const s = driverSetup();
  let heldDuringFinal = false;
  s.set((epoch, final) => {
    if (final) {
      heldDuringFinal = s.arbiter.holding;
      s.clock.t += 40; // the final pull takes 40 ms
    } else assert.equal(s.arbiter.holding, false, "no hold during the first pull");
    return Promise.resolve({ destination: "ca1", epoch, result: "in-sync", durationMs: 5, bytes: 0 });
  });
  const causes: string[] = [];
  s.arbiter.onPromotion((e) => void causes.push(e.cause));
  const r = await s.driver.run("admin");
  assert.deepEqual(s.calls, ["pull@2", "final@2"]);
  assert.ok(heldDuringFinal, "writes held during the final pull");
  assert.deepEqual({ active: s.arbiter.active, epoch: s.arbiter.epoch }, { active: "ca1", epoch: 3 });
  assert.deepEqual([(await s.store.read())?.state.epoch, (await s.store.read())?.state.active], [3, "ca1"]);
  assert.equal(r.writePauseMs, 40);
  assert.equal(s.driver.lastWritePauseMs, 40);
  assert.deepEqual(causes, ["failback"]);
  assert.equal((await s.store.read())?.state.change?.cause, "failback", "the cause is persisted with the epoch");
  assert.equal(s.driver.view().state, "done");
  assert.ok(s.events.list().some((e) => e.kind === "failback" && /paused 40 ms/.test(e.message)));
  await assert.rejects(s.driver.run("admin"), (e: unknown) => e instanceof AdminConflictError && /already on the primary/.test(e.message));
});

test("driver: a divergence aborts before any hold; the standby stays active and the reason is shown", async () => {
  const s = driverSetup();
  s.set(() => Promise.reject(new DivergenceError("ca1", [{ kind: "signed-missing", message: "signed/rogue.pem only on ca1", path: "signed/rogue.pem", serial: "0x0009", subject: "/CN=rogue" }])));
  await assert.rejects(s.driver.run("admin"), (e: unknown) => e instanceof AdminConflictError && /serial 0x0009 \/CN=rogue/.test(e.message));
  assert.deepEqual(s.calls, ["pull@2"]);
  assert.deepEqual({ active: s.arbiter.active, epoch: s.arbiter.epoch }, { active: "ca2", epoch: 2 });
  assert.match(s.driver.view().state, /^aborted: ca1 diverged: serial 0x0009 \/CN=rogue/);
  assert.ok(s.events.list().some((e) => e.kind === "failback-aborted"));
});

test("driver: the epoch moved during the first pull: fenced, no final pull, no switch", async () => {
  const s = driverSetup();
  s.set((epoch) => {
    s.arbiter.observe({ epoch: 7, active: "ca2" });
    return Promise.resolve({ destination: "ca1", epoch, result: "in-sync", durationMs: 5, bytes: 0 });
  });
  await assert.rejects(s.driver.run("admin"), /fenced: the final pull was made for epoch 2, the arbiter is at epoch 7/);
  assert.deepEqual(s.calls, ["pull@2"]);
  assert.equal(s.arbiter.active, "ca2");
});

test("driver: a final pull reporting an older epoch is refused; held writes go to the current active", async () => {
  const s = driverSetup();
  let write: string | Promise<string> | undefined;
  s.set((epoch, final) => {
    if (final) write = s.arbiter.acquire(true);
    return Promise.resolve({ destination: "ca1", epoch: final ? epoch - 1 : epoch, result: "in-sync", durationMs: 5, bytes: 0 });
  });
  await assert.rejects(s.driver.run("admin"), /fenced: the final pull reports epoch 1, not 2/);
  assert.ok(write instanceof Promise, "the write was held");
  assert.equal(await write, "ca2", "released to the active that stayed");
  assert.equal(s.arbiter.epoch, 2);
});

test("driver: primary down or sync agent unreachable: 503", async () => {
  const s = driverSetup();
  s.up.delete("ca1");
  await assert.rejects(s.driver.run("admin"), (e: unknown) => e instanceof AdminUnavailableError && /ca1 is not up/.test(e.message));
  s.up.add("ca1");
  s.set(() => Promise.reject(new Error("connect ECONNREFUSED")));
  await assert.rejects(s.driver.run("admin"), (e: unknown) => e instanceof AdminUnavailableError && /ECONNREFUSED/.test(e.message));
  assert.equal(s.arbiter.active, "ca2");
});

test("driver auto: fails back after failbackAfter of health, waits again after an abort", async () => {
  const s = driverSetup({ policy: "auto", afterMs: 1000 });
  let fail = true;
  s.set((epoch) => (fail ? Promise.reject(new Error("boom")) : Promise.resolve({ destination: "ca1", epoch, result: "in-sync", durationMs: 5, bytes: 0 })));
  s.driver.start();
  s.clock.advance(750);
  await flush();
  assert.equal(s.calls.length, 0);
  assert.equal(s.driver.view().state, "waiting");
  s.clock.advance(250);
  await flush();
  assert.deepEqual(s.calls, ["pull@2"], "first attempt after 1000 ms");
  assert.match(s.driver.view().state, /^aborted: boom/);
  fail = false;
  s.clock.advance(750);
  await flush();
  assert.equal(s.calls.length, 1, "no retry before another failbackAfter");
  s.clock.advance(500);
  await flush();
  assert.equal(s.arbiter.active, "ca1");
  assert.equal(s.driver.view().state, "done");
  s.driver.configure("manual", 1000);
  assert.equal(s.driver.view().policy, "manual");
  s.driver.stop();
});

test("driver auto: a refusal (no sync agent for the primary) is shown in the state, not silently retried", async () => {
  const clock = new FakeClock();
  const state = fileState({ epoch: 2, active: "ca2" });
  const arbiter = new Arbiter({ workers: ["ca1", "ca2"], initial: state.initial, commit: state.commit, isUsable: () => true, holdMs: 5000, scheduler: clock });
  const driver = new FailbackDriver({
    arbiter, primary: "ca1", primaryHealth: () => ({ up: true, state: "up" }), peer: () => undefined,
    policy: "auto", afterMs: 100, pullTimeoutMs: 1000, finalTimeoutMs: () => 1000, events: new EventLog(), log: silentLogger(), scheduler: clock,
  });
  driver.start();
  clock.advance(100);
  await flush();
  assert.match(driver.view().state, /^aborted: no sync agent writes the primary's cadir/);
  assert.equal(arbiter.active, "ca2");
  driver.stop();
});
