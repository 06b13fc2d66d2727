// The primary CA dies (kill -9) while agents run: new agents enrol through the standby, enrolled
// ones never fail. It comes back on its stale cadir and gets no CA traffic until the manual
// failback (POST /api/ca/failback) has copied everything the standby issued onto it; afterwards
// serials stay unique across both CAs and every agent still runs. With `failback: auto` (set by
// SIGHUP) the same happens by itself. The tests of this file build on each other and leave ca1
// active again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { parse, stringify } from "yaml";
import { join } from "node:path";
import { loadCluster, type AgentRunResult } from "./cluster/client.js";
import {
  adminApi, cadirDiff, cadirDigest, certSerial, crlNumber, explain, inventory, logTime, nextSerial, poll, proxyLog,
  revokedSerials, served, withConcurrency,
} from "./support.js";

const cluster = loadCluster();
const admin = adminApi(cluster);
const ca1 = cluster.instances.ca1.cadir;
const ca2 = cluster.instances.ca2.cadir;
const ENROLLED = ["e2e-fo-old-1", "e2e-fo-old-2"];
const enrolledDuringFailover: string[] = [];
/** ca1's next serial when it died: the standby must never issue below it plus the gap. */
let ca1NextSerialAtKill = 0n;

const caRequestsFor = (certname: string) => proxyLog(cluster).filter((l) => typeof l.path === "string" && l.path.startsWith("/puppet-ca/") && l.path.includes(certname));

test("kill -9 of the primary CA while agents run: new agents enrol through the standby, no enrolled run fails", async () => {
  assert.equal((await admin.caState()).active, "ca1", "ca1 is the active CA at the start");
  await withConcurrency(2, ENROLLED.map((c) => async () => assert.equal((await cluster.runAgent(c)).exitCode, 2)));

  // Enrolled agents keep running throughout; a new agent starts enrolling and ca1 dies as soon as
  // it has served that agent's CRL: the agent is generating its key, its CSR comes next. (Killing
  // ca1 after it signed would leave a cert only ca1 has: divergence, an operator's call, covered
  // by the divergence test.)
  let stop = false;
  const enrolledRuns: AgentRunResult[] = [];
  const enrolledLoop = Promise.all(ENROLLED.map(async (c) => {
    while (!stop || enrolledRuns.filter((r) => r.certname === c).length < 2) enrolledRuns.push(await cluster.runAgent(c));
  }));
  const inFlight = "e2e-fo-new-0";
  // Agents' CRL downloads (the proxy's own CRL refreshes have no Puppet User-Agent).
  const agentCrlGets = () => cluster.accessLog("ca1").filter((l) => l.includes("GET /puppet-ca/v1/certificate_revocation_list/ca") && l.includes("\"Puppet/")).length;
  const crlGetsBefore = agentCrlGets();
  const firstTry = cluster.runAgent(inFlight);
  await poll(`${inFlight}'s CRL download from ca1`, () => (agentCrlGets() > crlGetsBefore ? true : undefined), 60_000, 20);
  ca1NextSerialAtKill = nextSerial(ca1);
  await cluster.kill("ca1", "KILL");

  // New agents right after the kill: the proxy fails over and they get their certs from ca2.
  const fresh = ["e2e-fo-new-1", "e2e-fo-new-2", "e2e-fo-new-3"];
  const freshRuns = await withConcurrency(3, fresh.map((c) => () => cluster.runAgent(c)));
  for (const r of freshRuns) {
    assert.equal(r.exitCode, 2, explain(r));
    assert.ok(inventory(ca2).some((l) => l.subject === `/CN=${r.certname}`), `${r.certname} in ca2's inventory.txt`);
    assert.equal(served(cluster, "ca2", "PUT", `/puppet-ca/v1/certificate_request/${r.certname}`).length, 1, `${r.certname}'s CSR on ca2`);
    enrolledDuringFailover.push(r.certname);
  }

  // The agent whose enrolment was in flight on the dead CA may fail once, never twice.
  const first = await firstTry;
  if (first.exitCode !== 2) {
    const failed = caRequestsFor(inFlight).filter((l) => Number(l.status) >= 500 || l.error !== undefined);
    const reachedCa1 = served(cluster, "ca1", "PUT", `/puppet-ca/v1/certificate_request/${inFlight}`).length > 0;
    assert.ok(failed.length > 0 || reachedCa1, `${inFlight} failed without its CSR being in flight on ca1\n${explain(first)}`);
    const second = await cluster.runAgent(inFlight);
    assert.equal(second.exitCode, 2, `next run of ${inFlight}\n${explain(second)}`);
  }
  enrolledDuringFailover.push(inFlight);

  stop = true;
  await enrolledLoop;
  for (const r of enrolledRuns) assert.equal(r.exitCode, 2, `an enrolled agent's run failed during the failover\n${explain(r)}`);
  const state = await admin.caState();
  assert.equal(state.active, "ca2");
});

