// The lease timing rules (Patroni's loopWait + 2 x retryTimeout <= ttl) as a table.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_TIMING, stepDownMarginMs, timingProblems, viewPeriodMs } from "../../../../src/proxy/control/timing.js";

test("the defaults obey the rule, with a 1 s step-down margin and a 9 s view period", () => {
  assert.deepEqual(timingProblems(DEFAULT_TIMING), []);
  assert.equal(stepDownMarginMs(DEFAULT_TIMING), 1000);
  assert.equal(viewPeriodMs(DEFAULT_TIMING), 9000);
});

const cases: [string, { ttlMs: number; loopWaitMs: number; retryTimeoutMs: number }, RegExp[]][] = [
  ["exactly at the limit", { ttlMs: 10_000, loopWaitMs: 4000, retryTimeoutMs: 3000 }, []],
  ["over the limit", { ttlMs: 10_000, loopWaitMs: 5000, retryTimeoutMs: 3000 }, [/5s \+ 2 x 3s = 11s > 10s/]],
  ["ttl not whole seconds", { ttlMs: 10_500, loopWaitMs: 1000, retryTimeoutMs: 1000 }, [/whole seconds/]],
  ["ttl below etcd's minimum", { ttlMs: 1000, loopWaitMs: 100, retryTimeoutMs: 100 }, [/at least 2s/]],
  ["loopWait and retryTimeout too small", { ttlMs: 10_000, loopWaitMs: 0, retryTimeoutMs: 50 }, [/loopWaitMs.*100ms/, /retryTimeoutMs.*100ms/]],
];

for (const [name, timing, expected] of cases) {
  test(`timing ${name}`, () => {
    const problems = timingProblems(timing).map(([k, m]) => `${k}: ${m}`);
    assert.equal(problems.length, expected.length, problems.join("\n"));
    expected.forEach((re, i) => assert.match(problems[i] as string, re));
  });
}
