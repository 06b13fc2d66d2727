// deploy/monitoring: the alert rules pass `promtool check rules` and their unit tests, every alert
// is tested, the rules and the Grafana dashboard use only metrics the proxy registers, the Icinga
// CheckCommand passes only options `puppet-ha check` has, and a real proxy's /metrics (with a
// refused client cert, a failed CRL fetch and the new operator metrics) passes `promtool check metrics`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { parse } from "yaml";
import { repoRoot } from "../../helpers/cli.js";
import { HealthMetrics } from "../../../src/health/metrics.js";
import { buildProgram } from "../../../src/main.js";
import { admin, startHa } from "../proxy/ha-harness.js";
import { call } from "../proxy/harness.js";
import { createTestCa } from "../../helpers/pki.js";

const dir = join(repoRoot, "deploy/monitoring");
const read = (f: string) => readFileSync(join(dir, f), "utf8");
const PROMTOOL = "/usr/bin/promtool";

/** Metric names the proxy exposes (histograms with their _bucket/_sum/_count series). */
async function registeredNames(): Promise<Set<string>> {
  const m = new HealthMetrics();
  const names = new Set<string>();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(metric.name + s);
  }
  return names;
}

/** puppet_ha_* names in a PromQL text. */
const metricNames = (expr: string) => new Set(expr.match(/\bpuppet_ha_[a-z0-9_]+/g) ?? []);

test("promtool check rules and promtool test rules pass; every alert has a firing test case", async () => {
  const check = await execa(PROMTOOL, ["check", "rules", "puppet-ha.rules.yml"], { cwd: dir, reject: false });
  assert.equal(check.exitCode, 0, String(check.stdout) + String(check.stderr));
  const unit = await execa(PROMTOOL, ["test", "rules", "puppet-ha.rules.test.yml"], { cwd: dir, reject: false });
  assert.equal(unit.exitCode, 0, String(unit.stdout) + String(unit.stderr));

  const rules = parse(read("puppet-ha.rules.yml")) as { groups: { rules: { alert: string; expr: string }[] }[] };
  const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert));
  for (const wanted of ["PuppetHaCaDown", "PuppetHaRunningOnStandby", "PuppetHaSyncLag", "PuppetHaSyncDiverged",
    "PuppetHaCrlExpiresSoon", "PuppetHaCaCertExpiresSoon", "PuppetHaNoCompileMasterUp",
    "PuppetHaClusterEtcdUnreachable", "PuppetHaClusterNoController", "PuppetHaClusterMemberBehind"]) assert.ok(alerts.includes(wanted), wanted);
  const tests = parse(read("puppet-ha.rules.test.yml")) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
  const firing = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
  const quiet = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length === 0).map((a) => a.alertname)));
  for (const a of alerts) {
    assert.ok(firing.has(a), `${a} has no test where it fires`);
    assert.ok(quiet.has(a), `${a} has no test where it stays quiet`);
  }
});

test("the rules and the Grafana dashboard use only metrics the proxy registers", async () => {
  const names = await registeredNames();
  const rules = parse(read("puppet-ha.rules.yml")) as { groups: { rules: { alert: string; expr: string }[] }[] };
  for (const r of rules.groups.flatMap((g) => g.rules)) {
    for (const n of metricNames(r.expr)) assert.ok(names.has(n), `${r.alert} uses ${n}, which the proxy does not register`);
  }
  const dash = JSON.parse(read("grafana-dashboard.json")) as { panels: { title: string; targets: { expr: string }[] }[]; templating: { list: { query: unknown }[] } };
  assert.ok(dash.panels.length > 10);
  const used = new Set<string>();
  for (const p of dash.panels) {
    assert.ok(p.targets.length > 0, `${p.title}: no query`);
    for (const t of p.targets) {
      for (const n of metricNames(t.expr)) {
        assert.ok(names.has(n), `panel "${p.title}" uses ${n}, which the proxy does not register`);
        used.add(n);
      }
    }
  }
  for (const n of ["puppet_ha_build_info", "puppet_ha_config_reloads_total", "puppet_ha_crl_fetch_failures_total", "puppet_ha_client_certs_refused_total", "puppet_ha_ca_primary_active"]) {
    assert.ok(used.has(n), `the dashboard shows ${n}`);
  }
});

test("the Icinga2 CheckCommand runs /usr/bin/puppet-ha check with options it has", () => {
  const conf = read("icinga2-puppet-ha.conf");
  assert.match(conf, /object CheckCommand "puppet-ha" \{/);
  assert.match(conf, /command = \[ "\/usr\/bin\/puppet-ha", "check" \]/);
  const check = buildProgram().commands.find((c) => c.name() === "check")!;
  const longs = new Set(check.options.map((o) => o.long));
  const passed = [...conf.matchAll(/^\s+"(--[a-z-]+)" = \{/gm)].map((m) => m[1]!);
  assert.deepEqual(passed.sort(), [...longs].sort(), "every option of `puppet-ha check`, and no other");
});

test("a running proxy's /metrics passes promtool check metrics, with the operator metrics counting", async (t) => {
  const ha = await startHa(t, { sync: false });
  // A CRL fetch the active CA answers with an error, a client cert from a foreign CA, a reload.
  // The fetch at start may still be running (the fake CA serves no CRL, so it fails too): let it
  // end, then exactly one more fetch fails below.
  await ha.rt.proxy.refreshCrl();
  const failures = async () => Number(/^puppet_ha_crl_fetch_failures_total (\d+)$/m.exec((await admin(ha, "GET", "/metrics")).text)?.[1]);
  const failuresBefore = await failures();
  ha.ca1.handler = (_req, res) => res.writeHead(500).end("no");
  await ha.rt.proxy.refreshCrl();
  const foreign = createTestCa("foreign").issue("intruder.test");
  await call(ha.port, { path: "/puppet/v3/catalog/x", client: foreign }).catch(() => undefined);
  const text = (await admin(ha, "GET", "/metrics")).text;
  const lint = await execa(PROMTOOL, ["check", "metrics"], { input: text, reject: false });
  assert.equal(lint.exitCode, 0, String(lint.stdout) + String(lint.stderr));
  const has = (re: RegExp, what: string) => assert.ok(re.test(text), `${what}: no line matches ${String(re)}`);
  has(/^puppet_ha_build_info\{version="\d+\.\d+\.\d+[^"]*",nodejs="[\d.]+"\} 1$/m, "build info");
  assert.equal(await failures(), failuresBefore + 1, "the failed CRL fetch is counted once");
  has(/^puppet_ha_client_certs_refused_total\{reason="[A-Z_]+"\} 1$/m, "the refused foreign cert");
  has(/^puppet_ha_config_reloads_total\{result="failure"\} 0$/m, "reload counter");
  has(/^puppet_ha_ca_primary_active 1$/m, "primary active");
  has(/^nodejs_active_resources\{/m, "default metrics with valid names stay");
  assert.ok(!/^nodejs_active_(handles|requests|resources)_total/m.test(text), "the default gauges named *_total are dropped");
});
