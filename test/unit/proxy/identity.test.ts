// Header filtering: forged X-Client-* headers (any case, repeated, `_` for `-`) and hop-by-hop
// headers never reach a backend; ours are set exactly once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { forwardHeaders, isClientHeader, responseHeaders, type Identity } from "../../../src/proxy/identity.js";

const id: Identity = { verify: "SUCCESS", dn: "CN=node1", cert: "PEM%20", certname: "node1", serial: "2", sendable: true };

const pairs = (raw: string[]) => Array.from({ length: raw.length / 2 }, (_, i) => [raw[2 * i], raw[2 * i + 1]] as [string, string]);

test("every spelling of X-Client-* is recognised", () => {
  for (const n of ["X-Client-Verify", "x-client-verify", "X-CLIENT-DN", "X_Client_Verify", "x_client-cert", "X-Client_DN", "x-client-anything"]) {
    assert.equal(isClientHeader(n), true, n);
  }
  for (const n of ["X-Clien", "X-Clients", "Client-Verify", "X-Forwarded-For", "Host", "xx-client-dn"]) {
    assert.equal(isClientHeader(n), false, n);
  }
});

test("forged client headers are removed and ours set once", () => {
  const raw = [
    "Host", "puppet", "X-Client-Verify", "SUCCESS", "x-client-verify", "SUCCESS", "X_CLIENT_DN", "CN=admin",
    "x_client_cert", "forged", "X-Client-Dn", "CN=x", "Accept", "text/plain",
  ];
  const out = pairs(forwardHeaders(raw, id, "10.0.0.9"));
  const clientish = out.filter(([k]) => isClientHeader(k));
  assert.deepEqual(clientish, [["X-Client-Verify", "SUCCESS"], ["X-Client-DN", "CN=node1"], ["X-Client-Cert", "PEM%20"]]);
  assert.deepEqual(out.filter(([k]) => k === "Host" || k === "Accept"), [["Host", "puppet"], ["Accept", "text/plain"]]);
  assert.deepEqual(out.filter(([k]) => k.startsWith("X-Forwarded")), [["X-Forwarded-For", "10.0.0.9"], ["X-Forwarded-Proto", "https"]]);
});

test("without a cert: X-Client-Verify NONE and no DN or cert", () => {
  const none: Identity = { verify: "NONE", dn: undefined, cert: undefined, certname: undefined, serial: undefined, sendable: true };
  const out = pairs(forwardHeaders(["X-Client-DN", "CN=admin"], none, "1.2.3.4"));
  assert.deepEqual(out.filter(([k]) => isClientHeader(k)), [["X-Client-Verify", "NONE"]]);
  assert.deepEqual(pairs(forwardHeaders([], undefined, "1.2.3.4")).filter(([k]) => isClientHeader(k)), [["X-Client-Verify", "NONE"]]);
});

test("hop-by-hop headers, those named in Connection, Expect and client X-Forwarded-* are dropped", () => {
  const raw = [
    "Connection", "keep-alive, X-Secret", "Keep-Alive", "timeout=5", "X-Secret", "1", "Transfer-Encoding", "chunked",
    "TE", "trailers", "Upgrade", "h2c", "Proxy-Connection", "x", "Expect", "100-continue", "X-Forwarded-For", "6.6.6.6",
    "x-forwarded-proto", "http", "Content-Length", "5",
  ];
  const kept = pairs(forwardHeaders(raw, undefined, "1.2.3.4")).map(([k]) => k);
  assert.deepEqual(kept, ["Content-Length", "X-Client-Verify", "X-Forwarded-For", "X-Forwarded-Proto"]);
});

test("response hop-by-hop headers are dropped, repeated ones kept", () => {
  const out = responseHeaders(["Connection", "keep-alive", "Set-Cookie", "a", "Set-Cookie", "b", "Transfer-Encoding", "chunked", "Keep-Alive", "x"]);
  assert.deepEqual(out, ["Set-Cookie", "a", "Set-Cookie", "b"]);
});
