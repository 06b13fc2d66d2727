// Every CA request carries the epoch the proxy routed it by (X-Puppet-HA-Epoch), so a CA worker's
// log (and the cluster chaos test's checker) can tell which decision sent each write; a client
// cannot supply it; compile masters never get it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { call, fakeBackend, pki, proxyConfig, startProxy } from "./harness.js";

test("CA requests carry X-Puppet-HA-Epoch of the routing state, never the client's; master requests none", async (t) => {
  const ca1 = await fakeBackend(t, "ca1");
  const ca2 = await fakeBackend(t, "ca2");
  const m1 = await fakeBackend(t, "m1");
  const proxy = await startProxy(t, proxyConfig(pki(), [ca1, ca2], [m1]));
  const port = proxy.address.port;
  const forged = { "X-Puppet-HA-Epoch": "99", "x-puppet-ha-epoch": "98" };
  await call(port, { method: "PUT", path: "/puppet-ca/v1/certificate_request/n1", body: "csr", headers: forged });
  await call(port, { path: "/puppet-ca/v1/certificate/ca", headers: forged });
  await call(port, { path: "/puppet/v3/node/n1?environment=production", headers: forged });
  assert.deepEqual(ca1.seen.map((s) => s.headers["x-puppet-ha-epoch"]), ["1", "1"], "epoch 1 on the CA write and read, the client's dropped");
  assert.equal(m1.seen[0]?.headers["x-puppet-ha-epoch"], undefined, "not sent to a compile master, not passed through");

  await proxy.failover("test");
  await call(port, { method: "PUT", path: "/puppet-ca/v1/certificate_request/n2", body: "csr" });
  assert.deepEqual(ca2.seen.map((s) => [s.url, s.headers["x-puppet-ha-epoch"]]), [["/puppet-ca/v1/certificate_request/n2", "2"]]);
});
