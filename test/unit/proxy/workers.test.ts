// proxy.workers: the config key (default, bad values, with cluster), the IPC schema (a malformed
// message is refused naming what is wrong) and /health's sum over the workers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { parseConfig } from "../../../src/config/load.js";
import { ConfigError, WorkerMessageError } from "../../../src/errors.js";
import type { HealthCore } from "../../../src/health/health-status.js";
import { withWorkers, type WorkerSnapshot } from "../../../src/health/workers.js";
import { parseToPrimary, parseToWorker } from "../../../src/proxy/workers/messages.js";

const proxy = (extra = "") => `
proxy:
  tls: { cert: /c.pem, key: /k.pem, ca: /ca.pem, crl: /crl.pem }
  ca: { workers: [{ name: ca1, url: "http://127.0.0.1:18142" }] }
  masters: { workers: [{ name: m1, url: "http://127.0.0.1:18140" }] }
${extra}`;
const cluster = "  cluster: { name: p1, etcd: { endpoints: [\"http://127.0.0.1:2379\"] } }\n";

function problems(text: string) {
  try {
    parseConfig(text, "t.yaml");
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  return assert.fail("expected a ConfigError");
}

test("proxy.workers: one per core by default (with a cluster too), any whole number >= 1", () => {
  assert.equal(parseConfig(proxy()).proxy?.workers, availableParallelism());
  assert.equal(parseConfig(proxy(cluster)).proxy?.workers, availableParallelism());
  assert.equal(parseConfig(proxy(`${cluster}  workers: 3\n`)).proxy?.workers, 3);
  assert.equal(parseConfig(proxy("  workers: 1\n")).proxy?.workers, 1);
  assert.equal(parseConfig(proxy("  workers: 7\n")).proxy?.workers, 7);
});

test("proxy.workers: 0, a fraction, a word are refused, naming the key", () => {
  for (const bad of ["0", "1.5", "many", "-2"]) {
    const p = problems(proxy(`  workers: ${bad}\n`));
    assert.equal(p.length, 1, p.join("\n"));
    assert.match(p[0] as string, /^proxy\.workers: .*whole number >= 1/);
  }
});

test("IPC: a malformed message is refused with its type and the problem; good ones pass", () => {
  const view = { deadline: null, unreachableSince: null };
  assert.deepEqual(parseToWorker({ type: "state", state: { epoch: 2, active: "ca2" }, view, revision: 3 }), { type: "state", state: { epoch: 2, active: "ca2" }, view, revision: 3 });
  const bad = [
    [() => parseToWorker({ type: "state", state: { epoch: 0, active: "ca2" }, view, revision: 3 }), /bad message "state" from the primary: state\.epoch: /],
    [() => parseToWorker({ type: "state", state: { epoch: 2, active: "ca2", extra: 1 }, view, revision: 3 }), /state: Unrecognized key/],
    [() => parseToWorker({ type: "launch" }), /bad message "launch" from the primary: type: /],
    [() => parseToWorker(null), /bad message "\(no type\)"/],
    [() => parseToPrimary({ type: "applied", revision: 1, epoch: 1, inFlight: -1, holdAck: null }, "2"), /bad message "applied" from worker 2: inFlight: /],
    [() => parseToPrimary({ type: "stats", id: 1, backends: [], heldRequests: 0, connections: 0, caWritesInFlight: 0, metrics: [{ name: "x" }] }, "1"), /metrics\.0: must be prom-client metrics/],
  ] as const;
  for (const [f, re] of bad) {
    assert.throws(f, (err: unknown) => err instanceof WorkerMessageError && err.code === "E_WORKER_MESSAGE" && re.test(err.message));
  }
});

const core = (): HealthCore => ({
  status: "ok", reasons: [], time: new Date(0).toISOString(),
  pools: [
    { name: "ca", backends: [{ name: "ca1", url: "u", state: "up", since: "", consecutiveFailures: 0, inFlight: 0, requests: 0, errors: 0 }] },
    { name: "masters", backends: [{ name: "m1", url: "u", state: "up", since: "", consecutiveFailures: 0, inFlight: 0, requests: 0, errors: 0 }] },
  ],
  arbiter: { active: "ca1", epoch: 1, primary: "ca1", failback: { policy: "manual", state: "idle" }, heldWrites: 0, warnings: [] },
  sync: [], expiry: {},
});

const worker = (id: number, m1: number, held = 0, answered = true): WorkerSnapshot => ({
  id, pid: 100 + id, since: 0, listening: true, appliedEpoch: 1, caWritesInFlight: 0,
  ...(answered ? { stats: { backends: [{ pool: "masters", name: "m1", inFlight: 1, requests: m1, errors: 1 }], heldRequests: held, connections: 2 } } : {}),
});

test("/health with workers: requests, in-flight and errors summed; missing, silent and holding workers degrade it", () => {
  const ok = withWorkers(core(), { configured: 2, restarts: 0, workers: [worker(1, 5), worker(2, 7)] });
  assert.equal(ok.status, "ok");
  assert.deepEqual(ok.pools[1]?.backends[0] && { r: ok.pools[1].backends[0].requests, f: ok.pools[1].backends[0].inFlight, e: ok.pools[1].backends[0].errors }, { r: 12, f: 2, e: 2 });
  assert.equal(ok.workers?.running, 2);
  assert.deepEqual(ok.workers?.list.map((w) => w.connections), [2, 2]);
  const one = withWorkers(core(), { configured: 2, restarts: 1, workers: [worker(1, 5)] });
  assert.equal(one.status, "degraded");
  assert.deepEqual(one.reasons, ["1 of 2 proxy workers serving"]);
  const silent = withWorkers(core(), { configured: 2, restarts: 0, workers: [worker(1, 5, 3), worker(2, 0, 0, false)] });
  assert.deepEqual(silent.reasons, ["proxy worker(s) 2 did not answer", "3 CA write(s) held"]);
  assert.equal(silent.arbiter.heldWrites, 3);
});
