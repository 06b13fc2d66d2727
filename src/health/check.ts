// The Nagios/Icinga plugin logic behind `puppet-ha check`: judge a /health report against the
// plugin's own thresholds (pure), and fetch the report (one HTTP GET, no keep-alive).
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { z } from "zod";
import { parseDuration } from "../config/units.js";
import { readTokenFile } from "../token.js";
import type { HealthReport } from "./report.js";
import { formatMs } from "./health-status.js";
import { unknown, type CheckResult, type PluginStateName } from "./plugin-output.js";

export { formatCheckOutput, PluginState, unknown, type CheckResult, type PluginStateName } from "./plugin-output.js";

export interface CheckThresholds {
  warnDays: number;
  critDays: number;
  maxSyncLagMs: number;
}

const DAY = 86_400_000;

/** The parts of a report the plugin reads; anything else in the document is ignored. */
const reportShape = z.looseObject({
  status: z.enum(["ok", "degraded", "down"]),
  reasons: z.array(z.string()),
  time: z.string(),
  pools: z.array(z.looseObject({ name: z.string(), backends: z.array(z.looseObject({ name: z.string(), state: z.string() })) })),
  arbiter: z.looseObject({ active: z.string(), epoch: z.number(), heldWrites: z.number() }),
  sync: z.array(z.looseObject({ destination: z.string(), state: z.string(), lagMs: z.number().optional() })),
  expiry: z.looseObject({
    caCert: z.looseObject({ notAfter: z.string(), daysLeft: z.number() }).optional(),
    crl: z.looseObject({ notAfter: z.string(), daysLeft: z.number() }).optional(),
  }),
});

/** The report, or a sentence saying why the document is not one. */
export function parseReport(body: unknown): HealthReport | string {
  const r = reportShape.safeParse(body);
  if (r.success) return r.data as unknown as HealthReport;
  const issue = r.error.issues[0];
  return `not a puppet-ha health report (${issue ? `${issue.path.join(".") || "document"}: ${issue.message}` : "invalid"})`;
}

export function classifyReport(report: HealthReport, t: CheckThresholds, now: Date): CheckResult {
  const critical: string[] = [];
  const warning: string[] = [];
  if (report.status === "down") critical.push(`down: ${report.reasons[0] ?? "no reason given"}`);
  else if (report.status === "degraded") warning.push(`degraded: ${report.reasons[0] ?? "no reason given"}`);
  const extra = report.reasons.length - 1;
  if (extra > 0) (critical.length ? critical : warning).push(`${extra} more reason(s)`);

  for (const s of report.sync) {
    if (s.state === "diverged") critical.push(`sync ${s.destination} diverged (${s.divergence?.length ?? 0} difference(s))`);
    if (s.lagMs !== undefined && s.lagMs > t.maxSyncLagMs) warning.push(`sync ${s.destination} lags ${formatMs(s.lagMs)}`);
  }

  const expiries = [["CA cert", report.expiry.caCert], ["CRL", report.expiry.crl]] as const;
  const days: Record<string, number | undefined> = {};
  for (const [what, x] of expiries) {
    if (!x) continue;
    const left = Date.parse(x.notAfter) - now.getTime();
    const d = Number.isFinite(left) ? Math.floor(left / DAY) : x.daysLeft;
    days[what] = d;
    const text = left <= 0 ? `${what} expired ${Math.ceil(-left / DAY)}d ago` : `${what} expires in ${d}d`;
    if (left <= t.critDays * DAY) critical.push(text);
    else if (left <= t.warnDays * DAY) warning.push(text);
  }

  const masters = report.pools.find((p) => p.name === "masters")?.backends ?? [];
  const cas = report.pools.find((p) => p.name === "ca")?.backends ?? [];
  const mastersUp = masters.filter((b) => b.state === "up").length;
  const casUp = cas.filter((b) => b.state === "up").length;
  const lags = report.sync.map((s) => s.lagMs).filter((x): x is number => x !== undefined);
  const crl = days.CRL;
  const base = `active ${report.arbiter.active} epoch ${report.arbiter.epoch}, ${mastersUp}/${masters.length} masters up` +
    `${crl !== undefined ? `, CRL ${crl < 0 ? "expired" : `expires in ${crl}d`}` : ""}`;

  const state: PluginStateName = critical.length ? "CRITICAL" : warning.length ? "WARNING" : "OK";
  const problems = [...critical, ...warning];
  const perfdata = [
    `active_epoch=${report.arbiter.epoch}`,
    `masters_up=${mastersUp};;;0;${masters.length}`,
    `cas_up=${casUp};;;0;${cas.length}`,
    ...(days.CRL !== undefined ? [`crl_days=${days.CRL};${t.warnDays}:;${t.critDays}:`] : []),
    ...(days["CA cert"] !== undefined ? [`ca_cert_days=${days["CA cert"]};${t.warnDays}:;${t.critDays}:`] : []),
    ...(lags.length ? [`sync_lag_max=${Math.round(Math.max(...lags) / 1000)}s;${Math.round(t.maxSyncLagMs / 1000)};;0`] : []),
    `sync_diverged=${report.sync.filter((s) => s.state === "diverged").length};;0;0`,
    `held_writes=${report.arbiter.heldWrites};;;0`,
  ];
  return {
    state,
    summary: problems.length ? `${problems.join("; ")} - ${base}` : base,
    details: report.reasons,
    perfdata,
  };
}

