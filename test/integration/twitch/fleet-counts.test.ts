// The fleet's counts on the proxy's status page (src/twitch/fleet/fleet-counts.ts): a real
// nats-server's status bucket kept through one open KV watch (a read transfers only what changed),
// every record verified (one signed by another node is rejected), nodes counted by their last run
// and flagged silent past fleet.silentAfter, signed certnames of a cadir that never reported; a
// broker that is down or restarts becomes an error on the page, never a failure of the proxy.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { connectBroker } from "../../../src/twitch/broker/connect.js";
import { seal } from "../../../src/twitch/broker/envelope.js";
import { bindBucket, statusRecord } from "../../../src/twitch/broker/status.js";
import type { LastRun } from "../../../src/twitch/summary.js";
import { FLEET_WATCH_RENEW_EVERY, FleetCountsWatcher } from "../../../src/twitch/fleet/fleet-counts.js";
import { renderStatusFragment } from "../../../src/health/status-page.js";
import { report } from "../../helpers/health.js";
import { admin, startHa } from "../proxy/ha-harness.js";
import { memoryLog, startFleet } from "./broker-harness.js";
import { identityOf } from "./broker-client.js";
import { FakeCadir } from "../../helpers/cadir.js";
import { cadirSignedCertnames } from "../../../src/twitch/fleet/signed-certnames.js";

const NOW = Date.parse("2026-12-06T12:00:00Z");
const HOUR = 3_600_000;

function lastRun(changed: number, failed: number, at: number): LastRun {
  return {
    time: new Date(at).toISOString(), durationSeconds: 12, outcome: failed > 0 ? "failed" as const : changed > 0 ? "changed" as const : "unchanged" as const,
    exitCode: (failed > 0 ? 4 : changed > 0 ? 2 : 0), resources: { changed, failed, outOfSync: changed, skipped: 0, total: 20 },
    changes: changed, events: { failure: failed, success: changed, total: changed + failed }, configVersion: "1", puppetVersion: "7.23.0",
  };
}

type Fleet = Awaited<ReturnType<typeof startFleet>>;

/** The status bucket as the controller sees it, and a put of a record signed by `signer` (default: the node itself). */
async function openBucket(t: TestContext, fleet: Fleet) {
  const { log } = memoryLog();
  const nc = await connectBroker({ urls: [fleet.url], cert: fleet.controller.cert, key: fleet.controller.key, ca: fleet.caFile, name: "t" }, log);
  t.after(() => nc.close());
  const kv = await bindBucket(nc, "puppet_ha_fleet", true);
  const put = (certname: string, last = lastRun(0, 0, NOW), published = NOW, signer = certname) =>
    kv.put(certname, seal(statusRecord(certname, last, {}, published) as unknown as Record<string, unknown>, identityOf(fleet.files(signer))));
  return { nc, kv, put };
}

/** The fleet section of a proxy's config for this broker (with its CRL unless told otherwise). */
function fleetSection(fleet: Fleet, crl = true) {
  return {
    subjectPrefix: "puppet-ha.fleet", statusBucket: "puppet_ha_fleet", silentAfter: 2 * HOUR, concurrency: 100, canary: 1,
    broker: { urls: [fleet.url], tls: { cert: fleet.controller.cert, key: fleet.controller.key, ca: fleet.caFile, ...(crl ? { crl: fleet.crlFile } : {}) } },
  };
}

/** Calls fn until it resolves (the broker may be coming back); the last failure is thrown. */
async function eventually<T>(fn: () => Promise<T>, tries = 100): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= tries) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

