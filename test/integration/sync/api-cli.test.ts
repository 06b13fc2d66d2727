// The sync agent's HTTP API (GET /status, POST /pass with the arbiter's bearer token) through
// supertest, and `puppet-ha sync --once` as a real process against a small fake arbiter.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import request from "supertest";
import { createSyncApi, type reportJson } from "../../../src/sync/api.js";
import type { SyncStatus } from "../../../src/sync/service.js";
import { runCli } from "../../helpers/cli.js";
import { makeHarness } from "./harness.js";

test("GET /status and POST /pass (token, destination, wait, epoch)", async (t) => {
  const h = makeHarness(t);
  const tokenFile = join(h.root, "token");
  writeFileSync(tokenFile, "s3cret\n");
  const app = createSyncApi(h.service, { tokenFile });

  type Report = ReturnType<typeof reportJson>;
  const before = (await request(app).get("/status").expect(200)).body as SyncStatus;
  assert.equal(before.destinations.ca2?.state, "syncing");
  assert.equal(before.destinations.ca2?.lastSuccess, null);

  await request(app).post("/pass").expect(401);
  await request(app).post("/pass").set("authorization", "Bearer wrong").expect(403);
  await request(app).post("/pass?destination=ca9").set("authorization", "Bearer s3cret").expect(404);
  const ran = (await request(app).post("/pass?destination=ca2&wait=1").set("authorization", "Bearer s3cret").expect(200)).body as { reports: Report[] };
  assert.equal(ran.reports[0]?.result, "in-sync");
  assert.ok((ran.reports[0]?.bytes ?? 0) > 0);

  const after = (await request(app).get("/status").expect(200)).body as SyncStatus;
  const ca2 = after.destinations.ca2;
  assert.equal(after.epoch, 1);
  assert.equal(after.active, "ca1");
  assert.equal(ca2?.state, "in-sync");
  assert.equal(ca2?.lagMs, 0);
  assert.equal(ca2?.epoch, 1);
  assert.equal(typeof ca2?.lastPass?.durationMs, "number");
  assert.ok((ca2?.lastPass?.bytes ?? 0) > 0);

  const pulled = (await request(app).post("/pass?destination=ca2&epoch=1").set("authorization", "Bearer s3cret").expect(200)).body as Report;
  assert.equal(pulled.epoch, 1);
  const fenced = (await request(app).post("/pass?destination=ca2&epoch=2").set("authorization", "Bearer s3cret").expect(409)).body as { error: { code: string } };
  assert.equal(fenced.error.code, "E_FENCED");
  await request(app).post("/pass?destination=ca2&epoch=x").set("authorization", "Bearer s3cret").expect(400);
  const accepted = (await request(app).post("/pass").set("authorization", "Bearer s3cret").expect(202)).body as { requested: string[] };
  assert.deepEqual(accepted.requested, ["ca2"]);
});

/** A stand-in for the proxy's GET /api/ca. */
async function fakeArbiter(t: test.TestContext, token: string, state: () => object): Promise<string> {
  const server: Server = createServer((req, res) => {
    if (req.url !== "/api/ca" || req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(state()));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const addr = server.address() as { port: number };
  return `http://127.0.0.1:${addr.port}`;
}

test("puppet-ha sync --once: exit 0 in sync, 1 with one line when diverged or on error", async (t) => {
  const h = makeHarness(t);
  const tokenFile = join(h.root, "admin.token");
  writeFileSync(tokenFile, "tok\n");
  let state: object = { epoch: 3, active: "ca1", failback: "idle" };
  const url = await fakeArbiter(t, "tok", () => state);
  const cfgFile = join(h.root, "puppet-ha.yaml");
  writeFileSync(cfgFile, [
    "sync:",
    `  cadirs: { ca1: "${h.ca1}", ca2: "${h.ca2}" }`,
    "  writeInto: [ca2]",
    `  backupDir: "${h.backupDir}"`,
    `  workDir: "${join(h.root, "work")}"`,
    `  arbiter: { url: "${url}", tokenFile: "${tokenFile}" }`,
    "",
  ].join("\n"));

  const ok = await runCli(["sync", "-c", cfgFile, "--once"]);
  assert.equal(ok.exitCode, 0, String(ok.stderr));
  assert.equal(ok.stdout, "", "silent on success (cron mails output)");
  assert.equal(ok.stderr, "");
  assert.ok(existsSync(join(h.ca2, "signed", "node1.pem")));

  const dst = h.source.clone();
  dst.sign("rogue");
  dst.writeTo(h.ca2);
  const diverged = await runCli(["sync", "-c", cfgFile, "--once"]);
  assert.equal(diverged.exitCode, 1);
  const lines = String(diverged.stderr).trim().split("\n");
  assert.equal(lines.length, 1, String(diverged.stderr));
  assert.match(lines[0] ?? "", /^puppet-ha: sync ca2: diverged: .*serial 0x0003 \(\/CN=rogue\) is not in the source inventory/);

  state = { nonsense: true };
  const error = await runCli(["sync", "-c", cfgFile, "--once"]);
  assert.equal(error.exitCode, 1);
  assert.match(String(error.stderr).trim(), /^puppet-ha: sync ca2: error: the arbiter answered without a valid \{epoch, active\}/);
  assert.equal(String(error.stderr).trim().split("\n").length, 1);

  const noArbiter = join(h.root, "no-arbiter.yaml");
  writeFileSync(noArbiter, `sync:\n  cadirs: { ca1: "${h.ca1}", ca2: "${h.ca2}" }\n`);
  const usage = await runCli(["sync", "-c", noArbiter, "--once"]);
  assert.equal(usage.exitCode, 2);
  assert.match(String(usage.stderr), /sync.arbiter is required/);
});
