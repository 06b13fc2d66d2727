// TLS at the listener: TLS 1.2 and 1.3, certs that fail verification refused at the handshake
// (before any request reaches a backend), and a CRL fetched after a revoking write swapping the
// context in place: the revoked cert is refused within 2 s, and a restart keeps the newer CRL.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, type TLSSocket } from "node:tls";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Agent } from "node:https";
import { createTestCa } from "../../helpers/pki.js";
import type { Issued } from "../../helpers/pki.js";
import { call, fakeBackend, pki, proxyConfig, startProxy } from "./harness.js";
import { parseCrl } from "../../../src/pki.js";
import type { Upstream } from "../../../src/proxy/upstream.js";

/** Handshake and one GET on a raw TLS socket; "refused" when the proxy cuts the connection. */
function tryRequest(port: number, client: Issued | undefined, opts: { maxVersion?: "TLSv1.2" | "TLSv1.3" } = {}): Promise<string> {
  const p = pki();
  return new Promise((resolve) => {
    const s: TLSSocket = connect({
      host: "127.0.0.1", port, servername: "localhost", ca: p.ca.certPem, maxVersion: opts.maxVersion,
      ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
    }, () => {
      proto = s.getProtocol() ?? "";
      s.write("GET /puppet/v3/node/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    });
    let data = "";
    let proto = "";
    s.on("data", (d: Buffer) => (data += d.toString()));
    s.on("error", () => resolve("refused"));
    s.on("close", () => resolve(data.startsWith("HTTP/1.1 ") ? `${data.slice(9, 12)} ${proto}` : "refused"));
  });
}

test("TLS 1.2 and 1.3 both work, with and without a client cert", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1]));
  assert.equal(await tryRequest(proxy.address.port, p.node1, { maxVersion: "TLSv1.2" }), "200 TLSv1.2");
  assert.equal(await tryRequest(proxy.address.port, p.node1), "200 TLSv1.3");
  assert.equal(await tryRequest(proxy.address.port, undefined, { maxVersion: "TLSv1.2" }), "200 TLSv1.2");
  assert.equal(m1.seen.length, 3);
});

test("certs from an unknown CA, expired or revoked are refused at the handshake; nothing is forwarded", async (t) => {
  const p = pki();
  const revoked = p.ca.issue("revoked.test");
  const expired = p.ca.issue("expired.test", { notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
  const stranger = createTestCa("stranger").issue("stranger.test");
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const cfg = proxyConfig(p, [ca1], [m1]);
  // This proxy's stateDir gets a CRL revoking one cert (higher number than the configured one).
  const { writeFileSync } = await import("node:fs");
  writeFileSync(join(cfg.stateDir, "crl.pem"), p.ca.crl({ number: 50, revoked: [revoked.serialHex] }));
  const proxy = await startProxy(t, cfg);
  const port = proxy.address.port;
  for (const [what, cert] of [["revoked", revoked], ["expired", expired], ["unknown CA", stranger]] as const) {
    assert.equal(await tryRequest(port, cert), "refused", what);
    assert.equal(await tryRequest(port, cert, { maxVersion: "TLSv1.2" }), "refused", `${what} (TLS 1.2)`);
  }
  assert.equal(m1.seen.length, 0);
  assert.equal(await tryRequest(port, p.node2), "200 TLSv1.3");
});

test("a TLS connect-and-close probe opens no backend connection", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1]));

  await new Promise<void>((resolve) => {
    const s = connect({ host: "127.0.0.1", port: proxy.address.port, servername: "localhost", ca: p.ca.certPem, cert: p.node1.certPem, key: p.node1.keyPem }, () => {
      s.end();
      resolve();
    });
  });
  await new Promise((r) => setTimeout(r, 100));
  // Health checks use their own connections; traffic agents opened nothing.
  for (const b of [...proxy.masters.backends, ...proxy.ca.backends] as Upstream[]) {
    assert.equal(b.dispatcher.stats.connected, 0, b.name);
  }
  const health = proxy.snapshot();
  assert.equal(health.pools.masters.backends[0]?.passiveFailures, 0);
  assert.equal(m1.seen.length, 0);
});

test("a revoke through the proxy: the CRL is fetched at once, swapped in place, the cert refused within 2 s", async (t) => {
  const p = pki();
  const victim = p.ca.issue("victim.test");
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  ca1.handler = (req, res) => {
    if (req.method === "PUT" && req.url === "/puppet-ca/v1/certificate_status/victim.test") {
      ca1.crl = p.ca.crl({ number: 100, revoked: [victim.serialHex] }); // what puppetserver does on revoke
      res.writeHead(204).end();
      return;
    }
    res.writeHead(200).end("ok");
  };
  const cfg = proxyConfig(p, [ca1], [m1]);
  const proxy = await startProxy(t, cfg);
  const port = proxy.address.port;
  // The victim holds a keep-alive connection open before the revoke.
  const agent = new Agent({ keepAlive: true, ca: p.ca.certPem, cert: victim.certPem, key: victim.keyPem, servername: "localhost" });
  t.after(() => agent.destroy());
  assert.equal((await call(port, { path: "/puppet/v3/node/victim.test", agent })).status, 200);

  const started = Date.now();
  const admin = p.ca.issue("admin.test", { ppCliAuth: true });
  const r = await call(port, { method: "PUT", path: "/puppet-ca/v1/certificate_status/victim.test", client: admin, body: '{"desired_state":"revoked"}', headers: { "content-type": "application/json" } });
  assert.equal(r.status, 204);
  let outcome = "";
  while (Date.now() - started < 2000) {
    outcome = await tryRequest(port, victim);
    if (outcome === "refused") break;
    await new Promise((res) => setTimeout(res, 20));
  }
  assert.equal(outcome, "refused", "refused at the handshake within 2 s");
  assert.ok(Date.now() - started < 2000);
  // The old keep-alive connection of the revoked cert was cut as well.
  await assert.rejects(call(port, { path: "/puppet/v3/node/victim.test", agent }));
  // Others are unaffected, and the CRL is kept in stateDir for the next start.
  assert.equal(await tryRequest(port, p.node1), "200 TLSv1.3");
  assert.equal(parseCrl(readFileSync(join(cfg.stateDir, "crl.pem"), "utf8")).number, 100n);
  assert.equal(proxy.snapshot().crl.number, "100");
  // An older CRL served later is ignored.
  ca1.crl = p.ca.crl({ number: 99 });
  await proxy.refreshCrl();
  assert.equal(proxy.snapshot().crl.number, "100");
});
