// What happens to CA requests in flight when the active CA dies or hangs (issue 12, items 8, 9):
// a GET/HEAD reset before any response byte is re-sent to the CA that becomes active; a write the
// CA may be doing is never re-sent, its client hears 503 as soon as the CA is marked down, and it
// stays counted as in flight until its upstream request ends.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Agent } from "node:https";
import { call, closeBackend, fakeBackend, pki, proxyConfig, startProxy, until } from "./harness.js";

test("a CA GET in flight when the active CA is killed is re-sent to the standby that becomes active, never a 502", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const ca2 = await fakeBackend(t, "ca2");
  const m1 = await fakeBackend(t, "m1");
  const proxy = await startProxy(t, proxyConfig(p, [ca1, ca2], [m1], { health: { interval: "200ms", timeout: "200ms" } }));
  await until(() => proxy.ca.backends.every((b) => b.state === "up"), 5000, "first checks");
  for (const client of [undefined, p.node1]) {
    const agent = new Agent({ keepAlive: true, ca: p.ca.certPem, servername: "localhost", ...(client ? { cert: client.certPem, key: client.keyPem } : {}) });
    t.after(() => agent.destroy());
    const active = proxy.arbiter.active === "ca1" ? ca1 : ca2;
    const standby = active === ca1 ? ca2 : ca1;
    // Warm many keep-alive connections to the active CA first: the resets then happen on reused
    // ones, and a re-send may land on another pooled connection that is just as dead.
    const answer = active.handler;
    active.handler = (req, res, body) => setTimeout(() => answer(req, res, body), 50);
    const warm = await Promise.all(Array.from({ length: 12 }, () => call(proxy.address.port, { path: "/puppet-ca/v1/certificate/ca", agent })));
    assert.ok(warm.every((r) => r.status === 200));
    active.handler = () => undefined; // the GETs hang until the CA is killed
    const gets = [1, 2, 3, 4, 5, 6].map((i) => call(proxy.address.port, { path: `/puppet-ca/v1/certificate/node${i}`, agent }));
    await until(() => active.seen.filter((s) => s.url.startsWith("/puppet-ca/v1/certificate/node")).length === 6, 5000, "GETs at the active CA");
    await closeBackend(active); // killed: its connections reset, new ones refused
    for (const r of await Promise.all(gets)) {
      assert.equal(r.status, 200, r.body);
      assert.match(r.body, new RegExp(`^${standby.name} GET /puppet-ca/v1/certificate/node\\d$`));
    }
    assert.equal(proxy.arbiter.active, standby.name);
    // Bring the killed one back for the next round (as a fresh, empty server on the same port).
    await new Promise<void>((resolve) => active.server.listen(active.port, "127.0.0.1", resolve));
    active.handler = (req, res) => res.writeHead(200).end(`${active.name} ${req.method} ${req.url}`);
    active.seen.length = 0;
    await until(() => proxy.ca.get(active.name)!.state === "up", 5000, `${active.name} up again`);
  }
});

test("a CA write in flight on a CA that hangs: 503 as soon as it is marked down, never re-sent, counted until its upstream ends", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const ca2 = await fakeBackend(t, "ca2");
  const m1 = await fakeBackend(t, "m1");
  const proxy = await startProxy(t, proxyConfig(p, [ca1, ca2], [m1], { timeouts: { connect: "300ms", response: "3s" } }));
  await until(() => proxy.ca.backends.every((b) => b.state === "up"), 5000, "first checks");
  ca1.handler = () => undefined; // hangs
  const write = call(proxy.address.port, { method: "PUT", path: "/puppet-ca/v1/certificate_request/node7", body: "CSR", client: p.node1 });
  await until(() => ca1.seen.some((s) => s.method === "PUT"), 5000, "the write reached ca1");
  assert.equal(proxy.arbiter.inFlightWrites, 1);
  ca1.healthy = false; // its checks fail now: marked down within interval + fall × timeout
  const r = await write;
  assert.equal(r.status, 503, r.body);
  assert.match(r.body, /ca1: marked down with this CA write in flight; it was not re-sent/);
  assert.equal(r.headers["retry-after"], "5");
  // Answered before timeouts.response: the upstream request still runs and is still counted.
  assert.equal(proxy.arbiter.inFlightWrites, 1, "the write is still in flight on ca1");
  assert.equal(proxy.arbiter.active, "ca2");
  assert.deepEqual(ca2.seen.filter((s) => s.method === "PUT"), [], "never re-sent to the new active");
  // Its end is known at timeouts.response: then the count is 0.
  await until(() => proxy.arbiter.inFlightWrites === 0, 5000, "the write's upstream request ended");
  assert.equal(proxy.ca.get("ca1")!.outstanding, 0);
});

test("a CA write whose answer's body stalls stops counting as in flight once the status is in", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1], { timeouts: { connect: "300ms", response: "10s" } }));
  ca1.handler = (req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    res.write("signed, ");
    setTimeout(() => res.write("and then nothing more"), 20); // never ended
  };
  const { request } = await import("node:https");
  const got = await new Promise<{ status: number; destroy: () => void }>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: proxy.address.port, method: "PUT", path: "/puppet-ca/v1/certificate_request/node8", ca: p.ca.certPem, servername: "localhost", agent: false, cert: p.node1.certPem, key: p.node1.keyPem }, (res) => {
      resolve({ status: res.statusCode ?? 0, destroy: () => res.destroy() });
    });
    req.on("error", reject);
    req.end("CSR");
  });
  t.after(() => got.destroy());
  assert.equal(got.status, 200);
  await until(() => proxy.arbiter.inFlightWrites === 0, 2000, "the write no longer counted");
  assert.equal(proxy.ca.get("ca1")!.outstanding, 1, "the upstream request itself still runs");
  got.destroy();
  await until(() => proxy.ca.get("ca1")!.outstanding === 0, 2000, "released when the client goes");
});
