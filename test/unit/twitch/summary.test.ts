// last_run_summary.yaml → the last run shown by /puppet/status.
import { test } from "node:test";
import assert from "node:assert/strict";
import { outcomeOf, parseLastRunSummary } from "../../../src/twitch/summary.js";
import { summaryYaml } from "../../integration/twitch/fake-puppet.js";

test("a real-shaped summary", () => {
  const s = parseLastRunSummary(summaryYaml({ changed: 0, failed: 0, lastRun: 1763715600, total: 2.25 }));
  assert.ok(s);
  assert.equal(s.time, "2025-11-21T09:00:00.000Z");
  assert.equal(s.durationSeconds, 2.25);
  assert.equal(s.outcome, "unchanged");
  assert.equal(s.exitCode, 0);
  assert.deepEqual(s.resources, { changed: 0, failed: 0, outOfSync: 0, skipped: 0, total: 9 });
  assert.equal(s.puppetVersion, "7.23.0");
});

test("a run that failed before applying (no resources section) is failed", () => {
  const s = parseLastRunSummary("---\nversion:\n  config:\n  puppet: 7.23.0\ntime:\n  last_run: 1763715600\nevents:\n  failure: 1\n  success: 0\n  total: 1\n");
  assert.equal(s?.outcome, "failed");
  assert.equal(s?.exitCode, 4);
  assert.equal(s?.configVersion, undefined);
  assert.equal(s?.durationSeconds, undefined);
});

test("not a summary: garbage, a list, an unrelated mapping", () => {
  assert.equal(parseLastRunSummary("::: not yaml ["), undefined);
  assert.equal(parseLastRunSummary("- a\n"), undefined);
  assert.equal(parseLastRunSummary("foo: 1\n"), undefined);
  assert.equal(parseLastRunSummary(""), undefined);
});

test("detailed exit codes from counts", () => {
  assert.deepEqual(outcomeOf(0, 0), { outcome: "unchanged", exitCode: 0 });
  assert.deepEqual(outcomeOf(3, 0), { outcome: "changed", exitCode: 2 });
  assert.deepEqual(outcomeOf(0, 1), { outcome: "failed", exitCode: 4 });
  assert.deepEqual(outcomeOf(1, 1), { outcome: "changed+failed", exitCode: 6 });
});
