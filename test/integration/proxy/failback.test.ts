// Failover and guarded failback through the real proxy (ProxyRuntime) with fake CA workers and
// REAL rsync on temp cadirs: the serial gap and the lag at promotion, promotion without a
// reachable sync agent, manual failback with writes held only during the switch, automatic
// failback, divergence on the primary (nothing copied), and a failback for a stale epoch refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { call, refusedUrl, until } from "./harness.js";
import { admin, failOver, health, serialOf, signOn, startHa, TOKEN } from "./ha-harness.js";
import { contentsOf, differingPaths } from "../sync/harness.js";

test("failover: the promoted cadir's serial skips serialGap at the new epoch and its sync lag is recorded", async (t) => {
  const ha = await startHa(t);
  await until(() => ha.rt.sync!.status().destinations.ca2?.lastSuccess !== null, 10_000, "first pass into ca2");
  assert.equal(serialOf(ha.dir2), "0003");
  await failOver(ha);
  assert.equal(ha.rt.proxy.arbiter.epoch, 2);
  assert.equal(serialOf(ha.dir2), "0103", "0003 + serialGap 0x100");
  assert.equal(serialOf(ha.dir1), "0003", "the old primary's cadir is not touched by the advance");
  const h = await health(ha);
  assert.equal(h.status, 200);
  assert.equal(h.report.status, "degraded");
  assert.equal(h.report.arbiter.active, "ca2");
  assert.equal(h.report.arbiter.lastFailoverLagMs, 0, "ca2 was in sync when promoted");
  assert.deepEqual(h.report.arbiter.warnings, []);
  const ev = h.report.events.find((e) => e.kind === "failover");
  assert.match(ev?.message ?? "", /ca1 -> ca2 at epoch 2 .*serial 0003 -> 0103; sync lag 0 ms/);
  assert.deepEqual(savedState(join(ha.config.proxy!.stateDir, "arbiter.json")), { epoch: 2, active: "ca2", cause: "failover" });
});

test("failover with the promoted CA's sync agent unreachable: promoted anyway, warning in /health and an event", async (t) => {
  const ha = await startHa(t, { sync: false, workerSync: { ca2: await refusedUrl() } });
  await failOver(ha);
  assert.equal(ha.rt.proxy.arbiter.epoch, 2);
  assert.equal(serialOf(ha.dir2), "0003", "nothing could advance it");
  const h = await health(ha);
  assert.equal(h.report.status, "degraded");
  assert.ok(h.report.arbiter.warnings.some((w) => /ca2 promoted at epoch 2 without a serial advance .*cannot reach the sync agent of ca2/.test(w)), JSON.stringify(h.report.arbiter.warnings));
  assert.ok(h.report.reasons.some((r) => r.startsWith("arbiter: ca2 promoted")));
  assert.equal(h.report.arbiter.lastFailoverLagMs, undefined);
  assert.match(h.report.events.find((e) => e.kind === "failover")?.message ?? "", /WARNING/);
  // CA traffic goes to the promoted CA.
  assert.equal((await call(ha.port, { path: "/puppet-ca/v1/certificate/ca" })).body, "ca2 GET /puppet-ca/v1/certificate/ca");
});

