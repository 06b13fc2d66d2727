// What the proxy asks of a remote sync agent for failback and promotion, through supertest:
// POST /pull (epoch, final=1) answering the pass report, 409 with what differs on divergence and
// for an older epoch; POST /advance-serial once per epoch; tokens and bad parameters.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import request from "supertest";
import { createSyncApi, type reportJson } from "../../../src/sync/api.js";
import { differingPaths, makeHarness } from "./harness.js";

type Report = ReturnType<typeof reportJson>;
const AUTH = ["authorization", "Bearer s3cret"] as const;

function setup(t: Parameters<typeof makeHarness>[0]) {
  const h = makeHarness(t);
  const tokenFile = join(h.root, "token");
  writeFileSync(tokenFile, "s3cret\n");
  return { h, app: createSyncApi(h.service, { tokenFile }) };
}

test("POST /pull: in sync at epoch E (final too), 409 E_FENCED for an older epoch, 400/404/401/403", async (t) => {
  const { h, app } = setup(t);
  await request(app).post("/pull?destination=ca2&epoch=1").expect(401);
  await request(app).post("/pull?destination=ca2&epoch=1").set("authorization", "Bearer nope").expect(403);
  await request(app).post("/pull?destination=ca2").set(...AUTH).expect(400);
  await request(app).post("/pull?destination=ca2&epoch=-1").set(...AUTH).expect(400);
  await request(app).post("/pull?destination=ca9&epoch=1").set(...AUTH).expect(404);

  const r = (await request(app).post("/pull?destination=ca2&epoch=1").set(...AUTH).expect(200)).body as Report;
  assert.equal(r.result, "in-sync");
  assert.equal(r.epoch, 1);
  assert.match(r.manifest ?? "", /^[0-9a-f]{64}$/);
  assert.deepEqual(await differingPaths(h.ca1, h.ca2), []);

  // The arbiter moves to epoch 3 (still ca1 active); a final pull for 3 works, one for 1 is fenced.
  h.arbiter.set({ epoch: 3, active: "ca1" });
  const f = (await request(app).post("/pull?destination=ca2&epoch=3&final=1").set(...AUTH).expect(200)).body as Report;
  assert.equal(f.epoch, 3);
  assert.ok(f.reasons.some((x) => x.startsWith("final-pull@3")), JSON.stringify(f.reasons));
  const old = (await request(app).post("/pull?destination=ca2&epoch=1&final=1").set(...AUTH).expect(409)).body as { error: { code: string; message: string } };
  assert.equal(old.error.code, "E_FENCED");
  assert.match(old.error.message, /epoch 1, older than the latest known 3/);
});

test("POST /pull on a diverged destination: 409 E_DIVERGED with the differences, nothing copied", async (t) => {
  const { h, app } = setup(t);
  const extra = h.source.clone();
  extra.sign("rogue");
  extra.writeTo(h.ca2);
  const before = readFileSync(join(h.ca2, "inventory.txt"), "utf8");
  const r = (await request(app).post("/pull?destination=ca2&epoch=1").set(...AUTH).expect(409)).body as { error: { code: string; differences: { subject?: string; serial?: string }[] } };
  assert.equal(r.error.code, "E_DIVERGED");
  assert.ok(r.error.differences.some((d) => d.subject?.includes("rogue") && d.serial), JSON.stringify(r.error.differences));
  assert.equal(readFileSync(join(h.ca2, "inventory.txt"), "utf8"), before);
});

test("POST /advance-serial: skips the gap once per epoch, fenced for an older epoch", async (t) => {
  const { h, app } = setup(t);
  await request(app).post("/advance-serial?cadir=ca2&gap=16&epoch=2").expect(401);
  await request(app).post("/advance-serial?cadir=ca2&gap=x&epoch=2").set(...AUTH).expect(400);
  const serial = () => readFileSync(join(h.ca1, "serial"), "utf8");
  assert.equal(serial(), "0003");
  const a = (await request(app).post("/advance-serial?cadir=ca1&gap=256&epoch=2").set(...AUTH).expect(200)).body as { before: string; after: string; epoch: number };
  assert.deepEqual({ before: a.before, after: a.after, epoch: a.epoch }, { before: "0003", after: "0103", epoch: 2 });
  await request(app).post("/advance-serial?cadir=ca1&gap=256&epoch=2").set(...AUTH).expect(200);
  assert.equal(serial(), "0103", "asked twice for one promotion: one gap");
  const old = (await request(app).post("/advance-serial?cadir=ca1&gap=256&epoch=1").set(...AUTH).expect(409)).body as { error: { code: string } };
  assert.equal(old.error.code, "E_FENCED");
  const unknown = (await request(app).post("/advance-serial?cadir=ca7&gap=1&epoch=3").set(...AUTH).expect(500)).body as { error: { code: string } };
  assert.equal(unknown.error.code, "E_CADIR");
});

test("one body shape for every error, and the token file: missing is a start-up error, rotated takes effect, never a 500", async (t) => {
  const { h, app } = setup(t);
  const shapes = [
    await request(app).post("/pass?destination=ca9").set(...AUTH).expect(404),
    await request(app).post("/pass?destination=ca2&epoch=x").set(...AUTH).expect(400),
    await request(app).get("/nope").expect(404),
    await request(app).post("/pass").expect(401),
    await request(app).post("/pass").set("authorization", "Bearer wrong").expect(403),
  ];
  for (const r of shapes) {
    const e = (r.body as { error: unknown }).error as { code: unknown; message: unknown };
    assert.equal(typeof e.code, "string", JSON.stringify(r.body));
    assert.equal(typeof e.message, "string", JSON.stringify(r.body));
  }
  assert.throws(() => createSyncApi(h.service, { tokenFile: join(h.root, "missing.token") }), /cannot read arbiter token file .*missing\.token: no such file or directory/);

  const tokenFile = join(h.root, "token");
  writeFileSync(tokenFile, "rotated-secret-longer\n");
  await request(app).post("/pass").set(...AUTH).expect(403);
  await request(app).post("/pass?wait=1").set("authorization", "Bearer rotated-secret-longer").expect(200);
  const { rmSync } = await import("node:fs");
  rmSync(tokenFile);
  await request(app).post("/pass?wait=1").set("authorization", "Bearer rotated-secret-longer").expect(200); // a briefly missing file keeps the last good token
});