test("the status page shows the fleet's counts from the bucket; a forged record is rejected, not counted", async (t) => {
  const fleet = await startFleet(t);
  const { log } = memoryLog();
  const { kv, put } = await openBucket(t, fleet);
  await put("web1.example", lastRun(0, 0, NOW - 60_000), NOW - 60_000);
  await put("web2.example", lastRun(3, 0, NOW - 60_000), NOW - 60_000);
  await put("db1.example", lastRun(1, 2, NOW - 60_000), NOW - 60_000);
  await put("old1.example", lastRun(0, 0, NOW - 5 * HOUR), NOW - 5 * HOUR);
  await put("fake1.example", lastRun(0, 0, NOW), NOW, "web1.example");

  const watcher = new FleetCountsWatcher(fleetSection(fleet), log, () => NOW);
  t.after(() => watcher.stop());
  const c = await watcher.refresh();
  assert.deepEqual(c, { reporting: 4, ok: 1, changed: 1, failed: 1, silent: 1, rejected: 1, silentAfterMs: 2 * HOUR, readAt: new Date(NOW).toISOString(), error: undefined });
  assert.equal(watcher.lastVerified, 5, "the first read verifies every entry");
  // The next minute's read verifies only what changed (10,000 nodes must not cost 10,000 signature checks a minute).
  assert.deepEqual(await watcher.refresh(), c, "the same counts from the cached verifications");
  assert.equal(watcher.lastVerified, 0, "nothing changed: nothing verified again");
  assert.equal(watcher.lastReceived, 0, "an open watch: nothing transferred when nothing changed");
  await put("web1.example", lastRun(2, 0, NOW - 30_000), NOW - 30_000);
  const again = await watcher.refresh();
  assert.equal(watcher.lastVerified, 1, "only the changed entry is verified");
  assert.equal(watcher.lastReceived, 1, "only the changed entry is transferred (O(changes), not the whole bucket)");
  assert.deepEqual([again.reporting, again.ok, again.changed, again.rejected], [4, 0, 2, 1]);
  await kv.delete("old1.example");
  const deleted = await watcher.refresh();
  assert.deepEqual([deleted.reporting, deleted.silent, watcher.lastReceived], [3, 0, 1], "a deleted key is no longer counted");
  // Every FLEET_WATCH_RENEW_EVERY reads a fresh watch transfers the bucket again, verifying nothing unchanged.
  const received: number[] = [];
  for (let i = 0; i < FLEET_WATCH_RENEW_EVERY; i++) {
    await watcher.refresh();
    received.push(watcher.lastReceived);
    assert.equal(watcher.lastVerified, 0);
  }
  assert.deepEqual(received.filter((n) => n > 0), [5], "one renewal delivered the bucket: 3 records, 1 rejected, old1's delete marker");

  const html = renderStatusFragment({ ...report({}), fleet: c });
  const row = /<table id="fleet">[\s\S]*?<tbody>\s*<tr>([\s\S]*?)<\/tr>/.exec(html)?.[1] ?? "";
  assert.deepEqual([...row.matchAll(/<td[^>]*>(\d+)<\/td>/g)].map((m) => Number(m[1])), [4, 1, 1, 1, 1, 1]);
  assert.match(html, /Silent \(over 2h\)/);
  assert.doesNotMatch(renderStatusFragment(report({})), /id="fleet"/, "no fleet section without fleet.broker");
});

test("a broker that is down is an error in the counts (the last counts kept), and the next read recovers", async (t) => {
  const fleet = await startFleet(t);
  const { log } = memoryLog();
  const { nc, put } = await openBucket(t, fleet);
  await put("web1.example");
  await nc.close();
  await fleet.nats.stop();
  const watcher = new FleetCountsWatcher(fleetSection(fleet, false), log, () => NOW);
  t.after(() => watcher.stop());
  const down = await watcher.refresh();
  assert.equal(down.reporting, 0);
  assert.ok(down.error, "the failure is kept for the page");
  assert.match(renderStatusFragment({ ...report({}), fleet: down }), /Cannot read the status bucket/);
  await fleet.nats.start();
  const up = await watcher.refresh();
  assert.deepEqual([up.reporting, up.ok, up.error], [1, 1, undefined]);
});