/** The /health URL for a `--url` that names the admin listener or /health itself. */
export function healthUrl(base: string): URL {
  const u = new URL(base);
  if (!/\/health\/?$/.test(u.pathname)) u.pathname = `${u.pathname.replace(/\/$/, "")}/health`;
  return u;
}

/** GET the report: 200 and 503 carry one; anything else, a timeout or a non-JSON body is UNKNOWN. */
export async function fetchReport(url: URL, opts: { timeoutMs: number; token?: string }): Promise<HealthReport | string> {
  const headers: Record<string, string> = { Accept: "application/json", Connection: "close" };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  const answer = await new Promise<{ status: number; body: string } | string>((resolve) => {
    const req = send(url, { method: "GET", headers, agent: false, signal: AbortSignal.timeout(opts.timeoutMs) }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", (err) => resolve(`cannot read ${url.href}: ${err.message}`));
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      const why = err.name === "AbortError" || err.name === "TimeoutError" ? `no answer within ${formatMs(opts.timeoutMs)}` : (err.code ?? err.message);
      resolve(`cannot reach ${url.href}: ${why}`);
    });
    req.end();
  });
  if (typeof answer === "string") return answer;
  if (answer.status !== 200 && answer.status !== 503) return `HTTP ${answer.status} from ${url.href}`;
  let json: unknown;
  try {
    json = JSON.parse(answer.body);
  } catch {
    return `the answer of ${url.href} is not JSON`;
  }
  return parseReport(json);
}

/** The options of `puppet-ha check`, as commander hands them over. */
export interface CheckOptions {
  url: string;
  tokenFile?: string;
  warnDays: string;
  critDays: string;
  maxSyncLag: string;
  timeout: string;
}

/** `puppet-ha check` after option parsing: the plugin result (usage problems are UNKNOWN). */
export async function runCheckCommand(o: CheckOptions): Promise<CheckResult> {
  const warnDays = Number(o.warnDays);
  const critDays = Number(o.critDays);
  const maxSyncLagMs = parseDuration(o.maxSyncLag);
  const timeoutMs = parseDuration(o.timeout);
  if (!Number.isInteger(warnDays) || warnDays < 0) return unknown(`usage: --warn-days must be a whole number of days, not "${o.warnDays}"`);
  if (!Number.isInteger(critDays) || critDays < 0) return unknown(`usage: --crit-days must be a whole number of days, not "${o.critDays}"`);
  if (critDays > warnDays) return unknown(`usage: --crit-days (${critDays}) must not exceed --warn-days (${warnDays})`);
  if (maxSyncLagMs === undefined) return unknown(`usage: --max-sync-lag must be a duration like 2m, not "${o.maxSyncLag}"`);
  if (timeoutMs === undefined || timeoutMs <= 0) return unknown(`usage: --timeout must be a duration like 10s, not "${o.timeout}"`);
  let url: URL;
  try {
    url = healthUrl(o.url);
  } catch {
    return unknown(`usage: --url must be a URL like http://127.0.0.1:8141, not "${o.url}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return unknown(`usage: --url must start with http:// or https://`);
  let token: string | undefined;
  if (o.tokenFile) {
    try {
      token = readTokenFile(o.tokenFile);
    } catch (err) {
      return unknown((err as Error).message);
    }
  }
  const report = await fetchReport(url, { timeoutMs, ...(token ? { token } : {}) });
  if (typeof report === "string") return unknown(report);
  return classifyReport(report, { warnDays, critDays, maxSyncLagMs }, new Date());
}
