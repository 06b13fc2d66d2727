// A refused client certificate (revoked, expired, foreign CA) never forwards a byte: with TLS 1.3
// the client's first requests arrive together with its Finished message, so the HTTP parser may
// already hold pipelined requests when the refusal is decided (issue 12, item 1).
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type TLSSocket } from "node:tls";
import { createTestCa, type Issued } from "../../helpers/pki.js";
import { fakeBackend, pki, proxyConfig, startProxy } from "./harness.js";

/** Handshake, then write `requests` pipelined in one go; resolves with what came back. */
function pipeline(port: number, client: Issued, maxVersion: "TLSv1.2" | "TLSv1.3", requests: string[]): Promise<string> {
  const p = pki();
  return new Promise((resolve) => {
    let data = "";
    const s: TLSSocket = connect({ host: "127.0.0.1", port, servername: "localhost", ca: p.ca.certPem, maxVersion, cert: client.certPem, key: client.keyPem });
    // Written at once, before the handshake is known to be over: TLS 1.3 sends them with Finished.
    s.write(requests.join(""));
    s.on("data", (d: Buffer) => (data += d.toString()));
    s.on("error", () => undefined);
    s.on("close", () => resolve(data));
  });
}

const req = (method: string, path: string) => `${method} ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n`;

test("a refused certificate forwards nothing, TLS 1.3 or 1.2, pipelined writes included", async (t) => {
  const p = pki();
  const revoked = p.ca.issue("revoked.test");
  const expired = p.ca.issue("expired.test", { notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
  const stranger = createTestCa("stranger").issue("stranger.test");
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const cfg = proxyConfig(p, [ca1], [m1]);
  writeFileSync(join(cfg.stateDir, "crl.pem"), p.ca.crl({ number: 50, revoked: [revoked.serialHex] }));
  const proxy = await startProxy(t, cfg);
  const port = proxy.address.port;
  const requests = [
    req("GET", "/puppet/v3/node/x"), req("DELETE", "/puppet-ca/v1/certificate_status/victim"),
    req("PUT", "/puppet-ca/v1/certificate_request/evil"), req("DELETE", "/puppet-ca/v1/certificate_status/victim2"),
    req("GET", "/puppet-ca/v1/certificate/ca"), req("DELETE", "/puppet-ca/v1/certificate_status/victim3"),
  ];
  for (const [what, cert] of [["revoked", revoked], ["expired", expired], ["foreign CA", stranger]] as const) {
    for (const v of ["TLSv1.3", "TLSv1.2"] as const) {
      for (let i = 0; i < 3; i++) {
        const answer = await pipeline(port, cert, v, requests);
        assert.doesNotMatch(answer, /^HTTP\/1\.1 [12]/, `${what} ${v}: no answer from a backend`);
      }
    }
  }
  assert.deepEqual(ca1.seen, [], "nothing reached the CA");
  assert.deepEqual(m1.seen, [], "nothing reached the master");
  // A good cert on the same listener is served, pipelined as well.
  const good = await pipeline(port, p.node1, "TLSv1.3", [req("GET", "/puppet/v3/node/a"), "GET /puppet/v3/node/b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"]);
  assert.equal(good.match(/HTTP\/1\.1 200/g)?.length, 2);
  assert.equal(m1.seen.length, 2);
});
