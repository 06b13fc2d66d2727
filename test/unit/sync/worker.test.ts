// Trigger merging in the per-destination worker: never two passes at once, a trigger during a
// pass schedules exactly one more, and each request is answered by a pass that started after it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PassWorker } from "../../../src/sync/worker.js";

/** A pass body the test finishes by hand, recording concurrency and the reasons of each pass. */
function controlledPasses() {
  const passes: { reasons: readonly string[]; finish: () => void }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const run = (reasons: readonly string[]) =>
    new Promise<string>((resolve) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const n = passes.length + 1;
      passes.push({ reasons, finish: () => { inFlight--; resolve(`pass ${n}`); } });
    });
  return { passes, run, max: () => maxInFlight };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

test("a trigger while idle starts a pass at once", async () => {
  const c = controlledPasses();
  const w = new PassWorker(c.run, () => "cancelled");
  const p = w.request("schedule");
  assert.equal(c.passes.length, 1);
  assert.equal(w.busy, true);
  c.passes[0]?.finish();
  assert.equal(await p, "pass 1");
  await tick();
  assert.equal(w.busy, false);
});

test("many triggers during a pass give exactly one more pass, never concurrent", async () => {
  const c = controlledPasses();
  const w = new PassWorker(c.run, () => "cancelled");
  const first = w.request("start");
  const during = ["watch", "schedule", "watch", "api"].map((r) => w.request(r));
  assert.equal(c.passes.length, 1, "nothing starts while a pass runs");
  c.passes[0]?.finish();
  assert.equal(await first, "pass 1");
  await tick();
  assert.equal(c.passes.length, 2);
  assert.deepEqual(c.passes[1]?.reasons, ["watch", "schedule", "watch", "api"]);
  c.passes[1]?.finish();
  assert.deepEqual(await Promise.all(during), ["pass 2", "pass 2", "pass 2", "pass 2"]);
  await tick();
  assert.equal(c.passes.length, 2, "no third pass");
  assert.equal(c.max(), 1);
});

test("a request is answered by a pass that started after it, not the one running", async () => {
  const c = controlledPasses();
  const w = new PassWorker(c.run, () => "cancelled");
  void w.request("a");
  const late = w.request("pull-now");
  c.passes[0]?.finish();
  await tick();
  c.passes[1]?.finish();
  assert.equal(await late, "pass 2");
});

test("a throwing pass rejects its requests and the worker goes on", async () => {
  let n = 0;
  const w = new PassWorker<string>(() => {
    n++;
    return n === 1 ? Promise.reject(new Error("boom")) : Promise.resolve("ok");
  }, () => "cancelled");
  await assert.rejects(w.request("x"), /boom/);
  assert.equal(await w.request("y"), "ok");
});

test("close answers waiting requests with the cancelled value and waits for the running pass", async () => {
  const c = controlledPasses();
  const w = new PassWorker(c.run, () => "cancelled");
  const running = w.request("a");
  const waiting = w.request("b");
  const closed = w.close();
  assert.equal(await waiting, "cancelled");
  c.passes[0]?.finish();
  await closed;
  assert.equal(await running, "pass 1");
  assert.equal(await w.request("after"), "cancelled");
  assert.equal(c.passes.length, 1);
});
