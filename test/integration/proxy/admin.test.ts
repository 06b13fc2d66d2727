// The admin listener of the real proxy (ProxyRuntime): /health states and codes as backends come
// and go, /metrics moving with proxied traffic, GET /api/ca for sync agents, the admin actions
// without, with a wrong and with the right token, drain/enable/failover on the live pools, and
// the listener over HTTPS with admin.tls.
import { test } from "node:test";
import assert from "node:assert/strict";
import { request as httpsRequest } from "node:https";
import { chmodSync, writeFileSync } from "node:fs";
import { pino } from "pino";
import type { Logger } from "../../../src/log.js";
import { join } from "node:path";
import { call, pki, until } from "./harness.js";
import { admin, health, startHa, TOKEN } from "./ha-harness.js";

test("/health: ok, degraded (a master down), down (no master) with 200/200/503; /health/live; 404", async (t) => {
  const ha = await startHa(t, { sync: false, masters: 2 });
  await until(() => [ha.rt.proxy.masters, ha.rt.proxy.ca].every((p) => p.backends.every((b) => b.state === "up")), 5000, "all up");
  let h = await health(ha);
  assert.equal(h.status, 200);
  assert.equal(h.report.status, "ok", JSON.stringify(h.report.reasons));
  assert.deepEqual(h.report.pools.map((p) => [p.name, p.backends.map((b) => `${b.name}:${b.state}`)]), [["ca", ["ca1:up", "ca2:up"]], ["masters", ["m1:up", "m2:up"]]]);
  assert.deepEqual({ active: h.report.arbiter.active, epoch: h.report.arbiter.epoch, primary: h.report.arbiter.primary }, { active: "ca1", epoch: 1, primary: "ca1" });
  assert.deepEqual(h.report.arbiter.failback, { policy: "manual", state: "idle" });
  assert.ok(h.report.expiry.caCert && h.report.expiry.caCert.daysLeft > 300, "CA cert expiry from proxy.tls.ca");
  assert.equal(h.report.expiry.crl?.number, "1", "the proxy's current CRL");
  assert.equal(typeof h.report.version, "string");
  assert.ok(h.report.pools[0]!.backends[0]!.lastCheck?.ok);

  ha.masters[1]!.healthy = false;
  await until(() => ha.rt.proxy.masters.get("m2")!.state === "down", 5000, "m2 down");
  h = await health(ha);
  assert.equal(h.status, 200);
  assert.equal(h.report.status, "degraded");
  assert.ok(h.report.reasons.some((r) => /compile master m2 is down \(HTTP 503\)/.test(r)), JSON.stringify(h.report.reasons));
  assert.ok(h.report.events.some((e) => e.kind === "backend-down" && /m2 down/.test(e.message)));

  ha.masters[0]!.healthy = false;
  await until(() => ha.rt.proxy.masters.get("m1")!.state === "down", 5000, "m1 down");
  h = await health(ha);
  assert.equal(h.status, 503);
  assert.equal(h.report.status, "down");
  assert.ok(h.report.reasons.includes("no compile master is up: agents cannot get catalogs"));

  ha.masters[0]!.healthy = true;
  await until(() => ha.rt.proxy.masters.get("m1")!.state === "up", 5000, "m1 up");
  assert.equal((await health(ha)).status, 200);
  assert.ok((await health(ha)).report.events.some((e) => e.kind === "backend-up" && /m1 up/.test(e.message)));
  const live = await admin(ha, "GET", "/health/live");
  assert.equal(live.status, 200);
  assert.equal(live.json.status, "live");
  assert.equal((await admin(ha, "GET", "/nope")).status, 404);
});

