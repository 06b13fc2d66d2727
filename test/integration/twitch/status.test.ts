// GET /puppet/status: running or not, disabled or not (and why), the last run from a
// real-shaped last_run_summary.yaml; plain text by default, JSON when the client asks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { startHarness } from "./harness.js";
import { summaryYaml } from "./fake-puppet.js";

const JSON_ACCEPT = { accept: "application/json" };

interface StatusJson {
  running: boolean;
  disabled: boolean;
  disabled_message: string | null;
  run: { caller: string; options: { noop: boolean } } | null;
  agentLockPid: number | null;
  lastRun: unknown;
  lastTriggered: unknown;
}

test("status reports the last run from last_run_summary.yaml", async (t) => {
  const h = await startHarness(t);
  writeFileSync(h.fake.lastRunSummary, summaryYaml({ changed: 2, failed: 1, lastRun: 1763715600, total: 12.5 }));
  const j = (await (await fetch(`${h.url}/puppet/status`, { headers: JSON_ACCEPT })).json()) as StatusJson;
  assert.equal(j.running, false);
  assert.equal(j.disabled, false);
  assert.equal(j.disabled_message, null);
  assert.deepEqual(j.lastRun, {
    time: "2025-11-21T09:00:00.000Z",
    durationSeconds: 12.5,
    outcome: "changed+failed",
    exitCode: 6,
    resources: { changed: 2, failed: 1, outOfSync: 3, skipped: 0, total: 9 },
    changes: 2,
    events: { failure: 1, success: 2, total: 3 },
    configVersion: "1763715600",
    puppetVersion: "7.23.0",
  });
  assert.equal(j.lastTriggered, null);
  const text = await (await fetch(`${h.url}/puppet/status`)).text();
  assert.equal(text, [
    "running: no",
    "disabled: no",
    "last run: 2025-11-21T09:00:00.000Z, changed+failed, exit code 6",
    "resources: 2 changed, 1 failed, 9 total",
    "duration: 12.5 s",
    "",
  ].join("\n"));
});

test("status while our run is in flight, and when disabled with a reason", async (t) => {
  const h = await startHarness(t);
  const none = (await (await fetch(`${h.url}/puppet/status`, { headers: JSON_ACCEPT })).json()) as StatusJson;
  assert.equal(none.lastRun, null);
  h.fake.hold();
  assert.equal((await fetch(`${h.url}/puppet/twitch?splay=false`)).status, 202);
  await h.fake.started();
  const running = (await (await fetch(`${h.url}/puppet/status`, { headers: JSON_ACCEPT })).json()) as StatusJson;
  assert.equal(running.running, true);
  assert.equal(running.run?.caller, "anonymous@127.0.0.1");
  assert.equal(running.run?.options.noop, false);
  assert.equal(typeof running.agentLockPid, "number");
  h.fake.release();
  await h.runner.idle();
  writeFileSync(h.fake.disabledLockFile, '{"disabled_message":"kernel upgrade"}');
  const text = await (await fetch(`${h.url}/puppet/status`)).text();
  assert.match(text, /^running: no\ndisabled: yes \(kernel upgrade\)\n/);
  assert.match(text, /last triggered run: success, exit code 0, no changes/);
});

test("JSON only when the client prefers it: */* and text/html get text", async (t) => {
  const h = await startHarness(t);
  const cases: [string | undefined, RegExp][] = [
    [undefined, /^text\/plain/],
    ["*/*", /^text\/plain/],
    ["text/html", /^text\/plain/],
    ["application/json", /^application\/json/],
    ["application/json, text/plain;q=0.5", /^application\/json/],
    ["text/plain, application/json;q=0.9", /^text\/plain/],
  ];
  for (const [accept, type] of cases) {
    const r = await fetch(`${h.url}/puppet/twitch?bogus=1`, { headers: accept ? { accept } : {} });
    assert.equal(r.status, 400);
    assert.match(r.headers.get("content-type") ?? "", type, `Accept: ${accept}`);
  }
});