test("a broker restart under an open watch: the next reads see what was put after it", async (t) => {
  const fleet = await startFleet(t);
  const { log } = memoryLog();
  const { put } = await openBucket(t, fleet);
  await put("web1.example");
  const watcher = new FleetCountsWatcher(fleetSection(fleet, false), log, () => NOW);
  t.after(() => watcher.stop());
  assert.equal((await watcher.refresh()).reporting, 1);
  await fleet.nats.stop();
  await fleet.nats.start();
  // Both clients reconnect on their own (backoff): wait for the put to go through, then for the counts.
  await eventually(() => put("web2.example"));
  const c = await eventually(async () => {
    const r = await watcher.refresh();
    if (r.reporting !== 2) throw new Error(`reporting ${r.reporting}, error ${r.error ?? "none"}`);
    return r;
  });
  assert.deepEqual([c.reporting, c.ok, c.error], [2, 2, undefined]);
  assert.equal(watcher.lastVerified, 1, "web1's verification was kept across the new watch");
});

test("never reported: signed, unrevoked certnames of the cadir without a verified record", async (t) => {
  const fleet = await startFleet(t);
  const { log } = memoryLog();
  const { put } = await openBucket(t, fleet);
  await put("web1.example");
  await put("web2.example", undefined, undefined, "web1.example"); // forged: web2 has not reported
  const cadir = new FakeCadir();
  for (const n of ["web1.example", "web2.example", "web3.example"]) cadir.sign(n);
  cadir.revoke(cadir.sign("gone.example"));
  const dir = cadir.writeTo(join(fleet.dir, "cadir"));
  const watcher = new FleetCountsWatcher(fleetSection(fleet), log, () => NOW, cadirSignedCertnames(() => dir));
  t.after(() => watcher.stop());
  const c = await watcher.refresh();
  assert.deepEqual([c.reporting, c.rejected, c.neverReported], [1, 1, 2], "web2 (forged record) and web3; not the revoked one");
  await put("web3.example");
  assert.equal((await watcher.refresh()).neverReported, 1);
  const row = /<table id="fleet">[\s\S]*?<tbody>\s*<tr>([\s\S]*?)<\/tr>/.exec(renderStatusFragment({ ...report({}), fleet: c }))?.[1] ?? "";
  assert.deepEqual([...row.matchAll(/<td[^>]*>(\d+)<\/td>/g)].map((m) => Number(m[1])), [1, 1, 0, 0, 0, 1, 2]);
  assert.match(renderStatusFragment({ ...report({}), fleet: { ...c, neverReported: undefined } }), /<td class="muted"[^>]*>n\/a<\/td>/, "no local cadir: n/a");

  // The cadir gone: the count is left out (logged once), the other counts stay.
  rmSync(dir, { recursive: true, force: true });
  const without = await watcher.refresh();
  assert.deepEqual([without.reporting, without.neverReported, without.error], [2, undefined, undefined]);
});

test("a proxy with fleet.broker shows the counts on /health and its status page, never-reported from its local cadir", async (t) => {
  const fleet = await startFleet(t);
  const { put } = await openBucket(t, fleet);
  const now = Date.now();
  await put("web1.example", lastRun(2, 0, now), now);
  // With the in-process sync over two local cadirs (node1 signed in them): "never reported" is counted.
  const ha = await startHa(t, {
    fleet: { broker: fleetSection(fleet).broker },
  });
  // The first read starts with the proxy and does not hold it up: wait for it.
  let health = await admin(ha, "GET", "/health");
  for (let i = 0; i < 200 && (health.json.fleet as { readAt?: string } | undefined)?.readAt === undefined; i++) {
    await new Promise((r) => setTimeout(r, 50));
    health = await admin(ha, "GET", "/health");
  }
  assert.deepEqual(health.json.fleet, {
    reporting: 1, ok: 0, changed: 1, failed: 0, silent: 0, rejected: 0, neverReported: 1, silentAfterMs: 2 * HOUR, readAt: (health.json.fleet as { readAt: string }).readAt,
  });
  const page = await admin(ha, "GET", "/?fragment=1");
  assert.match(page.text, /<table id="fleet">/);
});
