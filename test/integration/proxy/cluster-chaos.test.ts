// Issue 17, done-means 5: a randomized fault test in the spirit of Jepsen, bounded in time. Three
// `puppet-ha proxy` children on a real 3-member etcd; two fake CA workers keeping real cadirs
// (serial, inventory, signed/); a `puppet-ha sync` agent (in this process, real rsync) behind both
// workers' sync URLs. Clients send CSR + sign through every proxy while a seeded schedule kills -9,
// stops and resumes proxies, etcd members and CA workers. Then: heal, fail back (admin API), and the
// checker (test/helpers/ca-history-checker.ts) asserts over the history and the final cadirs.
// Replay a run with PUPPET_HA_CHAOS_SEED=<seed>; PUPPET_HA_CHAOS_MS sets the length of the fault phase.
// The faults (test/helpers/chaos-faults.ts) model a CA *process* dying or hanging, its cadir kept.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createSyncApi } from "../../../src/sync/api.js";
import { httpArbiter, type ArbiterSource, type ArbiterState } from "../../../src/sync/arbiter.js";
import { syncSection } from "../../../src/sync/config.js";
import { ArbiterError } from "../../../src/sync/errors.js";
import { createSyncService } from "../../../src/sync/service.js";
import { figures, parseInventory, violations, type CaWrite, type ClientOp, type FinalCadir } from "../../helpers/ca-history-checker.js";
import { FakeCadir } from "../../helpers/cadir.js";
import { freePorts, startEtcdCluster } from "../../helpers/etcd.js";
import { FakeCaWorker } from "../../helpers/fake-ca-worker.js";
import { createTestCa } from "../../helpers/pki.js";
import { FaultSchedule } from "../../helpers/chaos-faults.js";
import { prng } from "../../helpers/prng.js";
import { ProxyChild } from "../../helpers/proxy-child.js";
import { fakeBackend, pki, until } from "./harness.js";

const TOKEN = "chaos-admin-token";
const SEED = Number(process.env.PUPPET_HA_CHAOS_SEED ?? Date.now() % 1_000_000);
const RUN_MS = Number(process.env.PUPPET_HA_CHAOS_MS ?? 40_000);
const CLIENTS = 4;
const PROXIES = 3;

/** One CA request through a proxy, bounded: status 0 when no answer came (timeout, reset, refused). */
function send(port: number, method: string, path: string, body: string, ms: number): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve) => {
    const req = httpsRequest({ host: "127.0.0.1", port, method, path, ca: pki().ca.certPem, servername: "localhost", agent: false, timeout: ms, headers: { "content-type": "text/plain" } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      res.on("error", () => resolve({ status: 0, headers: {} }));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve({ status: 0, headers: {} }));
    req.end(body);
  });
}

function finalCadir(name: string, dir: string): FinalCadir {
  const signed = new Set(readdirSync(join(dir, "signed")).filter((f) => f.endsWith(".pem")).map((f) => f.slice(0, -4)));
  return { name, inventory: parseInventory(readFileSync(join(dir, "inventory.txt"), "utf8")), signed };
}

