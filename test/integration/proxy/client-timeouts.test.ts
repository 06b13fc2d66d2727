// The listener's own client timers: slow request headers get 408, idle keep-alive connections are
// closed after timeouts.clientIdle. (The admin listener's /health is tested in admin.test.ts.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:tls";
import { fakeBackend, pki, proxyConfig, startProxy } from "./harness.js";

function rawTls(port: number, send: string): Promise<{ data: string; ms: number }> {
  const p = pki();
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, servername: "localhost", ca: p.ca.certPem }, () => s.write(send));
    let data = "";
    s.on("data", (d: Buffer) => (data += d.toString()));
    s.on("error", reject);
    s.on("close", () => resolve({ data, ms: Date.now() - started }));
  });
}

test("request headers not complete within timeouts.clientHeaders: 408 and closed", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1], { timeouts: { clientHeaders: "300ms", clientRequest: "1s" } }));
  const r = await rawTls(proxy.address.port, "GET /puppet/v3/node/a HTTP/1.1\r\nHost: localhost\r\n");
  assert.match(r.data, /^HTTP\/1\.1 408 /);
  assert.ok(r.ms >= 250 && r.ms < 3000, `closed after ${r.ms} ms`);
  assert.equal(m1.seen.length, 0);
});

test("an idle keep-alive client connection is closed after timeouts.clientIdle", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1], { timeouts: { clientIdle: "200ms" } }));
  const r = await rawTls(proxy.address.port, "GET /puppet/v3/node/a HTTP/1.1\r\nHost: localhost\r\n\r\n");
  assert.match(r.data, /^HTTP\/1\.1 200 /);
  assert.match(r.data, /m1 GET \/puppet\/v3\/node\/a/);
  assert.ok(r.ms >= 150 && r.ms < 3000, `closed after ${r.ms} ms`);
});
