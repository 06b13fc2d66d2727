// The CA-writes-in-flight count is exact whatever clients do (pipelining, aborts mid-body, resets,
// slow bodies), no client can hold failback off by abandoning writes, and a write whose client left
// is still waited for by the failback's final pull (issue 12, items 2, 4).
// Real proxy runtime, fake CA workers, real rsync for the failback's pulls.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { connect, type TLSSocket } from "node:tls";
import { call, pki, until } from "./harness.js";
import { admin, failOver, serialOf, signOn, startHa, TOKEN, type Ha } from "./ha-harness.js";
import type { Issued } from "../../helpers/pki.js";

/** A raw TLS connection to the proxy (with or without a client cert), connected. */
function open(port: number, client?: Issued): Promise<TLSSocket> {
  const p = pki();
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, servername: "localhost", ca: p.ca.certPem, ...(client ? { cert: client.certPem, key: client.keyPem } : {}) }, () => resolve(s));
    s.on("error", () => undefined);
    s.once("error", reject);
  });
}

const put = (certname: string, body = "CSR") =>
  `PUT /puppet-ca/v1/certificate_request/${certname} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

const closed = (s: TLSSocket) => new Promise<void>((r) => (s.destroyed ? r() : s.once("close", () => r())));

async function failedOverWithPrimaryBack(t: Parameters<typeof startHa>[0]): Promise<Ha> {
  const ha = await startHa(t, { responseTimeout: "3s", ca: { holdWrites: "5s" } });
  await until(() => ha.rt.sync!.status().destinations.ca2?.lastSuccess !== null, 10_000, "first pass into ca2");
  await failOver(ha);
  ha.ca1.healthy = true;
  await until(() => ha.rt.proxy.ca.get("ca1")!.state === "up", 5000, "ca1 up");
  return ha;
}

test("many clients pipelining CA writes and closing, aborting mid-body, resetting: the count comes back to 0 and a failback succeeds", async (t) => {
  const ha = await failedOverWithPrimaryBack(t);
  const port = ha.port;
  // ca2 answers CA writes after 100 ms, so pipelined ones queue behind each other in the proxy.
  ha.ca2.handler = (req, res) => setTimeout(() => res.writeHead(200).end("ok"), 100);
  const p = pki();
  const clients: Promise<void>[] = [];
  for (let i = 0; i < 10; i++) {
    const client = i % 2 === 0 ? undefined : p.node1;
    // Five pipelined writes, then gone before the first answer.
    clients.push((async () => {
      const s = await open(port, client);
      s.write([1, 2, 3, 4, 5].map((n) => put(`pipe${i}-${n}`)).join(""));
      await until(() => ha.ca2.seen.some((x) => x.url.endsWith(`pipe${i}-1`)), 5000, "first pipelined write at ca2");
      s.destroy();
      await closed(s);
    })());
    // Gone in the middle of a body.
    clients.push((async () => {
      const s = await open(port, client);
      s.write(`PUT /puppet-ca/v1/certificate_request/half${i} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nhalf`);
      await new Promise((r) => setTimeout(r, 20));
      s.destroy();
      await closed(s);
    })());
    // Reset (RST) right after a whole write was sent.
    clients.push((async () => {
      const s = await open(port, client);
      s.write(put(`reset${i}`));
      await until(() => ha.ca2.seen.some((x) => x.url.endsWith(`reset${i}`)), 5000, "write at ca2");
      (s as unknown as { _parent?: { resetAndDestroy?: () => void } })._parent?.resetAndDestroy?.();
      s.destroy();
      await closed(s);
    })());
    // A write followed by a pipelined chunked body that stalls, then gone.
    clients.push((async () => {
      const s = await open(port, client);
      s.write(put(`slow${i}`) + `PUT /puppet-ca/v1/certificate_request/slower${i} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nslow\r\n`);
      await until(() => ha.ca2.seen.some((x) => x.url.endsWith(`slow${i}`)), 5000, "write at ca2");
      s.destroy();
      await closed(s);
    })());
  }
  await Promise.all(clients);
  const proxy = ha.rt.proxy;
  await until(() => proxy.arbiter.inFlightWrites === 0, 5000, "no CA write in flight");
  await until(() => proxy.ca.backends.every((b) => b.outstanding === 0), 5000, "no request outstanding on any CA");
  await until(() => proxy.admission.inFlight.total === 0, 5000, "every admission slot given back");
  assert.deepEqual(proxy.admission.inFlight, { total: 0, unauthenticated: 0, addresses: 0 });
  ha.ca2.handler = (req, res) => res.writeHead(200).end(`ca2 ${req.method} ${req.url}`);
  const r = await admin(ha, "POST", "/api/ca/failback", TOKEN);
  assert.equal(r.status, 200, r.text);
  assert.equal(proxy.arbiter.active, "ca1");
});

test("a client abandoning a CA write every 200 ms does not hold off a failback; the abandoned writes run to their end", async (t) => {
  const ha = await failedOverWithPrimaryBack(t);
  // The CA takes 150 ms to answer a write; each client is gone after 30 ms.
  let answered = 0;
  ha.ca2.handler = (req, res) => setTimeout(() => {
    answered++;
    res.writeHead(200).end("signed");
  }, 150);
  let stop = false;
  let sent = 0;
  const abandon = (async () => {
    while (!stop) {
      const s = await open(ha.port);
      s.write(put(`gone${sent++}`));
      await new Promise((r) => setTimeout(r, 30));
      s.destroy();
      await new Promise((r) => setTimeout(r, 170));
    }
  })();
  t.after(() => {
    stop = true;
  });
  await until(() => answered >= 2, 5000, "abandoned writes answered by the CA");
  const r = await admin(ha, "POST", "/api/ca/failback", TOKEN);
  stop = true;
  await abandon;
  assert.equal(r.status, 200, r.text);
  assert.equal(ha.rt.proxy.arbiter.active, "ca1");
  await until(() => ha.rt.proxy.arbiter.inFlightWrites === 0, 5000, "count back to 0");
  // A write now goes to the primary.
  const w = await call(ha.port, { method: "PUT", path: "/puppet-ca/v1/certificate_request/after", body: "CSR" });
  assert.equal(w.body, "ca1 PUT /puppet-ca/v1/certificate_request/after");
});

test("a CA write whose client left is still waited for: the failback's final pull holds the certificate the CA signed after", async (t) => {
  const ha = await failedOverWithPrimaryBack(t);
  // The standby signs a CSR whose client is gone by then: 1.5 s into the failback's write hold.
  let signed: string | undefined;
  let over = false;
  t.after(() => (over = true));
  ha.ca2.handler = (req, res) => {
    void until(() => over || ha.rt.proxy.arbiter.holding, 20_000, "failback write hold").then(() => setTimeout(() => {
      if (over) return;
      signed = signOn(ha, ha.dir2, "left9").serial;
      res.writeHead(200).end("signed");
    }, 1500));
  };
  const s = await open(ha.port);
  s.write(put("left9"));
  await until(() => ha.ca2.seen.some((x) => x.url.endsWith("/left9")), 5000, "the CSR reached ca2");
  s.destroy();
  await closed(s);
  // Its client is gone, the CA is still doing it: it still counts.
  assert.equal(ha.rt.proxy.arbiter.inFlightWrites, 1, "the abandoned write still counts while the CA works on it");
  const r = await admin(ha, "POST", "/api/ca/failback", TOKEN);
  assert.equal(r.status, 200, r.text);
  assert.ok(signed, "ca2 signed left9");
  assert.ok(existsSync(join(ha.dir1, "signed", "left9.pem")), "the primary got the certificate signed for a client that had left");
  assert.equal(parseInt(serialOf(ha.dir1), 16), parseInt(signed, 16) + 1, "the primary's next serial is above it (no serial twice)");
});
