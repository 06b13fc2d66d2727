// Deadlines: many request timeouts behind one timer, driven here by a fake clock.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Scheduler } from "../../../src/proxy/scheduler.js";
import { Deadlines, type Expiring } from "../../../src/proxy/deadlines.js";

/** A fake clock with at most one armed timer (what Deadlines uses) and a count of arms. */
function fakeClock(): Scheduler & { advance(ms: number): void; armed: number; pending(): number | undefined } {
  let now = 0;
  let timer: { at: number; fire: () => void } | undefined;
  const c = {
    armed: 0,
    now: () => now,
    setTimeout(fire: () => void, ms: number) {
      assert.equal(timer, undefined, "at most one timer armed at a time");
      c.armed++;
      const t = { at: now + ms, fire };
      timer = t;
      return () => {
        if (timer === t) timer = undefined;
      };
    },
    pending: () => timer?.at,
    advance(ms: number) {
      const until = now + ms;
      while (timer && timer.at <= until) {
        const t = timer;
        timer = undefined;
        now = t.at;
        t.fire();
      }
      now = until;
    },
  };
  return c;
}

function item(log: string[], name: string): Expiring {
  return { timedOut: () => log.push(name) };
}

test("each entry times out at its own deadline, once", () => {
  const clock = fakeClock();
  const d = new Deadlines(clock);
  const log: string[] = [];
  const a = item(log, "a");
  const b = item(log, "b");
  d.add(a, 100);
  clock.advance(30);
  d.add(b, 100);
  clock.advance(69);
  assert.deepEqual(log, []);
  clock.advance(1);
  assert.deepEqual(log, ["a"]);
  clock.advance(29);
  assert.deepEqual(log, ["a"]);
  clock.advance(1);
  assert.deepEqual(log, ["a", "b"]);
  clock.advance(1000);
  assert.deepEqual(log, ["a", "b"]);
  assert.equal(d.size, 0);
  assert.equal(clock.pending(), undefined, "nothing left: no timer armed");
});

test("a removed entry never times out, and removing does not touch the timer", () => {
  const clock = fakeClock();
  const d = new Deadlines(clock);
  const log: string[] = [];
  const a = item(log, "a");
  d.add(a, 100);
  d.delete(a);
  assert.equal(clock.pending(), 100, "still armed; it will find nothing due");
  clock.advance(200);
  assert.deepEqual(log, []);
  assert.equal(clock.pending(), undefined);
});

test("re-adding replaces the deadline (queue timeout, then response timeout)", () => {
  const clock = fakeClock();
  const d = new Deadlines(clock);
  const log: string[] = [];
  const a = item(log, "a");
  d.add(a, 50);
  clock.advance(10);
  d.add(a, 1000);
  clock.advance(100);
  assert.deepEqual(log, [], "the first deadline no longer applies");
  clock.advance(910);
  assert.deepEqual(log, ["a"]);
});

test("an earlier deadline than the armed one re-arms the timer (a shorter timeout after a reload)", () => {
  const clock = fakeClock();
  const d = new Deadlines(clock);
  const log: string[] = [];
  d.add(item(log, "long"), 1000);
  d.add(item(log, "short"), 10);
  assert.equal(clock.pending(), 10);
  clock.advance(10);
  assert.deepEqual(log, ["short"]);
  assert.equal(clock.pending(), 1000, "re-armed for the earliest deadline left");
  clock.advance(990);
  assert.deepEqual(log, ["short", "long"]);
});

test("one timer for a steady stream of requests, not one per request", () => {
  const clock = fakeClock();
  const d = new Deadlines(clock);
  const log: string[] = [];
  // 1,000 requests, one per ms, each answered after 5 ms, with a 100 ms timeout.
  const live: Expiring[] = [];
  for (let i = 0; i < 1000; i++) {
    const x = item(log, `r${i}`);
    d.add(x, 100);
    live.push(x);
    if (live.length > 5) d.delete(live.shift() as Expiring);
    clock.advance(1);
  }
  assert.deepEqual(log, []);
  assert.ok(clock.armed <= 11, `armed ${clock.armed} timers for 1,000 requests`);
});

test("an entry added by a timed-out entry's callback is watched (a retry's next attempt)", () => {
  const clock = fakeClock();
  const d = new Deadlines(clock);
  const log: string[] = [];
  const retry = item(log, "retry");
  d.add({ timedOut: () => { log.push("first"); d.add(retry, 20); } }, 10);
  clock.advance(10);
  assert.deepEqual(log, ["first"]);
  clock.advance(20);
  assert.deepEqual(log, ["first", "retry"]);
});
