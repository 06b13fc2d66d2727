// The controller election against a real 3-member etcd cluster with faults: contenders are
// in-process Elections (a "dead proxy" stops renewing without releasing); the recorded history
// must never show two controllers at once, judged by the holders' own deadlines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { EtcdClient } from "../../../../src/proxy/control/etcd.js";
import { Election, type ElectionEvent } from "../../../../src/proxy/control/election.js";
import { stepDownMarginMs, type LeaseTiming } from "../../../../src/proxy/control/timing.js";
import { startEtcdCluster, type EtcdCluster } from "../../../helpers/etcd.js";
import { TenureHistory } from "../../../helpers/tenure-history.js";

const TIMING: LeaseTiming = { ttlMs: 3000, loopWaitMs: 500, retryTimeoutMs: 1000 };
const KEY = "/puppet-ha/test/controller";

type Ctx = { after(fn: () => unknown): void };

function contenders(t: Ctx, etcd: EtcdCluster, names: string[], history: TenureHistory) {
  return names.map((name) => {
    const client = new EtcdClient({ endpoints: etcd.endpoints, timeoutMs: TIMING.retryTimeoutMs });
    const election = new Election({ etcd: client, key: KEY, name, timing: TIMING });
    const events: ElectionEvent[] = [];
    election.on((e) => events.push(e));
    history.watch(name, election);
    t.after(async () => {
      await election.stop({ release: false });
      await client.close();
    });
    election.start();
    return { name, election, events };
  });
}

/** Poll real time (the etcd lease clock is real) until cond holds; returns when it did. */
async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
  return Date.now();
}

test("three contenders: one controller at a time; each dead controller is replaced within ttl + loopWait", async (t) => {
  const etcd = await startEtcdCluster(t, { size: 3 });
  const history = new TenureHistory();
  const cs = contenders(t, etcd, ["proxy-a", "proxy-b", "proxy-c"], history);
  const controllers = () => cs.filter((c) => c.election.isController());
  await until(() => controllers().length === 1, 10_000, "a first controller");
  for (let round = 0; round < 2; round++) {
    const holder = controllers()[0];
    assert.ok(holder);
    await sleep(TIMING.loopWaitMs * 2); // let it renew a few times
    const diedAt = Date.now();
    await holder.election.stop({ release: false }); // the proxy dies: no renewal, no revoke
    const tookOver = await until(() => cs.some((c) => c !== holder && c.election.isController()), TIMING.ttlMs * 3, "a new controller");
    // The lease lasts ttl from the last keep-alive (<= diedAt); etcd checks expiry every 500 ms;
    // a follower campaigns every loopWait.
    assert.ok(tookOver - diedAt <= TIMING.ttlMs + TIMING.loopWaitMs + 500 + 300, `took over after ${tookOver - diedAt} ms`);
    cs.splice(cs.indexOf(holder), 1);
  }
  assert.equal(history.tenures.length, 3);
  assert.deepEqual(history.violations(), []);
});

test("etcd quorum lost: the controller steps down by itself at its deadline, before its lease could expire; nobody else takes over", async (t) => {
  const etcd = await startEtcdCluster(t, { size: 3 });
  const history = new TenureHistory();
  const cs = contenders(t, etcd, ["proxy-a", "proxy-b"], history);
  await until(() => cs.some((c) => c.election.isController()), 10_000, "a controller");
  await sleep(TIMING.loopWaitMs * 2);
  const holder = cs.find((c) => c.election.isController());
  assert.ok(holder);
  const [m1, m2] = etcd.members;
  m1?.pause(); // one member hung,
  t.after(() => m1?.resume());
  await m2?.kill(); // one dead: the third alone has no quorum
  const lostAt = await until(() => holder.events.some((e) => e.kind === "lost"), TIMING.ttlMs * 2, "the step-down");
  const lost = holder.events.find((e) => e.kind === "lost");
  const lastDeadline = [...holder.events].reverse().find((e) => e.kind === "renewed" || e.kind === "elected") as { deadline: number };
  assert.equal(lost?.kind === "lost" && lost.reason, "deadline");
  assert.ok(lost && lost.at >= lastDeadline.deadline && lost.at - lastDeadline.deadline < 200, `stepped down ${lost && lost.at - lastDeadline.deadline} ms after its deadline`);
  // The lease can expire no earlier than (start of the last renewal) + ttl = deadline + margin.
  assert.ok(lostAt < lastDeadline.deadline + stepDownMarginMs(TIMING), "stepped down before its lease could expire");
  assert.ok(holder.events.some((e) => e.kind === "renewal-failed"), "renewal failures were reported");
  await sleep(TIMING.ttlMs);
  assert.deepEqual(cs.filter((c) => c.election.isController()).map((c) => c.name), [], "no controller without quorum");
  // Quorum returns: a controller again.
  m1?.resume();
  await m2?.restart();
  await until(() => cs.some((c) => c.election.isController()), TIMING.ttlMs * 5, "a controller after quorum returned");
  assert.deepEqual(history.violations(), []);
});