test("the primary restarted on its stale cadir gets no CA traffic; manual failback brings everything the standby issued", async () => {
  assert.equal((await admin.caState()).active, "ca2", "runs after the failover test");
  const ca1LinesBefore = cluster.accessLog("ca1").length;
  await cluster.start("ca1");
  // ca1 is healthy again (checks pass), and still not used for CA requests.
  await poll("ca1 up in the proxy's CA pool", async () => {
    const h = await admin.health();
    const pools = h.pools as { name: string; backends: { name: string; state: string }[] }[] | Record<string, { backends: { name: string; state: string }[] }>;
    const ca = Array.isArray(pools) ? pools.find((p) => p.name === "ca") : pools.ca;
    return ca?.backends.find((b) => b.name === "ca1")?.state === "up" ? true : undefined;
  }, 30_000, 200);
  const late = await cluster.runAgent("e2e-fo-new-4");
  assert.equal(late.exitCode, 2, explain(late));
  enrolledDuringFailover.push(late.certname);
  const revoked = await cluster.runAgent("e2e-fo-revoked");
  assert.equal(revoked.exitCode, 2, explain(revoked));
  const cli = await cluster.runCaCli(["revoke", "--certname", "e2e-fo-revoked"]);
  assert.equal(cli.exitCode, 0, `${cli.stdout}\n${cli.stderr}`);
  const ca1Since = cluster.accessLog("ca1").slice(ca1LinesBefore);
  assert.deepEqual(ca1Since.filter((l) => l.includes("/puppet-ca/")), [], "no CA request reached the restarted primary");

  // The standby skipped the serial gap (0x1000) on promotion: nothing it issued collides with
  // what ca1 issued before it died, synced or not.
  const ca2Issued = inventory(ca2).filter((l) => enrolledDuringFailover.includes(l.subject.slice(4)));
  assert.ok(ca2Issued.length > 0);
  assert.ok(ca2Issued.every((l) => l.serial >= 0x1000n && l.serial >= ca1NextSerialAtKill), `serials ${ca2Issued.map((l) => l.serial.toString(16)).join(", ")} vs ca1's next ${ca1NextSerialAtKill.toString(16)} (gap 0x1000)`);

  // Manual failback.
  const epochBefore = (await admin.caState()).epoch;
  const fb = await admin.post("/api/ca/failback", 120_000);
  assert.equal(fb.status, 200, fb.body);
  const after = await poll("ca1 active again", async () => {
    const s = await admin.caState();
    return s.active === "ca1" ? s : undefined;
  }, 60_000, 200);
  assert.ok(after.epoch > epochBefore, `epoch rose (${epochBefore} -> ${after.epoch})`);

  // ca1 holds every cert and revocation ca2 issued.
  const ca1Lines = new Set(inventory(ca1).map((l) => l.line));
  for (const l of inventory(ca2)) assert.ok(ca1Lines.has(l.line), `ca1 lacks "${l.line}"`);
  for (const c of [...enrolledDuringFailover, "e2e-fo-revoked"]) {
    assert.ok(existsSync(join(ca1, "signed", `${c}.pem`)), `ca1 lacks signed/${c}.pem`);
    assert.equal(readFileSync(join(ca1, "signed", `${c}.pem`), "utf8"), readFileSync(join(ca2, "signed", `${c}.pem`), "utf8"));
  }
  const revokedSerial = await certSerial(join(ca2, "signed", "e2e-fo-revoked.pem"));
  assert.ok((await revokedSerials(join(ca1, "ca_crl.pem"))).has(revokedSerial), "ca1's CRL revokes what ca2 revoked");
  assert.ok((await crlNumber(join(ca1, "ca_crl.pem"))) >= (await crlNumber(join(ca2, "ca_crl.pem"))));

  // The next cert, signed by ca1, has a serial above every serial issued anywhere.
  const highest = [...inventory(ca1), ...inventory(ca2)].reduce((m, l) => (l.serial > m ? l.serial : m), 0n);
  const next = await cluster.runAgent("e2e-fb-new");
  assert.equal(next.exitCode, 2, explain(next));
  assert.equal(served(cluster, "ca1", "PUT", "/puppet-ca/v1/certificate_request/e2e-fb-new").length, 1, "signed by ca1");
  const nextLine = inventory(ca1).find((l) => l.subject === "/CN=e2e-fb-new");
  assert.ok(nextLine && nextLine.serial > highest, `serial ${nextLine?.serial.toString(16)} above ${highest.toString(16)}`);

  // No serial names two different certificates across both inventories.
  await poll("ca2 in sync with ca1 again", () => (cadirDiff(cadirDigest(ca1), cadirDigest(ca2)).length === 0 ? true : undefined), 15_000, 100);
  const bySerial = new Map<bigint, string>();
  for (const l of [...inventory(ca1), ...inventory(ca2)]) {
    const seen = bySerial.get(l.serial);
    assert.ok(seen === undefined || seen === l.line, `serial 0x${l.serial.toString(16)} twice: "${seen}" and "${l.line}"`);
    bySerial.set(l.serial, l.line);
  }

  // Every agent still runs (the revoked one excepted).
  const all = [...ENROLLED, ...enrolledDuringFailover, "e2e-fb-new"];
  const runs = await withConcurrency(2, all.map((c) => () => cluster.runAgent(c)));
  for (const r of runs) assert.equal(r.exitCode, 2, explain(r));
});

