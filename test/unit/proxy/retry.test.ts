// Retry decisions, passive marks and error statuses, as a table.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chargesBudget, marksDown, shouldRetry, statusFor, type FailureKind, type RetryInput } from "../../../src/proxy/retry.js";

const base: RetryInput = { kind: "connect", idempotent: true, replayable: true, resends: 0, attempts: 1, maxAttempts: 3 };

const cases: [title: string, input: Partial<RetryInput>, retry: boolean][] = [
  ["connect refused, GET: retried", {}, true],
  ["connect refused, CA/master write with buffered body: retried (nothing was sent)", { idempotent: false }, true],
  ["connect timeout, write: retried", { kind: "connect-timeout", idempotent: false }, true],
  ["connect refused, streamed body: not retried", { idempotent: false, replayable: false }, false],
  ["connect refused, out of attempts: not retried", { attempts: 3 }, false],
  ["reset before any response byte, GET: retried once", { kind: "reset" }, true],
  ["reset, GET, already re-sent once: not retried", { kind: "reset", resends: 1 }, false],
  ["reset, write: never re-sent", { kind: "reset", idempotent: false }, false],
  ["response timeout, GET: not retried (504)", { kind: "response-timeout" }, false],
  ["backend marked down while a GET waited: re-sent", { kind: "backend-down" }, true],
  ["backend marked down while a write waited: not re-sent", { kind: "backend-down", idempotent: false }, false],
];

for (const [title, input, want] of cases) {
  test(title, () => assert.equal(shouldRetry({ ...base, ...input }), want));
}

test("passive marks: failures mark down, except a reset on a reused keep-alive socket", () => {
  const table: [FailureKind, boolean, boolean][] = [
    ["connect", false, true],
    ["connect-timeout", false, true],
    ["reset", false, true],
    ["reset", true, false],
    ["response-timeout", false, true],
    ["backend-down", false, false],
  ];
  for (const [kind, reused, want] of table) assert.equal(marksDown(kind, reused), want, `${kind} reused=${reused}`);
});

test("only failures the request may have caused use up the re-send and attempt budgets", () => {
  const table: [FailureKind, boolean, boolean][] = [
    ["connect", false, true],
    ["connect-timeout", false, true],
    ["reset", false, true],
    ["reset", true, false], // another dead pooled connection of a CA that just died
    ["response-timeout", false, true],
    ["backend-down", false, false], // marked down by a check or another request
  ];
  for (const [kind, reused, want] of table) assert.equal(chargesBudget(kind, reused), want, `${kind} reused=${reused}`);
});

test("504 for the proxy's own timers, 502 for everything else", () => {
  assert.equal(statusFor("connect-timeout"), 504);
  assert.equal(statusFor("response-timeout"), 504);
  assert.equal(statusFor("connect"), 502);
  assert.equal(statusFor("reset"), 502);
  assert.equal(statusFor("backend-down"), 502);
});
