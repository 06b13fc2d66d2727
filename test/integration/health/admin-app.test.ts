// The admin app over a real socket: /health codes per state, /metrics as Prometheus text, the
// status page's headers, and every admin action without, with a wrong and with the right token.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import request from "supertest";
import { createAdminApp } from "../../../src/health/app.js";
import { EventLog } from "../../../src/health/events.js";
import { HealthMetrics } from "../../../src/health/metrics.js";
import { assessHealth, type HealthCore } from "../../../src/health/health-status.js";
import { AdminConflictError, AdminUnavailableError, UnknownBackendError } from "../../../src/health/admin-errors.js";
import type { AdminActions } from "../../../src/health/admin-api.js";
import { BadRequestError, FileAccessError } from "../../../src/errors.js";
import { STATUS_PAGE_CSP } from "../../../src/health/status-page.js";
import { THRESHOLDS, inputs, pools } from "../../helpers/health.js";

const TOKEN = "s3cret-admin-token";

/** The JSON bodies these endpoints answer. */
interface Body {
  status?: string;
  version?: string;
  events?: unknown[];
  error: { code: string; message: string };
}
const json = (res: { body: unknown }): Body => res.body as Body;
const dir = mkdtempSync(join(tmpdir(), "puppet-ha-admin-"));
const tokenFile = join(dir, "admin.token");
writeFileSync(tokenFile, `${TOKEN}\n`);
after(() => rmSync(dir, { recursive: true, force: true }));

/** Admin actions that record their calls and fail on demand. */
function fakeActions() {
  const calls: string[] = [];
  let failWith: Error | undefined;
  const run = (what: string) => {
    calls.push(what);
    if (failWith) return Promise.reject(failWith);
    return Promise.resolve({ did: what });
  };
  const actions: AdminActions = {
    caState: () => ({ epoch: 3, active: "ca1", primary: "ca1", failback: { policy: "manual", state: "idle" } }),
    failover: () => run("failover"),
    failback: () => run("failback"),
    drain: (b) => (["m1", "m2", "ca1", "ca2"].includes(b) ? run(`drain ${b}`) : Promise.reject(new UnknownBackendError(b))),
    enable: (b) => (["m1", "m2", "ca1", "ca2"].includes(b) ? run(`enable ${b}`) : Promise.reject(new UnknownBackendError(b))),
  };
  return { actions, calls, fail: (e: Error | undefined) => (failWith = e) };
}

