// Reload (SIGHUP path, ProxyServer.reload) adding and removing compile masters: a new master is
// checked and gets traffic, a removed one gets no new requests while its in-flight request
// finishes; a CA worker list change is not applied (needs a restart).
import { test } from "node:test";
import assert from "node:assert/strict";
import { call, fakeBackend, pki, proxyConfig, startProxy, until } from "./harness.js";
import { proxySection } from "../../../src/proxy/config.js";

test("reload adds m2 and removes m1; m1's in-flight request finishes; CA workers unchanged", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const ca2 = await fakeBackend(t, "ca2");
  const m1 = await fakeBackend(t, "m1");
  const m2 = await fakeBackend(t, "m2");
  m1.handler = (req, res) => {
    setTimeout(() => res.writeHead(200).end(`m1 ${req.url}`), req.url?.includes("slow") ? 500 : 0);
  };
  const cfg = proxyConfig(p, [ca1], [m1]);
  const proxy = await startProxy(t, cfg);
  await until(() => proxy.masters.get("m1")!.state === "up", 5000, "m1 up");
  const inflight = call(proxy.address.port, { path: "/puppet/v3/catalog/slow" });
  await until(() => m1.seen.length === 1, 5000, "in flight on m1");

  const next = proxySection.parse({
    listen: `127.0.0.1:${proxy.address.port}`, tls: p.files, stateDir: cfg.stateDir, accessLog: false,
    ca: { workers: [{ name: "ca1", url: ca1.url }, { name: "ca2", url: ca2.url }], crlRefresh: "1h" },
    masters: { workers: [{ name: "m2", url: m2.url }] },
    health: { interval: "50ms", timeout: "2s", rise: 1, fall: 1 },
    timeouts: { connect: "300ms", response: "2s", shutdown: "2s" },
  });
  proxy.reload(next);
  assert.deepEqual(proxy.masters.backends.map((b) => b.name), ["m2"]);
  assert.deepEqual(proxy.ca.backends.map((b) => b.name), ["ca1"], "CA workers need a restart");
  for (let i = 0; i < 3; i++) assert.equal((await call(proxy.address.port, { path: `/puppet/v3/node/n${i}` })).body, `m2 GET /puppet/v3/node/n${i}`);
  const r = await inflight;
  assert.equal(r.status, 200);
  assert.equal(r.body, "m1 /puppet/v3/catalog/slow");
  assert.equal(m1.seen.length, 1, "no new request reached the removed master");
  await until(() => proxy.masters.get("m2")!.lastCheck !== undefined, 5000, "m2 checked");
  assert.equal(proxy.masters.get("m2")!.state, "up");
  assert.ok(proxy.events.list().some((e) => e.kind === "config" && /\+m2 -m1/.test(e.message)));
  assert.deepEqual(proxy.snapshot().pools.masters.backends.map((b) => b.name), ["m2"]);
});
