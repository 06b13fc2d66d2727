// Active checks with rise/fall on an injected scheduler; passive failures only eject.
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyCheck, HealthChecker, passiveFailure } from "../../../src/proxy/health-check.js";
import { BackendPool } from "../../../src/proxy/pool.js";
import { FakeClock, flush } from "./fake-clock.js";

const params = { interval: 100, timeout: 50, rise: 2, fall: 3 };

test("applyCheck: the first result decides, then rise/fall count", () => {
  const pool = new BackendPool("m", [{ name: "m1", url: "http://x" }]);
  const b = pool.get("m1")!;
  assert.equal(applyCheck(b, true, params), "up");
  b.state = "up";
  assert.equal(applyCheck(b, false, params), undefined);
  assert.equal(applyCheck(b, false, params), undefined);
  assert.equal(applyCheck(b, true, params), undefined, "a success resets the failure count");
  assert.equal(applyCheck(b, false, params), undefined);
  assert.equal(applyCheck(b, false, params), undefined);
  assert.equal(applyCheck(b, false, params), "down");
  b.state = "down";
  assert.equal(applyCheck(b, true, params), undefined);
  assert.equal(applyCheck(b, true, params), "up");
  const fresh = new BackendPool("m", [{ name: "m2", url: "http://y" }]).get("m2")!;
  assert.equal(applyCheck(fresh, false, params), "down", "unknown goes down on its first failed check");
});

test("the checker runs the first check at once and then every interval", async () => {
  const clock = new FakeClock();
  const pool = new BackendPool("masters", [{ name: "m1", url: "http://m1" }, { name: "m2", url: "http://m2" }], "round-robin", clock.now);
  const answers: Record<string, string> = { "http://m1/ok": "", "http://m2/ok": "HTTP 503" };
  const probed: string[] = [];
  const checker = new HealthChecker([{ pool, path: "/ok" }], params, {
    scheduler: clock,
    probe: (url) => {
      probed.push(url);
      return Promise.resolve(answers[url] ?? "");
    },
  });
  checker.start();
  await flush();
  assert.deepEqual(probed.sort(), ["http://m1/ok", "http://m2/ok"]);
  assert.equal(pool.get("m1")!.state, "up");
  assert.equal(pool.get("m2")!.state, "down");
  assert.equal(pool.get("m2")!.reason, "active check: HTTP 503");
  answers["http://m2/ok"] = "";
  clock.advance(100);
  await flush();
  assert.equal(pool.get("m2")!.state, "down", "rise is 2");
  clock.advance(100);
  await flush();
  assert.equal(pool.get("m2")!.state, "up");
  assert.equal(probed.length, 6);
  checker.stop();
  assert.equal(clock.pending, 0);
});

test("passive failures mark down at once and never bring a backend up", async () => {
  const clock = new FakeClock();
  const pool = new BackendPool("ca", [{ name: "ca1", url: "http://ca1" }], "round-robin", clock.now);
  let answer = "";
  const checker = new HealthChecker([{ pool, path: "/s" }], params, { scheduler: clock, probe: () => Promise.resolve(answer) });
  checker.start();
  await flush();
  const b = pool.get("ca1")!;
  assert.equal(b.state, "up");
  passiveFailure(pool, b, "ECONNREFUSED");
  assert.equal(b.state, "down");
  assert.equal(b.reason, "passive: ECONNREFUSED");
  clock.advance(100);
  await flush();
  assert.equal(b.state, "down", "one good check is not enough (rise 2)");
  answer = "";
  clock.advance(100);
  await flush();
  assert.equal(b.state, "up");
  checker.stop();
});
