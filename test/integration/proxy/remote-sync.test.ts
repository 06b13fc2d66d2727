// Multi-host: the proxy without in-process sync reaches the CA hosts' `puppet-ha sync` agents over
// HTTP (proxy.ca.workers[].sync, admin token). Here one agent on loopback writes both cadirs and
// learns {epoch, active} from the proxy's GET /api/ca like a real one: failover advances the
// promoted serial through it, /health shows its status, and a manual failback pulls through it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSyncApi } from "../../../src/sync/api.js";
import { httpArbiter } from "../../../src/sync/arbiter.js";
import { syncSection } from "../../../src/sync/config.js";
import { createSyncService } from "../../../src/sync/service.js";
import { until } from "./harness.js";
import { admin, failOver, health, serialOf, signOn, startHa, TOKEN } from "./ha-harness.js";
import { differingPaths } from "../sync/harness.js";

test("remote sync agent: serial advance on failover and a manual failback over its HTTP API", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "puppet-ha-remote-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  // The agent's API must listen before the proxy starts (its URL is in the proxy config).
  const late: { api?: ReturnType<typeof createSyncApi> } = {};
  const server = createServer((req, res) => {
    if (late.api) late.api(req, res);
    else res.writeHead(503).end("{}");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  const agentUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ha = await startHa(t, { sync: false, workerSync: { ca1: agentUrl, ca2: agentUrl } });
  const { adminUrl, tokenFile } = ha;
  const service = createSyncService({
    config: syncSection.parse({
      cadirs: { ca1: ha.dir1, ca2: ha.dir2 }, watch: false, schedule: "0 0 1 1 *",
      backupDir: join(root, "backups"), workDir: join(root, "work"), arbiter: { url: adminUrl, tokenFile },
    }),
    arbiter: httpArbiter({ url: adminUrl, tokenFile }),
  });
  t.after(() => service.stop());
  late.api = createSyncApi(service, { tokenFile });
  await service.start();
  await until(() => service.status().destinations.ca2?.lastSuccess !== null, 10_000, "agent's first pass into ca2");

  await failOver(ha);
  assert.equal(serialOf(ha.dir2), "0103", "advanced through POST /advance-serial");
  let h = await health(ha);
  assert.deepEqual(h.report.arbiter.warnings, []);
  assert.equal(h.report.arbiter.lastFailoverLagMs, 0);
  // /health shows the remote agent's destinations (refreshed in the background).
  await until(() => ha.rt.syncReports().length === 2, 5000, "remote sync status");
  h = await health(ha);
  assert.deepEqual(h.report.sync.map((s) => s.destination).sort(), ["ca1", "ca2"]);

  signOn(ha, ha.dir2, "node2");
  ha.ca1.healthy = true;
  await until(() => ha.rt.proxy.ca.get("ca1")!.state === "up", 5000, "ca1 up");
  const r = await admin(ha, "POST", "/api/ca/failback", TOKEN);
  assert.equal(r.status, 200, r.text);
  assert.equal(ha.rt.proxy.arbiter.active, "ca1");
  assert.equal(ha.rt.proxy.arbiter.epoch, 3);
  assert.deepEqual(await differingPaths(ha.dir1, ha.dir2), []);
});
