// The follower's routing on a fake clock: reads always go to the last known active, writes only
// within the view deadline and never during a failback hold; newer states only; hold acknowledgement.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Follower } from "../../../../src/proxy/control/follower.js";
import { FakeClock } from "../fake-clock.js";

function setup() {
  const clock = new FakeClock();
  const view = { deadlineAt: 9000, unreachableSince: undefined as number | undefined, deadline() {
    return this.deadlineAt;
  } };
  const follower = new Follower({ view, workers: ["ca1", "ca2"], retryAfterS: 5, scheduler: clock });
  let changes = 0;
  follower.onChange(() => changes++);
  return { clock, view, follower, changes: () => changes };
}

test("before any state is read, CA requests are held", () => {
  const { follower } = setup();
  assert.deepEqual(follower.route(false), { kind: "hold", reason: "no CA state read from etcd yet" });
  assert.equal(follower.route(true).kind, "hold");
});

test("with a fresh view, reads and writes go to the active CA of the applied epoch", () => {
  const { follower, changes } = setup();
  assert.equal(follower.apply({ state: { epoch: 3, active: "ca2" }, revision: 10 }), true);
  assert.equal(changes(), 1);
  assert.deepEqual(follower.route(false), { kind: "worker", worker: "ca2", epoch: 3 });
  assert.deepEqual(follower.route(true), { kind: "worker", worker: "ca2", epoch: 3 });
});

test("only newer states are applied: higher epoch, or same epoch at a later revision; unknown workers never", () => {
  const { follower } = setup();
  follower.apply({ state: { epoch: 3, active: "ca2" }, revision: 10 });
  assert.equal(follower.apply({ state: { epoch: 2, active: "ca1" }, revision: 12 }), false, "lower epoch");
  assert.equal(follower.apply({ state: { epoch: 3, active: "ca2" }, revision: 10 }), false, "same revision");
  assert.equal(follower.apply({ state: { epoch: 4, active: "ca9" }, revision: 14 }), false, "unknown worker");
  assert.equal(follower.apply({ state: { epoch: 3, active: "ca2", hold: { id: "h1", target: "ca1", since: 0 } }, revision: 11 }), true);
  assert.equal(follower.apply({ state: { epoch: 4, active: "ca1" }, revision: 13 }), true);
  assert.deepEqual(follower.state, { epoch: 4, active: "ca1" });
});

test("etcd unreachable: writes are held until the view deadline, refused from it on; reads keep going", () => {
  const { clock, view, follower } = setup();
  follower.apply({ state: { epoch: 3, active: "ca2" }, revision: 10 });
  clock.advance(2000);
  view.unreachableSince = 2000;
  assert.equal(follower.route(true).kind, "hold");
  assert.match((follower.route(true) as { reason: string }).reason, /etcd unreachable since 1970-01-01T00:00:02.000Z/);
  clock.advance(6999);
  assert.equal(follower.route(true).kind, "hold", "1 ms before the deadline");
  clock.advance(1);
  assert.deepEqual(follower.route(true), { kind: "refuse", reason: "CA writes refused: etcd unreachable since 1970-01-01T00:00:02.000Z", retryAfterS: 5 });
  assert.deepEqual(follower.route(false), { kind: "worker", worker: "ca2", epoch: 3 }, "CA reads go to the last known active");
  view.unreachableSince = undefined; // a read succeeded again: the view's deadline moved on
  view.deadlineAt = clock.now() + 9000;
  assert.equal(follower.route(true).kind, "worker");
});

test("a failback hold holds writes (not reads); the hold is acknowledged once no write is in flight", () => {
  const { follower, changes } = setup();
  follower.apply({ state: { epoch: 3, active: "ca2" }, revision: 10 });
  const end1 = follower.writeStarted();
  const end2 = follower.writeStarted();
  follower.apply({ state: { epoch: 3, active: "ca2", hold: { id: "h1", target: "ca1", since: 0 } }, revision: 11 });
  assert.deepEqual(follower.route(true), { kind: "hold", reason: "failback write hold h1 (to ca1)" });
  assert.equal(follower.route(false).kind, "worker");
  assert.equal(follower.holdAck(), null, "two writes still in flight");
  end1();
  end1(); // ending twice counts once
  assert.equal(follower.writesInFlight, 1);
  assert.equal(follower.holdAck(), null);
  const before = changes();
  end2();
  assert.equal(follower.holdAck(), "h1");
  assert.equal(changes(), before + 1, "listeners hear that the writes drained");
  follower.apply({ state: { epoch: 4, active: "ca1" }, revision: 12 });
  assert.deepEqual(follower.route(true), { kind: "worker", worker: "ca1", epoch: 4 });
  assert.equal(follower.holdAck(), null);
});

test("typed transitions: one per change of active CA applied, with the stored cause; none for the first state or a hold", () => {
  const { follower } = setup();
  const seen: unknown[] = [];
  follower.onTransition((t) => seen.push(t));
  follower.apply({ state: { epoch: 1, active: "ca1" }, revision: 1 });
  follower.apply({ state: { epoch: 2, active: "ca2" }, revision: 2 }); // written without a change record
  follower.apply({ state: { epoch: 2, active: "ca2", hold: { id: "h", target: "ca1", since: 0 } }, revision: 3 });
  follower.apply({ state: { epoch: 3, active: "ca1", change: { from: "ca2", cause: "failback", at: 5 } }, revision: 4 });
  follower.apply({ state: { epoch: 5, active: "ca2", change: { from: "ca9", cause: "admin", at: 6 } }, revision: 6 }); // missed epoch 4
  assert.deepEqual(seen, [
    { epoch: 2, from: "ca1", to: "ca2", cause: "failover" },
    { epoch: 3, from: "ca2", to: "ca1", cause: "failback" },
    { epoch: 5, from: "ca1", to: "ca2", cause: "admin" },
  ]);
});
