// ClusterCaRouter against a fake clock: the follower's view decides (hold, refuse with the
// configured Retry-After, worker), the arbiter adopts every applied state before the next CA
// request is routed, and CA writes are counted where the member record publishes them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { NoHealthyBackendError } from "../../../../src/errors.js";
import { Arbiter } from "../../../../src/proxy/control/arbiter.js";
import { ClusterCaRouter } from "../../../../src/proxy/control/cluster-router.js";
import { Follower } from "../../../../src/proxy/control/follower.js";
import { FakeClock, flush } from "../fake-clock.js";

function setup() {
  const clock = new FakeClock();
  const view = { deadline: () => clock.now() + 1000, unreachableSince: undefined as number | undefined };
  const follower = new Follower({ view, workers: ["ca1", "ca2"], retryAfterS: 7, scheduler: clock });
  const arbiter = new Arbiter({ workers: ["ca1", "ca2"], initial: { epoch: 0, active: "ca1" }, commit: () => Promise.resolve(), isUsable: () => true, holdMs: 5000, scheduler: clock });
  follower.onChange(() => {
    const s = follower.state;
    if (s) arbiter.observe({ epoch: s.epoch, active: s.active });
  });
  const router = new ClusterCaRouter({ follower, arbiter, holdMs: () => 5000, scheduler: clock });
  return { clock, view, follower, arbiter, router };
}

test("CA requests wait for the first state read from etcd, then go to its active CA", async () => {
  const { follower, router } = setup();
  const r = router.acquire(true);
  assert.ok(r instanceof Promise);
  follower.apply({ state: { epoch: 3, active: "ca2" }, revision: 10 });
  assert.equal(await r, "ca2");
  assert.equal(router.acquire(false), "ca2", "routed from memory at once");
});

test("a new epoch applied by the follower is where the very next CA write goes", () => {
  const { follower, arbiter, router } = setup();
  follower.apply({ state: { epoch: 1, active: "ca1" }, revision: 1 });
  assert.equal(router.acquire(true), "ca1");
  follower.apply({ state: { epoch: 2, active: "ca2", change: { from: "ca1", cause: "failover", at: 0 } }, revision: 2 });
  assert.equal(arbiter.epoch, 2);
  assert.equal(router.acquire(true), "ca2");
});

test("a failback hold holds CA writes (reads go on) until the hold is removed; in-flight writes delay the acknowledgement", async () => {
  const { follower, router } = setup();
  follower.apply({ state: { epoch: 1, active: "ca2" }, revision: 1 });
  router.writeStarted();
  follower.apply({ state: { epoch: 1, active: "ca2", hold: { id: "h1", target: "ca1", since: 0 } }, revision: 2 });
  assert.equal(follower.holdAck(), null, "a write in flight: not acknowledged");
  router.writeEnded();
  assert.equal(follower.holdAck(), "h1");
  assert.equal(router.acquire(false), "ca2");
  const w = router.acquire(true);
  assert.ok(w instanceof Promise);
  let got: string | undefined;
  void w.then((n) => (got = n));
  await flush();
  assert.equal(got, undefined, "held");
  follower.apply({ state: { epoch: 2, active: "ca1", change: { from: "ca2", cause: "failback", at: 0 } }, revision: 3 });
  await flush();
  assert.equal(got, "ca1", "released to the new active");
});

test("past the view deadline CA writes are refused with the configured Retry-After; a held write is refused after holdMs", async () => {
  const { clock, view, follower, router } = setup();
  follower.apply({ state: { epoch: 1, active: "ca1" }, revision: 1 });
  view.unreachableSince = clock.now();
  const held = router.acquire(true) as Promise<string>;
  const outcome = held.then(() => "sent", (e: unknown) => e);
  clock.advance(5000);
  await flush();
  const err = await outcome;
  assert.ok(err instanceof NoHealthyBackendError && /etcd unreachable since/.test(err.message));
  view.deadline = () => clock.now() - 1;
  assert.throws(() => router.acquire(true), (e: unknown) => e instanceof NoHealthyBackendError && e.retryAfterS === 7 && /CA writes refused: etcd unreachable since/.test(e.message));
  assert.equal(router.acquire(false), "ca1", "CA reads go to the last known active");
});

test("a held write let go counts as in flight at once: a hold applied before its dispatch is not acknowledged", async () => {
  const { follower, router } = setup();
  const w = router.acquire(true) as Promise<string>;
  follower.apply({ state: { epoch: 1, active: "ca1" }, revision: 1 });
  // The hold arrives in the microtasks between the release and the caller's writeStarted().
  for (let i = 0; i < 20 && follower.writesInFlight === 0; i++) await Promise.resolve();
  follower.apply({ state: { epoch: 1, active: "ca1", hold: { id: "h", target: "ca2", since: 0 } }, revision: 2 });
  assert.equal(follower.holdAck(), null, "the write about to be sent keeps the hold unacknowledged");
  assert.equal(await w, "ca1");
  router.writeStarted();
  assert.equal(follower.writesInFlight, 1, "the reservation became the write, not a second count");
  router.writeEnded();
  assert.equal(follower.holdAck(), "h");
});

test("a held write let go but never sent (the client left) stops counting after this turn", async () => {
  const { follower, router } = setup();
  const w = router.acquire(true) as Promise<string>;
  follower.apply({ state: { epoch: 1, active: "ca1" }, revision: 1 });
  await w;
  assert.equal(follower.writesInFlight, 1);
  await new Promise((r) => setImmediate(r));
  assert.equal(follower.writesInFlight, 0);
});
