// The trigger grammar and the agent's argument vector: nothing outside it reaches puppet.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BadParameterError } from "../../../src/twitch/errors.js";
import { agentArgv, configPrintArgv, parseConfigPrint, parseTriggerQuery } from "../../../src/twitch/params.js";

test("accepted queries", () => {
  const cases: [string, object][] = [
    ["", { async: true, noop: false, tags: [], environment: undefined, splay: false }],
    ["async=false", { async: false }],
    ["noop", { noop: true }],
    ["noop=1&splay=yes", { noop: true, splay: true }],
    ["noop=false&async=true", { noop: false, async: true }],
    ["tags=ntp,apache::vhost,role.web-1,_x", { tags: ["ntp", "apache::vhost", "role.web-1", "_x"] }],
    ["environment=production_2", { environment: "production_2" }],
    ["tags=ntp%2Cssh", { tags: ["ntp", "ssh"] }],
  ];
  for (const [q, want] of cases) {
    const got = parseTriggerQuery(q);
    for (const [k, v] of Object.entries(want)) assert.deepEqual((got as unknown as Record<string, unknown>)[k], v, `${q}: ${k}`);
  }
});

test("refused queries name the parameter", () => {
  const cases: [string, string][] = [
    ["tags=a;b", "tags"], ["tags=$(id)", "tags"], ["tags=a%20b", "tags"], ["tags=a+b", "tags"], ["tags=`id`", "tags"],
    ["tags=-x", "tags"], ["tags=", "tags"], ["tags=a,", "tags"], ["tags=a\nb", "tags"], [`tags=${"a,".repeat(32)}a`, "tags"],
    ["environment=Prod", "environment"], ["environment=a-b", "environment"], ["environment=", "environment"],
    ["environment=x%00", "environment"], ["noop=maybe", "noop"], ["splay=2", "splay"],
    ["server=evil", "server"], ["Noop=true", "Noop"], ["noop&noop", "noop"], ["postrun_command=id", "postrun_command"],
  ];
  for (const [q, param] of cases) {
    assert.throws(() => parseTriggerQuery(q), (e: unknown) => e instanceof BadParameterError && e.param === param && e.code === "E_TWITCH_PARAM", q);
  }
});

test("a bare flag or an empty value is true; anything else but true/false/1/0/yes/no is refused", () => {
  assert.equal(parseTriggerQuery("async=").async, true);
  assert.equal(parseTriggerQuery("splay").splay, true);
  assert.throws(() => parseTriggerQuery("async=maybe"), BadParameterError);
});

test("the argument vector: prefix, fixed vector, configured args, then the options", () => {
  assert.deepEqual(agentArgv(["sudo", "-n", "/usr/bin/puppet"], ["--server", "h"], { noop: true, tags: ["a", "b::c"], environment: "dev", splay: true }), [
    "sudo",
    ["-n", "/usr/bin/puppet", "agent", "--onetime", "--no-daemonize", "--detailed-exitcodes", "--server", "h", "--noop", "--tags", "a,b::c", "--environment", "dev"],
  ]);
  assert.deepEqual(agentArgv(["/usr/bin/puppet"], [], { noop: false, tags: [], environment: undefined, splay: false }), [
    "/usr/bin/puppet", ["agent", "--onetime", "--no-daemonize", "--detailed-exitcodes"],
  ]);
});

test("config print: the three settings, --section agent, and the parsed answer", () => {
  assert.deepEqual(configPrintArgv(["/usr/bin/puppet"], ["--vardir", "/v"]), [
    "/usr/bin/puppet", ["config", "print", "agent_catalog_run_lockfile", "agent_disabled_lockfile", "lastrunfile", "--section", "agent", "--vardir", "/v"],
  ]);
  const m = parseConfigPrint("agent_catalog_run_lockfile = /var/cache/puppet/state/agent_catalog_run.lock\nagent_disabled_lockfile = /var/cache/puppet/state/agent_disabled.lock\nlastrunfile = /var/cache/puppet/public/last_run_summary.yaml\nWarning: noise\n");
  assert.equal(m.get("lastrunfile"), "/var/cache/puppet/public/last_run_summary.yaml");
  assert.equal(m.size, 3);
});
