// proxy.workers: 2 and the CA: a failback's final pull waits for slow CA writes in flight on every
// worker, and a worker that cannot acknowledge the hold in time aborts it; a revocation (CRL
// refresh) and a new CRL file (SIGHUP) are refused on every worker.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Agent } from "node:https";
import { connect } from "node:tls";
import type { FakeCadir } from "../../helpers/cadir.js";
import type { Issued } from "../../helpers/pki.js";
import { startEtcdCluster } from "../../helpers/etcd.js";
import { call, closeBackend, pki, until } from "./harness.js";
import { adminCall, healthOf, startWorkers, untilHealth, TOKEN } from "./workers-harness.js";

/** "refused" when the proxy refuses this client cert at the handshake, else "ok". */
function handshake(port: number, client: Issued): Promise<"ok" | "refused"> {
  const p = pki();
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port, servername: "localhost", ca: p.ca.certPem, cert: client.certPem, key: client.keyPem }, () => {
      s.write("GET /puppet/v3/node/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    });
    let got = "";
    s.on("data", (d: Buffer) => (got += d.toString()));
    s.on("error", () => undefined);
    s.on("close", () => resolve(got.startsWith("HTTP/1.1 200") ? "ok" : "refused"));
  });
}

/** Every one of n new connections (handed to the workers in turn) gets `want`. */
async function everyWorker(port: number, client: Issued, want: "ok" | "refused", n = 6): Promise<void> {
  const got: string[] = [];
  for (let i = 0; i < n; i++) got.push(await handshake(port, client));
  assert.deepEqual(got, Array<string>(n).fill(want), `${client.certname}: ${got.join(" ")}`);
}

