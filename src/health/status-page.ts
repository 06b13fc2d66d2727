// The HTML status page at GET / (in the spirit of haproxy's stats page): server-rendered tables
// that read without JavaScript, and a small inline script that swaps in a fresh server-rendered
// fragment (`?fragment=1`) every 2 s. Every value is escaped here; the CSP allows only this
// script and style (by hash) and same-origin fetches.
import { createHash } from "node:crypto";
import type { BackendReport, ClusterReport, ExpiryReport, FleetReport, HealthReport, PoolReport, SyncDestinationReport, WorkersReport } from "./report.js";
import { formatMs } from "./health-status.js";

const STYLE = `
body{font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1d1d1f;background:#f4f5f7}
header{display:flex;flex-wrap:wrap;gap:12px;align-items:baseline;padding:10px 16px;color:#fff;background:#37474f}
header h1{font-size:18px;margin:0}
main{padding:8px 16px 24px}
h2{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;background:#fff;margin-bottom:6px;min-width:60%}
th,td{border:1px solid #c9ced6;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#e3e7ed;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 10px;border-radius:10px;font-weight:700;letter-spacing:.05em}
.s-ok .badge,.b-ok{background:#2e7d32;color:#fff}
.s-degraded .badge,.b-warn{background:#f9a825;color:#1d1d1f}
.s-down .badge,.b-bad{background:#c62828;color:#fff}
tr.up td{background:#dcf3dd}
tr.down td{background:#f9d4d4}
tr.drain td,tr.unknown td,tr.syncing td{background:#fff0c2}
tr.in-sync td{background:#dcf3dd}
tr.diverged td,tr.error td{background:#f9d4d4}
tr.active td:first-child{font-weight:700}
ul.reasons{margin:6px 0;padding-left:20px}
.muted{color:#5f6b7a}
#refresh{color:#cfd8dc}
#refresh.stale{color:#ffab91;font-weight:700}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
`;

const SCRIPT = `
(function () {
  var main = document.getElementById("content");
  var note = document.getElementById("refresh");
  var url = location.pathname + "?fragment=1";
  function tick() {
    var ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, 5000);
    fetch(url, { cache: "no-store", signal: ctl.signal, headers: { Accept: "text/html" } })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        main.innerHTML = html;
        var root = main.querySelector("[data-title]");
        if (root) document.title = root.getAttribute("data-title");
        note.textContent = "Live: updated every 2 s, last at " + new Date().toLocaleTimeString();
        note.className = "live";
      })
      .catch(function (e) {
        note.textContent = "Not updating (" + (e && e.message ? e.message : e) + "): the tables show the last answer";
        note.className = "stale";
      })
      .finally(function () {
        clearTimeout(timer);
        setTimeout(tick, 2000);
      });
  }
  note.textContent = "Live: updated every 2 s";
  setTimeout(tick, 2000);
})();
`;

const hash = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

/** Content-Security-Policy for the status page: only its own inline script and style run. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${hash(SCRIPT)}`,
  `style-src ${hash(STYLE)}`,
  "connect-src 'self'",
  "img-src data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text safe in HTML element content and in quoted attribute values. */