test("with failback: auto (SIGHUP), the returning primary takes over again by itself", async (t) => {
  assert.equal((await admin.caState()).active, "ca1", "runs after the manual failback");
  const t0 = Date.now();
  // Reload the running proxy's own config file with an automatic failback after 2 s.
  const file = cluster.frontEnd.configFile;
  const original = await readFile(file, "utf8");
  const cfg = parse(original) as { proxy: { ca: Record<string, unknown> } };
  cfg.proxy.ca.failback = "auto";
  cfg.proxy.ca.failbackAfter = "2s";
  await writeFile(file, stringify(cfg));
  t.after(async () => {
    await writeFile(file, original);
    await cluster.signalFrontEnd("HUP");
  });
  await cluster.signalFrontEnd("HUP");
  await poll("the auto policy in /health", async () => {
    const a = (await admin.health()).arbiter as { failback?: { policy?: string } } | undefined;
    return a?.failback?.policy === "auto" ? true : undefined;
  }, 10_000, 100);

  await cluster.kill("ca1", "KILL");
  t.after(async () => { if ((await cluster.pid("ca1")) === null) await cluster.start("ca1"); });
  const during = await cluster.runAgent("e2e-auto-fo");
  assert.equal(during.exitCode, 2, explain(during));
  assert.equal((await admin.caState()).active, "ca2");
  assert.equal(served(cluster, "ca2", "PUT", "/puppet-ca/v1/certificate_request/e2e-auto-fo").length, 1);

  await cluster.start("ca1");
  const back = await poll("ca1 active again without an admin request", async () => {
    const s = await admin.caState();
    return s.active === "ca1" ? s : undefined;
  }, 90_000, 250);
  assert.ok(back.epoch > 0);
  assert.deepEqual(proxyLog(cluster).filter((l) => l.msg === "admin action failback requested" && logTime(l) >= t0), [], "no admin failback request");
  assert.equal(readFileSync(join(ca1, "signed", "e2e-auto-fo.pem"), "utf8"), readFileSync(join(ca2, "signed", "e2e-auto-fo.pem"), "utf8"));
  const highest = [...inventory(ca1), ...inventory(ca2)].reduce((m, l) => (l.serial > m ? l.serial : m), 0n);
  const next = await cluster.runAgent("e2e-auto-fb");
  assert.equal(next.exitCode, 2, explain(next));
  assert.equal(served(cluster, "ca1", "PUT", "/puppet-ca/v1/certificate_request/e2e-auto-fb").length, 1, "signed by ca1");
  assert.ok((inventory(ca1).find((l) => l.subject === "/CN=e2e-auto-fb")?.serial ?? 0n) > highest);
  const again = await cluster.runAgent("e2e-auto-fo");
  assert.equal(again.exitCode, 2, explain(again));
});
