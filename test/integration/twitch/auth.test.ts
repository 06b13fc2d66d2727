// Authentication (bearer token, mTLS with the Puppet CA, CRL and an allowlist, both together)
// and the per-caller rate limit with an injected clock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestCa, writePkiFiles } from "../../helpers/pki.js";
import { httpRequest, type ClientTls } from "../../../src/twitch/fleet/http.js";
import { startHarness } from "./harness.js";

const dir = mkdtempSync(join(tmpdir(), "twitch-auth-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const ca = createTestCa("twitch-auth");
const node = ca.issue("node1.example", { sans: ["localhost", "127.0.0.1"] });
const admin = ca.issue("admin1.ops");
const admin2 = ca.issue("admin2.ops");
const web = ca.issue("web1.example");
const revoked = ca.issue("revoked.ops");
const rogueCa = createTestCa("rogue");
const rogue = rogueCa.issue("admin9.ops");
const files = writePkiFiles(dir, ca, [node], ca.crl({ revoked: [revoked.serialHex] }));
const tokenFile = join(dir, "twitch.token");
writeFileSync(tokenFile, "s3cret-token-value\n", { mode: 0o600 });
const tls = { cert: join(dir, "node1.example.pem"), key: join(dir, "node1.example.key"), ca: files.ca, crl: files.crl };

function client(cert?: { certPem: string; keyPem: string }): ClientTls {
  return { ca: Buffer.from(ca.certPem), ...(cert ? { cert: Buffer.from(cert.certPem), key: Buffer.from(cert.keyPem) } : {}) };
}

async function call(url: string, o: { tls?: ClientTls; token?: string; path?: string } = {}) {
  const headers: Record<string, string> = { accept: "application/json" };
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
  const method = o.path?.startsWith("/puppet/status") ? "GET" : "POST";
  return httpRequest(`${url}${o.path ?? "/puppet/twitch?async=false"}`, { method, headers, tls: o.tls ?? client(), timeoutMs: 10_000 });
}

test("token: none is 401 with WWW-Authenticate, wrong is 403, right is 200; status needs it too", async (t) => {
  const h = await startHarness(t, { listen: "0.0.0.0:0", auth: { tokenFile } });
  const url = h.url.replace("0.0.0.0", "127.0.0.1");
  const none = await call(url);
  assert.equal(none.status, 401);
  assert.match(String(none.headers["www-authenticate"]), /^Bearer/);
  assert.equal((JSON.parse(none.body) as { error: { code: string } }).error.code, "E_TWITCH_AUTH_REQUIRED");
  assert.equal((await call(url, { token: "s3cret-token-valuE" })).status, 403);
  assert.equal((await call(url, { token: "s3cret" })).status, 403);
  const basic = await httpRequest(`${url}/puppet/twitch`, { method: "GET", headers: { authorization: "Basic czNjcmV0" }, timeoutMs: 5000 });
  assert.equal(basic.status, 403);
  assert.equal((await call(url, { path: "/puppet/status" })).status, 401);
  assert.equal(h.fake.calls(), 0);
  const ok = await call(url, { token: "s3cret-token-value" });
  assert.equal(ok.status, 200, ok.body);
  assert.equal(h.fake.calls(), 1);
  assert.equal((await call(url, { token: "s3cret-token-value", path: "/puppet/status" })).status, 200);
  assert.ok(h.logs().some((l) => l.msg === "puppet run triggered" && l.caller === "token@127.0.0.1"));
});

test("mTLS: an allowed certname runs; off the allowlist, revoked, foreign CA are 403; no cert is 401", async (t) => {
  const h = await startHarness(t, { listen: "127.0.0.1:0", auth: { tls, allow: ["admin?.ops", "revoked.*"] } });
  assert.match(h.url, /^https:/);
  const ok = await call(h.url, { tls: client(admin) });
  assert.equal(ok.status, 200, ok.body);
  assert.ok(h.logs().some((l) => l.msg === "puppet run triggered" && l.caller === "cert:admin1.ops"));
  const notListed = await call(h.url, { tls: client(web) });
  assert.equal(notListed.status, 403);
  assert.match((JSON.parse(notListed.body) as { message: string }).message, /web1\.example.*not on the allowlist/);
  const rev = await call(h.url, { tls: client(revoked) });
  assert.equal(rev.status, 403);
  assert.match((JSON.parse(rev.body) as { message: string }).message, /CERT_REVOKED/);
  const foreign = await call(h.url, { tls: { ...client(rogue), ca: Buffer.from(ca.certPem) } });
  assert.equal(foreign.status, 403);
  assert.equal((await call(h.url)).status, 401);
  assert.equal(h.fake.calls(), 1);
});

test("token and mTLS together: either suffices, but a bad cert is refused even with the token", async (t) => {
  const h = await startHarness(t, { listen: "127.0.0.1:0", auth: { tls, tokenFile, allow: ["admin*.ops"] } });
  assert.equal((await call(h.url, { token: "s3cret-token-value" })).status, 200, "token, no cert");
  assert.equal((await call(h.url, { tls: client(admin) })).status, 200, "cert, no token");
  assert.equal((await call(h.url, { tls: client(web), token: "s3cret-token-value" })).status, 200, "valid cert off the list + token");
  assert.equal((await call(h.url, { tls: client(web), token: "nope" })).status, 403);
  assert.equal((await call(h.url, { tls: client(revoked), token: "s3cret-token-value" })).status, 403, "revoked + token");
  assert.equal((await call(h.url)).status, 401);
});

test("rate limit per caller: 429 with Retry-After, other callers unaffected, the window slides", async (t) => {
  let now = 1_000_000;
  const h = await startHarness(t, { auth: { tls, allow: ["admin*.ops"] }, rateLimit: { max: 2, per: "1m" } }, { now: () => now });
  assert.equal((await call(h.url, { tls: client(admin) })).status, 200);
  now += 10_000;
  assert.equal((await call(h.url, { tls: client(admin) })).status, 200);
  now += 5_000;
  const limited = await call(h.url, { tls: client(admin) });
  assert.equal(limited.status, 429);
  assert.equal(limited.headers["retry-after"], "45");
  assert.equal((JSON.parse(limited.body) as { error: { code: string } }).error.code, "E_TWITCH_RATE_LIMIT");
  assert.equal((await call(h.url, { tls: client(admin2) })).status, 200, "another caller has its own budget");
  now += 45_000;
  assert.equal((await call(h.url, { tls: client(admin) })).status, 200, "the first hit left the window");
  assert.equal((await call(h.url, { tls: client(admin) })).status, 429);
  assert.equal(h.fake.calls(), 4);
});

test("a token file or TLS key readable by group/others is logged as a warning naming the file and the fix; 0600 is not", async (t) => {
  const looseDir = mkdtempSync(join(tmpdir(), "twitch-loose-"));
  t.after(() => rmSync(looseDir, { recursive: true, force: true }));
  const looseToken = join(looseDir, "twitch.token");
  writeFileSync(looseToken, "s3cret-token-value\n");
  chmodSync(looseToken, 0o644);
  const looseKey = join(looseDir, "node.key");
  copyFileSync(tls.key, looseKey);
  chmodSync(looseKey, 0o644);
  const h = await startHarness(t, { auth: { tokenFile: looseToken, tls: { ...tls, key: looseKey } } });
  const warnings = h.logs().filter((l) => l.level === "warn").map((l) => String(l.msg));
  assert.ok(warnings.some((w) => w.includes(`token file ${looseToken} is readable or writable by group/others (mode 0644): run \`chmod 600 ${looseToken}\``)), warnings.join("\n"));
  assert.ok(warnings.some((w) => w.includes(`twitch TLS key ${looseKey} is readable or writable by others (or writable by group) (mode 0644): run \`chmod 640 ${looseKey}\``)), warnings.join("\n"));
  assert.equal((await call(h.url, { token: "s3cret-token-value" })).status, 200, "still served: a warning, not a refusal");

  const strict = await startHarness(t, { auth: { tokenFile, tls } });
  assert.deepEqual(strict.logs().filter((l) => l.level === "warn"), [], "0600 files: no warning");
});
