// Retry rules end to end: connect failures go to the next master for any method (buffered
// bodies), GET/HEAD are re-sent once after a failure before any response byte, writes never are,
// big bodies stream without retry; passive failures mark a backend down, 4xx never does.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { call, fakeBackend, pki, proxyConfig, refusedUrl, startProxy, until, type FakeBackend } from "./harness.js";

async function masters(t: TestContext, n: number, extra: Record<string, unknown> = {}, first?: { name: string; url: string }) {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const ms: FakeBackend[] = [];
  for (let i = 1; i <= n; i++) ms.push(await fakeBackend(t, `m${i}`));
  const list = first ? [first, ...ms] : ms;
  // Long check interval: only passive failures change state during the test.
  const proxy = await startProxy(t, proxyConfig(p, [ca1], list, { health: { interval: "1h" }, ...extra }));
  await until(() => [...proxy.ca.backends, ...proxy.masters.backends].every((b) => b.state !== "unknown"), 5000, "first checks");
  return { proxy, port: proxy.address.port, ms, ca1 };
}

const reset = (req: import("node:http").IncomingMessage) => req.socket.destroy();

test("connect refused: GET and a POST with a buffered body go to the next master; the dead one is marked down", async (t) => {
  const dead = { name: "dead", url: await refusedUrl() };
  const s = await masters(t, 1, {}, dead);
  s.proxy.masters.setState("dead", "up", "test"); // the first check already found it down: pretend it was up
  const r1 = await call(s.port, { path: "/puppet/v3/node/a" });
  assert.equal(r1.status, 200);
  assert.equal(s.proxy.masters.get("dead")!.state, "down");
  assert.match(s.proxy.masters.get("dead")!.reason, /passive: .*ECONNREFUSED/);
  s.proxy.masters.setState("dead", "up", "test");
  const r2 = await call(s.port, { method: "POST", path: "/puppet/v3/catalog/a", body: "facts=x", headers: { "content-type": "application/x-www-form-urlencoded" } });
  assert.equal(r2.status, 200);
  assert.equal(s.ms[0]!.seen.at(-1)?.body, "facts=x");
});

test("a GET reset before any response byte is re-sent once; the second failure is a 502", async (t) => {
  const s = await masters(t, 3);
  s.ms[0]!.handler = reset;
  const r = await call(s.port, { path: "/puppet/v3/node/a" });
  assert.equal(r.status, 200);
  assert.equal(r.body, "m2 GET /puppet/v3/node/a");
  assert.equal(s.proxy.masters.get("m1")!.state, "down");
  // All reset: m2 then m3 after one re-send: 502, m1 is down already.
  s.ms[1]!.handler = reset;
  s.ms[2]!.handler = reset;
  for (const b of s.proxy.masters.backends) s.proxy.masters.setState(b.name, "up", "test");
  const seenBefore = s.ms.map((m) => m.seen.length);
  const r2 = await call(s.port, { path: "/puppet/v3/node/b" });
  assert.equal(r2.status, 502);
  assert.match(r2.body, /^502 Bad Gateway: backend m\d: failed before answering/);
  const tries = s.ms.map((m, i) => m.seen.length - (seenBefore[i] ?? 0)).reduce((a, b) => a + b, 0);
  assert.equal(tries, 2, "sent once, re-sent once");
});

test("a POST/PUT that reached a backend is never re-sent", async (t) => {
  const s = await masters(t, 2);
  s.ms[0]!.handler = reset;
  s.ms[1]!.handler = reset;
  const r = await call(s.port, { method: "PUT", path: "/puppet/v3/report/a", body: "{}" });
  assert.equal(r.status, 502);
  assert.equal(s.ms[0]!.seen.length + s.ms[1]!.seen.length, 1);
});

test("a body larger than limits.retryBuffer streams (clients with a cert) and is not retried after a connect failure", async (t) => {
  const dead = { name: "dead", url: await refusedUrl() };
  const s = await masters(t, 1, { limits: { retryBuffer: "1KiB" } }, dead);
  s.proxy.masters.setState("dead", "up", "test");
  const big = "x".repeat(4096);
  const client = pki().node1;
  const r = await call(s.port, { method: "PUT", path: "/puppet/v3/report/a", body: big, client });
  assert.equal(r.status, 502);
  assert.equal(s.ms[0]!.seen.length, 0);
  // The same body goes through when the first master is fine.
  const r2 = await call(s.port, { method: "PUT", path: "/puppet/v3/report/a", body: big, client });
  assert.equal(r2.status, 200);
  assert.equal(s.ms[0]!.seen[0]?.body.length, 4096);
});

test("4xx and 5xx answers are passed through and never mark a backend down", async (t) => {
  const s = await masters(t, 1);
  s.ms[0]!.handler = (req, res) => res.writeHead(req.url?.includes("gone") ? 404 : 500).end("nope");
  assert.equal((await call(s.port, { path: "/puppet/v3/node/gone" })).status, 404);
  assert.equal((await call(s.port, { path: "/puppet/v3/node/err" })).status, 500);
  assert.equal(s.proxy.masters.get("m1")!.state, "up");
});

test("413 for a body over limits.body (declared or chunked); a 40 KiB header block passes", async (t) => {
  const s = await masters(t, 1, { limits: { body: "4KiB", headerSize: "64KiB" } });
  const r = await call(s.port, { method: "PUT", path: "/puppet/v3/report/a", body: "y".repeat(5000) });
  assert.equal(r.status, 413);
  assert.equal(s.ms[0]!.seen.length, 0);
  const { request } = await import("node:https");
  const chunked = await new Promise<number>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: s.port, method: "PUT", path: "/puppet/v3/report/b", ca: pki().ca.certPem, servername: "localhost", agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    for (let i = 0; i < 10; i++) req.write("z".repeat(1000));
    req.end();
  });
  assert.equal(chunked, 413);
  const big = await call(s.port, { path: "/puppet/v3/node/a", headers: { "x-big": "h".repeat(40 * 1024) } });
  assert.equal(big.status, 200);
  assert.equal((s.ms[0]!.seen.at(-1)?.headers["x-big"] as string).length, 40 * 1024);
});

test("the default header limit takes 30 KiB of headers (X-Client-Cert budget)", async (t) => {
  const s = await masters(t, 1);
  const r = await call(s.port, { path: "/puppet/v3/node/a", client: pki().node1, headers: { "x-big": "h".repeat(30 * 1024) } });
  assert.equal(r.status, 200);
});

test("no usable master: 503 with Retry-After, short text body", async (t) => {
  const s = await masters(t, 1);
  s.proxy.masters.setState("m1", "down", "test");
  const r = await call(s.port, { path: "/puppet/v3/node/a" });
  assert.equal(r.status, 503);
  assert.equal(r.headers["retry-after"], "5");
  assert.match(r.body, /^503 Service Unavailable: no healthy backend in pool master\n$/);
});
