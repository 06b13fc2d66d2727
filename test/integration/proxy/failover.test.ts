// The CA pool across failures: connect and response timeouts (504, marked down), held CA writes
// released to the promoted standby, the hold timing out (503 + Retry-After), a hung CA whose
// waiting GETs are re-sent once the checker marks it down, epoch persisted across a restart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { blackhole, call, closeBackend, fakeBackend, pki, proxyConfig, startProxy, until } from "./harness.js";

test("connect timeout: a blackholed master costs timeouts.connect, then the next master answers", async (t) => {
  const hole = await blackhole(t);
  assert.ok(hole, "python3 is needed for the blackhole listener (scripts/install-system-deps.sh installs it)");
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m2 = await fakeBackend(t, "m2");
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [{ name: "hole", url: hole.url }, m2], { health: { interval: "1h", timeout: "100ms" } }));
  await until(() => proxy.masters.get("hole")!.state !== "unknown", 2000, "first check");
  proxy.masters.setState("hole", "up", "test");
  const started = Date.now();
  const r = await call(proxy.address.port, { path: "/puppet/v3/node/a" });
  assert.equal(r.status, 200);
  assert.equal(r.body, "m2 GET /puppet/v3/node/a");
  const took = Date.now() - started;
  assert.ok(took >= 290 && took < 3000, `took ${took} ms (connect timeout 300ms)`);
  assert.match(proxy.masters.get("hole")!.reason, /no connect within 300 ms/);
});

test("connect timeout with no other master: 504", async (t) => {
  const hole = await blackhole(t);
  assert.ok(hole, "python3 is needed for the blackhole listener (scripts/install-system-deps.sh installs it)");
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [{ name: "hole", url: hole.url }], { health: { interval: "1h", timeout: "100ms" } }));
  await until(() => proxy.masters.get("hole")!.state !== "unknown", 2000, "first check");
  proxy.masters.setState("hole", "up", "test");
  const r = await call(proxy.address.port, { method: "POST", path: "/puppet/v3/catalog/a", body: "x" });
  assert.equal(r.status, 504);
  assert.match(r.body, /^504 Gateway Timeout: backend hole: no connect within 300 ms/);
});

test("response timeout: 504 decided by the proxy's own timer, backend marked down", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  m1.handler = () => undefined; // accepts, never answers
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1], { timeouts: { response: "300ms" }, health: { interval: "1h" } }));
  await until(() => proxy.masters.get("m1")!.state === "up", 2000, "first check");
  const started = Date.now();
  const r = await call(proxy.address.port, { path: "/puppet/v3/catalog/slow" });
  assert.equal(r.status, 504);
  assert.match(r.body, /no response within 300 ms/);
  assert.ok(Date.now() - started < 3000);
  assert.equal(proxy.masters.get("m1")!.state, "down");
});

test("CA writes are held while no CA is up and released to the promoted standby (epoch+1, persisted)", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const ca2 = await fakeBackend(t, "ca2");
  const m1 = await fakeBackend(t, "m1");
  ca2.healthy = false;
  const cfg = proxyConfig(p, [ca1, ca2], [m1], { ca: { holdWrites: "5s" } });
  const proxy = await startProxy(t, cfg);
  await until(() => proxy.ca.get("ca2")!.state === "down" && proxy.ca.get("ca1")!.state === "up", 2000, "first checks");
  await closeBackend(ca1);
  await until(() => proxy.ca.get("ca1")!.state === "down", 2000, "ca1 down");
  assert.equal(proxy.arbiter.active, "ca1", "no standby up: nothing to promote");
  const write = call(proxy.address.port, { method: "PUT", path: "/puppet-ca/v1/certificate_request/n1", body: "CSR" });
  await until(() => proxy.snapshot().arbiter.heldRequests === 1, 2000, "write held");
  assert.equal(ca2.seen.length, 0);
  ca2.healthy = true;
  const r = await write;
  assert.equal(r.status, 200);
  assert.equal(r.body, "ca2 PUT /puppet-ca/v1/certificate_request/n1");
  assert.equal(ca2.seen[0]?.body, "CSR");
  assert.equal(proxy.arbiter.active, "ca2");
  assert.equal(proxy.arbiter.epoch, 2);
  assert.deepEqual(savedState(join(cfg.stateDir, "arbiter.json")), { epoch: 2, active: "ca2", cause: "failover" });
  // Reads go to the new active; a restart on the same stateDir keeps ca2 at epoch 2.
  assert.equal((await call(proxy.address.port, { path: "/puppet-ca/v1/certificate/ca" })).body, "ca2 GET /puppet-ca/v1/certificate/ca");
  await proxy.stop(0);
  const again = await startProxy(t, cfg);
  assert.equal(again.arbiter.active, "ca2");
  assert.equal(again.arbiter.epoch, 2);
});

