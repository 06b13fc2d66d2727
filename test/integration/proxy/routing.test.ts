// End to end over real TLS: every routing case, refused targets never forwarded, header
// stripping and the identity headers a backend gets, file_bucket_file pinning.
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { pino } from "pino";
import { call, fakeBackend, pki, proxyConfig, startProxy, until } from "./harness.js";

async function setup(t: import("node:test").TestContext, extra: Record<string, unknown> = {}) {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const ca2 = await fakeBackend(t, "ca2");
  const m1 = await fakeBackend(t, "m1");
  const m2 = await fakeBackend(t, "m2");
  const proxy = await startProxy(t, proxyConfig(p, [ca1, ca2], [m1, m2], extra));
  return { p, ca1, ca2, m1, m2, proxy, port: proxy.address.port };
}

test("routing: CA paths reach only the active CA, everything else only masters", async (t) => {
  const s = await setup(t);
  const cases: [string, string, "ca" | "master", string?][] = [
    ["GET", "/puppet-ca/v1/certificate/ca", "ca"],
    ["GET", "/puppet-ca/v1/certificate_revocation_list/ca", "ca"],
    ["PUT", "/puppet-ca/v1/certificate_request/node9", "ca"],
    ["GET", "/puppet-ca/v1/certificate_statuses/any?state=signed", "ca"],
    ["GET", "/production/certificate/ca", "ca"],
    ["GET", "/production/certificate_revocation_list/ca", "ca"],
    ["PUT", "/production/certificate_status/node9", "ca"],
    ["GET", "/puppet-c%61/v1/certificate/ca", "ca", "/puppet-ca/v1/certificate/ca"],
    ["GET", "/puppet/v3/node/node1?environment=production", "master"],
    ["POST", "/puppet/v3/catalog/node1?environment=production", "master"],
    ["PUT", "/puppet/v3/report/node1?environment=production", "master"],
    ["GET", "/status/v1/services", "master"],
    ["GET", "/production/certificates/x", "master"],
  ];
  for (const [method, path, pool, forwarded] of cases) {
    for (const b of [s.ca1, s.ca2, s.m1, s.m2]) b.seen.length = 0;
    const r = await call(s.port, { method, path, body: method === "GET" ? undefined : "{}" });
    assert.equal(r.status, 200, `${method} ${path}: ${r.body}`);
    const target = forwarded ?? path;
    if (pool === "ca") {
      assert.deepEqual(s.ca1.seen.map((x) => `${x.method} ${x.url}`), [`${method} ${target}`], path);
      assert.equal(s.ca2.seen.length + s.m1.seen.length + s.m2.seen.length, 0, `${path} reached only ca1`);
    } else {
      assert.equal(s.ca1.seen.length + s.ca2.seen.length, 0, `${path} never reached a CA`);
      assert.equal(s.m1.seen.length + s.m2.seen.length, 1);
    }
  }
});

test("ambiguous targets get 400 and are never forwarded", async (t) => {
  const s = await setup(t);
  const bad = [
    "/puppet/v3/../../puppet-ca/v1/certificate_status/x", "/puppet/%2e%2e/puppet-ca/v1/clean", "/puppet-ca%2fv1/certificate/ca",
    "/puppet%5c..%5cpuppet-ca", "//puppet-ca/v1/certificate/ca", "/puppet//v3/node/x", "/puppet-ca/v1/certificate/%00ca",
    "/puppet-ca;x/v1/certificate/ca", "/puppet-ca/v1/./certificate/ca",
  ];
  for (const path of bad) {
    const r = await call(s.port, { path });
    assert.equal(r.status, 400, path);
    assert.match(r.body, /^400 Bad Request: /);
    assert.ok(r.body.length < 100 && !r.body.includes(" at "), "short body, no stack");
  }
  assert.equal(s.ca1.seen.length + s.ca2.seen.length + s.m1.seen.length + s.m2.seen.length, 0);
});

