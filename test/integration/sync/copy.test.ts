// Real rsync on temp dirs: filling a fresh standby, propagating a signed cert, backups of replaced
// files, the delete cap, fencing, and a watch that copies within a second of a change.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DeleteLimitError, FencingError } from "../../../src/sync/errors.js";
import { createSyncService, type PassReport } from "../../../src/sync/service.js";
import { contentsOf, differingPaths, makeHarness, nextPass } from "./harness.js";

test("a fresh (absent) standby is filled and then matches file for file", async (t) => {
  const h = makeHarness(t);
  assert.equal(existsSync(h.ca2), false);
  const [r] = await h.service.requestPass("ca2");
  assert.equal(r?.result, "in-sync", r?.error?.message);
  assert.ok((r?.bytes ?? 0) > 0);
  assert.deepEqual(await differingPaths(h.ca1, h.ca2), []);
  const st = h.service.status().destinations.ca2;
  assert.equal(st?.state, "in-sync");
  assert.equal(st?.epoch, 1);
  assert.equal(st?.source, "ca1");
  assert.equal(st?.lagMs, 0);
  assert.ok(st?.lastSuccess);
  assert.ok((st?.lastPass?.bytes ?? 0) > 0);
  // The staged source (with ca_key.pem) sits in a folder only root can read.
  assert.equal(statSync(join(h.config.workDir, "ca2")).mode & 0o777, 0o700);
  assert.ok(existsSync(join(h.config.workDir, "ca2", "source", "ca_key.pem")));
});

test("a new signed cert, serial and inventory line propagate; replaced files go to the backup dir", async (t) => {
  const h = makeHarness(t, { fill: true });
  const oldSerial = readFileSync(join(h.ca2, "serial"), "utf8");
  h.source.request("node9");
  h.source.writeTo(h.ca1);
  await h.service.requestPass("ca2");
  h.source.sign("node9");
  h.source.writeTo(h.ca1);
  const [r] = await h.service.requestPass("ca2");
  assert.equal(r?.result, "in-sync", r?.error?.message);
  assert.deepEqual(await differingPaths(h.ca1, h.ca2), []);
  assert.equal(readFileSync(join(h.ca2, "serial"), "utf8"), "0004");
  assert.match(readFileSync(join(h.ca2, "inventory.txt"), "utf8"), /0x0003 \S+ \S+ \/CN=node9\n$/);
  assert.ok(existsSync(join(h.ca2, "signed/node9.pem")));
  assert.equal(existsSync(join(h.ca2, "requests/node9.pem")), false);
  // The replaced serial and the deleted CSR are kept under a dated backup folder.
  const stamps = readdirSync(join(h.backupDir, "ca2"));
  const last = join(h.backupDir, "ca2", stamps.sort().at(-1) as string);
  assert.equal(readFileSync(join(last, "serial"), "utf8"), oldSerial);
  assert.ok(existsSync(join(last, "requests/node9.pem")));
});

test("an in-sync pass copies nothing and makes no backup folder", async (t) => {
  const h = makeHarness(t, { fill: true });
  const [r] = await h.service.requestPass("ca2");
  assert.equal(r?.result, "in-sync");
  assert.equal(r?.bytes, 0);
  assert.equal(existsSync(join(h.backupDir, "ca2")), false);
});

test("maxDeletes: a pass that would delete more is refused before anything changes", async (t) => {
  const h = makeHarness(t, { fill: true, config: { maxDeletes: 2 } });
  for (const n of ["a", "b", "c"]) writeFileSync(join(h.ca2, "requests", `${n}.pem`), n);
  h.source.sign("node2");
  h.source.writeTo(h.ca1);
  const before = await contentsOf(h.ca2);
  const [r] = await h.service.requestPass("ca2");
  assert.equal(r?.result, "error");
  assert.ok(r?.error instanceof DeleteLimitError);
  assert.deepEqual([...r.error.files].sort(), ["requests/a.pem", "requests/b.pem", "requests/c.pem"]);
  assert.deepEqual(await contentsOf(h.ca2), before, "destination untouched");
  assert.equal(h.service.status().destinations.ca2?.lastError?.code, "E_MAX_DELETES");
  rmSync(join(h.ca2, "requests", "c.pem"));
  const [again] = await h.service.requestPass("ca2");
  assert.equal(again?.result, "in-sync", again?.error?.message);
  assert.deepEqual(await differingPaths(h.ca1, h.ca2), []);
});

