// /puppet/twitch against a fake puppet: status codes, the argument vector, one run at a time,
// stale and live locks, the disabled lock, splay and timeouts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, writeFileSync } from "node:fs";
import { startHarness, testToken } from "./harness.js";
import { summaryYaml } from "./fake-puppet.js";

const FIXED = ["agent", "--onetime", "--no-daemonize", "--detailed-exitcodes"];

test("GET and POST trigger a run: 202 'Triggered puppet run', argv is the fixed vector", async (t) => {
  const h = await startHarness(t);
  const get = await fetch(`${h.url}/puppet/twitch`);
  assert.equal(get.status, 202);
  assert.equal(await get.text(), "Triggered puppet run");
  assert.match(get.headers.get("content-type") ?? "", /^text\/plain/);
  await h.runner.idle();
  const post = await fetch(`${h.url}/puppet/twitch`, { method: "POST" });
  assert.equal(post.status, 202);
  await h.runner.idle();
  assert.deepEqual(h.fake.argvs(), [FIXED, FIXED]);
});

test("the paths come from `puppet config print ... --section agent` with the configured args", async (t) => {
  const token = testToken(t);
  const h = await startHarness(t, { auth: token.auth, puppet: { args: ["--confdir", "/x/conf", "--server", "ca.example"] } });
  assert.deepEqual(h.runner.paths, {
    runLockFile: h.fake.runLockFile, disabledLockFile: h.fake.disabledLockFile, lastRunSummary: h.fake.lastRunSummary,
  });
  const { readFileSync } = await import("node:fs");
  assert.deepEqual(readFileSync(`${h.fake.dir}/config-argv`, "utf8").trim().split("\n"), [
    "config", "print", "agent_catalog_run_lockfile", "agent_disabled_lockfile", "lastrunfile", "--section", "agent", "--confdir", "/x/conf", "--server", "ca.example",
  ]);
  const r = await fetch(`${h.url}/puppet/twitch?noop=true&tags=ntp,apache::vhost,role.web-1&environment=production_2`, { headers: token.headers });
  assert.equal(r.status, 202);
  await h.runner.idle();
  assert.deepEqual(h.fake.argvs()[0], [
    ...FIXED, "--confdir", "/x/conf", "--server", "ca.example", "--noop", "--tags", "ntp,apache::vhost,role.web-1", "--environment", "production_2",
  ]);
});

test("?async=false waits: 200 on exit 0 and 2, 500 with the reason on 1, 4, 6", async (t) => {
  const h = await startHarness(t);
  for (const [code, status] of [[0, 200], [2, 200], [1, 500], [4, 500], [6, 500]] as const) {
    h.fake.exitWith(code, code === 4 ? "Error: Could not retrieve catalog from remote server\n" : "");
    const r = await fetch(`${h.url}/puppet/twitch?async=false`);
    const body = await r.text();
    assert.equal(r.status, status, `exit ${code}: ${body}`);
    if (status === 200) assert.equal(body, "Puppet run complete");
    else assert.match(body, new RegExp(`^Puppet run failed: puppet agent exited ${code} `));
  }
  assert.match((await (await fetch(`${h.url}/puppet/status`)).text()), /last triggered run: failed, exit code 6/);
});

test("?async=false in JSON carries the exit code and the run's changed/failed counts", async (t) => {
  const h = await startHarness(t);
  h.fake.summary(summaryYaml({ changed: 3, failed: 0 }));
  h.fake.exitWith(2);
  const r = await fetch(`${h.url}/puppet/twitch?async=false`, { headers: { accept: "application/json" } });
  assert.equal(r.status, 200);
  const j = (await r.json()) as { status: string; message: string; run: Record<string, unknown> };
  assert.equal(j.status, "complete");
  assert.equal(j.message, "Puppet run complete");
  assert.equal(j.run.exitCode, 2);
  assert.equal(j.run.changed, 3);
  assert.equal(j.run.failed, 0);
  assert.equal(j.run.status, "success");
});

test("an agent that lost the race for puppet's own lock (exit 1, 'already in progress') is a 409", async (t) => {
  const h = await startHarness(t);
  h.fake.exitWith(1, "Notice: Run of Puppet configuration client already in progress; skipping  (/x/agent_catalog_run.lock exists)\n");
  const r = await fetch(`${h.url}/puppet/twitch?async=false`);
  assert.equal(r.status, 409);
  assert.equal(await r.text(), "Puppet already running");
});

