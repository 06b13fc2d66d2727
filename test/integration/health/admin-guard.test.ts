// The admin listener's guards (issue 12): requests naming a foreign Host are refused on every
// endpoint (DNS rebinding could otherwise read /health, /metrics and the status page), and no
// credential reaches the log, whether sent in the query string or the Authorization header.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createAdminApp } from "../../../src/health/app.js";
import { adminSection } from "../../../src/health/config.js";
import { EventLog } from "../../../src/health/events.js";
import { HealthMetrics } from "../../../src/health/metrics.js";
import { assessHealth } from "../../../src/health/health-status.js";
import type { AdminActions } from "../../../src/health/admin-api.js";
import { closeAdmin, listenAdmin } from "../../../src/proxy/admin.js";
import { createLogger } from "../../../src/log.js";
import { THRESHOLDS, inputs } from "../../helpers/health.js";

const TOKEN = "real-admin-token-4711";
const dir = mkdtempSync(join(tmpdir(), "admin-guard-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const tokenFile = join(dir, "admin.token");
writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });

const actions: AdminActions = {
  caState: () => ({ epoch: 1, active: "ca1", primary: "ca1", failback: { policy: "manual", state: "idle" } }),
  failover: () => Promise.resolve("switched"),
  failback: () => Promise.resolve(),
  drain: () => Promise.resolve(),
  enable: () => Promise.resolve(),
};

async function start(t: { after: (fn: () => Promise<void>) => void }, allowedHosts: string[] = []) {
  const lines: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString("utf8"));
      cb();
    },
  });
  const app = createAdminApp({
    getReport: () => assessHealth(inputs(), THRESHOLDS), actions, events: new EventLog(), metrics: new HealthMetrics({ defaultMetrics: false }),
    tokenFile, version: "9.9.9", logger: createLogger({ level: "debug", format: "json" }, out),
  });
  const server = await listenAdmin(app, adminSection.parse({ listen: "127.0.0.1:0", allowedHosts }));
  t.after(() => closeAdmin(server));
  return { port: (server.address() as AddressInfo).port, log: () => lines.join("") };
}

function call(port: number, path: string, headers: Record<string, string> = {}, method = "GET"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method, headers, agent: false }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("a foreign Host is 403 on /health, /metrics, the status page and the API; own names work", async (t) => {
  const { port } = await start(t, ["puppet-ha.example.com"]);
  for (const path of ["/health", "/health/live", "/metrics", "/", "/api/ca"]) {
    const r = await call(port, path, { host: `rebind.evil.example:${port}` });
    assert.equal(r.status, 403, path);
    assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, "E_HOST_NOT_ALLOWED", path);
  }
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `puppet-ha.example.com:${port}`, `PUPPET-HA.example.com.:${port}`]) {
    assert.equal((await call(port, "/health", { host })).status, 200, host);
  }
});

test("no credential reaches the log: query-string tokens are redacted, Authorization is never logged", async (t) => {
  const { port, log } = await start(t);
  const secrets = ["QS-SECRET-1", "QS-SECRET-2", "HEADER-SECRET-3", TOKEN];
  assert.equal((await call(port, "/api/ca/failover?token=QS-SECRET-1&access_token=QS-SECRET-2&x=1", {}, "POST")).status, 401);
  assert.equal((await call(port, "/api/ca/failover?token=QS-SECRET-1", { authorization: "Bearer HEADER-SECRET-3" }, "POST")).status, 403);
  assert.equal((await call(port, "/api/ca/failover?access_token=QS-SECRET-2", { authorization: `Bearer ${TOKEN}` }, "POST")).status, 200);
  assert.equal((await call(port, "/api/nope?token=QS-SECRET-1", { authorization: `Bearer ${TOKEN}` })).status, 404);
  const text = log();
  assert.match(text, /admin API refused/, "the refusals were logged");
  assert.match(text, /token=\[redacted\]&access_token=\[redacted\]&x=1/, "the path is logged with the values redacted");
  for (const s of secrets) assert.ok(!text.includes(s), `${s} is not in the log:\n${text}`);
});
