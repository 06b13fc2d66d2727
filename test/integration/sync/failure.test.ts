// rsync failures injected by fake `rsync` executables first on PATH: exit 23, exit 12, killed
// mid-copy, timed out. Each gives a typed RsyncError, status `error`, no truncated file in place,
// and the next pass (real rsync again) converges.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RsyncError } from "../../../src/sync/errors.js";
import { createSyncService, RETRY_AFTER_ERROR_MS } from "../../../src/sync/service.js";
import { contentsOf, differingPaths, fakeExecutable, makeHarness, nextPass, onCopy, realRsync } from "./harness.js";

const cases = [
  { name: "exit 23 (partial transfer)", action: `echo "rsync: [receiver] mkstemp failed: Permission denied (13)" >&2; exit 23`, check: (e: RsyncError) => { assert.equal(e.exitCode, 23); assert.match(e.stderr, /Permission denied/); assert.match(e.message, /exit 23 \(partial transfer due to error\)/); } },
  { name: "exit 12 (protocol data stream)", action: `echo "rsync error: error in rsync protocol data stream (code 12)" >&2; exit 12`, check: (e: RsyncError) => { assert.equal(e.exitCode, 12); assert.match(e.message, /exit 12/); } },
  {
    name: "killed mid-copy (SIGKILL, partial temp file left behind)",
    // The copy reads its file list on stdin, which sh replaces with /dev/null for an async command.
    action: `exec 3<&0; ${realRsync()} --bwlimit=100 "$@" 0<&3 & pid=$!; sleep 0.7; kill -9 $pid; kill -9 $$`,
    check: (e: RsyncError) => { assert.equal(e.signal, "SIGKILL"); },
  },
];

for (const c of cases) {
  test(`rsync ${c.name}: typed error, status error, nothing half-written, next pass converges`, async (t) => {
    const h = makeHarness(t, { fill: true });
    h.source.sign("node2");
    h.source.writeTo(h.ca1);
    // A big new version of a file the destination already has: a truncated copy would show.
    writeFileSync(join(h.ca1, "requests", "big.pem"), Buffer.alloc(3_000_000, "n"));
    writeFileSync(join(h.ca2, "requests", "big.pem"), "old");
    const before = await contentsOf(h.ca2);
    fakeExecutable(h.bin, "rsync", onCopy(c.action));
    const [r] = await h.service.requestPass("ca2");
    assert.equal(r?.result, "error");
    assert.ok(r?.error instanceof RsyncError, String(r?.error));
    c.check(r.error);
    assert.deepEqual(await contentsOf(h.ca2), before, "every file in place is the old one (temp files aside)");
    assert.equal(readFileSync(join(h.ca2, "requests", "big.pem"), "utf8"), "old");
    const st = h.service.status().destinations.ca2;
    assert.equal(st?.state, "error");
    assert.equal(st?.lastError?.code, "E_RSYNC");
    assert.ok(st?.lagMs !== null && st.lagMs >= 0);
    const leftover = existsSync(join(h.ca2, "requests", ".~tmp~"));
    if (c.name.startsWith("killed")) assert.ok(leftover, "the killed rsync left its partial file in .~tmp~, not in place");
    rmSync(join(h.bin, "rsync"));
    const [ok] = await h.service.requestPass("ca2");
    assert.equal(ok?.result, "in-sync", ok?.error?.message);
    assert.deepEqual(await differingPaths(h.ca1, h.ca2), []);
    assert.equal(existsSync(join(h.ca2, "requests", ".~tmp~")), false, "leftovers of a killed rsync are cleaned by the next pass");
    assert.equal(h.service.status().destinations.ca2?.state, "in-sync");
    assert.equal(h.service.status().destinations.ca2?.lastError?.code, "E_RSYNC", "the last error stays visible");
    assert.equal(existsSync(join(h.ca2, "signed", "node2.pem")), true);
  });
}