test("masters get round-robin; file_bucket_file is pinned to the first healthy master", async (t) => {
  const s = await setup(t);
  for (let i = 0; i < 4; i++) await call(s.port, { path: `/puppet/v3/node/n${i}` });
  assert.equal(s.m1.seen.length, 2);
  assert.equal(s.m2.seen.length, 2);
  for (let i = 0; i < 3; i++) await call(s.port, { path: `/puppet/v3/file_bucket_file/md5/abc${i}?environment=production` });
  assert.equal(s.m1.seen.filter((x) => x.url.includes("file_bucket_file")).length, 3);
  assert.equal(s.m2.seen.filter((x) => x.url.includes("file_bucket_file")).length, 0);
});


test("identity: a valid cert gives SUCCESS, its DN and exactly its PEM; forged headers are gone", async (t) => {
  const s = await setup(t);
  const r = await call(s.port, {
    path: "/puppet/v3/node/node1", client: s.p.node1,
    rawHeaders: [
      "X-Client-Verify", "SUCCESS", "x-client-verify", "SUCCESS", "X_Client_Verify", "SUCCESS", "x_client_dn", "CN=admin",
      "X-CLIENT-CERT", "forged", "X-Client-DN", "CN=admin", "X-Forwarded-For", "6.6.6.6",
    ],
  });
  assert.equal(r.status, 200);
  const seen = s.m1.seen[0]!;
  const names = seen.rawHeaders.filter((_, i) => i % 2 === 0);
  const clientish = names.filter((n) => /^x[-_]client[-_]/i.test(n));
  assert.deepEqual(clientish, ["X-Client-Verify", "X-Client-DN", "X-Client-Cert"]);
  assert.equal(seen.headers["x-client-verify"], "SUCCESS");
  assert.equal(seen.headers["x-client-dn"], "CN=node1.test");
  const pem = decodeURIComponent(seen.headers["x-client-cert"] as string);
  assert.equal(new X509Certificate(pem).fingerprint256, new X509Certificate(s.p.node1.certPem).fingerprint256);
  assert.equal((pem.match(/BEGIN CERTIFICATE/g) ?? []).length, 1);
  assert.ok(!(seen.headers["x-client-cert"] as string).includes("+") || pem.includes("+"), "spaces are %20, never +");
  assert.match(seen.headers["x-client-cert"] as string, /^-----BEGIN%20CERTIFICATE-----%0A/);
  assert.equal(seen.headers["x-forwarded-for"], "127.0.0.1");
  assert.equal(seen.headers["x-forwarded-proto"], "https");
});

test("identity: no cert gives NONE, without DN or cert, even with forged ones", async (t) => {
  const s = await setup(t);
  const r = await call(s.port, { path: "/puppet-ca/v1/certificate/ca", rawHeaders: ["X_CLIENT_VERIFY", "SUCCESS", "X-Client-DN", "CN=admin"] });
  assert.equal(r.status, 200);
  const h = s.ca1.seen[0]!.headers;
  assert.equal(h["x-client-verify"], "NONE");
  assert.equal(h["x-client-dn"], undefined);
  assert.equal(h["x-client-cert"], undefined);
  assert.equal(Object.keys(h).filter((k) => /client/i.test(k)).length, 1);
});

test("one access log line per request: method, path, status, bytes, duration, pool, backend, certname", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const lines: Record<string, unknown>[] = [];
  const sink = { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) };
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1], { accessLog: true }), pino({ level: "info" }, sink));
  await call(proxy.address.port, { path: "/puppet/v3/node/node1?environment=production", client: p.node1 });
  await call(proxy.address.port, { path: "/puppet-ca/v1/certificate/ca" });
  await call(proxy.address.port, { path: "//x" });
  await until(() => lines.length === 3, 2000, "three lines");
  const [a, b, c] = lines;
  assert.deepEqual(
    { method: a?.method, path: a?.path, status: a?.status, pool: a?.pool, backend: a?.backend, certname: a?.certname },
    { method: "GET", path: "/puppet/v3/node/node1?environment=production", status: 200, pool: "master", backend: "m1", certname: "node1.test" },
  );
  assert.ok(typeof a?.bytes === "number" && a.bytes > 0);
  assert.ok(typeof a?.ms === "number");
  assert.deepEqual({ pool: b?.pool, backend: b?.backend, certname: b?.certname }, { pool: "ca", backend: "ca1", certname: undefined });
  assert.equal(c?.status, 400);
});