export function escapeHtml(value: string | number | boolean | undefined | null): string {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

const e = escapeHtml;

export function renderStatusPage(report: HealthReport): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${e(title(report))}</title>
<style>${STYLE}</style>
</head><body>
<header><h1>puppet-ha</h1><span>status page</span><span id="refresh">Reload the page to refresh</span></header>
<main id="content">${renderStatusFragment(report)}</main>
<script>${SCRIPT}</script>
</body></html>
`;
}

/** The inside of <main>: what the page's script fetches with `?fragment=1` and swaps in. */
export function renderStatusFragment(r: HealthReport): string {
  return `<div class="s-${e(r.status)}" data-title="${e(title(r))}" data-status="${e(r.status)}">
<h2>Status <span class="badge" id="status">${e(r.status.toUpperCase())}</span></h2>
${r.reasons.length ? `<ul class="reasons">${r.reasons.map((x) => `<li>${e(x)}</li>`).join("")}</ul>` : `<p class="muted">Agents can get certificates and catalogs; nothing to report.</p>`}
<p class="muted">Report time ${e(r.time)} · puppet-ha ${e(r.version)}</p>
${arbiter(r)}
${r.cluster ? cluster(r.cluster) : ""}
${expiry(r)}
${r.pools.map((p) => pool(p, r.arbiter.active, r.time)).join("\n")}
${r.workers ? workers(r.workers, r.time) : ""}
${sync(r.sync, r.time)}
${r.fleet ? fleet(r.fleet, r.time) : ""}
${events(r.events)}
</div>`;
}

function title(r: HealthReport): string {
  return `puppet-ha ${r.status.toUpperCase()}: active CA ${r.arbiter.active}, epoch ${r.arbiter.epoch}`;
}

function arbiter(r: HealthReport): string {
  const a = r.arbiter;
  const rows: [string, string][] = [
    ["Active CA", `<strong>${e(a.active)}</strong>${a.active !== a.primary ? ` <span class="badge b-warn">standby</span>` : ""}`],
    ["Primary CA", e(a.primary)],
    ["Epoch", e(a.epoch)],
    ["Failback", `${e(a.failback.policy)}: ${e(a.failback.state)}${a.failback.detail ? ` (${e(a.failback.detail)})` : ""}`],
    ["Held CA writes", e(a.heldWrites)],
  ];
  if (a.lastFailoverLagMs !== undefined) rows.push(["Loss window at last failover", e(formatMs(a.lastFailoverLagMs))]);
  if (a.warnings.length) rows.push(["Warnings", a.warnings.map(e).join("<br>")]);
  return `<h2>Certificate authority</h2>
<table id="arbiter"><tbody>${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join("")}</tbody></table>`;
}

function expiry(r: HealthReport): string {
  const row = (what: string, x: (ExpiryReport & { number?: string }) | undefined) => {
    if (!x) return `<tr><th>${what}</th><td colspan="3" class="muted">unknown</td></tr>`;
    const cls = x.daysLeft < 0 ? "down" : "up";
    return `<tr class="${cls}"><th>${what}</th><td>${e(x.notAfter)}</td><td class="num">${x.daysLeft < 0 ? `expired ${e(-x.daysLeft)} d ago` : `${e(x.daysLeft)} d left`}</td><td>${x.number !== undefined ? `CRL number ${e(x.number)}` : ""}</td></tr>`;
  };
  return `<h2>Expiry</h2>
<table id="expiry"><thead><tr><th></th><th>Not after / next update</th><th>Left</th><th></th></tr></thead><tbody>
${row("CA certificate", r.expiry.caCert)}
${row("CRL", r.expiry.crl)}
</tbody></table>`;
}

function pool(p: PoolReport, active: string, now: string): string {
  const label = p.name === "ca" ? "CA workers" : "Compile masters";
  return `<h2>${label}${p.balance ? ` <span class="muted">(${e(p.balance)})</span>` : ""}</h2>
<table id="pool-${e(p.name)}"><thead><tr><th>Backend</th><th>URL</th><th>State</th><th>Since</th><th>Last check</th><th>Latency</th><th>Last error</th><th>Fails</th><th>In flight</th><th>Requests</th><th>Errors</th></tr></thead><tbody>
${p.backends.map((b) => backendRow(b, p.name === "ca" && b.name === active, now)).join("\n")}
</tbody></table>`;
}

function backendRow(b: BackendReport, isActive: boolean, now: string): string {
  const c = b.lastCheck;
  return `<tr class="${e(b.state)}${isActive ? " active" : ""}" data-backend="${e(b.name)}"><td>${e(b.name)}${isActive ? " (active)" : ""}</td><td class="mono">${e(b.url)}</td>` +
    `<td class="state">${e(b.state.toUpperCase())}</td><td title="${e(b.since)}">${e(ago(b.since, now))}</td>` +
    `<td>${c ? `${c.ok ? "ok" : "failed"} ${e(ago(c.at, now))}` : "none yet"}</td><td class="num">${c?.latencyMs !== undefined ? `${e(c.latencyMs)} ms` : ""}</td>` +
    `<td>${e(c?.error ?? "")}</td><td class="num">${e(b.consecutiveFailures)}</td><td class="num">${e(b.inFlight)}</td>` +
    `<td class="num">${e(b.requests)}</td><td class="num">${e(b.errors)}</td></tr>`;
}

/** proxy.cluster: the controller and every member as this proxy last read them from etcd. */
function cluster(c: ClusterReport): string {
  const rows = c.members.map((m) => `<tr data-member="${e(m.name)}"><td>${e(m.name)}${m.name === c.controller ? ` <span class="badge">controller</span>` : ""}${m.name === c.name ? " (this proxy)" : ""}</td>` +
    `<td>${e(m.adminUrl)}</td><td class="num">${e(m.appliedEpoch)}</td><td class="num">${m.viewAgeMs === null ? "" : e(formatMs(m.viewAgeMs))}</td><td class="num">${e(m.caWritesInFlight)}</td></tr>`);
  const etcd = c.etcdUnreachableSince === null ? "reachable" : `<strong>unreachable since ${e(c.etcdUnreachableSince)}</strong>`;
  return `<h2>Cluster</h2>
<p>Controller: <strong>${e(c.controller ?? "none")}</strong> · etcd ${etcd} · lease renewals ${e(c.leaseRenewals)} (failed ${e(c.leaseRenewalFailures)}) · elected here ${e(c.controllerChanges)} times · view deadline missed ${e(c.viewDeadlineMisses)} times</p>
<table id="cluster"><thead><tr><th>Member</th><th>Admin URL</th><th>Applied epoch</th><th>View age</th><th>CA writes in flight</th></tr></thead><tbody>
${rows.join("\n")}
</tbody></table>`;
}

/** proxy.workers > 1: the data-plane worker processes (pid, up since, restarts). */
function workers(w: WorkersReport, now: string): string {
  const rows = w.list.map((x) => `<tr class="${x.listening && x.answered ? "up" : "down"}" data-worker="${e(x.id)}"><td class="num">${e(x.id)}</td><td class="num pid">${e(x.pid)}</td>` +
    `<td>${e(ago(x.since, now))}</td><td class="state">${x.listening ? (x.answered ? "serving" : "not answering") : "starting"}</td><td class="num">${e(x.appliedEpoch)}</td><td class="num">${e(x.connections)}</td></tr>`);
  return `<h2>Workers <span class="muted">(${e(w.running)} of ${e(w.configured)} serving, <span id="worker-restarts">${e(w.restarts)}</span> restarts)</span></h2>
<table id="workers"><thead><tr><th>Worker</th><th>PID</th><th>Up since</th><th>State</th><th>Applied epoch</th><th>Connections</th></tr></thead><tbody>
${rows.join("\n")}
</tbody></table>`;
}

function sync(list: SyncDestinationReport[], now: string): string {
  if (list.length === 0) return `<h2>CA sync</h2><p class="muted">No sync destination reports.</p>`;
  const rows = list.map((s) => {
    const pass = s.lastPass ? `${e(s.lastPass.result)} ${e(ago(s.lastPass.at, now))}, ${e(formatMs(s.lastPass.durationMs))}, ${e(s.lastPass.bytes)} bytes` : "";
    const diff = s.divergence?.length
      ? `<tr class="diverged"><td></td><td colspan="7"><strong>Differs from the active CA:</strong><ul>${s.divergence.map((d) =>
        `<li>${e(d.reason)}${d.serial ? ` serial <code>${e(d.serial)}</code>` : ""}${d.subject ? ` subject <code>${e(d.subject)}</code>` : ""}${d.file ? ` file <code>${e(d.file)}</code>` : ""}</li>`).join("")}</ul></td></tr>`
      : "";
    return `<tr class="${e(s.state)}" data-destination="${e(s.destination)}"><td>${e(s.destination)}</td><td>${e(s.source ?? "")}</td><td class="state">${e(s.state)}</td>` +
      `<td class="num">${s.epoch !== undefined ? e(s.epoch) : ""}</td><td class="num">${s.lagMs !== undefined ? e(formatMs(s.lagMs)) : ""}</td>` +
      `<td>${s.lastSuccess ? e(ago(s.lastSuccess, now)) : "never"}</td><td>${pass}</td><td>${e(s.lastError ?? "")}</td></tr>${diff}`;
  });
  return `<h2>CA sync</h2>
<table id="sync"><thead><tr><th>Destination</th><th>Source</th><th>State</th><th>Epoch</th><th>Lag</th><th>Last success</th><th>Last pass</th><th>Last error</th></tr></thead><tbody>
${rows.join("\n")}
</tbody></table>`;
}

/** fleet.broker: how the nodes' last runs went, from the broker's status bucket. */
function fleet(f: FleetReport, now: string): string {
  const read = f.readAt ? `read ${e(ago(f.readAt, now))}` : "not read yet";
  const cell = (n: number, cls: string) => `<td class="num${n > 0 ? ` ${cls}` : ""}">${e(n)}</td>`;
  return `<h2>Fleet <span class="muted">(status bucket, ${read})</span></h2>
${f.error ? `<p class="b-warn">Cannot read the status bucket: ${e(f.error)}</p>` : ""}
<table id="fleet"><thead><tr><th>Nodes reporting</th><th>OK</th><th>Changed</th><th>Failed</th><th>Silent (over ${e(formatMs(f.silentAfterMs))})</th><th>Rejected records</th><th title="signed certnames (of a cadir on this machine) without a status record">Never reported</th></tr></thead><tbody>
<tr><td class="num">${e(f.reporting)}</td><td class="num">${e(f.ok)}</td><td class="num">${e(f.changed)}</td>${cell(f.failed, "b-bad")}${cell(f.silent, "b-warn")}${cell(f.rejected, "b-bad")}${
  f.neverReported === undefined ? `<td class="muted" title="no cadir on this machine (sync.cadirs), or it cannot be read">n/a</td>` : cell(f.neverReported, "b-warn")}</tr>
</tbody></table>`;
}

function events(list: HealthReport["events"]): string {
  const shown = list.slice(0, 100);
  return `<h2>Events <span class="muted">(last ${shown.length}, newest first)</span></h2>
<table id="events"><thead><tr><th>Time</th><th>Kind</th><th>Message</th></tr></thead><tbody>
${shown.map((x) => `<tr><td class="mono">${e(x.at)}</td><td>${e(x.kind)}</td><td>${e(x.message)}</td></tr>`).join("\n") || `<tr><td colspan="3" class="muted">none</td></tr>`}
</tbody></table>`;
}

/** "3m10s ago" relative to the report's own time (the page shows one consistent moment). */
function ago(iso: string, now: string): string {
  const ms = Date.parse(now) - Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  return ms < 0 ? `in ${formatMs(-ms)}` : `${formatMs(ms)} ago`;
}
