// Regression: a hung backend (SIGSTOPped CA: connects, never answers) must be marked down within
// interval + fall × timeout of hanging. Checks used to be scheduled `interval` after the previous
// one finished, so each timed-out check cost timeout + interval and a hung CA took 3-4 s to drop.
import { test } from "node:test";
import assert from "node:assert/strict";
import { HealthChecker, nextCheckDelay } from "../../../src/proxy/health-check.js";
import { BackendPool } from "../../../src/proxy/pool.js";
import { FakeClock, flush } from "./fake-clock.js";

const TICK = 10;

/** Start checking one healthy backend, hang it at `hangAt` ms, return when it was marked down. */
async function downAfterHang(p: { interval: number; timeout: number; fall: number }, hangAt: number) {
  const clock = new FakeClock();
  const pool = new BackendPool("ca", [{ name: "ca1", url: "http://ca1" }], "round-robin", clock.now);
  let inFlight = 0;
  let maxInFlight = 0;
  const starts: number[] = [];
  const checker = new HealthChecker([{ pool, path: "/status" }], { ...p, rise: 2 }, {
    scheduler: clock,
    probe: (_url, timeoutMs) => {
      starts.push(clock.now());
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const hung = clock.now() >= hangAt;
      return new Promise((resolve) => {
        const settle = (reason: string) => {
          inFlight--;
          resolve(reason);
        };
        if (hung) clock.setTimeout(() => settle(`no answer within ${timeoutMs} ms`), timeoutMs);
        else settle("");
      });
    },
  });
  checker.start();
  await flush();
  assert.equal(pool.get("ca1")!.state, "up");
  let downAt: number | undefined;
  pool.onChange((b) => {
    if (b.state === "down") downAt ??= clock.now();
  });
  while (clock.now() < hangAt + 10_000 && downAt === undefined) {
    clock.advance(TICK);
    await flush();
  }
  checker.stop();
  assert.ok(downAt !== undefined, "never marked down");
  return { lag: downAt - hangAt, maxInFlight, starts };
}

for (const timeout of [1000, 500]) {
  const p = { interval: 1000, timeout, fall: 2 };
  const bound = p.interval + p.fall * p.timeout;
  test(`a backend hung at any point of the interval is down within interval + fall × timeout (interval 1s, timeout ${timeout} ms, fall 2: ${bound} ms)`, async () => {
    let worst = 0;
    // Hang just after a check answered (the worst case), mid-interval, and just before the next.
    for (const phase of [1, 250, 500, 750, 990]) {
      const r = await downAfterHang(p, 5000 + phase);
      assert.ok(r.lag <= bound + TICK, `hung at +${phase} ms: down after ${r.lag} ms, bound ${bound} ms`);
      assert.equal(r.maxInFlight, 1, "a check still running when the next is due is not doubled");
      worst = Math.max(worst, r.lag);
    }
    // The old scheduling (interval after the end of each check) took interval + fall × (timeout + interval) - interval.
    assert.ok(worst < p.interval + p.fall * p.timeout + p.interval, `worst ${worst} ms`);
  });
}

test("healthy backends are checked on a fixed cadence from each check's start, not after it ends", async () => {
  const clock = new FakeClock();
  const pool = new BackendPool("m", [{ name: "m1", url: "http://m1" }], "round-robin", clock.now);
  const starts: number[] = [];
  const checker = new HealthChecker([{ pool, path: "/s" }], { interval: 1000, timeout: 1000, rise: 2, fall: 2 }, {
    scheduler: clock,
    // Every answer takes 300 ms.
    probe: () => {
      starts.push(clock.now());
      return new Promise((resolve) => clock.setTimeout(() => resolve(""), 300));
    },
  });
  checker.start();
  for (let i = 0; i < 400; i++) {
    clock.advance(TICK);
    await flush();
  }
  checker.stop();
  clock.advance(5000);
  await flush();
  assert.deepEqual(starts, [0, 1000, 2000, 3000, 4000]);
});

test("the fast cadence applies only while an up backend is failing: down ones rise at interval", () => {
  const pool = new BackendPool("m", [{ name: "m1", url: "http://m1" }]);
  const b = pool.get("m1")!;
  const p = { interval: 1000, timeout: 500 };
  b.state = "up";
  assert.equal(nextCheckDelay(b, p), 1000);
  b.checkFailures = 1;
  assert.equal(nextCheckDelay(b, p), 500);
  assert.equal(nextCheckDelay(b, { interval: 300, timeout: 500 }), 300);
  b.state = "down";
  assert.equal(nextCheckDelay(b, p), 1000);
});