test("each etcd member paused (SIGSTOP) in turn for a ttl never produces two controllers", async (t) => {
  const etcd = await startEtcdCluster(t, { size: 3 });
  const history = new TenureHistory();
  const cs = contenders(t, etcd, ["proxy-a", "proxy-b", "proxy-c"], history);
  await until(() => cs.some((c) => c.election.isController()), 10_000, "a controller");
  for (const m of etcd.members) {
    m.pause();
    await sleep(TIMING.ttlMs);
    m.resume();
    await sleep(TIMING.loopWaitMs * 2);
  }
  await until(() => cs.some((c) => c.election.isController()), TIMING.ttlMs * 5, "a controller at the end");
  assert.ok(history.tenures.length >= 1);
  assert.deepEqual(history.violations(), []);
});

/**
 * One try: proxy-a, elected with only the etcd leader as endpoint, renews while that leader is
 * paused, the new leader is elected, and the leader resumes with a keep-alive waiting in its socket.
 * Returns what proxy-a did next after each keep-alive answer, and whether one was stale (answered in
 * an older raft term than proxy-a's next txn: the deposed leader answering from its own memory).
 */
async function renewThroughDeposedLeader(t: Ctx) {
  const etcd = await startEtcdCluster(t, { size: 3 });
  const old = await etcd.leader();
  assert.ok(old, "a leader");
  // A request may wait up to 4 s (1 + 2 x 4 <= 10, a valid timing): the keep-alive waits out the pause.
  const timing: LeaseTiming = { ttlMs: 10_000, loopWaitMs: 1000, retryTimeoutMs: 4000 };
  const client = new EtcdClient({ endpoints: [old.clientUrl], timeoutMs: timing.retryTimeoutMs });
  const answers: { kind: "keepAlive" | "txn"; sentAt: number; at: number; term: number }[] = [];
  let keepAliveSentAt = 0;
  const keepAlive = client.keepAlive.bind(client);
  client.keepAlive = async (id) => {
    const sentAt = (keepAliveSentAt = Date.now());
    const r = await keepAlive(id);
    answers.push({ kind: "keepAlive", sentAt, at: Date.now(), term: r.term });
    return r;
  };
  const txn = client.txn.bind(client);
  client.txn = async (...args) => {
    const sentAt = Date.now();
    const r = await txn(...args);
    answers.push({ kind: "txn", sentAt, at: Date.now(), term: r.term });
    return r;
  };
  const election = new Election({ etcd: client, key: KEY, name: "proxy-a", timing });
  const events: ElectionEvent[] = [];
  election.on((e) => events.push(e));
  t.after(async () => {
    old.resume();
    await election.stop({ release: false });
    await client.close();
  });
  election.start();
  await until(() => election.isController(), 10_000, "proxy-a elected");
  // Pause right after a renewal ended, so that the next one (not a txn of this one) meets the pause.
  const renewals = () => events.filter((e) => e.kind === "renewed").length;
  const before = renewals();
  await until(() => renewals() > before, 5000, "a renewal");
  const pausedAt = Date.now();
  old.pause();
  await etcd.waitNewLeader(old);
  const electedAt = Date.now();
  await until(() => keepAliveSentAt > electedAt, 10_000, "a keep-alive sent to the paused leader");
  await sleep(100); // for its bytes to reach the paused process's socket: there is no clock to inject
  old.resume();
  const resumedAt = Date.now();
  await until(() => events.some((e) => e.at > resumedAt && e.kind === "renewed"), 15_000, "a renewal after the resume");
  // A keep-alive sent during the pause and answered in an older term than the check txn right after it.
  const stale = answers.filter((a, k) => {
    const check = answers[k + 1];
    return a.kind === "keepAlive" && a.sentAt >= pausedAt && a.sentAt < resumedAt && check?.kind === "txn" && check.term > a.term;
  });
  /** What proxy-a reported first after each stale keep-alive answer. */
  const next = stale.map((a) => events.find((e) => e.at >= a.at && (e.kind === "renewed" || e.kind === "renewal-failed")));
  return { stale, next, timing };
}

test("a renewal answered by a deposed etcd leader (paused with the request waiting, then resumed) is not counted", async (t) => {
  // The resuming leader may also hear its successor before it answers (then there is nothing stale
  // to refuse this time): up to three tries, each with its own etcd cluster.
  // When its check txn fails instead (the deposed leader stepping down), nothing is counted either,
  // but the refusal itself was not exercised: try again.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const { stale, next } = await renewThroughDeposedLeader(t);
    for (const e of next) assert.equal(e?.kind, "renewal-failed", "a stale renewal never moves the deadline");
    const codes = next.map((e) => (e?.kind === "renewal-failed" ? ((e.error as { code?: string }).code ?? e.error.message) : ""));
    t.diagnostic(`attempt ${attempt}: ${stale.length} stale keep-alive answer(s), then ${codes.join(", ") || "-"}`);
    if (codes.includes("E_LEASE_UNCONFIRMED")) return;
  }
  assert.fail("in three tries no keep-alive answered by the deposed leader was followed by a successful check txn");
});
