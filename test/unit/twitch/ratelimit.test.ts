// The per-caller sliding window, driven by an injected clock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RateLimiter } from "../../../src/twitch/ratelimit.js";

test("max per window per caller; Retry-After is the time until the oldest hit leaves", () => {
  let now = 0;
  const rl = new RateLimiter({ max: 3, per: 60_000, now: () => now });
  assert.equal(rl.take("a"), 0);
  now = 10_000;
  assert.equal(rl.take("a"), 0);
  now = 20_000;
  assert.equal(rl.take("a"), 0);
  now = 30_000;
  assert.equal(rl.take("a"), 30_000);
  assert.equal(rl.take("b"), 0, "another caller");
  now = 60_000;
  assert.equal(rl.take("a"), 0, "the hit at 0 left the window");
  assert.equal(rl.take("a"), 10_000);
  now = 1_000_000;
  assert.equal(rl.take("a"), 0);
});

test("refused attempts do not extend the window", () => {
  let now = 0;
  const rl = new RateLimiter({ max: 1, per: 1000, now: () => now });
  assert.equal(rl.take("a"), 0);
  for (now = 100; now < 1000; now += 100) assert.equal(rl.take("a"), 1000 - now);
  assert.equal(rl.take("a"), 0);
});

test("many one-off callers are forgotten once their window passed", () => {
  let now = 0;
  const rl = new RateLimiter({ max: 1, per: 1000, now: () => now });
  for (let i = 0; i < 2000; i++) rl.take(`c${i}`);
  assert.equal(rl.callers, 2000);
  now = 5000;
  assert.equal(rl.take("late"), 0);
  assert.equal(rl.callers, 1);
});
