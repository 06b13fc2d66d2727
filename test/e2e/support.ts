// What the e2e test files share on top of the cluster client: polling with a deadline, the
// proxy's admin API and log, TLS probes with an agent's own cert, CSRs, and cadir readers.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import https from "node:https";
import http from "node:http";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { execa } from "execa";
import type { AgentRunResult, ClusterClient, InstanceName } from "./cluster/client.js";

export function explain(r: AgentRunResult): string {
  return `agent ${r.certname} exit ${r.exitCode} after ${r.durationMs} ms${r.timedOut ? " (timed out)" : ""}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** Access-log lines of `name` for `method path-prefix` answered `status`. */
export function served(cluster: ClusterClient, name: InstanceName, method: string, pathPrefix: string, status = 200): string[] {
  return cluster.accessLog(name).filter((l) => l.includes(`"${method} ${pathPrefix}`) && l.includes(`" ${status} `));
}

/** Calls probe until it returns a value other than undefined; throws after timeoutMs naming `what`. */
export async function poll<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) throw new Error(`${what}: not after ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await delay(intervalMs);
  }
}

export interface Reply { status: number; body: string; json: unknown }

/** A plain-HTTP request (admin API, backends, twitch). `headers` may repeat a name (array form). */
export function httpRequest(url: string, opts: { method?: string; headers?: string[] | Record<string, string>; body?: string; timeoutMs?: number } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // Raw header pairs get no automatic Host header from node.
    const headers = Array.isArray(opts.headers) ? ["Host", new URL(url).host, ...opts.headers] : opts.headers;
    const req = http.request(url, { method: opts.method ?? "GET", headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try { json = JSON.parse(body); } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, body, json });
      });
      res.on("error", reject);
    });
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error(`timeout: ${opts.method ?? "GET"} ${url}`)));
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** HTTPS through the front end with raw header pairs and an optional client cert (PEM text). */
export function frontEndRaw(cluster: ClusterClient, path: string, opts: { method?: string; headers?: string[]; cert?: string; key?: string; body?: string; timeoutMs?: number } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: "127.0.0.1", port: cluster.frontEnd.port, path, method: opts.method ?? "GET",
      headers: ["Host", `localhost:${cluster.frontEnd.port}`, ...(opts.headers ?? [])],
      ca: readFileSync(cluster.pki.caBundle, "utf8"), cert: opts.cert, key: opts.key, servername: "localhost", agent: false,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), json: undefined }));
      res.on("error", reject);
    });
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error(`timeout: ${path}`)));
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** The agent's own cert and key from its ssldir (after runAgent enrolled it). */
export function agentIdentity(r: AgentRunResult): { cert: string; key: string } {
  return {
    cert: readFileSync(join(r.dirs.ssldir, "certs", `${r.certname}.pem`), "utf8"),
    key: readFileSync(join(r.dirs.ssldir, "private_keys", `${r.certname}.pem`), "utf8"),
  };
}

/** The puppet-ha proxy's admin listener: /health and the token-protected API. */
export function adminApi(cluster: ClusterClient) {
  const base = cluster.frontEnd.adminUrl;
  const tokenFile = cluster.frontEnd.adminTokenFile;
  if (!base || !tokenFile) throw new Error("the front end is not puppet-ha (no admin URL or token in the descriptor)");
  const auth = () => ({ Authorization: `Bearer ${readFileSync(tokenFile, "utf8").trim()}` });
  return {
    health: async () => (await httpRequest(`${base}/health`)).json as HealthJson,
    caState: async () => (await httpRequest(`${base}/api/ca`, { headers: auth() })).json as { epoch: number; active: string; primary?: string },
    post: (path: string, timeoutMs = 60_000) => httpRequest(`${base}${path}`, { method: "POST", headers: auth(), timeoutMs }),
  };
}

export interface HealthJson {
  status?: string;
  arbiter?: { active: string; epoch: number; primary?: string };
  sync?: { destination: string; state: string; divergence?: { serial?: string; subject?: string; file: string; reason: string }[]; lastError?: string }[];
  [k: string]: unknown;
}

/** When a pino log line was written (epoch ms). */
export function logTime(l: Record<string, unknown>): number {
  return typeof l.time === "number" ? l.time : Date.parse(String(l.time));
}

