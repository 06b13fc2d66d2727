// The stale-lock rule and the disabled lock's message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { disabledMessage, looksLikePuppet, runLockState } from "../../../src/twitch/locks.js";

test("which processes count as puppet", () => {
  const yes = [
    ["/usr/bin/ruby", "/usr/bin/puppet", "agent", "--onetime"],
    ["puppet agent: applying configuration"],
    ["/opt/puppetlabs/puppet/bin/puppet", "agent"],
    ["/bin/sh", "/tmp/x/bin/puppet", "agent"],
    ["puppet", "agent"],
  ];
  const no = [
    ["node", "--test", "test/integration/twitch/puppet-module.test.ts"],
    ["/usr/bin/puppetserver"],
    ["sleep", "100"],
    ["vim", "/etc/puppet/puppet.conf"],
    [],
  ];
  for (const a of yes) assert.equal(looksLikePuppet(a), true, a.join(" "));
  for (const a of no) assert.equal(looksLikePuppet(a), false, a.join(" "));
});

test("run lock: free, live, and stale for each reason", () => {
  const procs: Record<number, string[]> = { 100: ["/usr/bin/ruby", "/usr/bin/puppet", "agent"], 200: ["sleep", "9"] };
  const cmdline = (pid: number) => procs[pid];
  assert.deepEqual(runLockState(undefined, cmdline), { state: "free" });
  assert.deepEqual(runLockState("100\n", cmdline), { state: "live", pid: 100 });
  assert.deepEqual(runLockState("200", cmdline), { state: "stale", pid: 200, reason: "process 200 is not puppet" });
  assert.deepEqual(runLockState("300", cmdline), { state: "stale", pid: 300, reason: "process 300 is not running" });
  assert.equal(runLockState("", cmdline).state, "stale");
  assert.equal(runLockState("0", cmdline).state, "stale");
  assert.equal(runLockState("12abc", cmdline).state, "stale");
  assert.equal(runLockState("-1", cmdline).state, "stale");
});

test("disabled lock: the message, an empty reason, a non-JSON file still disables", () => {
  assert.equal(disabledMessage(undefined), undefined);
  assert.equal(disabledMessage('{"disabled_message":"upgrade"}'), "upgrade");
  assert.equal(disabledMessage('{"disabled_message":null}'), "null");
  assert.equal(disabledMessage("{}"), "");
  assert.equal(disabledMessage(""), "");
  assert.equal(disabledMessage("garbage"), "");
});
