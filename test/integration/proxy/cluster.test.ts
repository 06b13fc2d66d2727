// Several real proxies (ProxyRuntime, in process) with `proxy.cluster` on a real 3-member etcd,
// fake CA workers and a compile master: one controller and its handover, a failover decided once
// and applied everywhere before any further CA write, etcd quorum loss, a cluster-wide failback hold.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configSchema } from "../../../src/config/schema.js";
import { silentLogger } from "../../../src/log.js";
import { ProxyRuntime } from "../../../src/proxy/runtime.js";
import { EtcdClient } from "../../../src/proxy/control/etcd.js";
import { startEtcdCluster, type EtcdCluster } from "../../helpers/etcd.js";
import { call, fakeBackend, pki, until, type FakeBackend } from "./harness.js";

const TOKEN = "cluster-admin-token";
// ttl 3 s: loopWait 0.5 s + 2 x 1 s retryTimeout = 2.5 s <= 3 s; view period 2.7 s.
const TIMING = { ttl: "3s", loopWait: "500ms", retryTimeout: "1s" };

interface Cluster {
  etcd: EtcdCluster;
  ca1: FakeBackend;
  ca2: FakeBackend;
  master: FakeBackend;
  proxies: ProxyRuntime[];
  /** When each CA write reached each fake CA. */
  writesAt: Record<string, number[]>;
  root: string;
}