test("100 concurrent triggers start exactly one agent; our lock is held until it exits", async (t) => {
  const h = await startHarness(t);
  h.fake.hold();
  const answers = await Promise.all(Array.from({ length: 100 }, () => fetch(`${h.url}/puppet/twitch`, { method: "POST" }).then(async (r) => ({ status: r.status, body: await r.text() }))));
  const by = (s: number) => answers.filter((a) => a.status === s);
  assert.equal(by(202).length, 1);
  assert.equal(by(409).length, 99);
  assert.ok(by(409).every((a) => a.body === "Puppet already running"));
  await h.fake.started();
  // The agent is still running: still 409, also in JSON, with the agent's PID.
  const again = await fetch(`${h.url}/puppet/twitch`, { headers: { accept: "application/json" } });
  assert.equal(again.status, 409);
  const j = (await again.json()) as { status: string; pid: number };
  assert.equal(j.status, "running");
  assert.equal(typeof j.pid, "number");
  h.fake.release();
  await h.runner.idle();
  assert.equal(h.fake.calls(), 1);
  assert.equal((await fetch(`${h.url}/puppet/twitch?async=false`)).status, 200);
  assert.equal(h.fake.calls(), 2);
});

test("a live agent_catalog_run.lock (a running puppet) answers 409 without starting anything", async (t) => {
  const h = await startHarness(t);
  h.fake.hold();
  const outside = spawn(h.fake.bin, ["agent", "--onetime"], { stdio: "ignore" });
  t.after(() => outside.kill());
  await h.fake.started();
  const r = await fetch(`${h.url}/puppet/twitch`);
  assert.equal(r.status, 409);
  assert.equal(h.fake.calls(), 1, "only the outside run");
  const status = (await (await fetch(`${h.url}/puppet/status`, { headers: { accept: "application/json" } })).json()) as Record<string, unknown>;
  assert.equal(status.running, true);
  assert.equal(status.agentLockPid, outside.pid);
  h.fake.release();
  await once(outside, "exit");
});

test("a stale lock does not block: a dead PID, a PID that is not puppet, garbage", async (t) => {
  const h = await startHarness(t);
  const dead = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await once(dead, "exit");
  const other = spawn(process.execPath, ["-e", "setInterval(() => {}, 1e6)"], { stdio: "ignore" });
  t.after(() => other.kill());
  for (const content of [`${dead.pid}\n`, `${other.pid}`, "not a pid"]) {
    writeFileSync(h.fake.runLockFile, content);
    const r = await fetch(`${h.url}/puppet/twitch?async=false`);
    assert.equal(r.status, 200, `lock holding ${content.trim()}`);
  }
  assert.equal(h.fake.calls(), 3);
  assert.ok(h.logs().some((l) => l.msg === "ignoring a stale run lock" && /is not puppet/.test(String(l.reason))));
});

test("agent_disabled.lock answers 423 with its message, text and JSON", async (t) => {
  const h = await startHarness(t);
  writeFileSync(h.fake.disabledLockFile, JSON.stringify({ disabled_message: "maintenance by alice, ticket OPS-42" }));
  const text = await fetch(`${h.url}/puppet/twitch`);
  assert.equal(text.status, 423);
  assert.equal(await text.text(), "Puppet is disabled: maintenance by alice, ticket OPS-42");
  const json = await fetch(`${h.url}/puppet/twitch`, { headers: { accept: "application/json" } });
  assert.equal(json.status, 423);
  assert.deepEqual(await json.json(), {
    status: "disabled", error: { code: "E_TWITCH_DISABLED", message: "Puppet is disabled: maintenance by alice, ticket OPS-42" }, message: "Puppet is disabled: maintenance by alice, ticket OPS-42",
    disabled_message: "maintenance by alice, ticket OPS-42",
  });
  assert.equal(h.fake.calls(), 0);
});

