// The event ring buffer, and the metrics registry: names, hot-path counting, gauges from a report.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventLog } from "../../../src/health/events.js";
import { HealthMetrics } from "../../../src/health/metrics.js";
import { pools, report, syncDest } from "../../helpers/health.js";

test("EventLog keeps the last 100, newest first", () => {
  let n = 0;
  const log = new EventLog({ now: () => new Date(Date.UTC(2026, 0, 1, 0, 0, n++)) });
  for (let i = 0; i < 130; i++) log.record("admin", `e${i}`);
  const list = log.list();
  assert.equal(list.length, 100);
  assert.equal(list[0]?.message, "e129");
  assert.equal(list[99]?.message, "e30");
  assert.equal(list[0]?.at, "2026-01-01T00:02:09.000Z");
});

test("EventLog with fewer events than its capacity", () => {
  const log = new EventLog();
  assert.deepEqual(log.list(), []);
  log.record("failover", "a");
  log.record("failback", "b");
  assert.deepEqual(log.list().map((e) => e.message), ["b", "a"]);
});

/** value of one sample line, by exact series text. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test("observeRequest counts by pool, backend and status class, with latency buckets", async () => {
  const m = new HealthMetrics({ defaultMetrics: false });
  m.registerBackends("masters", ["m1", "m2"]);
  m.observeRequest("masters", "m1", 200, 0.02);
  m.observeRequest("masters", "m1", 204, 3);
  m.observeRequest("masters", "m1", 503, 0.001);
  m.observeRequest("ca", "ca1", 0, 0.5);
  const text = await m.render(report());
  assert.equal(sample(text, 'puppet_ha_requests_total{pool="masters",backend="m1",status_class="2xx"}'), 2);
  assert.equal(sample(text, 'puppet_ha_requests_total{pool="masters",backend="m1",status_class="5xx"}'), 1);
  assert.equal(sample(text, 'puppet_ha_requests_total{pool="masters",backend="m2",status_class="4xx"}'), 0, "pre-created series");
  assert.equal(sample(text, 'puppet_ha_requests_total{pool="ca",backend="ca1",status_class="other"}'), 1);
  assert.equal(sample(text, 'puppet_ha_request_duration_seconds_bucket{pool="masters",backend="m1",status_class="2xx",le="0.025"}'), 1);
  assert.equal(sample(text, 'puppet_ha_request_duration_seconds_bucket{pool="masters",backend="m1",status_class="2xx",le="2.5"}'), 1);
  assert.equal(sample(text, 'puppet_ha_request_duration_seconds_bucket{pool="masters",backend="m1",status_class="2xx",le="5"}'), 2);
  assert.equal(sample(text, 'puppet_ha_request_duration_seconds_bucket{pool="masters",backend="m1",status_class="2xx",le="+Inf"}'), 2);
  assert.equal(sample(text, 'puppet_ha_request_duration_seconds_sum{pool="masters",backend="m1",status_class="2xx"}'), 3.02);
  assert.equal(sample(text, 'puppet_ha_request_duration_seconds_count{pool="masters",backend="m1",status_class="2xx"}'), 2);
  assert.match(text, /# TYPE puppet_ha_request_duration_seconds histogram/);
  assert.match(text, /# TYPE puppet_ha_requests_total counter/);
});

test("update() sets gauges from the report; CA transitions drive failover/failback counters, events only their kind; sync passes count once", async () => {
  const m = new HealthMetrics({ defaultMetrics: false });
  m.countEvent({ kind: "failover" });
  m.countEvent({ kind: "failover" });
  m.countEvent({ kind: "failback" });
  m.countTransition("failover");
  m.countTransition("failback");
  m.countTransition("admin");
  const r = report({ pools: pools(["down", "up"], ["up", "drain"]), arbiter: { ...report().arbiter, active: "ca2", epoch: 9, heldWrites: 2 }, sync: [syncDest({ destination: "ca1", state: "diverged", lagMs: 61_000, divergence: [{ reason: "x" }, { reason: "y" }] })] });
  let text = await m.render(r);
  assert.equal(sample(text, 'puppet_ha_backend_up{pool="ca",backend="ca1"}'), 0);
  assert.equal(sample(text, 'puppet_ha_backend_up{pool="ca",backend="ca2"}'), 1);
  assert.equal(sample(text, 'puppet_ha_backend_state{pool="masters",backend="m2",state="drain"}'), 1);
  assert.equal(sample(text, 'puppet_ha_ca_active{ca="ca2"}'), 1);
  assert.equal(sample(text, 'puppet_ha_ca_active{ca="ca1"}'), 0);
  assert.equal(sample(text, "puppet_ha_ca_epoch"), 9);
  assert.equal(sample(text, "puppet_ha_ca_held_writes"), 2);
  assert.equal(sample(text, "puppet_ha_ca_failovers_total"), 2);
  assert.equal(sample(text, "puppet_ha_ca_failbacks_total"), 1);
  assert.equal(sample(text, 'puppet_ha_events_total{kind="failover"}'), 2);
  assert.equal(sample(text, 'puppet_ha_sync_lag_seconds{destination="ca1"}'), 61);
  assert.equal(sample(text, 'puppet_ha_sync_diverged{destination="ca1"}'), 1);
  assert.equal(sample(text, 'puppet_ha_sync_divergences{destination="ca1"}'), 2);
  assert.equal(sample(text, 'puppet_ha_sync_passes_total{destination="ca1",result="ok"}'), 1);
  assert.equal(sample(text, 'puppet_ha_health_status{status="degraded"}'), 1);
  assert.equal(sample(text, 'puppet_ha_crl_expiry_seconds'), 40 * 86400 + 3600);
  text = await m.render(r);
  assert.equal(sample(text, 'puppet_ha_sync_passes_total{destination="ca1",result="ok"}'), 1, "the same lastPass is not counted twice");
});

test("process default metrics are on the same registry, not the global one", async () => {
  const { register } = await import("prom-client");
  const m = new HealthMetrics();
  const text = await m.render(report());
  assert.match(text, /^process_cpu_seconds_total /m);
  assert.match(text, /^nodejs_heap_size_used_bytes /m);
  assert.equal(register.getSingleMetric("puppet_ha_ca_epoch"), undefined);
});
