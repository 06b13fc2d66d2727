// The admin commands' implementation: resolve the admin URL and token from the config, call the
// admin API, print one line per result (or the JSON), and turn refusals into typed errors:
// bad input (unknown backend, bad name or flag) exits 2, anything the proxy refuses or a listener
// that does not answer exits 1 (src/main.ts decides exit codes from the error codes).
import { readFileSync } from "node:fs";
import { readTokenFile } from "../token.js";
import { configPath, loadConfigFile } from "../config/load.js";
import { formatDuration, parseDuration } from "../config/units.js";
import { FileAccessError, UsageError } from "../errors.js";
import { AdminCallError, adminCall, type AdminAnswer, type AdminTarget } from "./client.js";

export interface AdminCliOptions {
  config?: string;
  url?: string;
  tokenFile?: string;
  timeout: string;
  json?: boolean;
}

const BACKEND_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Where the admin listener is: --url, else admin.listen (a wildcard bind is reached on loopback). */
export function adminTarget(opts: AdminCliOptions, needToken: boolean): AdminTarget {
  const timeoutMs = parseDuration(opts.timeout);
  if (timeoutMs === undefined || timeoutMs <= 0) throw new UsageError(`--timeout: "${opts.timeout}" is not a duration (like 10s, 2m)`);
  const cfg = opts.url && (!needToken || opts.tokenFile) ? undefined : loadConfigFile(configPath(opts.config));
  let url = opts.url;
  if (url === undefined && cfg) {
    const { host, port } = cfg.admin.listen;
    const reach = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
    url = `${cfg.admin.tls ? "https" : "http"}://${reach.includes(":") ? `[${reach}]` : reach}:${port}`;
  }
  if (!url || !/^https?:\/\/[^/]+\/?$/.test(url)) throw new UsageError(`--url: "${url ?? ""}" is not an admin listener URL like http://127.0.0.1:8141`);
  let token: string | undefined;
  if (needToken) {
    const file = opts.tokenFile ?? cfg?.admin.tokenFile;
    if (!file) throw new UsageError("the admin API needs a token: set admin.tokenFile in the config or pass --token-file");
    token = readTokenFile(file, "admin token file");
  }
  return { url: url.replace(/\/$/, ""), token, timeoutMs, ca: adminCa(cfg) };
}

/** An https admin listener serves the proxy's Puppet cert: verify it with proxy.tls.ca. */
function adminCa(cfg: ReturnType<typeof loadConfigFile> | undefined): string | undefined {
  if (!cfg?.admin.tls || !cfg.proxy) return undefined;
  try {
    return readFileSync(cfg.proxy.tls.ca, "utf8");
  } catch (err) {
    throw new FileAccessError(cfg.proxy.tls.ca, "CA certificate (proxy.tls.ca)", { cause: err });
  }
}

const print = (line: string) => process.stdout.write(`${line}\n`);

function caStatusLines(api: Record<string, unknown>, health: Record<string, unknown> | undefined): string[] {
  const fb = (api.failback ?? {}) as { policy?: string; state?: string };
  const onStandby = api.active !== api.primary;
  const lines = [
    `active CA: ${String(api.active)} (epoch ${String(api.epoch)})${onStandby ? `, a standby: the primary ${String(api.primary)} is not active` : ", the primary"}`,
    `failback: ${fb.policy ?? "?"}, ${fb.state ?? "?"}`,
  ];
  const pools = (health?.pools ?? []) as { name: string; backends: { name: string; state: string; reason?: string }[] }[];
  for (const b of pools.find((p) => p.name === "ca")?.backends ?? []) lines.push(`  ${b.name}: ${b.state}`);
  return lines;
}

function resultLine(what: string, answer: AdminAnswer): string {
  const result = answer.json.result;
  return `${what}: done${result === null || result === undefined ? "" : ` ${JSON.stringify(result)}`}`;
}

export async function runAdminCommand(action: string, opts: AdminCliOptions, name?: string): Promise<void> {
  if (name !== undefined && !BACKEND_NAME.test(name)) throw new UsageError(`backend name "${name}" is not valid (letters, digits, ".", "_", "-")`);
  if (action === "ready") {
    const t = { ...adminTarget(opts, false), anyName: true };
    await waitLive(t);
    print(`ready: ${t.url}/health/live answers`);
    return;
  }
  const t = adminTarget(opts, true);
  if (action === "status") {
    const api = await adminCall(t, "GET", "/api/ca");
    // /health answers 503 when the proxy is down: its body still lists the CA workers.
    const health = await adminCall(t, "GET", "/health", [200, 503]).catch(() => undefined);
    if (opts.json) print(JSON.stringify({ ca: api.json, pools: health?.json.pools }));
    else caStatusLines(api.json, health?.json).forEach(print);
    return;
  }
  const path = action === "failover" || action === "failback" ? `/api/ca/${action}` : `/api/backends/${encodeURIComponent(name ?? "")}/${action}`;
  const answer = await adminCall(t, "POST", path);
  print(opts.json ? JSON.stringify(answer.json) : resultLine(name ? `${action} ${name}` : action, answer));
}

/** Polls /health/live every 250 ms until it answers 200, or fails at the deadline. */
async function waitLive(t: AdminTarget): Promise<void> {
  const deadline = Date.now() + t.timeoutMs;
  let last: string;
  for (;;) {
    try {
      await adminCall({ ...t, timeoutMs: Math.max(1, Math.min(2000, deadline - Date.now())) }, "GET", "/health/live");
      return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() >= deadline) throw new AdminCallError(`${t.url} not live within ${formatDuration(t.timeoutMs)}: ${last}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