test("/metrics moves with real proxied traffic, per pool, backend and status class", async (t) => {
  const ha = await startHa(t, { sync: false });
  ha.masters[0]!.handler = (req, res) => res.writeHead(req.url?.includes("missing") ? 404 : 200).end("x");
  const metric = async (series: string) => {
    const text = (await admin(ha, "GET", "/metrics")).text;
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    return line ? Number(line.slice(series.length + 1)) : undefined;
  };
  const ok = 'puppet_ha_requests_total{pool="masters",backend="m1",status_class="2xx"}';
  const nf = 'puppet_ha_requests_total{pool="masters",backend="m1",status_class="4xx"}';
  const ca = 'puppet_ha_requests_total{pool="ca",backend="ca1",status_class="2xx"}';
  assert.equal(await metric(ok), 0, "series exist before any request");
  for (let i = 0; i < 3; i++) assert.equal((await call(ha.port, { path: `/puppet/v3/catalog/n${i}` })).status, 200);
  assert.equal((await call(ha.port, { path: "/puppet/v3/file_content/missing" })).status, 404);
  assert.equal((await call(ha.port, { path: "/puppet-ca/v1/certificate/ca" })).status, 200);
  // The metrics call runs when the server side of the exchange closes, right after the answer.
  for (let i = 0; i < 50 && (await metric(ca)) !== 1; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(await metric(ok), 3);
  assert.equal(await metric(nf), 1);
  assert.equal(await metric(ca), 1);
  assert.equal(await metric('puppet_ha_request_duration_seconds_count{pool="masters",backend="m1",status_class="2xx"}'), 3);
  assert.equal(await metric('puppet_ha_ca_active{ca="ca1"}'), 1);
  assert.equal(await metric("puppet_ha_ca_epoch"), 1);
  assert.equal(await metric('puppet_ha_backend_up{pool="masters",backend="m1"}'), 1);
});

test("admin API on the real proxy: no token 401, wrong 403, right token acts; GET /api/ca for sync agents", async (t) => {
  const ha = await startHa(t, { sync: false, masters: 2 });
  await until(() => ha.rt.proxy.ca.get("ca2")!.state === "up" && ha.rt.proxy.masters.get("m2")!.state === "up", 5000, "all up");
  for (const [method, path] of [["GET", "/api/ca"], ["POST", "/api/ca/failover"], ["POST", "/api/ca/failback"], ["POST", "/api/backends/m1/drain"], ["POST", "/api/backends/m1/enable"]] as const) {
    assert.equal((await admin(ha, method, path)).status, 401, `${method} ${path} without a token`);
    assert.equal((await admin(ha, method, path, "wrong")).status, 403, `${method} ${path} with a wrong token`);
  }
  assert.equal(ha.rt.proxy.arbiter.active, "ca1", "nothing acted");
  assert.equal(ha.rt.proxy.masters.get("m1")!.drained, false);

  const ca = await admin(ha, "GET", "/api/ca", TOKEN);
  assert.equal(ca.status, 200);
  assert.deepEqual(ca.json, { epoch: 1, active: "ca1", primary: "ca1", failback: { policy: "manual", state: "idle" } });

  let r = await admin(ha, "POST", "/api/backends/m1/drain", TOKEN);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { ok: true, action: "drain m1", result: { backend: "m1", drained: true } });
  for (let i = 0; i < 4; i++) assert.equal((await call(ha.port, { path: `/puppet/v3/node/n${i}` })).body, `m2 GET /puppet/v3/node/n${i}`);
  assert.equal((await health(ha)).report.pools[1]!.backends[0]!.state, "drain");
  assert.equal((await admin(ha, "POST", "/api/backends/m1/enable", TOKEN)).status, 200);
  assert.equal(ha.rt.proxy.masters.get("m1")!.drained, false);
  assert.equal((await admin(ha, "POST", "/api/backends/nope/drain", TOKEN)).status, 404);
  r = await admin(ha, "POST", "/api/backends/ca1/drain", TOKEN);
  assert.equal(r.status, 409, "the active CA cannot be drained");
  assert.equal((await admin(ha, "POST", "/api/ca/failback", TOKEN)).status, 409, "already on the primary");

  r = await admin(ha, "POST", "/api/ca/failover", TOKEN);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.result, { epoch: 2, active: "ca2" });
  const h = await health(ha);
  assert.equal(h.report.arbiter.active, "ca2");
  // No sync agent configured for ca2: promoted, with a warning.
  assert.ok(h.report.arbiter.warnings.some((w) => /no sync agent is configured/.test(w)));
  assert.ok(h.report.events.some((e) => e.kind === "admin" && /failover by 127\.0\.0\.1: done/.test(e.message)));
  assert.ok(h.report.events.some((e) => e.kind === "admin" && /drain m1 by 127\.0\.0\.1: done/.test(e.message)));
  // Primary up but no sync agent for it: a failback is refused with the reason.
  r = await admin(ha, "POST", "/api/ca/failback", TOKEN);
  assert.equal(r.status, 409);
  assert.match((r.json.error as { message: string }).message, /no sync agent writes the primary's cadir/);
});

test("admin.tls: the admin listener speaks HTTPS", async (t) => {
  const p = pki();
  const cert = join(p.dir, "admin.pem");
  const key = join(p.dir, "admin.key");
  writeFileSync(cert, p.server.certPem);
  writeFileSync(key, p.server.keyPem);
  chmodSync(key, 0o644);
  const lines: { level: unknown; msg: unknown }[] = [];
  const log = pino({ level: "info" }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: unknown; msg: unknown }) }) as unknown as Logger;
  const ha = await startHa(t, { sync: false, admin: { tls: { cert, key } }, log });
  const warnings = lines.filter((l) => l.level === 40).map((l) => String(l.msg));
  assert.ok(warnings.some((w) => w.includes(`admin TLS key ${key} is readable or writable by others`)), `a loose admin key is served with a warning: ${warnings.join(" | ")}`);
  const body = await new Promise<string>((resolve, reject) => {
    httpsRequest({ host: "127.0.0.1", port: ha.rt.adminAddress.port, path: "/health/live", ca: p.ca.certPem, servername: "localhost", agent: false }, (res) => {
      let b = "";
      res.on("data", (d: Buffer) => (b += d.toString()));
      res.on("end", () => resolve(b));
    }).on("error", reject).end();
  });
  assert.equal((JSON.parse(body) as { status: string }).status, "live");
  await assert.rejects(admin(ha, "GET", "/health/live"), "plain HTTP is not served");
});
