// When a pass is the full verification: a table over reasons, epochs and the last one's age.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FULL_VERIFY_REASON, ONCE_FULL_EVERY_MS, VERIFY_SCHEDULE_REASON, wantsFullVerification } from "../../../src/sync/verification.js";

const NOW = 10 * ONCE_FULL_EVERY_MS;
const fresh = { epoch: 3, at: NOW - 1000 };
const old = { epoch: 3, at: NOW - ONCE_FULL_EVERY_MS };

const CASES: [string, string[], number, typeof fresh | undefined, boolean][] = [
  ["never verified", ["watch"], 3, undefined, true],
  ["a new epoch (failover, failback)", ["watch"], 4, fresh, true],
  ["sync.schedule stays incremental", ["schedule"], 3, old, false],
  ["the watch stays incremental", ["watch", "ca-write"], 3, old, false],
  ["sync.verify", [VERIFY_SCHEDULE_REASON], 3, fresh, true],
  ["asked for (full-verify...)", [`${FULL_VERIFY_REASON} by operator`], 3, fresh, true],
  ["merged with other reasons", ["watch", VERIFY_SCHEDULE_REASON], 3, fresh, true],
  ["--once, last one an hour old", ["once"], 3, old, true],
  ["--once, last one recent", ["once"], 3, fresh, false],
];

for (const [name, reasons, epoch, last, want] of CASES) {
  test(`full verification: ${name} -> ${want}`, () => {
    assert.equal(wantsFullVerification(reasons, epoch, last, NOW), want);
  });
}
