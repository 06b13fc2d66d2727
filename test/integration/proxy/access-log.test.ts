// The access log (issue 12, smaller defects): `accessLog: false` writes no line at all, also for
// requests the proxy rejects itself, while /metrics counts every request, rejected ones included;
// lines carry the client address; buffered lines are written within a second.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { createAccessLogger } from "../../../src/proxy/access-log.js";
import { ProxyServer } from "../../../src/proxy/server.js";
import { silentLogger, type Logger } from "../../../src/log.js";
import { call, fakeBackend, pki, proxyConfig, startProxy, until } from "./harness.js";

function capture(): { lines: Record<string, unknown>[]; log: Logger } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) }) as unknown as Logger;
  return { lines, log };
}

/** A request with a target the router rejects (400 from the proxy). */
function badTarget(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path: "/puppet/v3/../../etc/passwd", ca: pki().ca.certPem, servername: "localhost", agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on("error", reject).end();
  });
}

for (const on of [false, true]) {
  test(`accessLog ${on}: ${on ? "a line per request with the client address" : "no line, not even for rejected requests"}; /metrics counts rejected requests`, async (t) => {
    const p = pki();
    const ca1 = await fakeBackend(t, "ca1");
    const m1 = await fakeBackend(t, "m1");
    const { lines, log } = capture();
    const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1], { accessLog: on }), log);
    assert.equal(await badTarget(proxy.address.port), 400);
    assert.equal((await call(proxy.address.port, { path: "/puppet/v3/node/a" })).status, 200);
    const big = await call(proxy.address.port, { method: "PUT", path: "/puppet/v3/report/a", body: "x".repeat(2 * 1024 * 1024) });
    assert.equal(big.status, 413, "a body too large from a client without a cert");
    await until(() => !on || lines.length === 3, 2000, "three access lines");
    if (on) {
      assert.deepEqual(lines.map((l) => [l.status, l.client]), [[400, "127.0.0.1"], [200, "127.0.0.1"], [413, "127.0.0.1"]]);
    } else assert.deepEqual(lines, []);
    const metrics = await proxy.metrics.registry.metrics();
    const count = (labels: string) => Number(metrics.split("\n").find((l) => l.startsWith(`puppet_ha_requests_total{${labels}}`))?.split(" ").at(-1) ?? 0);
    assert.equal(count('pool="masters",backend="none",status_class="4xx"'), 2, "the 400 and the 413, answered by the proxy itself");
    assert.equal(count('pool="masters",backend="m1",status_class="2xx"'), 1);
  });
}

test("buffered access lines reach the file within a second (timed flush)", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "puppet-ha-access-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "access.log");
  t.mock.timers.enable({ apis: ["setInterval"] });
  const log = createAccessLogger({ level: "info", format: "json" }, silentLogger(), file);
  const out = (log as unknown as Record<symbol, { fd: number; writing?: boolean }>)[pino.symbols.streamSym]!;
  await until(() => out.fd >= 0, 2000, "log file opened");
  await new Promise((r) => setImmediate(r));
  log.info({ method: "GET", status: 200, client: "192.0.2.7" });
  t.mock.timers.tick(100);
  assert.equal(readFileSync(file, "utf8"), "", "still buffered (4 KiB)");
  t.mock.timers.tick(900);
  await until(() => readFileSync(file, "utf8").includes('"client":"192.0.2.7"'), 2000, "the line written");
});

test("no credential reaches the access log: query values like token= are written [redacted]", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const { lines, log } = capture();
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1], { accessLog: true }), log);
  assert.equal((await call(proxy.address.port, { path: "/puppet/v3/node/a?environment=production&token=s3cret-value" })).status, 200);
  await until(() => lines.some((l) => l.status === 200), 2000, "the access line");
  const text = JSON.stringify(lines);
  assert.ok(!text.includes("s3cret-value"), text);
  assert.ok(lines.some((l) => l.path === "/puppet/v3/node/a?environment=production&token=[redacted]"), text);
});

test("a proxy TLS key readable by others is served with a warning naming the file and the fix", async (t) => {
  const p = pki();
  const dir = mkdtempSync(join(tmpdir(), "puppet-ha-loose-key-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const key = join(dir, "proxy.key");
  copyFileSync(p.files.key, key);
  chmodSync(key, 0o644);
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const { lines, log } = capture();
  const cfg = proxyConfig(p, [ca1], [m1]);
  const proxy = await ProxyServer.start({ config: { ...cfg, tls: { ...cfg.tls, key } }, log });
  t.after(() => proxy.stop(0));
  assert.equal((await call(proxy.address.port, { path: "/puppet/v3/node/a" })).status, 200, "still served: a warning, not a refusal");
  const warnings = lines.filter((l) => l.level === "warn" || l.level === 40).map((l) => String(l.msg));
  assert.ok(warnings.some((w) => w.includes(`proxy TLS key ${key} is readable or writable by others`) && w.includes(`chmod 640 ${key}`)), warnings.join("\n"));
});
