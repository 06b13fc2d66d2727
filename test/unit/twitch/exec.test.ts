// twitch's child-process runner (src/twitch/exec.ts): argument vector without a shell, both
// streams collected, exit codes, a timeout that kills, and a program that cannot start.
import { test } from "node:test";
import assert from "node:assert/strict";
import { exec } from "../../../src/twitch/exec.js";

const node = process.execPath;

test("arguments reach the program as given (no shell) and both streams are collected", async () => {
  const r = await exec(node, ["-e", "process.stdout.write(process.argv[1]); process.stderr.write('E'); process.exit(2)", "$(touch /tmp/x); *"], { timeoutMs: 30_000 }).result;
  assert.deepEqual([r.exitCode, r.stdout, r.stderr, r.failed, r.timedOut], [2, "$(touch /tmp/x); *", "E", true, false]);
  assert.equal(r.all.length, r.stdout.length + r.stderr.length);
});

test("a program over its timeout is killed and reported timed out", async () => {
  const started = exec(node, ["-e", "setInterval(() => {}, 1000)"], { timeoutMs: 200, killAfterMs: 5000 });
  assert.ok(started.pid !== undefined);
  const r = await started.result;
  assert.deepEqual([r.timedOut, r.exitCode, r.signal, r.failed], [true, undefined, "SIGTERM", true]);
});

test("a program that cannot start is a failed result naming it, not a throw", async () => {
  const r = await exec("/nonexistent/puppet", ["agent"], { timeoutMs: 1000 }).result;
  assert.equal(r.failed, true);
  assert.equal(r.exitCode, undefined);
  assert.match(r.spawnError ?? "", /cannot run \/nonexistent\/puppet: ENOENT/);
});

test("output beyond maxBuffer is cut, the process still runs to its end", async () => {
  const r = await exec(node, ["-e", "process.stdout.write('x'.repeat(5000)); process.exit(0)"], { timeoutMs: 30_000, maxBuffer: 100 }).result;
  assert.deepEqual([r.exitCode, r.stdout.length, r.failed], [0, 100, false]);
});