test("rsync timed out (our own timer): killed, typed error with timedOut, nothing half-written", async (t) => {
  const h = makeHarness(t, { fill: true, config: { rsync: { timeout: "700ms" } } });
  writeFileSync(join(h.ca2, "requests", "big.pem"), "old");
  writeFileSync(join(h.ca1, "requests", "big.pem"), Buffer.alloc(3_000_000, "n"));
  const before = await contentsOf(h.ca2);
  fakeExecutable(h.bin, "rsync", onCopy(`exec ${realRsync()} --bwlimit=100 "$@"`));
  const [r] = await h.service.requestPass("ca2");
  assert.ok(r?.error instanceof RsyncError, String(r?.error));
  assert.equal(r.error.timedOut, true);
  assert.match(r.error.message, /timed out/);
  assert.deepEqual(await contentsOf(h.ca2), before);
  rmSync(join(h.bin, "rsync"));
  const [ok] = await h.service.requestPass("ca2");
  assert.equal(ok?.result, "in-sync", ok?.error?.message);
  assert.deepEqual(await differingPaths(h.ca1, h.ca2), []);
});

test("rsync missing altogether is a typed error too", async (t) => {
  const h = makeHarness(t, { fill: true, config: { rsync: { command: "/nonexistent/rsync" } } });
  const [r] = await h.service.requestPass("ca2");
  assert.ok(r?.error instanceof RsyncError, String(r?.error));
  assert.match(r.error.message, /ENOENT|not found|no such/i);
});

test("a file vanishing while the source is staged (rsync exit 24) does not fail the pass", async (t) => {
  const h = makeHarness(t, { fill: true });
  h.source.sign("node2");
  h.source.writeTo(h.ca1);
  // The staging mirror is the only rsync call with --delete-excluded: do the real copy, then
  // answer 24 as rsync does when a CSR disappears mid-copy.
  fakeExecutable(h.bin, "rsync", `case " $* " in *" --delete-excluded "*) ${realRsync()} "$@"; exit 24 ;; esac\nexec ${realRsync()} "$@"`);
  const [r] = await h.service.requestPass("ca2");
  assert.equal(r?.result, "in-sync", r?.error?.message);
  assert.deepEqual(await differingPaths(h.ca1, h.ca2), []);
});

test("puppetserver's atomic-write temp files in the active cadir are never copied", async (t) => {
  const h = makeHarness(t, { fill: true });
  writeFileSync(join(h.ca1, "serial4722710060100920021tmp"), "00");
  writeFileSync(join(h.ca1, "signed", "node9.pem6035182597211263242tmp"), "half a cert");
  const [r] = await h.service.requestPass("ca2");
  assert.equal(r?.result, "in-sync", r?.error?.message);
  assert.equal(existsSync(join(h.ca2, "serial4722710060100920021tmp")), false);
  assert.equal(existsSync(join(h.ca2, "signed", "node9.pem6035182597211263242tmp")), false);
  // Gone from the source later: still in sync (no false divergence).
  rmSync(join(h.ca1, "serial4722710060100920021tmp"));
  rmSync(join(h.ca1, "signed", "node9.pem6035182597211263242tmp"));
  const [again] = await h.service.requestPass("ca2");
  assert.equal(again?.result, "in-sync", again?.error?.message);
});

test("a failed pass is retried after RETRY_AFTER_ERROR_MS, not at the next cron tick", async (t) => {
  const h = makeHarness(t, { fill: true });
  h.source.sign("node3");
  h.source.writeTo(h.ca1);
  const timers: { fn: () => void; ms: number }[] = [];
  const clock = {
    now: () => Date.now(),
    setTimeout: (fn: () => void, ms: number) => { const e = { fn, ms }; timers.push(e); return e; },
    clearTimeout: (e: unknown) => { const i = timers.indexOf(e as { fn: () => void; ms: number }); if (i >= 0) timers.splice(i, 1); },
  };
  const service = createSyncService({ config: h.config, arbiter: h.arbiter, env: h.env, clock, cron: () => ({ stop: () => undefined }) });
  t.after(() => service.stop());
  const marker = join(h.root, "fail-once");
  writeFileSync(marker, "");
  fakeExecutable(h.bin, "rsync", onCopy(`if [ -e ${marker} ]; then rm -f ${marker}; echo "rsync error (code 12)" >&2; exit 12; fi`));
  const failed = nextPass(service, (r) => r.destination === "ca2", 20_000);
  await service.start();
  assert.equal((await failed).result, "error");
  const retry = timers.find((e) => e.ms === RETRY_AFTER_ERROR_MS);
  assert.ok(retry, "a retry is scheduled after the failed pass");
  const next = nextPass(service, (r) => r.destination === "ca2", 20_000);
  retry.fn();
  const r = await next;
  assert.equal(r.result, "in-sync", r.error?.message);
  assert.deepEqual(r.reasons, ["retry after error"]);
  assert.deepEqual(await differingPaths(h.ca1, h.ca2), []);
});
