// sync.arbiter with several proxies, over real loopback sockets: every proxy is asked, the highest
// epoch answered wins (one down, one behind: never a stale epoch when a newer one answered), a
// single URL still works, no answer at all is an error naming every proxy; and the config forms.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { httpArbiter } from "../../../src/sync/arbiter.js";
import { syncSection } from "../../../src/sync/config.js";
import { ArbiterError } from "../../../src/sync/errors.js";

const TOKEN = "arbiter-list-token";

/** A fake proxy admin API answering GET /api/ca with `state`; records the bearer tokens it saw. */
async function fakeProxy(t: TestContext, state: { epoch: number; active: string }) {
  const tokens: (string | undefined)[] = [];
  const server = createServer((req, res) => {
    tokens.push(req.headers.authorization);
    if (req.url !== "/api/ca") return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ...state, primary: "ca1" }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, tokens };
}

/** A loopback URL nothing listens on (a proxy that is down). */
async function downUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function tokenFile(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "puppet-ha-arbiter-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "token");
  writeFileSync(path, `${TOKEN}\n`, { mode: 0o600 });
  return path;
}

test("several proxies: the highest epoch among the answers wins, whatever the order; one down changes nothing", async (t) => {
  const behind = await fakeProxy(t, { epoch: 3, active: "ca1" });
  const current = await fakeProxy(t, { epoch: 5, active: "ca2" });
  const down = await downUrl();
  const file = tokenFile(t);
  for (const url of [[down, behind.url, current.url], [current.url, down, behind.url], [behind.url, current.url]]) {
    assert.deepEqual(await httpArbiter({ url, tokenFile: file, timeoutMs: 2000 }).current(), { epoch: 5, active: "ca2" }, url.join(" "));
  }
  assert.ok([...behind.tokens, ...current.tokens].every((h) => h === `Bearer ${TOKEN}`), "every proxy gets the token");
});

test("several proxies, one down and one behind: the answer is the one that answered (the sync fence refuses it if a newer epoch is known)", async (t) => {
  const behind = await fakeProxy(t, { epoch: 3, active: "ca1" });
  assert.deepEqual(await httpArbiter({ url: [await downUrl(), behind.url], timeoutMs: 2000 }).current(), { epoch: 3, active: "ca1" });
});

test("a single URL still works; no proxy answering is an ArbiterError naming each one", async (t) => {
  const only = await fakeProxy(t, { epoch: 2, active: "ca2" });
  assert.deepEqual(await httpArbiter({ url: only.url }).current(), { epoch: 2, active: "ca2" });
  const [a, b] = [await downUrl(), await downUrl()];
  await assert.rejects(httpArbiter({ url: [a, b], timeoutMs: 2000 }).current(), (e: unknown) => {
    assert.ok(e instanceof ArbiterError);
    assert.match(e.message, /no arbiter answered/);
    assert.ok(e.message.includes(`${a}/api/ca`) && e.message.includes(`${b}/api/ca`), e.message);
    return true;
  });
});

test("config: sync.arbiter.url is one URL or a non-empty list of URLs; a bad entry is named", () => {
  const base = { cadirs: { ca1: "/srv/ca1", ca2: "/srv/ca2" } };
  const one = syncSection.parse({ ...base, arbiter: { url: "http://10.0.0.1:8141/", tokenFile: "/etc/t" } });
  assert.equal(one.arbiter?.url, "http://10.0.0.1:8141");
  const list = syncSection.parse({ ...base, arbiter: { url: ["http://10.0.0.1:8141", "https://proxy2:8141/"], tokenFile: "/etc/t" } });
  assert.deepEqual(list.arbiter?.url, ["http://10.0.0.1:8141", "https://proxy2:8141"]);
  const empty = syncSection.safeParse({ ...base, arbiter: { url: [], tokenFile: "/etc/t" } });
  assert.equal(empty.success, false);
  const bad = syncSection.safeParse({ ...base, arbiter: { url: ["http://10.0.0.1:8141", "nope"], tokenFile: "/etc/t" } });
  assert.equal(bad.success, false);
  assert.match(JSON.stringify(bad.error?.issues), /nope/);
});
