// The controller's cron: a task exists only while this proxy is the controller; elected: created
// and run once at once; stepped down: stopped; stop() ends it and its subscription.
import { test } from "node:test";
import assert from "node:assert/strict";
import { controllerCron, type Leadership } from "../../../../src/proxy/control/controller-cron.js";
import type { CronFactory } from "../../../../src/sync/triggers.js";

function setup(initially: boolean) {
  let controller = initially;
  const listeners = new Set<(c: boolean) => void>();
  const lead: Leadership = {
    isController: () => controller,
    onChange: (fn) => { listeners.add(fn); return () => listeners.delete(fn); },
  };
  const live = new Set<() => void>();
  const base: CronFactory = (_e, fn) => { live.add(fn); return { stop: () => void live.delete(fn) }; };
  let runs = 0;
  const task = controllerCron(base, lead)("* * * * *", () => runs++);
  const set = (c: boolean) => { controller = c; for (const l of listeners) l(c); };
  return { task, live, listeners, set, runs: () => runs, tick: () => { for (const fn of live) fn(); } };
}

test("a follower has no scheduled task; elected, it gets one and runs once at once; stepped down, none", () => {
  const s = setup(false);
  assert.equal(s.live.size, 0);
  s.tick();
  assert.equal(s.runs(), 0);
  s.set(true);
  assert.equal(s.live.size, 1);
  assert.equal(s.runs(), 1, "the catch-up run");
  s.set(true); // re-elected: still one task, no extra run
  assert.equal(s.live.size, 1);
  s.tick();
  assert.equal(s.runs(), 2);
  s.set(false);
  assert.equal(s.live.size, 0);
  s.tick();
  assert.equal(s.runs(), 2);
});

test("already the controller at creation: one task, no catch-up run (the service's start pass covers it); stop() ends both", async () => {
  const s = setup(true);
  assert.equal(s.live.size, 1);
  assert.equal(s.runs(), 0);
  await s.task.stop();
  assert.equal(s.live.size, 0);
  assert.equal(s.listeners.size, 0);
  s.set(true);
  assert.equal(s.live.size, 0, "no task after stop");
});
