// The CRL fetched from the CA is capped at proxy.ca.crlMaxSize (issue 12, item 7): a larger answer,
// declared or streamed without a length, is refused while it arrives, reported (log + event), and
// the current CRL stays.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { CrlTooLargeError } from "../../../src/errors.js";
import { httpCrlFetch } from "../../../src/proxy/control/crl-refresh.js";
import { fakeBackend, pki, proxyConfig, startProxy, until } from "./harness.js";

test("an oversize CRL from the active CA is refused and reported; the current CRL stays", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1], { ca: { crlMaxSize: "1MiB" } }));
  const before = proxy.snapshot().crl.number;
  // A real, newer CRL padded past the limit (PEM parsers skip text around the block).
  ca1.crl = p.ca.crl({ number: 77 }) + "x".repeat(3 * 1024 * 1024);
  await proxy.refreshCrl();
  assert.equal(proxy.snapshot().crl.number, before, "the current CRL stays");
  const ev = proxy.events.list().find((e) => e.kind === "crl-refused");
  assert.match(ev?.message ?? "", /CRL from http:\/\/127\.0\.0\.1:\d+\/puppet-ca\/v1\/certificate_revocation_list\/ca is larger than 1048576 bytes \(proxy\.ca\.crlMaxSize\)/);
  // Within the limit, the same newer CRL is adopted.
  ca1.crl = p.ca.crl({ number: 77 });
  await proxy.refreshCrl();
  assert.equal(proxy.snapshot().crl.number, "77");
});

test("a CRL answer streamed without a length is cut as soon as it passes the limit", async (t) => {
  let sent = 0;
  let cut = false;
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/plain" }); // chunked: no length to refuse up front
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    const more = () => {
      while (!cut && sent < 512 * 1024 * 1024) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", more);
      }
      res.end();
    };
    res.on("close", () => (cut = true));
    more();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/puppet-ca/v1/certificate_revocation_list/ca`;
  await assert.rejects(httpCrlFetch(url, undefined, 10_000, 1024 * 1024), (e: Error) => e instanceof CrlTooLargeError && e.code === "E_CRL_TOO_LARGE");
  await until(() => cut, 2000, "the connection cut");
  assert.ok(sent < 64 * 1024 * 1024, `stopped early: ${sent} bytes sent`);
});