test("fencing: the active CA's dir is never written, and an older epoch is refused", async (t) => {
  const h = makeHarness(t, { fill: true });
  await h.service.requestPass("ca2");
  h.arbiter.set({ epoch: 2, active: "ca2" });
  writeFileSync(join(h.ca1, "requests", "x.pem"), "x");
  const before = await contentsOf(h.ca2);
  const [skip] = await h.service.requestPass("ca2");
  assert.equal(skip?.result, "skipped");
  assert.equal(h.service.status().destinations.ca2?.isActive, true);
  assert.deepEqual(await contentsOf(h.ca2), before);
  await assert.rejects(h.service.pullNow("ca2", 2), FencingError, "pull into the active CA");
  h.arbiter.set({ epoch: 1, active: "ca1" });
  const [stale] = await h.service.requestPass("ca2");
  assert.equal(stale?.result, "error");
  assert.ok(stale?.error instanceof FencingError);
  assert.match(stale.error.message, /epoch 1, older than the latest known 2/);
  assert.deepEqual(await contentsOf(h.ca2), before, "nothing written for a stale epoch");
  await assert.rejects(h.service.pullNow("ca2", 1), /older than the latest known 2/);
});

test("failback API: pullNow and finalPull for epoch E report in sync at E", async (t) => {
  const h = makeHarness(t);
  h.arbiter.set({ epoch: 5, active: "ca1" });
  const r = await h.service.pullNow("ca2", 5);
  assert.equal(r.ok, true);
  assert.equal(r.epoch, 5);
  assert.deepEqual(await differingPaths(h.ca1, h.ca2), []);
  h.source.sign("late");
  h.source.writeTo(h.ca1);
  const f = await h.service.finalPull("ca2", 5);
  assert.equal(f.result, "in-sync");
  assert.match(f.manifest ?? "", /^[0-9a-f]{64}$/);
  assert.notEqual(f.manifest, r.manifest, "the manifest digest names the state that was verified");
  assert.equal(f.files, r.files === undefined ? undefined : r.files + 1);
  assert.ok(existsSync(join(h.ca2, "signed/late.pem")));
  // The proxy says epoch 6 exists: from now on a pass the arbiter answers for epoch 5 is stale.
  await assert.rejects(h.service.finalPull("ca2", 6), /epoch 5, older than the latest known 6/);
});

test("advanceSerial on promotion: once per epoch, refused for an older epoch", async (t) => {
  const h = makeHarness(t, { fill: true });
  const a = await h.service.advanceSerial("ca2", 0x1000, 2);
  assert.deepEqual([a.before, a.after], ["0003", "1003"]);
  assert.equal(readFileSync(join(h.ca2, "serial"), "utf8"), "1003");
  const again = await h.service.advanceSerial("ca2", 0x1000, 2);
  assert.equal(again.after, "1003");
  assert.equal(readFileSync(join(h.ca2, "serial"), "utf8"), "1003", "one gap per promotion");
  await assert.rejects(h.service.advanceSerial("ca1", 16, 1), FencingError);
});

