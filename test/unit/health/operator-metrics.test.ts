// The operator metrics' counting rules: which CRL fetch results are failures, reloads by result,
// refused client certs by reason, build info, and primary-active from the health report.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { OperatorMetrics } from "../../../src/health/operator-metrics.js";
import { VERSION } from "../../../src/version.js";

async function values(registry: Registry, name: string): Promise<Record<string, number>> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  assert.ok(m, name);
  return Object.fromEntries(m.values.map((v) => [JSON.stringify(v.labels), v.value]));
}

test("CRL fetch results: adopted, not modified and not newer are fine; errors, HTTP failures and bad CRLs count", async () => {
  const registry = new Registry();
  const m = new OperatorMetrics(registry);
  const cases: [string, boolean][] = [
    ["adopted", false], ["not modified", false], ["not newer", false],
    ["HTTP 500", true], ["connect ECONNREFUSED 127.0.0.1:8140", true], ["not signed by the CA", true], ["CRL does not parse", true],
  ];
  let failures = 0;
  for (const [result, failure] of cases) {
    m.crlFetched(result);
    if (failure) failures++;
    assert.deepEqual(await values(registry, "puppet_ha_crl_fetch_failures_total"), { "{}": failures }, result);
  }
});

test("reloads by result, refused certs by reason, build info, primary active", async () => {
  const registry = new Registry();
  const m = new OperatorMetrics(registry);
  assert.deepEqual(await values(registry, "puppet_ha_config_reloads_total"), { '{"result":"success"}': 0, '{"result":"failure"}': 0 }, "both series exist from the start");
  m.configReloaded(true);
  m.configReloaded(false);
  m.configReloaded(false);
  assert.deepEqual(await values(registry, "puppet_ha_config_reloads_total"), { '{"result":"success"}': 1, '{"result":"failure"}': 2 });
  m.clientCertRefused("revoked");
  m.clientCertRefused("CERT_HAS_EXPIRED");
  m.clientCertRefused("revoked");
  assert.deepEqual(await values(registry, "puppet_ha_client_certs_refused_total"), { '{"reason":"revoked"}': 2, '{"reason":"CERT_HAS_EXPIRED"}': 1 });
  assert.deepEqual(await values(registry, "puppet_ha_build_info"), { [JSON.stringify({ version: VERSION, nodejs: process.versions.node })]: 1 });
  const report = (active: string) => ({ arbiter: { active, primary: "ca1" } }) as Parameters<OperatorMetrics["update"]>[0];
  m.update(report("ca2"));
  assert.deepEqual(await values(registry, "puppet_ha_ca_primary_active"), { "{}": 0 });
  m.update(report("ca1"));
  assert.deepEqual(await values(registry, "puppet_ha_ca_primary_active"), { "{}": 1 });
});