test("manual failback: primary gets everything the standby issued, epoch+1 persisted, writes held only during the switch", async (t) => {
  const ha = await startHa(t, { rsyncDelay: 0.15 });
  await until(() => ha.rt.sync!.status().destinations.ca2?.lastSuccess !== null, 10_000, "first pass into ca2");
  await failOver(ha);
  const { serial } = signOn(ha, ha.dir2, "node2"); // the standby signs while active
  assert.equal(serial, "0x0103");
  // Refused while the primary is down (503) ...
  let r = await admin(ha, "POST", "/api/ca/failback", TOKEN);
  assert.equal(r.status, 503);
  assert.match((r.json.error as { message: string }).message, /primary CA ca1 is not up/);
  ha.ca1.healthy = true;
  await until(() => ha.rt.proxy.ca.get("ca1")!.state === "up", 5000, "ca1 up");
  assert.equal((await health(ha)).report.arbiter.failback.state, "waiting", "manual: no failback by itself");

  // Keep the write hold open for a second: a CSR already in flight on ca2 is answered 1 s into the
  // hold (the failback waits for it), long enough to send a read through the hold. The final pull
  // alone is too short to aim at (incremental: with nothing new it runs no rsync at all).
  const plain = ha.ca2.handler;
  ha.ca2.handler = (req, res, body) => {
    if (req.method !== "PUT") return plain(req, res, body);
    void until(() => ha.rt.proxy.arbiter.holding, 20_000, "write hold").then(() => setTimeout(() => plain(req, res, body), 1000));
  };
  const inFlight = call(ha.port, { method: "PUT", path: "/puppet-ca/v1/certificate_request/node5", body: "CSR5" });
  await until(() => ha.ca2.seen.some((s) => s.method === "PUT"), 5000, "the CSR reached ca2");
  const posted = admin(ha, "POST", "/api/ca/failback", TOKEN);
  await until(() => ha.rt.proxy.arbiter.holding && ha.rt.failback.view().state === "switching", 20_000, "write hold of the final pull");
  const write = call(ha.port, { method: "PUT", path: "/puppet-ca/v1/certificate_request/node3", body: "CSR3" });
  const readStarted = Date.now();
  const read = await call(ha.port, { path: "/puppet-ca/v1/certificate/node2" });
  assert.equal(read.body, "ca2 GET /puppet-ca/v1/certificate/node2", "reads flow to the current active during the hold");
  assert.ok(ha.rt.proxy.arbiter.active === "ca2" && Date.now() - readStarted < 1000, "the read was not held");
  r = await posted;
  assert.equal(r.status, 200, r.text);
  const result = r.json.result as { from: string; to: string; epoch: number; pulledAtEpoch: number; writePauseMs: number };
  assert.deepEqual({ from: result.from, to: result.to, epoch: result.epoch, pulledAtEpoch: result.pulledAtEpoch }, { from: "ca2", to: "ca1", epoch: 3, pulledAtEpoch: 2 });
  assert.ok(result.writePauseMs > 0 && result.writePauseMs < 5000, `write pause ${result.writePauseMs} ms`);
  const w = await write;
  assert.equal(w.status, 200);
  assert.equal(w.body, "ca1 PUT /puppet-ca/v1/certificate_request/node3", "the held write went to the new active");
  assert.equal((await inFlight).status, 200);
  assert.equal(ha.ca2.seen.filter((s) => s.method === "PUT" && s.url.endsWith("/node3")).length, 0);

  assert.deepEqual(await differingPaths(ha.dir1, ha.dir2), [], "ca1's cadir equals ca2's");
  assert.ok(existsSync(join(ha.dir1, "signed", "node2.pem")));
  assert.equal(serialOf(ha.dir1), "0104");
  assert.deepEqual(savedState(join(ha.config.proxy!.stateDir, "arbiter.json")), { epoch: 3, active: "ca1", cause: "failback" });
  const h = await health(ha);
  assert.equal(h.report.arbiter.active, "ca1");
  assert.equal(h.report.arbiter.failback.state, "done");
  assert.match(h.report.events.find((e) => e.kind === "failback")?.message ?? "", /failback ca2 -> ca1 done at epoch 3 \(admin\); CA writes paused \d+ ms/);
  assert.ok(h.report.events.some((e) => e.kind === "admin" && /failback by 127\.0\.0\.1: done/.test(e.message)));
  // Already on the primary: 409.
  r = await admin(ha, "POST", "/api/ca/failback", TOKEN);
  assert.equal(r.status, 409);
  assert.match((r.json.error as { message: string }).message, /already on the primary CA ca1/);
  const metrics = (await admin(ha, "GET", "/metrics")).text;
  assert.match(metrics, /^puppet_ha_ca_failbacks_total 1$/m);
  assert.match(metrics, /^puppet_ha_ca_failovers_total 1$/m);
});

test("auto failback: after the primary has been up for failbackAfter", async (t) => {
  const ha = await startHa(t, { ca: { failback: "auto", failbackAfter: "300ms" } });
  await until(() => ha.rt.sync!.status().destinations.ca2?.lastSuccess !== null, 10_000, "first pass into ca2");
  await failOver(ha);
  signOn(ha, ha.dir2, "node2");
  const downAt = Date.now();
  ha.ca1.healthy = true;
  await until(() => ha.rt.proxy.arbiter.active === "ca1", 20_000, "automatic failback");
  assert.ok(Date.now() - downAt >= 300, "not before failbackAfter");
  assert.equal(ha.rt.proxy.arbiter.epoch, 3);
  assert.deepEqual(await differingPaths(ha.dir1, ha.dir2), []);
  const h = await health(ha);
  assert.equal(h.report.arbiter.failback.policy, "auto");
  assert.match(h.report.events.find((e) => e.kind === "failback")?.message ?? "", /\(auto\)/);
});