/** Serves the app on 127.0.0.1:0 for the enclosing suite; returns a getter of its base URL. */
function serve(app: Parameters<typeof createServer>[1]): () => string {
  let server: Server | undefined;
  before(async () => {
    server = createServer(app);
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  });
  after(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));
  return () => `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

function setup(opts: { tokenFile?: string } = { tokenFile }) {
  let core: HealthCore = assessHealth(inputs(), THRESHOLDS);
  const events = new EventLog();
  const metrics = new HealthMetrics({ defaultMetrics: false });
  const fake = fakeActions();
  const app = createAdminApp({ getReport: () => core, actions: fake.actions, events, metrics, tokenFile: opts.tokenFile, version: "9.9.9" });
  return { app, events, metrics, fake, setCore: (c: HealthCore) => (core = c) };
}

describe("health endpoints", () => {
  const s = setup();
  const base = serve(s.app);

  const states = [
    { name: "ok", core: () => assessHealth(inputs(), THRESHOLDS), code: 200 },
    { name: "degraded", core: () => assessHealth(inputs({ pools: pools(["up", "up"], ["up", "down"]) }), THRESHOLDS), code: 200 },
    { name: "down", core: () => assessHealth(inputs({ pools: pools(["down", "down"]) }), THRESHOLDS), code: 503 },
  ];
  for (const st of states) {
    test(`GET /health when ${st.name} → ${st.code}`, async () => {
      s.setCore(st.core());
      const res = await request(base()).get("/health").expect("Content-Type", /application\/json/);
      assert.equal(res.status, st.code);
      assert.equal(json(res).status, st.name);
      assert.equal(json(res).version, "9.9.9");
      assert.ok(Array.isArray(json(res).events));
      assert.equal(res.headers["cache-control"], "no-store");
    });
  }

  test("GET /health/live is 200 even when down", async () => {
    s.setCore(states[2]!.core());
    const res = await request(base()).get("/health/live").expect(200);
    assert.equal(json(res).status, "live");
  });

  test("GET /metrics is valid Prometheus text and moves with observeRequest", async () => {
    s.setCore(states[0]!.core());
    const first = await request(base()).get("/metrics").expect(200);
    assert.equal(first.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    assertPrometheusText(first.text);
    s.metrics.observeRequest("masters", "m1", 200, 0.1);
    s.metrics.observeRequest("masters", "m1", 200, 0.1);
    const second = await request(base()).get("/metrics").expect(200);
    assertPrometheusText(second.text);
    const series = 'puppet_ha_requests_total{pool="masters",backend="m1",status_class="2xx"}';
    assert.equal(valueOf(first.text, series), undefined);
    assert.equal(valueOf(second.text, series), 2);
    assert.equal(valueOf(second.text, 'puppet_ha_health_status{status="ok"}'), 1);
  });

  test("GET / serves the status page with its CSP; ?fragment=1 only the tables", async () => {
    const page = await request(base()).get("/").expect(200).expect("Content-Type", /text\/html/);
    assert.equal(page.headers["content-security-policy"], STATUS_PAGE_CSP);
    assert.equal(page.headers["x-content-type-options"], "nosniff");
    assert.match(page.text, /^<!doctype html>/);
    const frag = await request(base()).get("/?fragment=1").expect(200);
    assert.doesNotMatch(frag.text, /<html|<script/);
    assert.match(frag.text, /data-backend="m1"/);
  });

  test("unknown paths are 404 JSON", async () => {
    const res = await request(base()).get("/nope").expect(404);
    assert.equal(json(res).error.code, "E_NOT_FOUND");
  });
});

/** Every line is a comment or `name{labels} value`; every sampled family has HELP and TYPE. */
function assertPrometheusText(text: string): void {
  assert.ok(text.endsWith("\n"));
  const typed = new Map<string, string>();
  const helped = new Set<string>();
  const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (m) {
      if (m[1] === "TYPE") {
        assert.match(m[3]!, /^(counter|gauge|histogram|summary|untyped)$/, line);
        typed.set(m[2]!, m[3]!);
      } else helped.add(m[2]!);
      continue;
    }
    m = sample.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${line}`);
    const name = m[1]!;
    const family = [name, name.replace(/_(bucket|sum|count)$/, "")].find((f) => typed.has(f));
    assert.ok(family, `no # TYPE for ${name}`);
    assert.ok(helped.has(family), `no # HELP for ${family}`);
    if (typed.get(family) === "counter") assert.match(family, /_total$/, `counter ${family} must end in _total`);
    assert.match(family, /^puppet_ha_/);
  }
}

