// Answers through the upstream client (src/proxy/upstream-client/): big and chunked bodies arrive intact (with the
// client reading slowly, so backpressure pauses and resumes the upstream), HEAD has no body,
// status line and repeated headers pass through, a body cut mid-way cuts the client off.
import { test } from "node:test";
import assert from "node:assert/strict";
import { request as httpsRequest } from "node:https";
import { call, fakeBackend, pki, proxyConfig, startProxy } from "./harness.js";

test("a 4 MiB answer read slowly arrives intact; chunked answers are re-framed", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const big = Buffer.alloc(4 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = i % 251;
  m1.handler = (req, res) => {
    if (req.url === "/big") {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": big.length });
      res.end(big);
    } else {
      res.writeHead(200, { "content-type": "text/plain" }); // no length: chunked
      res.write("one,");
      setTimeout(() => res.end("two"), 20);
    }
  };
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1]));
  const got = await new Promise<Buffer>((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port: proxy.address.port, path: "/big", ca: p.ca.certPem, servername: "localhost", agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => {
        chunks.push(c);
        // Read slowly at first so the proxy's writes to us fill up and it must pause the backend.
        if (chunks.length < 20) {
          res.pause();
          setTimeout(() => res.resume(), 5);
        }
      });
      res.on("end", () => resolve(Buffer.concat(chunks)));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
  assert.equal(got.length, big.length);
  assert.ok(got.equals(big));
  const r = await call(proxy.address.port, { path: "/chunked" });
  assert.equal(r.status, 200);
  assert.equal(r.body, "one,two");
});

test("HEAD gets the backend's headers and no body; status text and repeated headers pass through", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  m1.handler = (_req, res) => {
    res.statusMessage = "Created Here";
    res.writeHead(201, [["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"], ["Content-Type", "text/plain"], ["Content-Length", "5"]]);
    res.end("hello");
  };
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1]));
  const head = await call(proxy.address.port, { method: "HEAD", path: "/puppet/v3/file_metadata/x" });
  assert.equal(head.status, 201);
  assert.equal(head.body, "");
  assert.equal(head.headers["content-length"], "5");
  const get = await new Promise<{ text: string; cookies: string[] | undefined; body: string }>((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port: proxy.address.port, path: "/puppet/v3/file_metadata/x", ca: p.ca.certPem, servername: "localhost", agent: false }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ text: res.statusMessage ?? "", cookies: res.headers["set-cookie"], body }));
    });
    req.on("error", reject);
    req.end();
  });
  assert.deepEqual(get, { text: "Created Here", cookies: ["a=1", "b=2"], body: "hello" });
});

test("a backend that dies mid-body: the client connection is cut, the backend is not retried", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  m1.handler = (req, res) => {
    res.writeHead(200, { "content-length": 1000 });
    res.write("x".repeat(100));
    setTimeout(() => req.socket.destroy(), 20);
  };
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1]));
  await assert.rejects(call(proxy.address.port, { path: "/puppet/v3/catalog/a" }));
  assert.equal(m1.seen.length, 1);
});