test("a revocation through one worker and a new CRL by SIGHUP are refused on every worker", async (t) => {
  const p = pki();
  const victim = p.ca.issue("victim.test");
  const other = p.ca.issue("other.test");
  const admin = p.ca.issue("admin.test", { ppCliAuth: true });
  const w = await startWorkers(t);
  w.ca1.handler = (req, res) => {
    if (req.method === "PUT" && req.url === "/puppet-ca/v1/certificate_status/victim.test") {
      w.ca1.crl = p.ca.crl({ number: 100, revoked: [victim.serialHex] }); // what puppetserver does on revoke
      res.writeHead(204).end();
      return;
    }
    res.writeHead(200).end("ok");
  };
  await untilHealth(w, (h) => h.workers?.running === 2, "two workers serving");
  await everyWorker(w.port, victim, "ok");
  const r = await call(w.port, { method: "PUT", path: "/puppet-ca/v1/certificate_status/victim.test", client: admin, body: '{"desired_state":"revoked"}', headers: { "content-type": "application/json" } });
  assert.equal(r.status, 204);
  await until(() => existsSync(join(w.dir, "state", "crl.pem")) && /CRL/.test(readFileSync(join(w.dir, "state", "crl.pem"), "utf8")), 5000, "CRL 100 adopted by the primary");
  await untilHealth(w, (h) => h.expiry.crl?.number === "100", "CRL 100 in /health");
  const deadline = Date.now() + 5000;
  while ((await handshake(w.port, victim)) === "ok" && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  await everyWorker(w.port, victim, "refused");
  await everyWorker(w.port, other, "ok");
  // A newer CRL written to proxy.tls.crl reaches every worker with SIGHUP.
  writeFileSync(w.crlFile, p.ca.crl({ number: 101, revoked: [victim.serialHex, other.serialHex] }));
  process.kill(w.pid, "SIGHUP");
  await until(() => w.logs.filter((l) => l.msg === "config reloaded").length >= 3, 10_000, "the primary and both workers reloaded");
  await everyWorker(w.port, other, "refused");
  await everyWorker(w.port, p.node1, "ok");
});

test("a CA write answered through a worker asks the primary's in-process sync for a pass: the standby gets the certificate", async (t) => {
  const w = await startWorkers(t, { sync: true });
  const cadirs = w.cadirs as NonNullable<typeof w.cadirs>;
  await untilHealth(w, (h) => h.workers?.running === 2 && h.sync.some((s) => s.destination === "ca2" && s.lastSuccess !== undefined), "workers up, first pass into ca2");
  w.ca1.handler = (req, res) => {
    req.resume();
    const c = cadirs.cadir.clone();
    c.serial = parseInt(readFileSync(join(cadirs.ca1, "serial"), "utf8"), 16);
    c.sign("fresh");
    c.writeTo(cadirs.ca1);
    res.writeHead(200).end("signed");
  };
  assert.equal((await call(w.port, { method: "PUT", path: "/puppet-ca/v1/certificate_request/fresh", body: "CSR" })).status, 200);
  // The schedule never fires in this test (once a year): only the write can have asked for the pass.
  await until(() => existsSync(join(cadirs.ca2, "signed", "fresh.pem")), 15_000, "the standby got the new certificate");
});

/** Sync on, failed over to ca2, ca1 up again: ready for a failback. */
async function failedOver(t: Parameters<typeof startWorkers>[0], o: Parameters<typeof startWorkers>[1]) {
  const w = await startWorkers(t, { sync: true, ...o });
  await untilHealth(w, (h) => h.workers?.running === 2 && h.sync.some((s) => s.destination === "ca2" && s.lastSuccess !== undefined), "workers up, first pass into ca2");
  w.ca1.healthy = false;
  await untilHealth(w, (h) => h.arbiter.active === "ca2" && h.events.some((e) => e.kind === "failover"), "failover to ca2");
  w.ca1.healthy = true;
  await untilHealth(w, (h) => h.pools[0]?.backends[0]?.state === "up", "ca1 up again");
  return w;
}

test("a worker whose CA write outlasts the hold does not acknowledge it: the failback aborts, nothing changes, writes go on", async (t) => {
  const w = await failedOver(t, { holdWrites: "2s", responseTimeout: "15s" });
  let finish = () => undefined as void;
  const gate = new Promise<void>((r) => (finish = r));
  w.ca2.handler = (req, res) => {
    req.resume();
    if (req.method === "PUT" && req.url?.endsWith("/stuck")) return void gate.then(() => res.writeHead(200).end("signed late"));
    res.writeHead(200).end(`ca2 ${req.method} ${req.url}`);
  };
  const stuck = call(w.port, { method: "PUT", path: "/puppet-ca/v1/certificate_request/stuck", body: "CSR" });
  await until(() => w.ca2.seen.some((s) => s.url.endsWith("/stuck")), 5000, "the stuck CSR at ca2");
  const r = await adminCall(w, "POST", "/api/ca/failback", TOKEN);
  finish();
  assert.equal(r.status, 503, r.text);
  assert.match(r.text, /not acknowledged within 1500 ms by worker \d+ \(pid \d+\)/);
  assert.equal((await stuck).status, 200);
  const h = await untilHealth(w, (x) => x.arbiter.active === "ca2" && x.arbiter.epoch === 2, "still ca2 at epoch 2");
  assert.match(h.arbiter.failback.state, /^aborted: /);
  // The hold is gone on every worker: writes go to ca2 at once.
  for (let i = 0; i < 4; i++) {
    const x = await call(w.port, { method: "PUT", path: `/puppet-ca/v1/certificate_request/after${i}`, body: "CSR" });
    assert.equal(x.body, `ca2 PUT /puppet-ca/v1/certificate_request/after${i}`);
  }
});

/**
 * ca2 (active after a failover) signs each CSR 1.5 s after the failback's write hold began; CSRs in
 * flight on every worker; the failback must wait for all of them and carry their certs to ca1.
 */
async function failbackWaitsForEveryWorker(w: Awaited<ReturnType<typeof failedOver>>, epochAfter: number): Promise<void> {
  const cadirs = w.cadirs as NonNullable<typeof w.cadirs>;
  let cur: FakeCadir = cadirs.cadir.clone();
  const signed: string[] = [];
  // One poller for all CSRs (this process also answers ca2's health checks: keep it light).
  let holdSeen: Promise<void> | undefined;
  const held = () => (holdSeen ??= (async () => {
    for (;;) {
      const h = await healthOf(w);
      if (h.events.some((e) => /CA writes held for the final pull/.test(e.message))) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  })());
  w.ca2.handler = (req, res) => {
    req.resume();
    if (req.method !== "PUT") return void res.writeHead(200).end("ok");
    void held().then(() => setTimeout(() => {
      cur = cur.clone();
      cur.serial = parseInt(readFileSync(join(cadirs.ca2, "serial"), "utf8"), 16);
      signed.push(cur.sign(req.url?.split("/").pop() ?? "?"));
      cur.writeTo(cadirs.ca2);
      res.writeHead(200, { "content-type": "text/plain" }).end("signed");
    }, 1500));
  };
  // CSRs on separate connections until each worker has one in flight.
  const writes: Promise<{ status: number }>[] = [];
  for (let i = 0; i < 6; i++) {
    writes.push(call(w.port, { method: "PUT", path: `/puppet-ca/v1/certificate_request/slow${i}`, body: "CSR" }));
    await until(() => w.ca2.seen.filter((s) => s.method === "PUT").length === i + 1, 5000, "the CSR reached ca2");
    const h = await healthOf(w);
    if (h.workers?.list.every((x) => x.caWritesInFlight > 0)) break;
  }
  assert.ok((await healthOf(w)).workers?.list.every((x) => x.caWritesInFlight > 0), "a CA write in flight on every worker");
  const r = await adminCall(w, "POST", "/api/ca/failback", TOKEN);
  assert.equal(r.status, 200, r.text);
  for (const x of await Promise.all(writes)) assert.equal(x.status, 200);
  assert.equal(signed.length, writes.length);
  const inventory = readFileSync(join(cadirs.ca1, "inventory.txt"), "utf8");
  for (let i = 0; i < writes.length; i++) assert.ok(existsSync(join(cadirs.ca1, "signed", `slow${i}.pem`)), `the primary got slow${i}, signed during the hold`);
  for (const serial of signed) assert.match(inventory, new RegExp(`^${serial} `, "m"));
  const top = Math.max(...signed.map((s) => parseInt(s, 16)));
  assert.equal(parseInt(readFileSync(join(cadirs.ca1, "serial"), "utf8"), 16), top + 1, "the primary's next serial is above every one the standby issued");
  assert.ok((r.json.result as { writePauseMs: number }).writePauseMs >= 1000, "the pause covered the writes in flight");
  const h = await untilHealth(w, (x) => x.workers?.list.every((y) => y.appliedEpoch === epochAfter) === true, `every worker on epoch ${epochAfter}`);
  assert.equal(h.arbiter.active, "ca1");
  assert.equal((await call(w.port, { method: "PUT", path: "/puppet-ca/v1/certificate_request/after", body: "CSR" })).status, 200);
  assert.equal(w.ca1.seen.at(-1)?.url, "/puppet-ca/v1/certificate_request/after");
}

test("failback with slow CA writes in flight on both workers: the final pull waits for both and includes their certificates", async (t) => {
  await failbackWaitsForEveryWorker(await failedOver(t, { responseTimeout: "15s" }), 3);
});

test("with proxy.cluster (real etcd): the workers follow the state the proxy applied from etcd, and its member record acknowledges the failback hold only for all of them", async (t) => {
  const etcd = await startEtcdCluster(t, { size: 1 });
  const w = await failedOver(t, { responseTimeout: "15s", etcd: etcd.endpoints });
  const h = await untilHealth(w, (x) => x.workers?.list.every((y) => y.appliedEpoch === 2) === true, "every worker on epoch 2 from etcd");
  assert.equal(h.cluster?.isController, true);
  await failbackWaitsForEveryWorker(w, 3);
});

test("a CA read on a worker whose active CA died is held for the primary's failover, never sent back to the dead CA (502)", async (t) => {
  const w = await startWorkers(t);
  await untilHealth(w, (h) => h.workers?.running === 2 && h.pools[0]?.backends.every((b) => b.state === "up") === true, "workers and CAs up");
  // One kept-alive client connection, on a worker: the primary (which accepts connections) is
  // stopped below, so the worker alone sees the dead CA until the primary runs again.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const path = "/puppet-ca/v1/certificate/ca";
  assert.equal((await call(w.port, { path, agent })).status, 200);
  await closeBackend(w.ca1); // killed: its connections reset, new ones refused
  process.kill(w.pid, "SIGSTOP");
  let resumed = false;
  const resume = () => {
    if (!resumed) process.kill(w.pid, "SIGCONT");
    resumed = true;
  };
  t.after(resume);
  const answer = call(w.port, { path, agent });
  // Without the worker marking ca1 down itself, its retries go back to ca1 (refused) and the
  // client gets 502 while the primary is stopped; with it, the read waits for the new state.
  const early = await Promise.race([answer, new Promise<undefined>((r) => setTimeout(r, 500, undefined))]);
  resume();
  const r = early ?? (await answer);
  assert.equal(r.status, 200, `${r.status} ${r.body}`);
  assert.equal(w.ca2.seen.some((s) => s.url === path), true, "answered by ca2");
});
