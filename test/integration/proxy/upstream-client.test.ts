// The proxy's own upstream HTTP/1.1 client behind real sockets: a response body that stalls after
// its headers is cut off after timeouts.response without a byte (while a slow client or a slow but
// moving body is not), a malformed answer is refused (502, never passed on), keep-alive connections
// are reused only while the backend allows it.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { request as httpsRequest } from "node:https";
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { UpstreamPool } from "../../../src/proxy/upstream-client/pool.js";
import { call, fakeBackend, pki, proxyConfig, startProxy, until } from "./harness.js";

/** Resolve with what the client got, or "cut" when its connection was cut mid-answer; reject after ms. */
function fetchOrCut(port: number, path: string, ms: number, readDelayMs = 0): Promise<{ status: number; body: Buffer } | "cut"> {
  const p = pki();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no end and no cut within ${ms} ms`)), ms);
    const req = httpsRequest({ host: "127.0.0.1", port, path, ca: p.ca.certPem, servername: "localhost", agent: false }, (res) => {
      const chunks: Buffer[] = [];
      if (readDelayMs > 0) {
        res.pause();
        setTimeout(() => res.resume(), readDelayMs);
      }
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
      });
      res.on("error", () => {
        clearTimeout(timer);
        resolve("cut");
      });
    });
    req.on("error", () => {
      clearTimeout(timer);
      resolve("cut");
    });
    req.end();
  });
}

test("a body that stalls after the headers: the client is cut off after timeouts.response, the upstream connection closed", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const upstream = new Set<Socket>();
  m1.handler = (req, res) => {
    upstream.add(req.socket);
    res.writeHead(200, { "content-length": 1000 });
    res.write("x".repeat(100)); // and nothing more, ever
  };
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1], { timeouts: { response: "300ms" } }));
  const got = await fetchOrCut(proxy.address.port, "/puppet/v3/catalog/a", 10_000);
  assert.equal(got, "cut");
  const [sock] = upstream;
  await until(() => sock?.destroyed === true, 5000, "the stalled upstream connection to be closed");
  const b = proxy.masters.get("m1");
  assert.equal(b?.errors, 1);
  assert.equal(b?.outstanding, 0);
  assert.equal(m1.seen.length, 1, "a stalled body is not retried");
});

test("a body that keeps moving, slower in total than timeouts.response, arrives whole", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  m1.handler = (_req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    let n = 0;
    const tick = setInterval(() => {
      res.write(`${n},`);
      if (++n === 8) {
        clearInterval(tick);
        res.end("end");
      }
    }, 100);
  };
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1], { timeouts: { response: "300ms" } }));
  const got = await fetchOrCut(proxy.address.port, "/puppet/v3/catalog/a", 10_000);
  assert.notEqual(got, "cut");
  assert.equal(got !== "cut" && got.body.toString(), "0,1,2,3,4,5,6,7,end");
});

test("a client slower than timeouts.response to read a big body is not taken for a stalled backend", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const big = Buffer.alloc(8 * 1024 * 1024, 0x61);
  m1.handler = (_req, res) => {
    res.writeHead(200, { "content-length": big.length });
    res.end(big);
  };
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1], { timeouts: { response: "300ms" } }));
  // The client reads nothing for 1 s: the proxy's writes fill up and it stops reading upstream.
  const got = await fetchOrCut(proxy.address.port, "/puppet/v3/catalog/a", 20_000, 1000);
  assert.notEqual(got, "cut");
  assert.ok(got !== "cut" && got.body.equals(big));
  assert.equal(proxy.masters.get("m1")?.errors, 0);
});

/** A backend on a raw socket: health checks get "running", everything else gets `answer`. */
async function rawBackend(t: TestContext, answer: string): Promise<{ url: string; requests: number }> {
  const state = { url: "", requests: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    let head = "";
    s.on("data", (d: Buffer) => {
      head += d.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      if (head.includes("/status/v1/simple")) s.write("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nrunning");
      else {
        state.requests++;
        s.write(answer);
      }
      head = "";
    });
    s.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => {
    server.close();
    for (const s of sockets) s.destroy();
  });
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

for (const [what, answer] of [
  ["two Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!"],
  ["Transfer-Encoding and Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nok!\r\n0\r\n\r\n"],
  ["a Transfer-Encoding other than chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok!"],
  ["an obs-folded header", "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 3\r\n\r\nok!"],
] as const) {
  test(`a malformed answer (${what}) is refused with 502, never passed on`, async (t) => {
    const p = pki();
    const ca1 = await fakeBackend(t, "ca1");
    const m1 = await rawBackend(t, answer);
    const proxy = await startProxy(t, proxyConfig(p, [ca1], [{ name: "m1", url: m1.url }]));
    const r = await call(proxy.address.port, { path: "/puppet/v3/catalog/a" });
    assert.equal(r.status, 502);
    assert.match(r.body, /backend m1: answered malformed/);
    assert.doesNotMatch(r.body, /ok!/);
    assert.equal(m1.requests, 1);
  });
}

test("keep-alive: one upstream connection for sequential requests; Connection: close from the backend is honoured", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const sockets: Socket[] = [];
  m1.handler = (req, res) => {
    if (!sockets.includes(req.socket)) sockets.push(req.socket);
    res.writeHead(200, req.url?.endsWith("close") ? { connection: "close" } : {});
    res.end("ok");
  };
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1]));
  for (let i = 0; i < 3; i++) assert.equal((await call(proxy.address.port, { path: "/puppet/v3/catalog/a" })).status, 200);
  assert.equal(sockets.length, 1, "reused");
  for (let i = 0; i < 2; i++) assert.equal((await call(proxy.address.port, { path: "/puppet/v3/catalog/close" })).status, 200);
  assert.equal((await call(proxy.address.port, { path: "/puppet/v3/catalog/a" })).status, 200);
  // The first socket carried the first close answer; the second close answer had its own; then a new one.
  assert.equal(sockets.length, 3);
  await until(() => sockets.slice(0, 2).every((s) => s.destroyed), 2000, "closed connections to be closed");
});

test("a connect made while the event loop was blocked past timeouts.connect is not a connect timeout", async (t) => {
  const m1 = await fakeBackend(t, "m1");
  const pool = new UpstreamPool(m1.url, { connections: 4, keepAliveMs: 20_000, connectMs: () => 50 });
  t.after(() => pool.destroy());
  const outcome = new Promise<string>((resolve) => {
    pool.dispatch({ method: "GET", path: "/x", headers: ["Host", "m1"], body: null }, {
      onConnect: () => undefined,
      onHead: (status) => resolve(String(status)),
      onData: () => true,
      onComplete: () => undefined,
      onError: (err) => resolve(err.code),
    });
  });
  // Block the loop well past the connect timeout: the kernel completes the connect meanwhile, and
  // the timer and the connect event are both due when the loop runs again.
  const end = performance.now() + 300;
  while (performance.now() < end);
  assert.equal(await outcome, "200");
});

test("a streamed request body without a length (client with a cert) is sent chunked, whole, and the connection is reused after", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const sockets: Socket[] = [];
  m1.handler = (req, res, body) => {
    if (!sockets.includes(req.socket)) sockets.push(req.socket);
    res.writeHead(200).end(`${req.headers["transfer-encoding"] ?? "-"} ${body.length} ${body === expected ? "same" : "different"}`);
  };
  const proxy = await startProxy(t, proxyConfig(p, [ca1], [m1], { limits: { retryBuffer: "1KiB" } }));
  const piece = Buffer.alloc(16 * 1024);
  for (let i = 0; i < piece.length; i++) piece[i] = 0x61 + (i % 26);
  const expected = piece.toString().repeat(32); // 512 KiB
  const answer = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest({
      host: "127.0.0.1", port: proxy.address.port, method: "PUT", path: "/puppet/v3/report/a", ca: p.ca.certPem, servername: "localhost",
      cert: p.node1.certPem, key: p.node1.keyPem, agent: false, headers: { "content-type": "text/plain" },
    }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve(`${res.statusCode} ${text}`));
    });
    req.on("error", reject);
    let n = 0;
    const more = (): void => {
      while (n < 32) {
        n++;
        if (!req.write(piece)) return void req.once("drain", more);
      }
      req.end();
    };
    more();
  });
  assert.equal(answer, "200 chunked 524288 same");
  assert.equal((await call(proxy.address.port, { path: "/puppet/v3/catalog/a" })).status, 200);
  assert.equal(sockets.length, 1, "the connection that carried the chunked body is reused");
});
