// Issue 12 item 5 in a real headless Chromium: a page of another origin tries every simple request
// a page can make to a loopback twitch with the default config (no-cors fetch GET, text/plain POST,
// an <img>, a form POST), and a DNS-rebinding page reaches it under its own name. The requests reach
// twitch, and nothing runs.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium, type Browser } from "playwright-core";
import { startHarness } from "./harness.js";

const CHROMIUM = "/usr/bin/chromium";
let browser: Browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--disable-quic",
      // The rebinding attacker's name resolves to loopback, as after a DNS rebind.
      "--host-resolver-rules=MAP rebind.test 127.0.0.1",
    ],
  });
});
after(async () => {
  await browser?.close(); // playwright gave it a fresh profile and removes it
});

function attackerPage(twitch: string): string {
  const t = `${twitch}/puppet/twitch`;
  return `<!doctype html><html><body>
<img src="${t}?environment=attacker_env">
<form id="f" method="POST" action="${t}?tags=ntp" enctype="text/plain" target="sink"><input name="x" value="y"></form>
<iframe name="sink"></iframe>
<script>
fetch(${JSON.stringify(`${t}?noop=false`)}, { mode: "no-cors" }).catch(() => {});
fetch(${JSON.stringify(`${t}?async=true`)}, { mode: "no-cors", method: "POST", headers: { "content-type": "text/plain" }, body: "x" }).catch(() => {});
fetch(${JSON.stringify(t)}, { mode: "no-cors" }).catch(() => {});
document.getElementById("f").submit();
</script></body></html>`;
}

test("a page of another origin cannot trigger a run by any simple request", async (t) => {
  const h = await startHarness(t);
  const seen: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];
  let all = () => undefined as void;
  const arrived = new Promise<void>((resolve) => (all = resolve));
  h.server.on("request", (req: { method?: string; url?: string; headers: IncomingHttpHeaders }) => {
    if (!req.url?.startsWith("/puppet/twitch")) return;
    seen.push({ method: req.method ?? "", url: req.url, headers: req.headers });
    if (seen.length === 5) all();
  });
  const attacker: Server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" }).end(attackerPage(h.url));
  });
  await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => {
    attacker.closeAllConnections();
    attacker.close(() => resolve());
  }));
  const page = await browser.newPage();
  t.after(() => page.close());
  await page.goto(`http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`);
  await arrived; // all five requests reached twitch

  await h.runner.idle();
  assert.deepEqual(h.fake.argvs(), [], `nothing ran; requests: ${seen.map((s) => `${s.method} ${s.url}`).join(", ")}`);
  assert.deepEqual(seen.map((s) => s.method).sort(), ["GET", "GET", "GET", "POST", "POST"]);
  assert.ok(seen.every((s) => s.headers["sec-fetch-site"] === "same-site" || s.headers["sec-fetch-site"] === "cross-site"), "Chromium marked them all");
});

test("a DNS-rebinding page (Host rebind.test) can neither trigger a run nor read the status", async (t) => {
  const h = await startHarness(t);
  const rebound = h.url.replace("127.0.0.1", "rebind.test");
  const page = await browser.newPage();
  t.after(() => page.close());
  const nav = await page.goto(`${rebound}/puppet/status`);
  assert.equal(nav?.status(), 403);
  // Same origin from the browser's point of view: the page may read the answers.
  const answers = await page.evaluate(async () => {
    const get = await fetch("/puppet/twitch");
    const post = await fetch("/puppet/twitch?environment=attacker_env", { method: "POST" });
    return [get.status, post.status, await get.text()];
  });
  assert.deepEqual(answers.slice(0, 2), [403, 403]);
  assert.match(String(answers[2]), /Host "rebind\.test:\d+" is not one of this listener's names/);
  await h.runner.idle();
  assert.deepEqual(h.fake.argvs(), []);
});
