// `puppet-ha check`'s verdict for each kind of report, with expiry taken from certificates and CRLs
// generated with chosen dates; and the exact plugin output format.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createTestCa } from "../../helpers/pki.js";
import { certNotAfter, crlNextUpdate } from "../../../src/health/expiry.js";
import { classifyReport, formatCheckOutput, healthUrl, parseReport, type CheckThresholds } from "../../../src/health/check.js";
import { DAY, NOW, inputs, pools, report, syncDest } from "../../helpers/health.js";

const T: CheckThresholds = { warnDays: 30, critDays: 7, maxSyncLagMs: 120_000 };

/** Expiry inputs read back from a real CA cert and CRL made with these lifetimes (days from NOW). */
function pkiExpiry(caDays: number, crlDays: number) {
  const ca = createTestCa(`check-${caDays}-${crlDays}`, { notBefore: new Date(NOW.getTime() - 900 * DAY), notAfter: new Date(NOW.getTime() + caDays * DAY) });
  const crlPem = ca.crl({ thisUpdate: new Date(NOW.getTime() - 2 * DAY), nextUpdate: new Date(NOW.getTime() + crlDays * DAY), number: 12 });
  return { caCertNotAfter: certNotAfter(ca.certPem), crl: crlNextUpdate(crlPem) };
}

describe("classifyReport", () => {
  const cases = [
    { name: "healthy", report: () => report(), state: "OK" },
    { name: "degraded (a master down)", report: () => report({ pools: pools(["up", "up"], ["up", "down"]) }), state: "WARNING", summary: /degraded: compile master m2 is down/ },
    { name: "degraded (on the standby CA)", report: () => report({ pools: pools(["down", "up"]), arbiter: { ...inputs().arbiter, active: "ca2", epoch: 4 } }), state: "WARNING", summary: /running on standby CA ca2/ },
    { name: "down (no master)", report: () => report({ pools: pools(["up", "up"], ["down", "down"]) }), state: "CRITICAL", summary: /down: no compile master is up/ },
    { name: "diverged sync", report: () => report({ sync: [syncDest({ state: "diverged", divergence: [{ subject: "CN=evil", reason: "only on ca1" }] })] }), state: "CRITICAL", summary: /sync ca2 diverged \(1 difference\(s\)\)/ },
    { name: "sync lag over --max-sync-lag", report: () => report({ sync: [syncDest({ lagMs: 300_000 })] }), state: "WARNING", summary: /sync ca2 lags 5m/ },
    { name: "CRL expiring within warn-days (from a real CRL)", report: () => report(pkiExpiry(3650, 20)), state: "WARNING", summary: /CRL expires in 20d/ },
    { name: "CRL expiring within crit-days (from a real CRL)", report: () => report(pkiExpiry(3650, 5)), state: "CRITICAL", summary: /CRL expires in 5d/ },
    { name: "CRL expired (from a real CRL)", report: () => report(pkiExpiry(3650, -1)), state: "CRITICAL", summary: /CRL expired 1d ago/ },
    { name: "CA cert expiring within warn-days (from a real cert)", report: () => report(pkiExpiry(25, 300)), state: "WARNING", summary: /CA cert expires in 25d/ },
    { name: "CA cert expired (from a real cert)", report: () => report(pkiExpiry(-3, 300)), state: "CRITICAL", summary: /CA cert expired 3d ago/ },
  ] as const;
  for (const c of cases) {
    test(`${c.name} → ${c.state}`, () => {
      const r = classifyReport(c.report(), T, NOW);
      assert.equal(r.state, c.state, r.summary);
      if ("summary" in c) assert.match(r.summary, c.summary);
    });
  }

  test("a CRL expiring within the plugin's warn-days warns even when the proxy's own threshold is lower", () => {
    const rep = report({ crl: { nextUpdate: new Date(NOW.getTime() + 45 * DAY) } });
    assert.equal(rep.status, "ok");
    assert.equal(classifyReport(rep, { ...T, warnDays: 60 }, NOW).state, "WARNING");
  });
});

test("the OK output line and its perfdata", () => {
  const out = formatCheckOutput(classifyReport(report(), T, NOW));
  assert.equal(out,
    "PUPPET-HA OK - active ca1 epoch 3, 2/2 masters up, CRL expires in 40d | active_epoch=3 masters_up=2;;;0;2 cas_up=2;;;0;2 " +
    "crl_days=40;30:;7: ca_cert_days=3650;30:;7: sync_lag_max=5s;120;;0 sync_diverged=0;;0;0 held_writes=0;;;0\n");
});

test("long output lists every reason, and a pipe in a reason cannot break the perfdata", () => {
  const out = formatCheckOutput(classifyReport(report({ sync: [syncDest({ state: "error", lastError: "rsync | boom" })], pools: pools(["up", "up"], ["up", "down"]) }), T, NOW));
  const lines = out.trimEnd().split("\n");
  assert.match(lines[0]!, /^PUPPET-HA WARNING - degraded: compile master m2 is down \(ECONNREFUSED\); 1 more reason\(s\) - active ca1/);
  assert.equal(lines[0]!.split("|").length, 2);
  assert.deepEqual(lines.slice(1), ["compile master m2 is down (ECONNREFUSED)", "sync ca2 failed: rsync / boom"]);
});

test("parseReport refuses documents that are not health reports", () => {
  const bad = parseReport({ status: "fine" });
  assert.ok(typeof bad === "string");
  assert.match(bad, /not a puppet-ha health report \(status:/);
  const notObject = parseReport([]);
  assert.ok(typeof notObject === "string");
  assert.match(notObject, /not a puppet-ha health report/);
  assert.equal(typeof parseReport(JSON.parse(JSON.stringify(report()))), "object");
});

test("healthUrl accepts the listener or /health itself", () => {
  assert.equal(healthUrl("http://127.0.0.1:8141").href, "http://127.0.0.1:8141/health");
  assert.equal(healthUrl("http://127.0.0.1:8141/").href, "http://127.0.0.1:8141/health");
  assert.equal(healthUrl("http://h:8141/health").href, "http://h:8141/health");
  assert.equal(healthUrl("https://h/puppet-ha").href, "https://h/puppet-ha/health");
});