test("randomized faults on proxies, etcd and CA workers: no serial twice, no signed cert lost after failback, one CA per epoch", { timeout: 240_000 }, async (t) => {
  const rand = prng(SEED);
  t.diagnostic(`seed ${SEED} (replay: PUPPET_HA_CHAOS_SEED=${SEED}), fault phase ${RUN_MS} ms`);
  const etcd = await startEtcdCluster(t, { size: 3 });
  const root = mkdtempSync(join(tmpdir(), "puppet-ha-chaos-"));
  let passed = false;
  // Hooks run in the order registered: this one stops what writes into root (clients, proxies, the
  // sync agent, registered below) before it removes root, or keeps root when the test failed.
  const stoppers: (() => Promise<void> | void)[] = [];
  t.after(async () => {
    for (const stop of stoppers) await stop();
    if (passed) rmSync(root, { recursive: true, force: true });
    else process.stderr.write(`cluster chaos: proxy logs and cadirs kept in ${root}\n`);
  });
  const tokenFile = join(root, "admin.token");
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });

  // Two cadirs from one CA, and a CA worker serving each.
  const ca = createTestCa("chaos");
  const start = new FakeCadir(ca);
  const dirs = { ca1: start.writeTo(join(root, "ca1")), ca2: start.writeTo(join(root, "ca2")) };
  const writes: CaWrite[] = [];
  const cas = {
    ca1: await FakeCaWorker.start(t, "ca1", dirs.ca1, ca, writes),
    ca2: await FakeCaWorker.start(t, "ca2", dirs.ca2, ca, writes),
  };
  const master = await fakeBackend(t, "m1");

  // The sync agent of both CA hosts, asking the proxies (as a VIP would: any that answers, newest epoch).
  const proxies: ProxyChild[] = [];
  const arbiter: ArbiterSource = {
    async current() {
      const seen = await Promise.all(proxies.filter((p) => p.serving).map((p) => httpArbiter({ url: p.adminUrl, tokenFile, timeoutMs: 500 }).current().catch(() => undefined)));
      const best = seen.filter((s): s is ArbiterState => s !== undefined && s.epoch > 0).sort((a, b) => b.epoch - a.epoch)[0];
      if (!best) throw new ArbiterError("no proxy answered GET /api/ca");
      return best;
    },
  };
  const sync = createSyncService({
    config: syncSection.parse({
      cadirs: dirs, watch: true, schedule: "*/2 * * * * *", backupDir: join(root, "backups"), workDir: join(root, "work"), rsync: { timeout: "20s" },
    }),
    arbiter,
  });
  const api = createServer(createSyncApi(sync, { tokenFile }));
  await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
  stoppers.push(async () => {
    await Promise.all(proxies.map((p) => p.kill()));
    await sync.stop();
    api.closeAllConnections();
    await new Promise((r) => api.close(r));
  });
  const agentUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;

  for (let i = 1; i <= PROXIES; i++) {
    const [port, adminPort] = (await freePorts(2)) as [number, number];
    proxies.push(ProxyChild.start(t, {
      name: `proxy-${i}`, dir: root, port, adminPort, token: TOKEN,
      config: {
        proxy: {
          listen: `127.0.0.1:${port}`, tls: pki().files,
          ca: { workers: (["ca1", "ca2"] as const).map((n) => ({ name: n, url: cas[n].url, sync: agentUrl })), crlRefresh: "1h", holdWrites: "3s", serialGap: 0x100 },
          masters: { workers: [{ name: master.name, url: master.url }] },
          // A hung CA is declared down by active checks after >= 3 x 1.5 s, its CA writes time out after
          // 1 s. Slower than the sync lag, even when this loaded machine stalls a process for a second:
          // a CA declared down while it still had certificates to sync is the loss window (see above).
          health: { interval: "500ms", timeout: "1500ms", rise: 1, fall: 3 },
          timeouts: { connect: "300ms", response: "1s", shutdown: "1s" },
          stateDir: join(root, `state-${i}`), accessLog: false,
          cluster: { name: `proxy-${i}`, clusterName: "chaos", etcd: { endpoints: etcd.endpoints }, ttl: "3s", loopWait: "500ms", retryTimeout: "1s" },
        },
        admin: { listen: `127.0.0.1:${adminPort}`, tokenFile },
        log: { level: "warn" },
      },
    }));
  }
  await Promise.all(proxies.map((p) => p.ready()));
  const states = () => Promise.all(proxies.map(async (p) => (await p.admin("GET", "/api/ca"))?.json as { epoch?: number; active?: string } | undefined));
  let last: unknown;
  const converged = async (what: (s: { epoch?: number; active?: string }[]) => boolean, ms: number, label: string) => {
    const end = Date.now() + ms;
    for (;;) {
      const s = await states();
      last = s;
      if (s.every((x) => x !== undefined) && what(s)) return s as { epoch: number; active: string }[];
      if (Date.now() > end) throw new Error(`${label}: not reached within ${ms} ms (last: ${JSON.stringify(last)})`);
      await sleep(200); // polling other processes: no clock to inject
    }
  };
  await converged((s) => s.every((x) => (x.epoch ?? 0) >= 1), 20_000, "every proxy applied the first CA state");
  await sync.start();
  await until(() => sync.status().destinations.ca2?.lastSuccess !== null, 20_000, "the sync agent's first pass into ca2");

  // Clients: CSR through one proxy, sign through the next, round robin over every proxy.
  const ops: ClientOp[] = [];
  let running = true;
  stoppers.unshift(() => {
    running = false;
  });
  const op = async (client: string, p: ProxyChild, kind: ClientOp["kind"], certname: string): Promise<ClientOp> => {
    const startAt = Date.now();
    const r = kind === "csr"
      ? await send(p.port, "PUT", `/puppet-ca/v1/certificate_request/${certname}`, `CSR ${certname}`, 5000)
      : await send(p.port, "PUT", `/puppet-ca/v1/certificate_status/${certname}`, '{"desired_state":"signed"}', 5000);
    const ok = r.status >= 200 && r.status < 300;
    const o: ClientOp = {
      client, proxy: p.name, kind, certname, start: startAt, end: Date.now(), status: r.status,
      result: ok ? "ok" : r.status === 0 || r.status === 502 || r.status === 504 ? "unknown" : "fail",
      ...(typeof r.headers["x-chaos-serial"] === "string" ? { serial: r.headers["x-chaos-serial"] } : {}),
      ...(typeof r.headers["x-chaos-ca"] === "string" ? { ca: r.headers["x-chaos-ca"] } : {}),
      ...(typeof r.headers["x-chaos-epoch"] === "string" && r.headers["x-chaos-epoch"] !== "" ? { epoch: Number(r.headers["x-chaos-epoch"]) } : {}),
    };
    ops.push(o);
    return o;
  };
  const clients = Array.from({ length: CLIENTS }, async (_, k) => {
    for (let n = 0; running; n++) {
      const certname = `c${k}-${n}.chaos`;
      const csr = await op(`client-${k}`, proxies[(k + n) % PROXIES] as ProxyChild, "csr", certname);
      if (csr.result === "ok") await op(`client-${k}`, proxies[(k + n + 1) % PROXIES] as ProxyChild, "sign", certname);
      await sleep(csr.result === "ok" ? 20 : 100); // pacing the workload, not waiting for a condition
    }
  });

  // The fault schedule.
  const schedule = new FaultSchedule(rand, { proxies, etcd, cas: Object.values(cas) });
  await schedule.run(RUN_MS);

  // Heal everything, let the clients see the healed cluster for a moment, then stop them.
  await schedule.heal();
  const healed = await converged((s) => s.every((x) => x.epoch === s[0]?.epoch && x.active === s[0]?.active), 30_000, "every proxy on one CA state after healing");
  await sleep(1000); // a last second of traffic on the healed cluster
  running = false;
  await Promise.all(clients);

  // Fail back to the primary through the admin API (any proxy: it is forwarded to the controller).
  let failback = "already on the primary";
  if (healed[0]?.active !== "ca1") {
    const deadline = Date.now() + 40_000;
    for (;;) {
      const a = await (proxies[0] as ProxyChild).admin("POST", "/api/ca/failback", 20_000);
      failback = `${a?.status ?? "no answer"} ${JSON.stringify(a?.json ?? {}).slice(0, 300)}`;
      if (a?.status === 200 || Date.now() > deadline) break;
      await sleep(500); // the controller may still be checking the primary or pulling its cadir
    }
  }
  const final = await converged((s) => s.every((x) => x.epoch === s[0]?.epoch && x.active === s[0]?.active), 15_000, "every proxy on one CA state after the failback");

  const history = {
    ops, writes, faults: schedule.faults, finalActive: final[0]?.active ?? "?",
    cadirs: [finalCadir("ca1", dirs.ca1), finalCadir("ca2", dirs.ca2)],
  };
  const found = violations(history);
  const f = figures(history);
  const faults = schedule.faults;
  t.diagnostic(`seed ${SEED}: ${f.operations} operations ${JSON.stringify(f.byResult)}, ${f.signedSeen} certificates seen signed, CA writes ${JSON.stringify(f.caWrites)}, epochs ${f.epochs.join(",")} (final ${final[0]?.epoch}), failback: ${failback}`);
  t.diagnostic(`faults ${faults.length} ${JSON.stringify(f.faults)}: ${faults.map((x) => `${x.kind} ${x.target}`).join("; ")}`);
  t.diagnostic(`violations = ${found.length}${found.length > 0 ? `: ${found.join("; ")}` : ""}`);
  assert.deepEqual(found, [], `seed ${SEED}`);
  assert.equal(final[0]?.active, "ca1", `seed ${SEED}: failed back to the primary (last answer: ${failback})`);
  assert.ok(f.signedSeen > 0 && faults.length > 0, `seed ${SEED}: the run must sign certificates under faults`);
  passed = true;
});
