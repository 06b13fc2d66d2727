// The status page of a real `puppet-ha proxy` process with proxy.workers: 2, in headless Chromium:
// one row per data-plane worker with the PIDs /health reports and the restart count; a worker
// killed by PID is replaced and the page shows the new PID and one restart without a reload.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { freePorts } from "../../helpers/etcd.js";
import { ProxyChild } from "../../helpers/proxy-child.js";
import { fakeBackend, pki } from "./harness.js";

const CHROMIUM = "/usr/bin/chromium";

interface Workers {
  restarts: number;
  list: { pid: number }[];
}

test("the status page lists the workers (pid, up since, restarts) and follows a killed one's replacement live", { skip: !existsSync(CHROMIUM) && "no /usr/bin/chromium" }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "puppet-ha-workers-page-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const [port, adminPort] = (await freePorts(2)) as [number, number];
  const proxy = ProxyChild.start(t, {
    name: "workers-page", dir, port, adminPort, token: "unused",
    config: {
      proxy: {
        listen: `127.0.0.1:${port}`, tls: pki().files, workers: 2, stateDir: join(dir, "state"), accessLog: false,
        ca: { workers: [{ name: "ca1", url: ca1.url }] }, masters: { workers: [{ name: "m1", url: m1.url }] },
      },
      admin: { listen: `127.0.0.1:${adminPort}` },
      log: { level: "warn" },
    },
  });
  await proxy.ready();
  const workers = async () => ((await (await fetch(`${proxy.adminUrl}/health`)).json()) as { workers?: Workers }).workers;
  let w = await workers();
  for (let i = 0; (w?.list.length ?? 0) < 2 && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100)); // another process's workers coming up: no clock to inject
    w = await workers();
  }
  assert.equal(w?.list.length, 2, JSON.stringify(w));

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"],
  });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(`${proxy.adminUrl}/`);
  const pagePids = async () => (await page.locator("#workers td.pid").allInnerTexts()).map(Number).sort();
  assert.deepEqual(await pagePids(), w.list.map((x) => x.pid).sort(), "the page shows the PIDs /health reports");
  assert.equal(await page.locator("#worker-restarts").innerText(), "0");
  assert.match(await page.locator("#workers tr[data-worker] td").nth(2).innerText(), /ago$/);
  await page.evaluate(() => ((globalThis as Record<string, unknown>).puppetHaMarker = 1));

  // A worker of the proxy this test started, killed by its PID; the primary forks a replacement.
  const killed = w.list[0]!.pid;
  process.kill(killed, "SIGKILL");
  await page.locator("#worker-restarts", { hasText: /^1$/ }).waitFor({ timeout: 30_000 });
  const others = page.locator("#workers tr.up td.pid", { hasText: new RegExp(`^(?!${killed}$)\\d+$`) });
  await others.nth(1).waitFor({ timeout: 30_000 });
  assert.equal(await page.locator("#workers tr[data-worker]").count(), 2);
  assert.equal(await page.evaluate(() => (globalThis as Record<string, unknown>).puppetHaMarker), 1, "no reload");
  assert.deepEqual(await pagePids(), (await workers())!.list.map((x) => x.pid).sort());
  assert.deepEqual(problems, []);
});