async function startCluster(t: TestContext, n: number, ca: Record<string, unknown> = {}): Promise<Cluster> {
  const etcd = await startEtcdCluster(t, { size: 3 });
  const root = mkdtempSync(join(tmpdir(), "puppet-ha-cluster-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const tokenFile = join(root, "admin.token");
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const ca1 = await fakeBackend(t, "ca1");
  const ca2 = await fakeBackend(t, "ca2");
  const master = await fakeBackend(t, "m1");
  const writesAt: Record<string, number[]> = { ca1: [], ca2: [] };
  for (const b of [ca1, ca2]) {
    const answer = b.handler;
    b.handler = (req, res, body) => {
      if (req.method !== "GET") writesAt[b.name]?.push(Date.now());
      answer(req, res, body);
    };
  }
  const proxies: ProxyRuntime[] = [];
  for (let i = 1; i <= n; i++) {
    const config = configSchema.parse({
      proxy: {
        listen: "127.0.0.1:0", tls: pki().files,
        ca: { workers: [ca1, ca2].map((c) => ({ name: c.name, url: c.url })), crlRefresh: "1h", holdWrites: "6s", serialGap: 0x100, ...ca },
        masters: { workers: [{ name: master.name, url: master.url }] },
        health: { interval: "50ms", timeout: "2s", rise: 1, fall: 1 },
        timeouts: { connect: "300ms", response: "2s", shutdown: "1s" },
        stateDir: join(root, `state-${i}`), accessLog: false,
        cluster: { name: `proxy-${i}`, clusterName: "test", etcd: { endpoints: etcd.endpoints }, ...TIMING },
      },
      admin: { listen: "127.0.0.1:0", tokenFile },
      log: { level: "silent" },
    });
    const rt = await ProxyRuntime.start({ config, log: silentLogger() });
    t.after(() => rt.stop(0));
    proxies.push(rt);
  }
  await until(() => proxies.every((p) => p.proxy.cluster?.member.follower.route(true).kind === "worker"), 15_000, "every proxy routing CA writes");
  return { etcd, ca1, ca2, master, proxies, writesAt, root };
}

const controllers = (c: Cluster) => c.proxies.filter((p) => p.proxy.cluster?.decides());
const csr = (port: number, certname: string) => call(port, { method: "PUT", path: `/puppet-ca/v1/certificate_request/${certname}`, body: "csr" });

/** The primary's sync peer on the controller: every pull is in sync; `onFinal` runs at the final pull (under the hold). */
function primaryPeer(ctl: ProxyRuntime, onFinal: () => void): void {
  (ctl as unknown as { peers: Map<string, unknown> }).peers.set("ca1", {
    where: "test",
    pull: (epoch: number, final: boolean) => {
      if (final) onFinal();
      return Promise.resolve({ epoch, result: "in-sync", files: 1 });
    },
    status: () => Promise.resolve(undefined),
    advanceSerial: () => Promise.reject(new Error("not used")),
  });
}

/** Agents' traffic through the given proxies until stopped: every answer's status, per kind. */
function traffic(proxies: () => ProxyRuntime[], writes: boolean) {
  const statuses: { kind: string; status: number; port: number }[] = [];
  let on = true;
  let n = 0;
  const loop = (async () => {
    while (on) {
      await Promise.all(proxies().map(async (p) => {
        const port = p.proxy.address.port;
        const one = async (kind: string, f: () => Promise<{ status: number }>) => {
          const r = await f().catch(() => ({ status: 0 }));
          statuses.push({ kind, status: r.status, port });
        };
        await one("catalog", () => call(port, { path: "/puppet/v3/catalog/a" }));
        await one("ca-read", () => call(port, { path: "/puppet-ca/v1/certificate/ca" }));
        if (writes) await one("ca-write", () => csr(port, `node-${port}-${n++}`));
      }));
    }
  })();
  return { statuses, stop: async () => { on = false; await loop; } };
}

test("one controller; when it dies without a word another takes over within ttl and agents never see a failure", async (t) => {
  const c = await startCluster(t, 3);
  await until(() => controllers(c).length === 1, 10_000, "one controller");
  const dead = controllers(c)[0] as ProxyRuntime;
  const alive = c.proxies.filter((p) => p !== dead);
  const load = traffic(() => alive, true);
  await new Promise((r) => setTimeout(r, 300));
  const diedAt = Date.now();
  await dead.proxy.cluster?.stop({ release: false }); // its lease is left to expire, as after kill -9
  await dead.stop(0);
  await until(() => alive.filter((p) => p.proxy.cluster?.decides()).length === 1, 3000 + 2000, "a new controller");
  const tookMs = Date.now() - diedAt;
  await new Promise((r) => setTimeout(r, 300));
  await load.stop();
  assert.ok(tookMs <= 3000 + 500 * 2, `new controller after ${tookMs} ms (ttl 3 s + loopWait)`);
  assert.equal(c.proxies.filter((p) => p.proxy.cluster?.decides()).length, 1);
  const failed = load.statuses.filter((s) => s.status !== 200);
  assert.deepEqual(failed, [], "no agent request through a surviving proxy failed");
  assert.ok(load.statuses.some((s) => s.kind === "ca-write"));
});

test("the active CA dies with writes flowing through every proxy: one promotion, every proxy on the new epoch, no write to the old CA after", async (t) => {
  const c = await startCluster(t, 3);
  await until(() => controllers(c).length === 1, 10_000, "one controller");
  const appliedAt: number[] = [];
  // Per proxy: when it applied epoch 2, and when it routed a CA write to ca1 (the decision, in its own process).
  const applied = new Map<number, number>();
  const routedToCa1 = new Map<number, number[]>();
  for (const p of c.proxies) {
    const port = p.proxy.address.port;
    const f = p.proxy.cluster?.member.follower;
    assert.ok(f);
    f.onTransition((tr) => {
      if (tr.epoch !== 2) return;
      appliedAt.push(Date.now());
      applied.set(port, Date.now());
    });
    const route = f.route.bind(f);
    f.route = (write) => {
      const r = route(write);
      if (write && r.kind === "worker" && r.worker === "ca1") routedToCa1.set(port, [...(routedToCa1.get(port) ?? []), Date.now()]);
      return r;
    };
  }
  const load = traffic(() => c.proxies, true);
  await new Promise((r) => setTimeout(r, 300));
  c.ca1.healthy = false;
  await until(() => c.proxies.every((p) => p.proxy.arbiter.epoch === 2 && p.proxy.arbiter.active === "ca2"), 10_000, "every proxy on epoch 2 with ca2");
  await new Promise((r) => setTimeout(r, 500));
  await load.stop();
  const state = await controllers(c)[0]?.proxy.cluster?.member.store.read();
  assert.equal(state?.state.epoch, 2, "exactly one promotion");
  assert.deepEqual(state?.state.change?.cause, "failover");
  assert.equal(appliedAt.length, 3);
  for (const [port, at] of applied) {
    assert.deepEqual((routedToCa1.get(port) ?? []).filter((t) => t >= at), [], `proxy on ${port} routed no CA write to ca1 once it had applied epoch 2`);
    // Each proxy sends one CSR at a time: at most the one it had already sent reaches ca1 later.
    const late = c.ca1.seen.filter((x) => x.method === "PUT" && x.url.includes(`node-${port}-`)).length - (routedToCa1.get(port) ?? []).filter((t) => t < at).length;
    assert.ok(late <= 0, `every CSR ca1 got from the proxy on ${port} was routed before it applied epoch 2 (${late} more)`);
  }
  assert.ok((c.writesAt.ca2?.length ?? 0) > 0, "writes went on to ca2");
  const h = JSON.parse(await adminGet(c.proxies[0] as ProxyRuntime, "/health")) as { cluster: { controller: string; members: { name: string; appliedEpoch: number }[] } };
  assert.deepEqual(h.cluster.members.map((m) => m.name).sort(), ["proxy-1", "proxy-2", "proxy-3"]);
  assert.ok(h.cluster.controller.startsWith("proxy-"));
  const metrics = await adminGet(c.proxies[0] as ProxyRuntime, "/metrics");
  assert.match(metrics, /^puppet_ha_cluster_member_ca_writes_in_flight\{member="proxy-3"\} \d+$/m);
  // Renewals are counted while a proxy holds the controller lease (one each loopWait).
  const controller = controllers(c)[0] as ProxyRuntime;
  let renewals = "";
  for (const end = Date.now() + 5000; !/^puppet_ha_cluster_lease_renewals_total [1-9]\d*$/m.test(renewals) && Date.now() < end;) {
    renewals = await adminGet(controller, "/metrics");
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(renewals, /^puppet_ha_cluster_lease_renewals_total [1-9]\d*$/m, "the controller's lease renewals are counted");
  const page = await adminGet(c.proxies[0] as ProxyRuntime, "/");
  assert.match(page, /<table id="cluster">/);
  for (const m of ["proxy-1", "proxy-2", "proxy-3"]) assert.match(page, new RegExp(`data-member="${m}"`));
});

test("etcd quorum lost: catalogs and CA reads go on, CA writes get 503 + Retry-After after the view deadline, and work again after", async (t) => {
  const c = await startCluster(t, 2);
  const [e1, e2] = c.etcd.members;
  await e1?.stop();
  await e2?.stop();
  const p = c.proxies[0] as ProxyRuntime;
  const port = p.proxy.address.port;
  await until(() => p.proxy.cluster?.member.follower.route(true).kind === "refuse", 8000, "writes refused");
  for (const q of c.proxies) {
    assert.equal((await call(q.proxy.address.port, { path: "/puppet/v3/catalog/a" })).status, 200);
    assert.equal((await call(q.proxy.address.port, { path: "/puppet-ca/v1/certificate/ca" })).status, 200);
  }
  const refused = await csr(port, "during-outage");
  assert.equal(refused.status, 503);
  assert.equal(refused.headers["retry-after"], "3", "Retry-After from the configured ttl");
  assert.match(refused.body, /etcd unreachable since/);
  const h = JSON.parse(await adminGet(p, "/health")) as { status: string; reasons: string[]; cluster: { etcdUnreachableSince: string | null; viewDeadlineMisses: number } };
  assert.equal(h.status, "degraded");
  assert.match(h.reasons[0] ?? "", /^CA writes refused, etcd unreachable since \d{4}-/);
  assert.ok(h.cluster.etcdUnreachableSince !== null && h.cluster.viewDeadlineMisses >= 1);
  await e1?.restart();
  await e2?.restart();
  await until(() => c.proxies.every((q) => q.proxy.cluster?.member.follower.route(true).kind === "worker"), 15_000, "writes routed again");
  assert.equal((await csr(port, "after-outage")).status, 200);
});

test("failback with writes through two proxies: the final pull happens with no CA write in flight anywhere", async (t) => {
  const c = await startCluster(t, 2);
  await until(() => controllers(c).length === 1, 10_000, "one controller");
  const ctl = controllers(c)[0] as ProxyRuntime;
  await ctl.proxy.failover("test");
  await until(() => c.proxies.every((p) => p.proxy.arbiter.active === "ca2"), 5000, "ca2 everywhere");
  let inFlightAtPull: number[] | undefined;
  // A sync peer for the primary: the final pull records the writes in flight on every proxy.
  primaryPeer(ctl, () => {
    inFlightAtPull = c.proxies.map((p) => p.proxy.cluster?.member.follower.writesInFlight ?? -1);
  });
  c.ca2.handler = (req, res) => setTimeout(() => res.writeHead(200).end("ok"), req.method === "GET" ? 0 : 150);
  const load = traffic(() => c.proxies, true);
  await new Promise((r) => setTimeout(r, 300));
  const other = c.proxies.find((p) => p !== ctl) as ProxyRuntime;
  const answer = await adminPost(other, "/api/ca/failback"); // on the follower: forwarded to the controller
  await load.stop();
  assert.equal(answer.status, 200, answer.text);
  assert.deepEqual(inFlightAtPull, [0, 0], "no CA write in flight on any proxy at the final pull");
  await until(() => c.proxies.every((p) => p.proxy.arbiter.active === "ca1" && p.proxy.arbiter.epoch === 3), 5000, "ca1 at epoch 3 everywhere");
  assert.deepEqual(load.statuses.filter((s) => s.status !== 200), []);
});

test("failback: a proxy whose CA write does not end in time keeps the hold unacknowledged and the failback aborts, nothing changed", async (t) => {
  const c = await startCluster(t, 2, { holdWrites: "1500ms" });
  await until(() => controllers(c).length === 1, 10_000, "one controller");
  const ctl = controllers(c)[0] as ProxyRuntime;
  await ctl.proxy.failover("test");
  await until(() => c.proxies.every((p) => p.proxy.arbiter.active === "ca2"), 5000, "ca2 everywhere");
  let pulled = false;
  primaryPeer(ctl, () => {
    pulled = true;
  });
  // Past the controller's first ttl (gone-members.ts), so that the failback holds at once, while the write below hangs.
  await until(() => (ctl.proxy.cluster?.member.gone.safeFrom() ?? Infinity) <= Date.now(), 10_000, "the registry watched for ttl");
  c.ca2.handler = () => undefined; // a CA write that hangs until timeouts.response (2 s) on the other proxy
  const other = c.proxies.find((p) => p !== ctl) as ProxyRuntime;
  const write = csr(other.proxy.address.port, "slow-node");
  await until(() => other.proxy.cluster?.member.follower.writesInFlight === 1, 3000, "a write in flight on the other proxy");
  const answer = await adminPost(ctl, "/api/ca/failback");
  assert.equal(answer.status, 503, answer.text);
  assert.match(answer.text, /not acknowledged within \d+ ms by proxy-\d/);
  assert.equal(pulled, false, "no final pull");
  const s = await ctl.proxy.cluster?.member.store.read();
  assert.deepEqual([s?.state.epoch, s?.state.active, s?.state.hold], [2, "ca2", undefined], "state unchanged, hold released");
  await write;
});

test("a member whose lease etcd revoked early (etcd-io/etcd#15247) may still forward CA writes: failback holds nothing until ttl after its record vanished", async (t) => {
  const c = await startCluster(t, 2);
  await until(() => controllers(c).length === 1, 10_000, "one controller");
  const ctl = controllers(c)[0] as ProxyRuntime;
  await ctl.proxy.failover("test");
  await until(() => c.proxies.every((p) => p.proxy.arbiter.active === "ca2"), 5000, "ca2 everywhere");
  let heldAt: number | undefined;
  primaryPeer(ctl, () => {
    heldAt ??= Date.now();
  });
  const other = c.proxies.find((p) => p !== ctl) as ProxyRuntime;
  const member = other.proxy.cluster?.member;
  assert.ok(member);
  await member.election.stop({ release: false }); // it keeps its last view; nothing republishes its record
  const etcd = new EtcdClient({ endpoints: c.etcd.endpoints, timeoutMs: 2000 });
  t.after(() => etcd.close());
  await etcd.revokeLease(member.election.leaseId as string); // what a resuming deposed etcd leader does
  await until(() => ctl.proxy.cluster?.member.view.snapshot?.members.length === 1, 5000, "the controller sees the record gone");
  const seenGoneAt = Date.now();
  const answer = await adminPost(ctl, "/api/ca/failback");
  assert.equal(answer.status, 200, answer.text);
  // The first read without the record came at most a view read before seenGoneAt.
  assert.ok(heldAt !== undefined && heldAt >= seenGoneAt + 3000 - 600, `the final pull (under the hold) ${heldAt === undefined ? "never" : `${heldAt - seenGoneAt} ms`} after the record was seen gone; ttl is 3 s`);
  await until(() => c.proxies.every((p) => p.proxy.arbiter.epoch === 3) || ctl.proxy.arbiter.epoch === 3, 5000, "epoch 3");
});

test("drain and enable on any proxy take effect on every proxy", async (t) => {
  const c = await startCluster(t, 2);
  const [a, b] = c.proxies as [ProxyRuntime, ProxyRuntime];
  assert.equal((await adminPost(a, "/api/backends/m1/drain")).status, 200);
  await until(() => b.proxy.masters.get("m1")?.drained === true, 3000, "m1 drained on the other proxy");
  assert.equal((await adminPost(b, "/api/backends/m1/enable")).status, 200);
  await until(() => a.proxy.masters.get("m1")?.drained === false, 3000, "m1 enabled on the first proxy");
});

// Found by the cluster chaos test (seed 11): a follower sent a CSR to the promoted CA before the
// controller had advanced its serial, so the new active issued a serial the old one had issued too.
test("failover: no proxy sends a CA write to the promoted CA before the controller advanced its serial", async (t) => {
  const c = await startCluster(t, 2);
  await until(() => controllers(c).length === 1, 10_000, "one controller");
  const ctl = controllers(c)[0] as ProxyRuntime;
  const follower = c.proxies.find((p) => p !== ctl) as ProxyRuntime;
  let writesBeforeAdvance: number | undefined;
  let write: Promise<{ status: number }> | undefined;
  (ctl as unknown as { peers: Map<string, unknown> }).peers.set("ca2", {
    where: "test",
    pull: () => Promise.reject(new Error("not used")),
    status: () => Promise.resolve(undefined),
    // The serial advance of the promotion: a CSR reaches the follower once it applied epoch 2.
    advanceSerial: async () => {
      await until(() => follower.proxy.arbiter.epoch === 2, 1500, "the follower on epoch 2");
      write = csr(follower.proxy.address.port, "during-promotion");
      // Long enough for the follower to forward it (a few ms on loopback) were it not held.
      await new Promise((r) => setTimeout(r, 300));
      writesBeforeAdvance = c.writesAt.ca2?.length;
      return { before: "0002", after: "0102", epoch: 2 };
    },
  });
  c.ca1.healthy = false;
  await until(() => writesBeforeAdvance !== undefined, 10_000, "the serial advance");
  assert.equal(writesBeforeAdvance, 0, "no CA write reached ca2 before its serial was advanced");
  assert.equal((await write)?.status, 200, "the held write went to ca2 after the advance");
  assert.equal(c.writesAt.ca2?.length, 1);
  const s = await ctl.proxy.cluster?.member.store.read();
  assert.deepEqual([s?.state.epoch, s?.state.active, s?.state.hold], [2, "ca2", undefined], "the promotion's write hold was released");
});

// Regression: a controller dying between its failover commit (which carries a write hold) and its
// serial advance left a successor that released the hold without the advance.
test("a controller that dies mid-promotion: its successor runs the serial advance before it releases the write hold", async (t) => {
  const c = await startCluster(t, 2);
  await until(() => controllers(c).length === 1, 10_000, "one controller");
  const ctl = controllers(c)[0] as ProxyRuntime;
  const successor = c.proxies.find((p) => p !== ctl) as ProxyRuntime;
  let started = false;
  const peer = (advanceSerial: () => Promise<{ before: string; after: string; epoch: number }>) =>
    ({ where: "test", pull: () => Promise.reject(new Error("not used")), status: () => Promise.resolve(undefined), advanceSerial });
  // The controller's advance never ends: it "dies" in the middle of it.
  (ctl as unknown as { peers: Map<string, unknown> }).peers.set("ca2", peer(() => {
    started = true;
    return new Promise(() => undefined);
  }));
  let holdDuringAdvance: string | undefined;
  let advances = 0;
  (successor as unknown as { peers: Map<string, unknown> }).peers.set("ca2", peer(async () => {
    holdDuringAdvance = (await successor.proxy.cluster?.member.store.read())?.state.hold?.id;
    advances++;
    return { before: "0002", after: "0102", epoch: 2 };
  }));
  c.ca1.healthy = false;
  await until(() => started, 10_000, "the controller's serial advance");
  await ctl.proxy.cluster?.stop({ release: false }); // as after kill -9: its lease expires
  void ctl.stop(0);
  await until(() => successor.proxy.cluster?.decides() === true, 10_000, "the successor elected");
  await until(() => advances > 0, 10_000, "the successor's serial advance");
  assert.match(holdDuringAdvance ?? "", /^promotion-/, "CA writes were still held cluster-wide while the successor advanced the serial");
  let s = await successor.proxy.cluster?.member.store.read();
  for (const end = Date.now() + 10_000; s?.state.hold !== undefined && Date.now() < end; s = await successor.proxy.cluster?.member.store.read()) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(s?.state.hold, undefined, "the hold was released after the advance");
  assert.deepEqual([s?.state.epoch, s?.state.active, advances], [2, "ca2", 1]);
});

function adminGet(p: ProxyRuntime, path: string): Promise<string> {
  return adminCall(p, "GET", path).then((a) => a.text);
}

function adminPost(p: ProxyRuntime, path: string): Promise<{ status: number; text: string }> {
  return adminCall(p, "POST", path);
}

function adminCall(p: ProxyRuntime, method: string, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    httpRequest(`${p.adminUrl}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` }, agent: false }, (res) => {
      let b = "";
      res.on("data", (d: Buffer) => (b += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: b }));
    }).on("error", reject).end();
  });
}