test("the watch copies a change within a second (status and event), without a schedule", async (t) => {
  const h = makeHarness(t, { watch: true });
  const ready = nextPass(h.service, (r) => r.reasons.includes("watch-ready") && r.result === "in-sync", 10_000);
  await h.service.start();
  await ready;
  assert.deepEqual(await differingPaths(h.ca1, h.ca2), []);
  const changedAt = Date.now();
  const copied = nextPass(h.service, (r) => r.reasons.includes("watch") && existsSync(join(h.ca2, "requests/fresh.pem")), 1000);
  writeFileSync(join(h.ca1, "requests", "fresh.pem"), "csr");
  const r = await copied;
  assert.equal(r.result, "in-sync");
  assert.ok(Date.now() - changedAt < 1000);
  assert.equal(h.service.status().destinations.ca2?.state, "in-sync");
});

test("single-host layout: after failover the old primary pulls from the new active, guarded", async (t) => {
  const h = makeHarness(t, { config: { writeInto: undefined } });
  assert.deepEqual(h.service.destinations, ["ca1", "ca2"]);
  const first = await h.service.requestPass();
  assert.deepEqual(first.map((r) => [r.destination, r.result]), [["ca1", "skipped"], ["ca2", "in-sync"]]);
  // Failover: ca2 is promoted (epoch 2, serial advanced), then signs a cert.
  h.arbiter.set({ epoch: 2, active: "ca2" });
  await h.service.advanceSerial("ca2", 0x10, 2);
  const promoted = h.source.clone();
  promoted.serial = 0x13;
  promoted.sign("after-failover");
  promoted.writeTo(h.ca2);
  const second = await h.service.requestPass();
  assert.deepEqual(second.map((r) => [r.destination, r.result, r.epoch]), [["ca1", "in-sync", 2], ["ca2", "skipped", 2]]);
  assert.equal(readFileSync(join(h.ca1, "serial"), "utf8"), "0014");
  assert.ok(existsSync(join(h.ca1, "signed/after-failover.pem")));
  assert.deepEqual(await differingPaths(h.ca1, h.ca2), []);
  const st = h.service.status();
  assert.equal(st.active, "ca2");
  assert.equal(st.destinations.ca2?.isActive, true);
  assert.equal(st.destinations.ca1?.source, "ca2");
});

test("fencing: an epoch change between the guard and the copy aborts the copy", async (t) => {
  const h = makeHarness(t);
  let calls = 0;
  const flipping = { current: () => Promise.resolve(++calls === 1 ? { epoch: 1, active: "ca1" } : { epoch: 2, active: "ca2" }) };
  const service = createSyncService({ config: h.config, arbiter: flipping, env: h.env, cron: () => ({ stop: () => undefined }) });
  t.after(() => service.stop());
  const [r] = await service.requestPass("ca2");
  assert.equal(r?.result, "error");
  assert.ok(r?.error instanceof FencingError);
  assert.match(r.error.message, /the pass for epoch 1 \(active ca1\) is stale, the arbiter now says epoch 2 \(active ca2\)/);
  assert.equal(existsSync(h.ca2), false, "nothing copied");
});

test("start: the watch is set up before the first pass, and its ready signal gives one more pass", async (t) => {
  const h = makeHarness(t);
  const order: string[] = [];
  let ready: () => void = () => undefined;
  const service = createSyncService({
    config: { ...h.config, watch: true },
    arbiter: h.arbiter,
    env: h.env,
    cron: () => ({ stop: () => undefined }),
    watch: (dir, _onChange, onReady) => {
      order.push(`watch ${dir}`);
      ready = onReady;
      return { stop: () => undefined };
    },
  });
  t.after(() => service.stop());
  service.events.on("pass", (r: PassReport) => order.push(`pass ${r.reasons.join("+")}`));
  const first = nextPass(service, (r) => r.reasons.includes("start"), 10_000);
  await service.start();
  ready(); // arrives while the first pass runs: exactly one more pass after it
  await first;
  await nextPass(service, (r) => r.reasons.includes("watch-ready"), 10_000);
  assert.deepEqual(order, [`watch ${h.ca1}`, "pass start", "pass watch-ready"]);
});