test("divergence on the primary: failback aborted, nothing copied, /health names serial and subject", async (t) => {
  const ha = await startHa(t);
  await until(() => ha.rt.sync!.status().destinations.ca2?.lastSuccess !== null, 10_000, "first pass into ca2");
  await failOver(ha);
  signOn(ha, ha.dir2, "node2");
  // Someone signed on ca1 directly (or it signed in its last seconds): ca2 lacks it.
  signOn(ha, ha.dir1, "rogue");
  const before = await contentsOf(ha.dir1);
  ha.ca1.healthy = true;
  await until(() => ha.rt.proxy.ca.get("ca1")!.state === "up", 5000, "ca1 up");
  const r = await admin(ha, "POST", "/api/ca/failback", TOKEN);
  assert.equal(r.status, 409, r.text);
  assert.match((r.json.error as { message: string }).message, /failback aborted: ca1 diverged: .*rogue.*nothing copied/);
  assert.deepEqual(await contentsOf(ha.dir1), before, "ca1's cadir untouched");
  assert.equal(ha.rt.proxy.arbiter.active, "ca2");
  assert.equal(ha.rt.proxy.arbiter.epoch, 2);
  const h = await health(ha);
  assert.match(h.report.arbiter.failback.state, /^aborted: ca1 diverged/);
  const s = h.report.sync.find((x) => x.destination === "ca1");
  assert.equal(s?.state, "diverged");
  const d = s?.divergence?.find((x) => x.subject?.includes("rogue"));
  assert.ok(d, JSON.stringify(s?.divergence));
  assert.match(d.serial ?? "", /0*3$/i, "the serial ca1 issued to rogue");
  assert.ok(h.report.reasons.some((x) => /sync ca1 diverged from ca2/.test(x)));
  assert.ok(h.report.events.some((e) => e.kind === "divergence" && /rogue/.test(e.message)));
  assert.ok(h.report.events.some((e) => e.kind === "failback-aborted"));
});

test("a failback whose epoch went stale during the pull is refused; nothing switches", async (t) => {
  const ha = await startHa(t, { rsyncDelay: 0.3 });
  await until(() => ha.rt.sync!.status().destinations.ca2?.lastSuccess !== null, 10_000, "first pass into ca2");
  await failOver(ha);
  ha.ca1.healthy = true;
  await until(() => ha.rt.proxy.ca.get("ca1")!.state === "up", 5000, "ca1 up");
  const posted = admin(ha, "POST", "/api/ca/failback", TOKEN);
  await until(() => ha.rt.failback.view().state === "syncing", 5000, "syncing");
  // Another arbiter decision at a higher epoch arrives while the primary is being pulled.
  assert.ok(ha.rt.proxy.arbiter.observe({ epoch: 9, active: "ca2" }));
  const r = await posted;
  assert.equal(r.status, 409, r.text);
  assert.match((r.json.error as { message: string }).message, /failback aborted: .*(fenced|refused).*epoch/);
  assert.equal(ha.rt.proxy.arbiter.active, "ca2");
  assert.equal(ha.rt.proxy.arbiter.epoch, 9);
  assert.match((await health(ha)).report.arbiter.failback.state, /^aborted: /);
});

test("failback waits for a CA write already in flight on the standby: the final pull includes its certificate (no serial twice)", async (t) => {
  const ha = await startHa(t, { responseTimeout: "10s" });
  await until(() => ha.rt.sync!.status().destinations.ca2?.lastSuccess !== null, 10_000, "first pass into ca2");
  await failOver(ha);
  ha.ca1.healthy = true;
  await until(() => ha.rt.proxy.ca.get("ca1")!.state === "up", 5000, "ca1 up");
  // The standby autosigns a CSR that reached it before the failback's write hold began; the
  // signing finishes (files written, then the answer) 1.5 s into the hold, as a slow CA would.
  let signed: string | undefined;
  ha.ca2.handler = (req, res) => {
    req.resume();
    void until(() => ha.rt.proxy.arbiter.holding, 20_000, "failback write hold").then(() => setTimeout(() => {
      signed = signOn(ha, ha.dir2, "node9").serial;
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("signed");
    }, 1500));
  };
  const write = call(ha.port, { method: "PUT", path: "/puppet-ca/v1/certificate_request/node9", body: "CSR9" });
  await until(() => ha.ca2.seen.some((s) => s.method === "PUT"), 5000, "the CSR reached ca2");
  const r = await admin(ha, "POST", "/api/ca/failback", TOKEN);
  assert.equal(r.status, 200, r.text);
  assert.equal((await write).status, 200);
  assert.ok(signed, "ca2 signed node9");
  assert.ok(existsSync(join(ha.dir1, "signed", "node9.pem")), "the primary got the certificate signed during the hold");
  assert.match(readFileSync(join(ha.dir1, "inventory.txt"), "utf8"), new RegExp(`^${signed} .* /CN=node9$`, "m"));
  assert.equal(parseInt(serialOf(ha.dir1), 16), parseInt(signed, 16) + 1, "the primary's next serial is above the one the standby issued");
  assert.ok((r.json.result as { writePauseMs: number }).writePauseMs >= 1000, "the pause covered the write in flight");
});

/** The CA state file as {epoch, active, cause} (the change record's "at" and the revision vary). */
function savedState(path: string): { epoch: number; active: string; cause: string | undefined } {
  const s = JSON.parse(readFileSync(path, "utf8")) as { epoch: number; active: string; change?: { cause: string } };
  return { epoch: s.epoch, active: s.active, cause: s.change?.cause };
}
