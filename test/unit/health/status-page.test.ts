// The status page: every value escaped (a hostile certname cannot inject markup), every part of
// the report shown, and a CSP whose hashes match the page's only script and style.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { escapeHtml, renderStatusFragment, renderStatusPage, STATUS_PAGE_CSP } from "../../../src/health/status-page.js";
import { backend, inputs, pools, report, syncDest } from "../../helpers/health.js";

const EVIL = `<script>alert(1)</script><img src=x onerror="alert(2)">'&`;

function hostileReport() {
  const p = pools();
  p[1]!.backends.push(backend(`m3${EVIL}`, "down", { url: `http://x/${EVIL}`, lastCheck: { at: "2026-11-21T09:59:00Z", ok: false, error: `TLS error ${EVIL}` } }));
  return report({
    pools: p,
    arbiter: { ...inputs().arbiter, failback: { policy: "manual", state: "blocked", detail: EVIL }, warnings: [EVIL] },
    sync: [syncDest({ destination: `ca2${EVIL}`, state: "diverged", lastError: EVIL, divergence: [{ serial: EVIL, subject: `CN=${EVIL}`, file: `signed/${EVIL}.pem`, reason: EVIL }] })],
  }, [{ at: "2026-11-21T09:58:00Z", kind: EVIL, message: `backend ${EVIL} down` }]);
}

test("escapeHtml escapes the five HTML metacharacters", () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  assert.equal(escapeHtml(undefined), "");
  assert.equal(escapeHtml(3), "3");
});

test("no value from the report can inject markup", () => {
  const html = renderStatusPage(hostileReport());
  assert.equal(html.match(/<script>/g)?.length, 1, "only the page's own script element");
  assert.doesNotMatch(html, /<img/);
  assert.doesNotMatch(html, /onerror="/);
  assert.match(html, /m3&lt;script&gt;alert\(1\)&lt;\/script&gt;&lt;img src=x onerror=&quot;alert\(2\)&quot;&gt;&#39;&amp;/);
  assert.match(html, /CN=&lt;script&gt;/);
  // The reason list (built from the hostile names) is escaped too.
  assert.match(html, /compile master m3&lt;script&gt;/);
});

test("the page shows pools, backends, states, CA, sync, expiry and events", () => {
  const r = report({ pools: pools(["up", "drain"], ["up", "down"]), sync: [syncDest({ state: "diverged", divergence: [{ serial: "0A1B", reason: "only on ca2" }] })] },
    [{ at: "2026-11-21T09:58:00Z", kind: "failover", message: "ca1 failed, ca2 promoted at epoch 3" }]);
  const html = renderStatusFragment(r);
  for (const b of ["ca1", "ca2", "m1", "m2"]) assert.match(html, new RegExp(`data-backend="${b}"`));
  assert.match(html, /<tr class="down" data-backend="m2">/);
  assert.match(html, /<tr class="drain" data-backend="ca2">/);
  assert.match(html, /<tr class="up active" data-backend="ca1"><td>ca1 \(active\)/);
  assert.match(html, /id="status">DEGRADED</);
  assert.match(html, /<th>Epoch<\/th><td>3<\/td>/);
  assert.match(html, /serial <code>0A1B<\/code>/);
  assert.match(html, /40 d left/);
  assert.match(html, /CRL number 7/);
  assert.match(html, /ca2 promoted at epoch 3/);
  assert.match(html, /1h ago/, "since, relative to the report's time");
});

test("only the last 100 events are shown", () => {
  const events = Array.from({ length: 150 }, (_, i) => ({ at: "2026-11-21T09:00:00Z", kind: "admin", message: `event-${i}` }));
  const html = renderStatusFragment(report({}, events));
  assert.match(html, /event-99</);
  assert.doesNotMatch(html, /event-100</);
});

test("the CSP allows exactly the page's inline script and style, by hash", () => {
  const html = renderStatusPage(report());
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? "";
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? "";
  const sha = (s: string) => `'sha256-${createHash("sha256").update(s).digest("base64")}'`;
  assert.match(STATUS_PAGE_CSP, new RegExp(`script-src ${sha(script).replace(/[+/]/g, "\\$&")}(;|$)`));
  assert.match(STATUS_PAGE_CSP, new RegExp(`style-src ${sha(style).replace(/[+/]/g, "\\$&")}(;|$)`));
  assert.match(STATUS_PAGE_CSP, /default-src 'none'/);
  assert.doesNotMatch(STATUS_PAGE_CSP, /unsafe-inline|unsafe-eval/);
  assert.doesNotMatch(html, /https?:\/\/(?!127\.0\.0\.1)/, "no external assets");
});
