// `puppet-ha proxy` with proxy.workers: 2 as a real process tree (the primary and two forked
// workers sharing one listener), fake CA workers and a compile master, the admin listener with a
// token, optionally the in-process sync over two real cadirs. Everything stopped by PID in teardown.
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { execa } from "execa";
import { cliArgv, repoRoot } from "../../helpers/cli.js";
import { FakeCadir } from "../../helpers/cadir.js";
import { createTestCa } from "../../helpers/pki.js";
import type { HealthReport } from "../../../src/health/report.js";
import { fakeBackend, pki, until, type FakeBackend } from "./harness.js";

export const TOKEN = "workers-admin-token";

export interface Workers {
  port: number;
  adminPort: number;
  ca1: FakeBackend;
  ca2: FakeBackend;
  m1: FakeBackend;
  dir: string;
  /** This proxy's own copy of the test CRL (proxy.tls.crl): rewrite it and SIGHUP the primary. */
  crlFile: string;
  /** The cadirs, with sync on. */
  cadirs?: { ca1: string; ca2: string; cadir: FakeCadir };
  logs: Record<string, unknown>[];
  pid: number;
}

export interface WorkersOptions {
  sync?: boolean;
  /** Extra YAML lines inside proxy.ca (indented by the caller with 4 spaces). */
  ca?: string;
  responseTimeout?: string;
  /** proxy.ca.holdWrites (default 5s); a failback's final pull must be acknowledged within it minus 500 ms. */
  holdWrites?: string;
  /** proxy.cluster against these etcd endpoints (this proxy the only member: the controller). */
  etcd?: string[];
}

/** Every PID under `root` (workers are children of the primary). */
async function tree(root: number): Promise<number[]> {
  const r = await execa("ps", ["-e", "-o", "pid=,ppid="], { reject: false });
  const rows = String(r.stdout).trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number));
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of rows) if (ppid === out[i] && pid !== undefined) out.push(pid);
  return out;
}

export async function startWorkers(t: TestContext, o: WorkersOptions = {}): Promise<Workers> {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const ca2 = await fakeBackend(t, "ca2");
  const m1 = await fakeBackend(t, "m1");
  const dir = mkdtempSync(join(p.dir, "workers-"));
  const crlFile = join(dir, "crl.pem");
  copyFileSync(p.files.crl, crlFile);
  const tokenFile = join(dir, "admin.token");
  writeFileSync(tokenFile, `${TOKEN}\n`);
  let cadirs: Workers["cadirs"];
  let sync = "";
  if (o.sync) {
    const cadir = new FakeCadir(createTestCa("workers-cadir"));
    cadir.sign("node1");
    cadirs = { ca1: cadir.writeTo(join(dir, "ca1")), ca2: cadir.writeTo(join(dir, "ca2")), cadir };
    sync = `sync:
  cadirs: { ca1: ${cadirs.ca1}, ca2: ${cadirs.ca2} }
  watch: false
  schedule: "0 0 1 1 *"
  backupDir: ${join(dir, "backups")}
  workDir: ${join(dir, "work")}
  rsync: { timeout: 20s }
`;
  }
  const file = join(dir, "puppet-ha.yaml");
  writeFileSync(file, `proxy:
  listen: "127.0.0.1:0"
  workers: 2
  tls: { cert: ${p.files.cert}, key: ${p.files.key}, ca: ${p.files.ca}, crl: ${crlFile} }
  ca:
    workers: [{ name: ca1, url: "${ca1.url}" }, { name: ca2, url: "${ca2.url}" }]
    crlRefresh: 1h
    holdWrites: ${o.holdWrites ?? "5s"}
    serialGap: 256
${o.ca ?? ""}
  masters:
    workers: [{ name: m1, url: "${m1.url}" }]
  health: { interval: 50ms, timeout: 2s, rise: 1, fall: 1 }
  timeouts: { connect: 300ms, response: ${o.responseTimeout ?? "3s"}, shutdown: 2s }
  stateDir: ${join(dir, "state")}
  accessLog: false
${o.etcd ? `  cluster: { name: p1, clusterName: workers, etcd: { endpoints: ${JSON.stringify(o.etcd)} }, ttl: 3s, loopWait: 500ms, retryTimeout: 1s }
` : ""}admin: { listen: "127.0.0.1:0", tokenFile: ${tokenFile} }
${sync}log: { level: info }
`);
  const [cmd, pre] = cliArgv();
  const proc = execa(cmd, [...pre, "proxy", "-c", file], { cwd: repoRoot, reject: false });
  const pid = proc.pid as number;
  t.after(async () => {
    // The primary, its workers and any rsync they run, by PID.
    for (const x of (await tree(pid)).reverse()) {
      try {
        process.kill(x, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await proc;
  });
  const logs: Record<string, unknown>[] = [];
  let buf = "";
  proc.stdout?.on("data", (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split("\n");
    buf = lines.pop() ?? "";
    for (const l of lines) {
      try {
        logs.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        logs.push({ msg: l });
      }
    }
  });
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const listening = () => logs.filter((l) => l.msg === "worker listening");
  const admin = () => (logs.find((l) => l.msg === "admin listening")?.listen as { port: number } | undefined)?.port;
  await until(() => listening().length >= 2 && admin() !== undefined, 30_000, `two workers and the admin listener (stderr: ${stderr})`);
  const port = listening()[0]?.port as number;
  return { port, adminPort: admin() as number, ca1, ca2, m1, dir, crlFile, ...(cadirs ? { cadirs } : {}), logs, pid };
}

export interface AdminAnswer {
  status: number;
  text: string;
  json: Record<string, unknown>;
}

export function adminCall(w: Workers, method: string, path: string, token?: string): Promise<AdminAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
    httpRequest({ host: "127.0.0.1", port: w.adminPort, path, method, headers, agent: false }, (res) => {
      let b = "";
      res.on("data", (d: Buffer) => (b += d.toString()));
      res.on("end", () => {
        let json: Record<string, unknown>;
        try {
          json = JSON.parse(b) as Record<string, unknown>;
        } catch {
          json = {};
        }
        resolve({ status: res.statusCode ?? 0, text: b, json });
      });
    }).on("error", reject).end();
  });
}

export async function healthOf(w: Workers): Promise<HealthReport> {
  return (await adminCall(w, "GET", "/health")).json as unknown as HealthReport;
}

/** Wait until the primary's /health satisfies cond. */
export async function untilHealth(w: Workers, cond: (h: HealthReport) => boolean, what: string, ms = 10_000): Promise<HealthReport> {
  const end = Date.now() + ms;
  for (;;) {
    const h = await healthOf(w);
    if (cond(h)) return h;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify({ status: h.status, reasons: h.reasons, workers: h.workers, arbiter: h.arbiter })}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