test("bad parameters are 400 and never reach the command line", async (t) => {
  const h = await startHarness(t);
  const bad = [
    "tags=ntp;reboot", "tags=$(id)", "tags=a%20b", "tags=a+b", "tags=-x", "tags=", "tags=a,,b", "environment=Production",
    "environment=prod;rm", "environment=$(id)", "environment=a%20b", "environment=../x", "noop=maybe", "async=2",
    "server=evil", "noop=true&noop=false", "postrun_command=x", "splay=sure",
  ];
  for (const q of bad) {
    const r = await fetch(`${h.url}/puppet/twitch?${q}`, { headers: { accept: "application/json" } });
    assert.equal(r.status, 400, q);
    const j = (await r.json()) as { error: { code: string } };
    assert.equal(j.error.code, "E_TWITCH_PARAM", q);
  }
  const text = await fetch(`${h.url}/puppet/twitch?verbose=1`);
  assert.equal(text.status, 400);
  assert.equal(await text.text(), 'unknown parameter "verbose"');
  assert.equal(h.fake.calls(), 0);
});

test("splay waits a random delay up to splayMax before the run (injected random and sleep)", async (t) => {
  const slept: number[] = [];
  const h = await startHarness(t, { splayMax: "10s" }, { random: () => 0.25, sleep: (ms) => { slept.push(ms); return Promise.resolve(); } });
  const r = await fetch(`${h.url}/puppet/twitch?splay=true&async=false`, { headers: { accept: "application/json" } });
  assert.equal(r.status, 200);
  assert.deepEqual(slept, [2500]);
  assert.equal(((await r.json()) as { run: { splayMs: number } }).run.splayMs, 2500);
  await fetch(`${h.url}/puppet/twitch?async=false`);
  assert.deepEqual(slept, [2500], "no splay unless asked");
});

test("a run over puppet.timeout is killed and reported failed", async (t) => {
  const h = await startHarness(t, { puppet: { timeout: "300ms" } });
  h.fake.hold();
  const r = await fetch(`${h.url}/puppet/twitch?async=false`);
  assert.equal(r.status, 500);
  assert.match(await r.text(), /timed out after 300 ms/);
});

test("every trigger is logged with the caller and the outcome", async (t) => {
  const h = await startHarness(t);
  await fetch(`${h.url}/puppet/twitch?async=false`);
  await fetch(`${h.url}/puppet/twitch?tags=a;b`);
  const logs = h.logs();
  const triggered = logs.find((l) => l.msg === "puppet run triggered");
  assert.equal(triggered?.caller, "anonymous@127.0.0.1");
  const finished = logs.find((l) => String(l.msg).startsWith("puppet agent finished"));
  assert.equal(finished?.caller, "anonymous@127.0.0.1");
  assert.equal(finished?.status, "success");
  const refused = logs.find((l) => l.status === 400);
  assert.equal(refused?.caller, "anonymous@127.0.0.1");
});

test("unknown paths are 404 and other verbs on /puppet/twitch are 405", async (t) => {
  const h = await startHarness(t);
  assert.equal((await fetch(`${h.url}/puppet/nope`)).status, 404);
  const put = await fetch(`${h.url}/puppet/twitch`, { method: "PUT" });
  assert.equal(put.status, 405);
  assert.equal(put.headers.get("allow"), "GET, POST");
  assert.equal(h.fake.calls(), 0);
});

test("stopping twitch during a splay cancels that run: the agent never starts", async (t) => {
  const h = await startHarness(t, { splayMax: "1h" }, { random: () => 0.5 });
  assert.equal((await fetch(`${h.url}/puppet/twitch?splay=true`)).status, 202);
  await h.close();
  await h.runner.idle();
  assert.equal(h.fake.calls(), 0);
  assert.equal(h.runner.lastResult?.status, "failed");
  assert.match(h.runner.lastResult?.message ?? "", /did not start: twitch is stopping/);
});

test("an unreadable puppet state file is a 500 that says which file and why", async (t) => {
  const h = await startHarness(t);
  mkdirSync(h.fake.disabledLockFile);
  const r = await fetch(`${h.url}/puppet/twitch`);
  assert.equal(r.status, 500);
  assert.equal(await r.text(), `cannot read puppet state file ${h.fake.disabledLockFile}: is a directory`);
  assert.equal(h.fake.calls(), 0);
});