/** The front end's log (JSON lines) parsed; lines that are not JSON are skipped. */
export function proxyLog(cluster: ClusterClient): Record<string, unknown>[] {
  const f = cluster.frontEnd.logFile;
  if (!existsSync(f)) return [];
  return readFileSync(f, "utf8").split("\n").flatMap((l) => {
    try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; }
  });
}

/** One RSA key (made once per dir) and a CSR for certname signed with it, both PEM text. */
export async function makeCsr(dir: string, certname: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const key = join(dir, "shared.key.pem");
  if (!existsSync(key)) await execa("openssl", ["genrsa", "-out", key, "2048"]);
  const r = await execa("openssl", ["req", "-new", "-key", key, "-subj", `/CN=${certname}`]);
  return r.stdout + "\n";
}

/** PUT a CSR through the front end (no client cert: how a new agent asks). */
export async function submitCsr(cluster: ClusterClient, certname: string, csr: string): Promise<Reply> {
  return frontEndRaw(cluster, `/puppet-ca/v1/certificate_request/${certname}?environment=production`, {
    method: "PUT", headers: ["Content-Type", "text/plain"], body: csr, timeoutMs: 30_000,
  });
}

export interface InventoryLine { serial: bigint; subject: string; line: string }

export function inventory(cadir: string): InventoryLine[] {
  const f = join(cadir, "inventory.txt");
  if (!existsSync(f)) return [];
  return readFileSync(f, "utf8").split("\n").filter(Boolean).map((line) => {
    const [serial = "", , , ...subject] = line.split(" ");
    return { serial: BigInt(serial), subject: subject.join(" "), line };
  });
}

/** The CA's next serial (the `serial` file, hex). */
export function nextSerial(cadir: string): bigint {
  return BigInt(`0x${readFileSync(join(cadir, "serial"), "utf8").trim()}`);
}

export async function crlNumber(crlFile: string): Promise<bigint> {
  const r = await execa("openssl", ["crl", "-in", crlFile, "-noout", "-crlnumber"]);
  const hex = /crlNumber=(?:0x)?([0-9A-Fa-f]+)/.exec(r.stdout)?.[1];
  if (!hex) throw new Error(`no CRL number in ${crlFile}: ${r.stdout}`);
  return BigInt(`0x${hex}`);
}

/** Serials (uppercase hex, no leading zeros) a CRL file lists as revoked. */
export async function revokedSerials(crlFile: string): Promise<Set<string>> {
  const r = await execa("openssl", ["crl", "-in", crlFile, "-noout", "-text"]);
  return new Set([...r.stdout.matchAll(/Serial Number: ([0-9A-Fa-f]+)/g)].map((m) => BigInt(`0x${m[1]}`).toString(16).toUpperCase()));
}

/** The serial of a cert file, as in revokedSerials. */
export async function certSerial(certFile: string): Promise<string> {
  const r = await execa("openssl", ["x509", "-in", certFile, "-noout", "-serial"]);
  return BigInt(`0x${r.stdout.trim().replace(/^serial=/, "")}`).toString(16).toUpperCase();
}

/** Temp files of rsync (`.~tmp~/`, `.name.XXXXXX`) and of puppetserver (`name<digits>tmp`): not CA state. */
const isTempName = (name: string) => name === ".~tmp~" || /^\..+\.[A-Za-z0-9]{6}$/.test(name) || /^.+\d+tmp$/.test(name);

/**
 * sha256 of every file of a cadir that sync must keep equal (signed certs, inventory, serial,
 * CRL, CA cert): relative path -> digest. Temp files of rsync and puppetserver are skipped.
 */
export function cadirDigest(cadir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (isTempName(e.name)) continue;
      const p = join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p, r);
      else if (e.isFile()) out[r] = createHash("sha256").update(readFileSync(p)).digest("hex");
    }
  };
  walk(cadir, "");
  return out;
}

/** The paths on which two cadir digests differ (missing on one side or different content). */
export function cadirDiff(a: Record<string, string>, b: Record<string, string>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]).sort();
}

/** Runs tasks with at most `limit` in flight; resolves to their results in order. */
export async function withConcurrency<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await (tasks[i] as () => Promise<T>)();
    }
  }));
  return results;
}

export const readText = (f: string) => readFile(f, "utf8");
