// The status page of a running real proxy in headless Chromium: every backend shown; a compile
// master whose server is closed turns DOWN on the page without a reload. Saves
// test-output/proxy-status-page.png.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { repoRoot } from "../../helpers/cli.js";
import { closeBackend, until } from "./harness.js";
import { startHa } from "./ha-harness.js";

const CHROMIUM = "/usr/bin/chromium";

test("the real proxy's status page shows every backend and a killed master going DOWN live", { skip: !existsSync(CHROMIUM) && "no /usr/bin/chromium" }, async (t) => {
  const ha = await startHa(t, { sync: false, masters: 2 });
  await until(() => [ha.rt.proxy.masters, ha.rt.proxy.ca].every((p) => p.backends.every((b) => b.state === "up")), 5000, "all up");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
  await page.goto(`${ha.adminUrl}/`);
  for (const name of ["ca1", "ca2", "m1", "m2"]) {
    assert.equal(await page.locator(`tr[data-backend="${name}"]`).count(), 1, `row of ${name}`);
  }
  assert.equal(await page.locator('tr[data-backend="m2"]').getAttribute("class"), "up");
  await page.evaluate(() => ((globalThis as Record<string, unknown>).puppetHaMarker = 1));

  await closeBackend(ha.masters[1]!);
  await page.waitForSelector('tr[data-backend="m2"].down', { timeout: 15_000 });
  assert.match(await page.locator('tr[data-backend="m2"] td.state').innerText(), /DOWN/);
  assert.equal(await page.evaluate(() => (globalThis as Record<string, unknown>).puppetHaMarker), 1, "no reload");
  assert.match(await page.title(), /^puppet-ha DEGRADED/);
  mkdirSync(join(repoRoot, "test-output"), { recursive: true });
  await page.screenshot({ path: join(repoRoot, "test-output", "proxy-status-page.png"), fullPage: true });
  assert.deepEqual(problems, []);
});
