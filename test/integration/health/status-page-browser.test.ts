// The status page in a real headless Chromium: every backend shown, a backend turning DOWN appears
// without a reload, the CSP lets the page's own script run and nothing else, hostile names stay
// text, and the page reads without JavaScript. Saves test-output/status-page.png.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { createAdminApp } from "../../../src/health/app.js";
import { EventLog } from "../../../src/health/events.js";
import { HealthMetrics } from "../../../src/health/metrics.js";
import { assessHealth, type HealthInputs } from "../../../src/health/health-status.js";
import type { AdminActions } from "../../../src/health/admin-api.js";
import { repoRoot } from "../../helpers/cli.js";
import { NOW, THRESHOLDS, backend, inputs, pools, syncDest } from "../../helpers/health.js";

const CHROMIUM = "/usr/bin/chromium";
const EVIL = `m3<img src=x onerror="alert('xss')">`;

let state: HealthInputs = inputs();
let failReports = false;
const events = new EventLog();
const actions: AdminActions = {
  caState: () => ({ epoch: 3, active: "ca1", primary: "ca1", failback: { policy: "manual", state: "idle" } }),
  failover: () => Promise.resolve(),
  failback: () => Promise.resolve(),
  drain: () => Promise.resolve(),
  enable: () => Promise.resolve(),
};
const app = createAdminApp({
  // The fixtures are dated around NOW; judging at NOW keeps "since" and "last check" readable.
  getReport: () => {
    if (failReports) throw new Error("report source broken");
    return assessHealth({ ...state, now: NOW }, THRESHOLDS);
  },
  actions, events, metrics: new HealthMetrics({ defaultMetrics: false }), tokenFile: undefined, version: "0.1.0",
});

let server: Server;
let browser: Browser;
let url = "";
before(async () => {
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"],
  });
});
after(async () => {
  await browser?.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function healthyState(): HealthInputs {
  const p = pools(["up", "up"], ["up", "up"]);
  p[1]!.backends.push(backend(EVIL, "up"));
  return inputs({ pools: p, sync: [syncDest(), syncDest({ destination: "ca3", state: "diverged", lagMs: 400_000, divergence: [{ serial: "0F2A", subject: "CN=<b>rogue</b>.example.com", reason: "signed on ca3 only" }] })] });
}

test("the page shows every backend and a backend going DOWN without a reload", { skip: !existsSync(CHROMIUM) && "no /usr/bin/chromium" }, async () => {
  state = healthyState();
  for (let i = 0; i < 12; i++) events.record(i % 3 ? "backend-up" : "failover", `event number ${i} <i>not italic</i>`);
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const problems: string[] = [];
  page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("dialog", (d) => { problems.push(`dialog: ${d.message()}`); void d.dismiss(); });
  const requests: string[] = [];
  page.on("request", (r) => requests.push(r.url()));

  await page.goto(url);
  for (const name of ["ca1", "ca2", "m1", "m2", EVIL]) {
    assert.equal(await page.locator(`tr[data-backend="${name.replace(/"/g, '\\"')}"]`).count(), 1, `row of ${name}`);
  }
  assert.equal(await page.locator('tr[data-backend="m2"]').getAttribute("class"), "up");
  assert.equal(await page.locator("img").count(), 0, "a hostile backend name stays text");
  assert.equal(await page.locator("#content b").count(), 0, "a hostile certificate subject stays text");
  // A marker on the window survives in-place updates and would vanish with a reload.
  await page.evaluate(() => ((globalThis as Record<string, unknown>).puppetHaMarker = 1));

  state = inputs({ ...state, pools: state.pools.map((p) => ({ ...p, backends: p.backends.map((b) => (b.name === "m2" ? backend("m2", "down") : b)) })) });
  await page.waitForSelector('tr[data-backend="m2"].down', { timeout: 10_000 });
  assert.match(await page.locator('tr[data-backend="m2"] td.state').innerText(), /DOWN/);
  assert.match(await page.locator("#refresh").innerText(), /^Live/);
  assert.equal(await page.evaluate(() => (globalThis as Record<string, unknown>).puppetHaMarker), 1, "no reload");
  assert.match(await page.title(), /^puppet-ha DEGRADED/);

  mkdirSync(join(repoRoot, "test-output"), { recursive: true });
  await page.screenshot({ path: join(repoRoot, "test-output", "status-page.png"), fullPage: true });
  assert.deepEqual(problems, [], "no CSP violation, script error or dialog");
  assert.ok(requests.every((r) => r.startsWith(url) || r.startsWith("data:")), `only same-origin requests: ${requests.join(", ")}`);
  await page.close();
});

test("the page reads without JavaScript", { skip: !existsSync(CHROMIUM) && "no /usr/bin/chromium" }, async () => {
  state = healthyState();
  const ctx = await browser.newContext({ javaScriptEnabled: false });
  const page = await ctx.newPage();
  await page.goto(url);
  assert.equal(await page.locator("#pool-masters tbody tr").count(), 3);
  assert.match(await page.locator("#refresh").innerText(), /Reload the page/);
  await ctx.close();
});

test("when refreshing fails the page keeps the last tables and says it is stale", { skip: !existsSync(CHROMIUM) && "no /usr/bin/chromium" }, async () => {
  state = healthyState();
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForSelector("#refresh.live", { timeout: 10_000 });
  failReports = true;
  try {
    await page.waitForSelector("#refresh.stale", { timeout: 10_000 });
    assert.match(await page.locator("#refresh").innerText(), /Not updating \(HTTP 500\)/);
    assert.equal(await page.locator('tr[data-backend="m1"]').count(), 1, "the last good tables stay");
    failReports = false;
    await page.waitForSelector("#refresh.live", { timeout: 10_000 });
  } finally {
    failReports = false;
    await page.close();
  }
});
