// Issue 12 item 5: with the default config (loopback, no auth) no web page can trigger a run:
// foreign Host names (DNS rebinding), foreign Origin/Referer and Sec-Fetch-Site cross-site or
// same-site are refused before anything runs; noop, tags and environment need authentication even
// on loopback; the puppet-twitch-compatible plain GET/POST still works.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startHarness, testToken } from "./harness.js";

/** One request with exactly these headers (fetch may not set Host). */
function call(url: string, path: string, headers: Record<string, string>, method = "GET"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, { method, headers, agent: false }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end(method === "POST" ? "environment=attacker_env" : undefined);
  });
}

test("browser-made requests are refused and run nothing; curl-like ones run", async (t) => {
  const h = await startHarness(t);
  const port = new URL(h.url).port;
  const refused: [string, Record<string, string>, string][] = [
    ["a rebinding page's Host", { host: `evil.example:${port}` }, "E_HOST_NOT_ALLOWED"],
    ["a Host that only starts like localhost", { host: `localhost.evil.example:${port}` }, "E_HOST_NOT_ALLOWED"],
    ["a cross-site fetch", { "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors" }, "E_CROSS_SITE"],
    ["a same-site fetch (another port)", { "sec-fetch-site": "same-site" }, "E_CROSS_SITE"],
    ["a foreign Origin", { origin: "http://evil.example" }, "E_CROSS_SITE"],
    ["a null Origin (sandboxed frame)", { origin: "null" }, "E_CROSS_SITE"],
    ["an old browser's foreign Referer", { referer: "http://evil.example/x.html" }, "E_CROSS_SITE"],
  ];
  for (const method of ["GET", "POST"]) {
    for (const [what, headers, code] of refused) {
      const r = await call(h.url, "/puppet/twitch", { accept: "application/json", ...headers, "content-type": "text/plain" }, method);
      assert.equal(r.status, 403, `${method} ${what}: ${r.body}`);
      assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, code, what);
    }
  }
  await h.runner.idle();
  assert.deepEqual(h.fake.argvs(), [], "nothing ran");
  const status = await call(h.url, "/puppet/status", { host: `evil.example:${port}` });
  assert.equal(status.status, 403, "the status is not readable through a rebinding name either");

  const curl = await call(h.url, "/puppet/twitch", { "user-agent": "curl/8.5.0", accept: "*/*" });
  assert.deepEqual(curl, { status: 202, body: "Triggered puppet run" });
  await h.runner.idle();
  const own = await call(h.url, "/puppet/twitch", { origin: h.url, "sec-fetch-site": "same-origin" }, "POST");
  assert.equal(own.status, 202, "a same-origin request (the node's own page) is not refused");
  await h.runner.idle();
  assert.equal(h.fake.argvs().length, 2);
});

test("noop, tags and environment need authentication even on loopback; with the token they run", async (t) => {
  const open = await startHarness(t);
  for (const q of ["environment=attacker_env", "tags=ntp", "noop=true", "noop=true&environment=production&tags=a"]) {
    const r = await fetch(`${open.url}/puppet/twitch?${q}`, { headers: { accept: "application/json" } });
    const body = (await r.json()) as { error: { code: string; message: string } };
    assert.equal(r.status, 401, q);
    assert.equal(body.error.code, "E_TWITCH_AUTH_REQUIRED");
    assert.match(body.error.message, /need authentication \(configure auth\.tokenFile or auth\.tls\)/);
  }
  assert.equal((await fetch(`${open.url}/puppet/twitch?noop=false&async=false`)).status, 200, "noop=false changes nothing: allowed");
  assert.deepEqual(open.fake.argvs(), [["agent", "--onetime", "--no-daemonize", "--detailed-exitcodes"]], "only that run ran, with the fixed vector");

  const token = testToken(t);
  const authed = await startHarness(t, { auth: token.auth });
  const r = await fetch(`${authed.url}/puppet/twitch?environment=production&tags=ntp&noop=true`, { headers: token.headers });
  assert.equal(r.status, 202);
  await authed.runner.idle();
  assert.deepEqual(authed.fake.argvs(), [["agent", "--onetime", "--no-daemonize", "--detailed-exitcodes", "--noop", "--tags", "ntp", "--environment", "production"]]);
});

test("no credential reaches twitch's log: neither a query-string token nor the Authorization header", async (t) => {
  const token = testToken(t, "the-real-twitch-token");
  const h = await startHarness(t, { auth: token.auth });
  assert.equal((await fetch(`${h.url}/puppet/twitch?token=QS-SECRET-9`)).status, 401);
  assert.equal((await fetch(`${h.url}/puppet/twitch?access_token=QS-SECRET-8`, { headers: { authorization: "Bearer HEADER-SECRET-7" } })).status, 403);
  assert.equal((await fetch(`${h.url}/puppet/twitch?token=QS-SECRET-6`, { headers: token.headers })).status, 400, "an unknown parameter");
  assert.equal((await fetch(`${h.url}/puppet/twitch`, { headers: token.headers })).status, 202);
  await h.runner.idle();
  const text = JSON.stringify(h.logs());
  assert.match(text, /puppet run triggered/);
  assert.match(text, /unknown parameter \\"token\\"/, "the refusal is logged, naming the key only");
  for (const s of ["QS-SECRET-9", "QS-SECRET-8", "HEADER-SECRET-7", "QS-SECRET-6", "the-real-twitch-token"]) assert.ok(!text.includes(s), `${s} is not in the log`);
});
