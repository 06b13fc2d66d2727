// CRL refresh: interval, If-Modified-Since, kicks coalesced into at most one extra fetch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CrlRefresher, type CrlFetchResult } from "../../../../src/proxy/control/crl-refresh.js";
import { FakeClock, flush } from "../fake-clock.js";

function setup() {
  const clock = new FakeClock();
  const calls: { url: string; ims: string | undefined }[] = [];
  const offered: string[] = [];
  let adopted = 0;
  let pending: ((r: CrlFetchResult) => void) | undefined;
  const r = new CrlRefresher({
    activeUrl: () => "http://ca1",
    offer: (pem) => {
      offered.push(pem);
      return pem === "old" ? "not newer" : "";
    },
    adopted: () => void adopted++,
    intervalMs: 1000,
    timeoutMs: 100,
    maxBytes: () => 1024,
    scheduler: clock,
    fetch: (url, ims) => {
      calls.push({ url, ims });
      return new Promise((resolve) => (pending = resolve));
    },
  });
  return { clock, calls, offered, r, answer: (x: CrlFetchResult) => pending?.(x), adopted: () => adopted };
}

test("fetches on the interval from the active CA, with If-Modified-Since after the first answer", async () => {
  const s = setup();
  s.r.start();
  s.clock.advance(1000);
  assert.equal(s.calls.length, 1);
  assert.equal(s.calls[0]?.url, "http://ca1/puppet-ca/v1/certificate_revocation_list/ca");
  assert.equal(s.calls[0]?.ims, undefined);
  s.answer({ status: 200, body: "crl2", lastModified: "Mon, 01 Jan 2029 00:00:00 GMT" });
  await flush();
  assert.equal(s.adopted(), 1);
  s.clock.advance(1000);
  assert.equal(s.calls[1]?.ims, "Mon, 01 Jan 2029 00:00:00 GMT");
  s.answer({ status: 304, body: "", lastModified: undefined });
  await flush();
  assert.equal(s.adopted(), 1);
  assert.equal(s.r.lastFetch?.result, "not modified");
  s.r.stop();
});

test("kicks during a fetch coalesce into one more fetch", async () => {
  const s = setup();
  const first = s.r.kick();
  void s.r.kick();
  void s.r.kick();
  assert.equal(s.calls.length, 1);
  s.answer({ status: 200, body: "old", lastModified: undefined });
  await flush();
  assert.equal(s.calls.length, 2);
  s.answer({ status: 200, body: "crl3", lastModified: undefined });
  await first;
  assert.deepEqual(s.offered, ["old", "crl3"]);
  assert.equal(s.adopted(), 1);
});

test("setIntervalMs (SIGHUP): the next fetch is one new interval from now; the same interval changes nothing", async () => {
  const s = setup();
  s.r.start();
  s.clock.advance(500);
  s.r.setIntervalMs(1000);
  s.clock.advance(500);
  assert.equal(s.calls.length, 1, "same interval: the timer was not restarted");
  s.answer({ status: 304, body: "", lastModified: undefined });
  await flush();
  s.r.setIntervalMs(100_000);
  s.clock.advance(99_999);
  assert.equal(s.calls.length, 1);
  s.clock.advance(1);
  assert.equal(s.calls.length, 2);
});
