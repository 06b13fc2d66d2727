// proxy.workers: 2 as a real process tree: the workers share the listener and follow the primary's
// one CA decision; /health and /metrics add up every worker; reloads reach every worker; a worker
// killed with -9 is replaced while the other one's requests go on; one that cannot apply a new
// epoch in time is killed before the primary switches.
import { test } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { call, until } from "./harness.js";
import { adminCall, startWorkers, untilHealth, TOKEN } from "./workers-harness.js";

function metrics(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: "127.0.0.1", port, path: "/metrics" }, (res) => {
      let b = "";
      res.on("data", (d: Buffer) => (b += d.toString()));
      res.on("end", () => resolve(b));
    }).on("error", reject).end();
  });
}

test("both workers serve; /health and /metrics add up the requests of every worker", async (t) => {
  const w = await startWorkers(t);
  const h0 = await untilHealth(w, (h) => h.workers?.running === 2, "two workers serving");
  assert.equal(h0.workers?.configured, 2);
  assert.equal(new Set(h0.workers?.list.map((x) => x.pid)).size, 2, "two processes");
  // One connection per request: the primary hands connections to the workers in turn.
  const n = 20;
  for (let i = 0; i < n; i++) assert.equal((await call(w.port, { path: `/puppet/v3/node/n${i}` })).status, 200);
  const h = await untilHealth(w, (x) => x.pools[1]?.backends[0]?.requests === n, `${n} requests counted`);
  assert.equal(h.status, "ok", h.reasons.join("; "));
  const text = await metrics(w.adminPort);
  assert.match(text, new RegExp(`^puppet_ha_requests_total\\{pool="masters",backend="m1",status_class="2xx"\\} ${n}$`, "m"));
  assert.match(text, /^puppet_ha_proxy_workers\{state="serving"\} 2$/m);
  assert.match(text, /^puppet_ha_build_info\{[^}]*\} 1$/m, "build info once, not summed");
  for (const x of h.workers?.list ?? []) assert.match(text, new RegExp(`^puppet_ha_proxy_worker_applied_epoch\\{worker="${x.id}"\\} 1$`, "m"));
});

test("one epoch: after an admin failover no CA write started afterwards reaches the old active, from any worker", async (t) => {
  const w = await startWorkers(t);
  await untilHealth(w, (h) => h.workers?.running === 2 && h.pools[0]?.backends.every((b) => b.state === "up") === true, "workers and CAs up");
  let seq = 0;
  let failedOverAt = Infinity;
  const startedAfter = new Set<string>();
  let stop = false;
  const failures: string[] = [];
  const loops = [0, 1, 2, 3].map(async () => {
    while (!stop) {
      const name = `n${seq++}`;
      if (seq > failedOverAt) startedAfter.add(name);
      const r = await call(w.port, { method: "PUT", path: `/puppet-ca/v1/certificate_request/${name}`, body: "CSR" });
      if (r.status !== 200) failures.push(`${name}: ${r.status} ${r.body}`);
    }
  });
  await until(() => w.ca1.seen.length >= 20, 10_000, "writes flowing to ca1");
  const r = await adminCall(w, "POST", "/api/ca/failover", TOKEN);
  assert.equal(r.status, 200, r.text);
  failedOverAt = seq;
  await until(() => w.ca2.seen.length >= 40, 10_000, "writes flowing to ca2");
  stop = true;
  await Promise.all(loops);
  assert.deepEqual(failures, [], "every write answered 200 (held during the switch, never refused)");
  assert.ok(startedAfter.size >= 30, `${startedAfter.size} writes started after the failover`);
  const late = w.ca1.seen.filter((s) => startedAfter.has(s.url.split("/").pop() ?? ""));
  assert.deepEqual(late.map((s) => s.url), [], "writes started after the failover answer that reached ca1");
  const h = await untilHealth(w, (x) => x.workers?.list.every((y) => y.appliedEpoch === 2) === true, "every worker on epoch 2");
  assert.equal(h.arbiter.epoch, 2);
  assert.equal(h.arbiter.active, "ca2");
});

test("a worker killed with -9 is replaced; the other worker's request in flight completes", async (t) => {
  const w = await startWorkers(t);
  await untilHealth(w, (h) => h.workers?.running === 2, "two workers serving");
  let release = () => undefined as void;
  const gate = new Promise<void>((r) => (release = r));
  w.m1.handler = (req, res) => void gate.then(() => res.writeHead(200).end(`done ${req.url}`));
  // Slow requests on separate connections until both workers hold one.
  const calls: Promise<{ status: number; body: string } | Error>[] = [];
  const perWorker = async () => (await untilHealth(w, () => true, "health")).workers?.list ?? [];
  for (let i = 0; i < 8; i++) {
    calls.push(call(w.port, { path: `/puppet/v3/catalog/slow${i}` }).catch((e: Error) => e));
    await until(() => w.m1.seen.length === i + 1, 5000, "request at m1");
    if ((await perWorker()).every((x) => x.connections > 0)) break;
  }
  const list = await perWorker();
  assert.ok(list.every((x) => x.connections > 0), "both workers hold a request");
  const [victim, survivor] = list as [typeof list[0], typeof list[0]];
  process.kill(victim.pid, "SIGKILL");
  const h = await untilHealth(w, (x) => x.workers?.restarts === 1 && x.workers.running === 2, "the killed worker replaced");
  assert.ok(h.workers?.list.some((x) => x.pid === survivor.pid), "the other worker kept running");
  assert.ok(!h.workers?.list.some((x) => x.pid === victim.pid));
  release();
  const answers = await Promise.all(calls);
  const ok = answers.filter((a) => !(a instanceof Error) && a.status === 200).length;
  assert.equal(ok, answers.length - victim.connections, `the survivor's ${survivor.connections} request(s) completed: ${JSON.stringify(answers)}`);
  assert.equal((await call(w.port, { path: "/puppet/v3/node/after" })).status, 200);
});

test("a worker that cannot apply a new epoch (SIGSTOP) is killed before the primary switches, and replaced", async (t) => {
  const w = await startWorkers(t);
  const h0 = await untilHealth(w, (h) => h.workers?.running === 2 && h.pools[0]?.backends.every((b) => b.state === "up") === true, "workers and CAs up");
  const [stopped, other] = h0.workers?.list ?? [];
  assert.ok(stopped && other);
  process.kill(stopped.pid, "SIGSTOP");
  t.after(() => {
    try {
      process.kill(stopped.pid, "SIGKILL");
    } catch {
      // already gone: killed by the primary
    }
  });
  const r = await adminCall(w, "POST", "/api/ca/failover", TOKEN);
  assert.equal(r.status, 200, r.text);
  assert.ok(w.logs.some((l) => l.msg === "worker did not apply the new CA state in time: killed" && l.pid === stopped.pid), "the stopped worker was killed");
  const h = await untilHealth(w, (x) => x.workers?.running === 2 && x.workers.restarts === 1, "the stopped worker replaced");
  assert.ok(!h.workers?.list.some((x) => x.pid === stopped.pid));
  assert.ok(h.workers?.list.every((x) => x.appliedEpoch === 2), JSON.stringify(h.workers?.list));
  for (let i = 0; i < 4; i++) {
    const x = await call(w.port, { method: "PUT", path: `/puppet-ca/v1/certificate_request/after${i}`, body: "CSR" });
    assert.equal(x.body, `ca2 PUT /puppet-ca/v1/certificate_request/after${i}`);
  }
});
