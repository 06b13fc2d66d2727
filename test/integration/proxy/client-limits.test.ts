// Clients cannot exhaust the CA pool or fail the CA over (issue 12, item 3): bodies of clients
// without a certificate are read whole (within timeouts.clientBody) before any backend connection
// is taken, requests in flight are limited per address and for all anonymous clients together,
// and time spent waiting for a connection is never counted against the backend.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, type TLSSocket } from "node:tls";
import { call, fakeBackend, pki, proxyConfig, startProxy, until } from "./harness.js";

/** A client without a cert starting a chunked CA write and never finishing it; resolves with the status it got. */
function slowWrite(port: number, n: number): Promise<string> {
  const p = pki();
  return new Promise((resolve) => {
    let data = "";
    const s: TLSSocket = connect({ host: "127.0.0.1", port, servername: "localhost", ca: p.ca.certPem }, () => {
      s.write(`PUT /puppet-ca/v1/certificate_request/slow${n} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`);
    });
    s.on("data", (d: Buffer) => (data += d.toString()));
    s.on("error", () => undefined);
    s.on("close", () => resolve(data.slice(9, 12) || "closed"));
  });
}

test("300 slow chunked CA writes from clients without a cert: the active CA never changes, certified clients are served", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const ca2 = await fakeBackend(t, "ca2");
  const m1 = await fakeBackend(t, "m1");
  const proxy = await startProxy(t, proxyConfig(p, [ca1, ca2], [m1], {
    timeouts: { connect: "300ms", response: "1s", clientBody: "1500ms" },
    limits: { unauthenticated: 40 },
  }));
  await until(() => proxy.ca.backends.every((b) => b.state === "up"), 5000, "first checks");
  const port = proxy.address.port;
  const slow = Array.from({ length: 300 }, (_, i) => slowWrite(port, i));
  await until(() => proxy.admission.inFlight.unauthenticated === 40, 10_000, "anonymous slots all taken");
  // Meanwhile agents with a cert get their answers, reads and writes, from the active CA.
  for (let i = 0; i < 5; i++) {
    const r = await call(port, { path: "/puppet-ca/v1/certificate/ca", client: p.node1 });
    assert.equal(r.body, "ca1 GET /puppet-ca/v1/certificate/ca");
    const w = await call(port, { method: "PUT", path: `/puppet-ca/v1/certificate_request/good${i}`, body: "CSR", client: p.node2 });
    assert.equal(w.body, `ca1 PUT /puppet-ca/v1/certificate_request/good${i}`);
  }
  const statuses = await Promise.all(slow);
  const count = (s: string) => statuses.filter((x) => x === s).length;
  assert.equal(count("408") + count("429"), 300, JSON.stringify(statuses));
  assert.ok(count("408") >= 40 && count("429") >= 1, `408: ${count("408")}, 429: ${count("429")}`);
  // Not one slow body reached a CA, and nothing counted against the CA.
  assert.deepEqual(ca1.seen.filter((s) => s.url.includes("/slow")), []);
  assert.deepEqual(ca2.seen, []);
  assert.equal(proxy.arbiter.active, "ca1");
  assert.equal(proxy.arbiter.epoch, 1);
  assert.equal(proxy.ca.get("ca1")!.passiveFailures, 0);
  await until(() => proxy.admission.inFlight.total === 0, 5000, "every slot given back");
});

test("a client address gets at most limits.perClient requests in flight; the next one is 429 and others are served", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const release: (() => void)[] = [];
  m1.handler = (req, res) => release.push(() => res.writeHead(200).end("late"));
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1], { limits: { perClient: 3 }, timeouts: { response: "10s" } }));
  const port = proxy.address.port;
  const held = [1, 2, 3].map((i) => call(port, { path: `/puppet/v3/node/n${i}`, client: p.node1 }));
  await until(() => release.length === 3, 5000, "three requests at the master");
  const r = await call(port, { path: "/puppet/v3/node/n4", client: p.node1 });
  assert.equal(r.status, 429);
  assert.match(r.body, /more than 3 requests in flight from 127\.0\.0\.1 \(proxy\.limits\.perClient\)/);
  assert.equal(r.headers["retry-after"], "5");
  for (const go of release) go();
  assert.deepEqual((await Promise.all(held)).map((x) => x.status), [200, 200, 200]);
  m1.handler = (req, res) => res.writeHead(200).end("ok");
  assert.equal((await call(port, { path: "/puppet/v3/node/n5", client: p.node1 })).status, 200);
});

test("time waiting for a free upstream connection is a 503 from the proxy, never a connect timeout against the backend", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const release: (() => void)[] = [];
  m1.handler = (req, res) => release.push(() => res.writeHead(200).end("late"));
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1], {
    health: { interval: "1h" }, timeouts: { connect: "300ms", queue: "200ms", response: "10s" }, limits: { perClient: 1000 },
  }));
  const port = proxy.address.port;
  // 256 requests take every connection to m1 (the upstream pool's size); the next ones queue.
  const busy = Array.from({ length: 256 }, (_, i) => call(port, { path: `/puppet/v3/node/b${i}`, client: p.node1 }));
  await until(() => release.length === 256, 20_000, "every connection to m1 busy");
  const r = await call(port, { path: "/puppet/v3/node/queued", client: p.node1 });
  assert.equal(r.status, 503, r.body);
  assert.match(r.body, /backend m1: no connection free within 500 ms/);
  assert.equal(proxy.masters.get("m1")!.state, "up", "queue time is not the backend's failure");
  assert.equal(proxy.masters.get("m1")!.passiveFailures, 0);
  for (const go of release) go();
  assert.ok((await Promise.all(busy)).every((x) => x.status === 200));
});