test("held CA writes get 503 + Retry-After after holdWrites; reads with no CA up get 503 at once", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const ca2 = await fakeBackend(t, "ca2");
  const m1 = await fakeBackend(t, "m1");
  ca2.healthy = false;
  const proxy = await startProxy(t, proxyConfig(p, [ca1, ca2], [m1], { ca: { holdWrites: "300ms" } }));
  await until(() => proxy.ca.get("ca2")!.state === "down" && proxy.ca.get("ca1")!.state === "up", 2000, "first checks");
  ca1.healthy = false;
  await until(() => proxy.ca.get("ca1")!.state === "down", 2000, "ca1 down");
  const started = Date.now();
  const w = await call(proxy.address.port, { method: "DELETE", path: "/puppet-ca/v1/certificate_status/n1" });
  assert.equal(w.status, 503);
  assert.ok(w.headers["retry-after"]);
  assert.ok(Date.now() - started >= 290);
  const r = await call(proxy.address.port, { path: "/puppet-ca/v1/certificate/ca" });
  assert.equal(r.status, 503);
  assert.equal(ca1.seen.length + ca2.seen.length, 0);
  assert.equal(m1.seen.length, 0, "CA traffic never falls back to a master");
});

test("a CA write whose connect is refused goes to the new active after failover", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const ca2 = await fakeBackend(t, "ca2");
  const m1 = await fakeBackend(t, "m1");
  const proxy = await startProxy(t, proxyConfig(p, [ca1, ca2], [m1], { health: { interval: "1h" } }));
  await until(() => proxy.ca.get("ca2")!.state === "up" && proxy.ca.get("ca1")!.state === "up", 2000, "first checks");
  await closeBackend(ca1);
  const r = await call(proxy.address.port, { method: "PUT", path: "/puppet-ca/v1/certificate_status/n1", body: '{"desired_state":"signed"}' });
  assert.equal(r.status, 200);
  assert.equal(r.body, "ca2 PUT /puppet-ca/v1/certificate_status/n1");
  assert.equal(proxy.arbiter.active, "ca2");
  assert.match(proxy.snapshot().arbiter.lastChange?.reason ?? "", /active CA ca1 down: passive/);
});

test("a hung CA: GETs waiting on it are re-sent to the new active as soon as the checker marks it down", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const ca2 = await fakeBackend(t, "ca2");
  const m1 = await fakeBackend(t, "m1");
  const proxy = await startProxy(t, proxyConfig(p, [ca1, ca2], [m1], { timeouts: { response: "30s" } }));
  await until(() => proxy.ca.get("ca2")!.state === "up" && proxy.ca.get("ca1")!.state === "up", 2000, "first checks");
  let hungWrite = false;
  ca1.handler = (req) => {
    if (req.method === "PUT") hungWrite = true;
  }; // hangs
  const read = call(proxy.address.port, { path: "/puppet-ca/v1/certificate/n1" });
  const write = call(proxy.address.port, { method: "PUT", path: "/puppet-ca/v1/certificate_request/n1", body: "CSR" });
  await until(() => ca1.seen.length === 2, 2000, "both reached ca1");
  const started = Date.now();
  ca1.healthy = false;
  const r = await read;
  assert.equal(r.status, 200);
  assert.equal(r.body, "ca2 GET /puppet-ca/v1/certificate/n1");
  assert.ok(Date.now() - started < 3000, "re-sent when marked down, not after the 30 s response timeout");
  assert.ok(hungWrite);
  assert.equal(ca2.seen.filter((x) => x.method === "PUT").length, 0, "the write that reached ca1 is never re-sent");
  await proxy.stop(0);
  const w = await write.catch(() => ({ status: 0 }));
  assert.notEqual(w.status, 200);
});

test("admin actions: failover (epoch+1), drain and enable; the active CA cannot be drained", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const ca2 = await fakeBackend(t, "ca2");
  const m1 = await fakeBackend(t, "m1");
  const m2 = await fakeBackend(t, "m2");
  const proxy = await startProxy(t, proxyConfig(p, [ca1, ca2], [m1, m2]));
  await until(() => [...proxy.ca.backends, ...proxy.masters.backends].every((b) => b.state === "up"), 2000, "first checks");
  assert.throws(() => proxy.drain("ca1"), /active CA: fail over first/);
  assert.throws(() => proxy.drain("nope"), /no backend named/);
  assert.deepEqual(await proxy.failover("maintenance of ca1"), { epoch: 2, active: "ca2" });
  assert.equal((await call(proxy.address.port, { path: "/puppet-ca/v1/certificate/ca" })).body, "ca2 GET /puppet-ca/v1/certificate/ca");
  proxy.drain("ca1");
  await assert.rejects(proxy.failover(), /no standby CA worker is up/);
  proxy.drain("m1");
  for (let i = 0; i < 3; i++) assert.match((await call(proxy.address.port, { path: "/puppet/v3/node/a" })).body, /^m2 /);
  const view = proxy.snapshot().pools.masters.backends.find((b) => b.name === "m1");
  assert.equal(view?.state, "drain");
  assert.equal(proxy.snapshot().pools.masters.backends.find((b) => b.name === "m2")?.requests, 3);
  proxy.enable("m1");
  const bodies = [];
  for (let i = 0; i < 2; i++) bodies.push((await call(proxy.address.port, { path: "/puppet/v3/node/a" })).body.slice(0, 2));
  assert.ok(bodies.includes("m1"));
});

/** The CA state file as {epoch, active, cause} (the change record's "at" and the revision vary). */
function savedState(path: string): { epoch: number; active: string; cause: string | undefined } {
  const s = JSON.parse(readFileSync(path, "utf8")) as { epoch: number; active: string; change?: { cause: string } };
  return { epoch: s.epoch, active: s.active, cause: s.change?.cause };
}
