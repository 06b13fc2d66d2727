// /health's verdict: ok, degraded (still served 200) or down (503), with a reason for each cause.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { assessHealth } from "../../../src/health/health-status.js";
import { DAY, NOW, THRESHOLDS, backend, inputs, pools, syncDest } from "../../helpers/health.js";
import type { HealthInputs } from "../../../src/health/health-status.js";

const arbiter = inputs().arbiter;

const cases: { name: string; over: Partial<HealthInputs>; status: "ok" | "degraded" | "down"; reason?: RegExp }[] = [
  { name: "everything up and in sync", over: {}, status: "ok" },
  { name: "active CA down, no standby up", over: { pools: pools(["down", "down"]) }, status: "down", reason: /active CA ca1 is down and no standby CA is up/ },
  { name: "single CA worker down", over: { pools: [{ name: "ca", backends: [backend("ca1", "down")] }, pools()[1]!] }, status: "down", reason: /cannot get certificates/ },
  { name: "active CA down, standby up (failover pending)", over: { pools: pools(["down", "up"]) }, status: "degraded", reason: /active CA ca1 is down; standby ca2 up, failover pending/ },
  { name: "active CA unknown, standby drained", over: { pools: pools(["unknown", "drain"]) }, status: "down", reason: /active CA ca1 is unknown/ },
  { name: "running on the standby", over: { pools: pools(["down", "up"]), arbiter: { ...arbiter, active: "ca2", epoch: 4 } }, status: "degraded", reason: /running on standby CA ca2 \(primary ca1\)/ },
  { name: "standby CA down", over: { pools: pools(["up", "down"]) }, status: "degraded", reason: /standby CA ca2 is down \(ECONNREFUSED\)/ },
  { name: "active names no CA worker", over: { arbiter: { ...arbiter, active: "ca9", primary: "ca9" } }, status: "degraded", reason: /active CA ca9 is not a CA worker; standby ca1, ca2 up/ },
  { name: "no CA pool", over: { pools: [pools()[1]!] }, status: "down", reason: /no CA worker configured/ },
  { name: "one master down", over: { pools: pools(["up", "up"], ["up", "down"]) }, status: "degraded", reason: /compile master m2 is down/ },
  { name: "a drained master is not a problem", over: { pools: pools(["up", "up"], ["up", "drain"]) }, status: "ok" },
  { name: "every master down", over: { pools: pools(["up", "up"], ["down", "down"]) }, status: "down", reason: /no compile master is up: agents cannot get catalogs/ },
  { name: "every master drained", over: { pools: pools(["up", "up"], ["drain", "drain"]) }, status: "down", reason: /no compile master is up/ },
  { name: "no master pool", over: { pools: [pools()[0]!] }, status: "down", reason: /no compile master configured/ },
  { name: "sync lag past maxSyncLag", over: { sync: [syncDest({ lagMs: 180_000 })] }, status: "degraded", reason: /sync ca2 lags 3m \(max 2m\)/ },
  { name: "sync lag exactly maxSyncLag", over: { sync: [syncDest({ lagMs: 120_000 })] }, status: "ok" },
  { name: "sync syncing is fine", over: { sync: [syncDest({ state: "syncing" })] }, status: "ok" },
  { name: "sync diverged", over: { sync: [syncDest({ state: "diverged", divergence: [{ serial: "0A", reason: "only on destination" }] })] }, status: "degraded", reason: /sync ca2 diverged from ca1 \(1 difference\(s\)\)/ },
  { name: "sync error", over: { sync: [syncDest({ state: "error", lastError: "rsync exit 23" })] }, status: "degraded", reason: /sync ca2 failed: rsync exit 23/ },
  { name: "CA writes held", over: { arbiter: { ...arbiter, heldWrites: 2 } }, status: "degraded", reason: /2 CA write\(s\) held/ },
  { name: "arbiter warning", over: { arbiter: { ...arbiter, warnings: ["serial gap not applied"] } }, status: "degraded", reason: /arbiter: serial gap not applied/ },
  { name: "CRL expiring within expiryWarnDays", over: { crl: { nextUpdate: new Date(NOW.getTime() + 10 * DAY) } }, status: "degraded", reason: /CRL expires in 10d/ },
  { name: "CRL expired", over: { crl: { nextUpdate: new Date(NOW.getTime() - 1000) } }, status: "down", reason: /CRL expired/ },
  { name: "CA cert expiring", over: { caCertNotAfter: new Date(NOW.getTime() + 29 * DAY) }, status: "degraded", reason: /CA certificate expires in 29d/ },
  { name: "CA cert expired", over: { caCertNotAfter: new Date(NOW.getTime() - DAY) }, status: "down", reason: /CA certificate expired/ },
  { name: "unknown expiry is not a problem", over: { caCertNotAfter: undefined, crl: undefined }, status: "ok" },
];

describe("assessHealth", () => {
  for (const c of cases) {
    test(`${c.name} → ${c.status}`, () => {
      const r = assessHealth(inputs(c.over), THRESHOLDS);
      assert.equal(r.status, c.status, r.reasons.join("; "));
      if (c.reason) assert.ok(r.reasons.some((x) => c.reason!.test(x)), `no reason matching ${String(c.reason)} in ${JSON.stringify(r.reasons)}`);
      if (c.status === "ok") assert.deepEqual(r.reasons, []);
    });
  }

  test("down reasons come before degraded ones", () => {
    const r = assessHealth(inputs({ pools: pools(["up", "down"], ["down", "down"]) }), THRESHOLDS);
    assert.equal(r.status, "down");
    assert.match(r.reasons[0]!, /no compile master/);
    assert.match(r.reasons[1]!, /standby CA ca2 is down/);
  });

  test("expiry is reported with whole days left and the CRL number", () => {
    const r = assessHealth(inputs(), THRESHOLDS);
    assert.deepEqual(r.expiry.crl, { notAfter: new Date(NOW.getTime() + 40 * DAY + 3_600_000).toISOString(), daysLeft: 40, number: "7" });
    assert.equal(r.expiry.caCert?.daysLeft, 3650);
    assert.equal(r.time, NOW.toISOString());
  });

  test("an expired date has negative days left", () => {
    const r = assessHealth(inputs({ crl: { nextUpdate: new Date(NOW.getTime() - 1000) } }), THRESHOLDS);
    assert.equal(r.expiry.crl?.daysLeft, -1);
  });
});
