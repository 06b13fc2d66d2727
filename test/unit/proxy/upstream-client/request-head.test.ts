// The request head the upstream client writes: headers as given, Host only when the client sent
// none, the body framing chosen from what the body is, unsafe targets and identity values refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { headerValueSafe, requestHead } from "../../../../src/proxy/upstream-client/request-head.js";

const base = { method: "GET", path: "/puppet/v3/catalog/a?environment=production", host: "127.0.0.1:8141", bodyLength: undefined, streamed: false };

test("a GET: request line, headers in order, CRLF lines, no body framing", () => {
  const { head, framing } = requestHead({ ...base, headers: ["Host", "puppet:8140", "Accept", "application/json", "X-Client-Verify", "NONE"] });
  assert.equal(head, "GET /puppet/v3/catalog/a?environment=production HTTP/1.1\r\nHost: puppet:8140\r\nAccept: application/json\r\nX-Client-Verify: NONE\r\n\r\n");
  assert.equal(framing, "none");
});

test("Host is added only when the client sent none (any case)", () => {
  assert.match(requestHead({ ...base, headers: ["Accept", "*/*"] }).head, /\r\nHost: 127\.0\.0\.1:8141\r\n\r\n$/);
  assert.doesNotMatch(requestHead({ ...base, headers: ["hOST", "x"] }).head, /127\.0\.0\.1/);
});

test("a buffered body gets a Content-Length unless the client's is there; a stream is chunked unless it has one", () => {
  const put = { ...base, method: "PUT" };
  const a = requestHead({ ...put, headers: [], bodyLength: 12 });
  assert.deepEqual([a.framing, /\r\nContent-Length: 12\r\n\r\n$/.test(a.head)], ["length", true]);
  const b = requestHead({ ...put, headers: ["content-length", "12"], bodyLength: 12 });
  assert.equal(b.head.match(/content-length/gi)?.length, 1);
  const c = requestHead({ ...put, headers: [], streamed: true });
  assert.deepEqual([c.framing, c.head.endsWith("Transfer-Encoding: chunked\r\n\r\n")], ["chunked", true]);
  const d = requestHead({ ...put, headers: ["Content-Length", "99"], streamed: true });
  assert.deepEqual([d.framing, d.head.includes("Transfer-Encoding")], ["length", false]);
});

test("a target with a space, a control character or beyond ASCII is refused", () => {
  for (const path of ["/a b", "/a\r\nX: y", "/caf\u00e9", "relative", ""]) {
    assert.throws(() => requestHead({ ...base, path, headers: [] }), /request target not writable upstream/, JSON.stringify(path));
  }
});

test("identity values: latin1 without control characters can be written, others cannot", () => {
  assert.equal(headerValueSafe("CN=node1,O=Example\\, Inc."), true);
  assert.equal(headerValueSafe(undefined), true);
  assert.equal(headerValueSafe("CN=evil\r\nX-Client-Verify: SUCCESS"), false);
  assert.equal(headerValueSafe("CN=\u4e2d\u6587"), false);
});
