// Issue 12: puppet_ha_sync_passes_total and the pass-duration histogram were fed from the last
// pass seen at scrape time, so passes between two scrapes were lost. They are now counted as the
// real sync service emits each pass (real rsync on temp cadirs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { HealthMetrics } from "../../../src/health/metrics.js";
import { report, syncDest } from "../../helpers/health.js";
import { healthReports } from "../../../src/sync/status.js";
import { makeHarness } from "../sync/harness.js";

function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

test("3 passes between two scrapes add 3 to the pass counter and the histogram", async (t) => {
  const h = makeHarness(t);
  const metrics = new HealthMetrics({ defaultMetrics: false });
  metrics.countSyncPasses(h.service.events);
  // What /health shows for the destination at scrape time: only its last pass.
  const scrape = () => metrics.render(report({ sync: [syncDest({ destination: "ca2", lastPass: { at: "2026-01-01T00:00:00.000Z", result: "in-sync", durationMs: 5, bytes: 0 } })] }));

  const before = await scrape();
  const count0 = sample(before, 'puppet_ha_sync_passes_total{destination="ca2",result="in-sync"}');
  const hist0 = sample(before, 'puppet_ha_sync_pass_duration_seconds_count{destination="ca2"}');
  for (let i = 0; i < 3; i++) {
    const [r] = await h.service.requestPass("ca2", "test");
    assert.equal(r?.result, "in-sync");
  }
  const after = await scrape();
  assert.equal(sample(after, 'puppet_ha_sync_passes_total{destination="ca2",result="in-sync"}') - count0, 3);
  assert.equal(sample(after, 'puppet_ha_sync_pass_duration_seconds_count{destination="ca2"}') - hist0, 3);
  const again = await scrape();
  assert.equal(sample(again, 'puppet_ha_sync_passes_total{destination="ca2",result="in-sync"}') - count0, 3, "a scrape counts nothing by itself");
});

test("the last full verification's duration, files and bytes hashed and time are exported", async (t) => {
  const h = makeHarness(t);
  const [r] = await h.service.requestPass("ca2", "test");
  assert.equal(r?.full, true, "the first pass at an epoch is the full verification");
  const v = h.service.status().destinations.ca2?.lastFullVerification;
  assert.ok(v && v.hashed > 0, JSON.stringify(v));
  const text = await new HealthMetrics({ defaultMetrics: false }).render(report({ sync: healthReports(h.service.status().destinations) }));
  assert.equal(sample(text, 'puppet_ha_sync_full_verification_duration_seconds{destination="ca2"}'), v.durationMs / 1000);
  assert.equal(sample(text, 'puppet_ha_sync_full_verification_hashed_files{destination="ca2"}'), v.hashed);
  assert.equal(sample(text, 'puppet_ha_sync_full_verification_hashed_bytes{destination="ca2"}'), v.hashedBytes);
  assert.equal(sample(text, 'puppet_ha_sync_full_verification_timestamp_seconds{destination="ca2"}'), Date.parse(v.at) / 1000);
});