function valueOf(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("admin API authentication and actions", () => {
  const s = setup();
  const base = serve(s.app);

  const routes = [
    { method: "get", path: "/api/ca", call: undefined },
    { method: "post", path: "/api/ca/failover", call: "failover" },
    { method: "post", path: "/api/ca/failback", call: "failback" },
    { method: "post", path: "/api/backends/m2/drain", call: "drain m2" },
    { method: "post", path: "/api/backends/m2/enable", call: "enable m2" },
  ] as const;

  for (const r of routes) {
    test(`${r.method.toUpperCase()} ${r.path}: no token 401, wrong token 403, right token 200`, async () => {
      const before = s.fake.calls.length;
      const none = await request(base())[r.method](r.path).expect(401);
      assert.match(String(none.headers["www-authenticate"]), /^Bearer realm=/);
      assert.equal(json(none).error.code, "E_UNAUTHORIZED");
      await request(base())[r.method](r.path).set("Authorization", "Basic YTpi").expect(401);
      const wrong = await request(base())[r.method](r.path).set("Authorization", "Bearer not-the-token").expect(403);
      assert.equal(json(wrong).error.code, "E_FORBIDDEN");
      await request(base())[r.method](r.path).set("Authorization", `Bearer ${TOKEN}x`).expect(403);
      assert.equal(s.fake.calls.length, before, "refused requests never reach the actions");
      const ok = await request(base())[r.method](r.path).set("Authorization", `Bearer ${TOKEN}`).expect(200);
      if (r.call) {
        assert.equal(s.fake.calls.at(-1), r.call);
        assert.deepEqual(ok.body, { ok: true, action: r.call, result: { did: r.call } });
        assert.equal(s.events.list()[0]?.message, `${r.call} by 127.0.0.1: done`);
        assert.equal(s.events.list()[0]?.kind, "admin");
      } else {
        assert.deepEqual(ok.body, { epoch: 3, active: "ca1", primary: "ca1", failback: { policy: "manual", state: "idle" } });
      }
    });
  }

  test("refused attempts are not recorded as events (they could flush the ring buffer)", async () => {
    const n = s.events.list().length;
    for (let i = 0; i < 5; i++) await request(base()).post("/api/ca/failover").set("Authorization", "Bearer wrong").expect(403);
    assert.equal(s.events.list().length, n);
  });

  test("an unknown backend is 404", async () => {
    const res = await request(base()).post("/api/backends/m9/drain").set("Authorization", `Bearer ${TOKEN}`).expect(404);
    assert.deepEqual(json(res).error, { code: "E_UNKNOWN_BACKEND", message: 'no backend named "m9"' });
  });

  const failures = [
    { err: new AdminConflictError("ca1 is not in sync at epoch 3"), code: 409 },
    { err: new BadRequestError(400, "bad"), code: 400 },
    { err: new AdminUnavailableError("arbiter busy"), code: 503 },
    { err: new Error("secret internals"), code: 500 },
  ];
  for (const f of failures) {
    test(`an action throwing ${f.err.constructor.name} is ${f.code}, and recorded`, async () => {
      s.fake.fail(f.err);
      after(() => s.fake.fail(undefined));
      const res = await request(base()).post("/api/ca/failback").set("Authorization", `Bearer ${TOKEN}`).expect(f.code);
      if (f.code === 500) assert.doesNotMatch(JSON.stringify(json(res)), /secret internals/);
      else assert.equal(json(res).error.message, f.err.message);
      assert.match(s.events.list()[0]!.message, /^failback by 127\.0\.0\.1: refused/);
      s.fake.fail(undefined);
    });
  }

  test("a failover event counts by its kind; the failover counter follows the proxy's CA transitions", async () => {
    s.events.record("failover", "ca1 down, ca2 promoted");
    let res = await request(base()).get("/metrics").expect(200);
    assert.equal(valueOf(res.text, 'puppet_ha_events_total{kind="failover"}'), 1);
    assert.equal(valueOf(res.text, "puppet_ha_ca_failovers_total"), 0, "an event's kind decides no counter");
    s.metrics.countTransition("failover");
    res = await request(base()).get("/metrics").expect(200);
    assert.equal(valueOf(res.text, "puppet_ha_ca_failovers_total"), 1);
  });

  test("the token file is re-read when it changes", async () => {
    writeFileSync(tokenFile, "rotated-token\n");
    const future = new Date(Date.now() + 5000);
    utimesSync(tokenFile, future, future);
    after(() => writeFileSync(tokenFile, `${TOKEN}\n`));
    await request(base()).get("/api/ca").set("Authorization", `Bearer ${TOKEN}`).expect(403);
    await request(base()).get("/api/ca").set("Authorization", "Bearer rotated-token").expect(200);
  });
});

describe("without admin.tokenFile", () => {
  const s = setup({});
  const base = serve(s.app);

  test("every admin API request is 401 with a clear message, even with a token", async () => {
    for (const [method, path] of [["get", "/api/ca"], ["post", "/api/ca/failover"], ["post", "/api/backends/m1/drain"]] as const) {
      const res = await request(base())[method](path).set("Authorization", "Bearer anything").expect(401);
      assert.match(json(res).error.message, /admin API is disabled: set admin\.tokenFile/);
      assert.match(String(res.headers["www-authenticate"]), /Bearer/);
    }
    assert.deepEqual(s.fake.calls, []);
  });

  test("read-only endpoints still work", async () => {
    await request(base()).get("/health").expect(200);
  });
});

test("a missing or empty token file fails at start", () => {
  const fake = fakeActions();
  const base = { getReport: () => assessHealth(inputs(), THRESHOLDS), actions: fake.actions, events: new EventLog(), metrics: new HealthMetrics({ defaultMetrics: false }), version: "1" };
  assert.throws(() => createAdminApp({ ...base, tokenFile: join(dir, "missing") }), FileAccessError);
  const empty = join(dir, "empty.token");
  writeFileSync(empty, "\n");
  assert.throws(() => createAdminApp({ ...base, tokenFile: empty }), /cannot read admin token file .*: it is empty/);
});
