// Harness for the joined proxy (ProxyRuntime): fake CA workers and a master (plain node http),
// two real cadirs on disk written by FakeCadir, the in-process sync with real rsync (optionally
// slowed by a wrapper script), the admin listener on 127.0.0.1:0 with a token file.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { configSchema, type Config } from "../../../src/config/schema.js";
import { silentLogger, type Logger } from "../../../src/log.js";
import { ProxyRuntime } from "../../../src/proxy/runtime.js";
import type { HealthReport } from "../../../src/health/report.js";
import type { CronFactory } from "../../../src/sync/triggers.js";
import { FakeCadir } from "../../helpers/cadir.js";
import { createTestCa } from "../../helpers/pki.js";
import { fakeBackend, pki, until, type FakeBackend } from "./harness.js";

export const TOKEN = "ha-admin-token";

let sharedCa: ReturnType<typeof createTestCa> | undefined;
function cadirCa() {
  sharedCa ??= createTestCa("ha-cadir");
  return sharedCa;
}

export interface HaOptions {
  /** Run the in-process sync over the two cadirs (default true). */
  sync?: boolean;
  /** Seconds each rsync run is delayed by a wrapper (default: the real rsync, no delay). */
  rsyncDelay?: number;
  /** Extra keys of proxy.ca (failback, failbackAfter, serialGap, holdWrites, workers). */
  ca?: Record<string, unknown>;
  /** Per-worker `sync` URLs. */
  workerSync?: Record<string, string>;
  /** Extra keys of the admin section. */
  admin?: Record<string, unknown>;
  /** Number of compile masters (default 1). */
  masters?: number;
  /** proxy.timeouts.response (default 2s). */
  responseTimeout?: string;
  /** Where the runtime logs (default: nowhere). */
  log?: Logger;
  /** A `fleet` section (fleet.broker: the fleet's counts on the status page). */
  fleet?: Record<string, unknown>;
}

export interface Ha {
  rt: ProxyRuntime;
  port: number;
  adminUrl: string;
  root: string;
  dir1: string;
  dir2: string;
  /** The cadir state both dirs start from (node1 signed: serial 0003). */
  cadir: FakeCadir;
  ca1: FakeBackend;
  ca2: FakeBackend;
  masters: FakeBackend[];
  tokenFile: string;
  config: Config;
}

export async function startHa(t: TestContext, o: HaOptions = {}): Promise<Ha> {
  const p = pki();
  const root = mkdtempSync(join(tmpdir(), "puppet-ha-ha-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const ca1 = await fakeBackend(t, "ca1");
  const ca2 = await fakeBackend(t, "ca2");
  const masters: FakeBackend[] = [];
  for (let i = 1; i <= (o.masters ?? 1); i++) masters.push(await fakeBackend(t, `m${i}`));
  const cadir = new FakeCadir(cadirCa());
  cadir.sign("node1");
  const dir1 = cadir.writeTo(join(root, "ca1"));
  const dir2 = cadir.writeTo(join(root, "ca2"));
  const tokenFile = join(root, "admin.token");
  writeFileSync(tokenFile, `${TOKEN}\n`);
  let rsync = "rsync";
  if (o.rsyncDelay) {
    mkdirSync(join(root, "bin"));
    rsync = join(root, "bin", "slow-rsync");
    writeFileSync(rsync, `#!/bin/sh\nsleep ${o.rsyncDelay}\nexec rsync "$@"\n`);
    chmodSync(rsync, 0o755);
  }
  const raw = {
    proxy: {
      listen: "127.0.0.1:0",
      tls: p.files,
      ca: {
        workers: [ca1, ca2].map((c) => ({ name: c.name, url: c.url, ...(o.workerSync?.[c.name] ? { sync: o.workerSync[c.name] } : {}) })),
        crlRefresh: "1h", holdWrites: "5s", serialGap: 0x100, ...o.ca,
      },
      masters: { workers: masters.map((m) => ({ name: m.name, url: m.url })) },
      health: { interval: "50ms", timeout: "2s", rise: 1, fall: 1 },
      timeouts: { connect: "300ms", response: o.responseTimeout ?? "2s", shutdown: "2s" },
      stateDir: join(root, "state"),
      accessLog: false,
    },
    admin: { listen: "127.0.0.1:0", tokenFile, ...o.admin },
    ...(o.sync === false ? {} : {
      sync: {
        cadirs: { ca1: dir1, ca2: dir2 }, watch: false, backupDir: join(root, "backups"), workDir: join(root, "work"),
        rsync: { command: rsync, timeout: "20s" },
      },
    }),
    ...(o.fleet ? { fleet: o.fleet } : {}),
    log: { level: "silent" },
  };
  const config = configSchema.parse(raw);
  // The schedule never fires by itself: passes come from start, CA writes and failback.
  const cron: CronFactory = () => ({ stop: () => undefined });
  const rt = await ProxyRuntime.start({ config, log: o.log ?? silentLogger(), sync: { cron } });
  t.after(() => rt.stop(0));
  return {
    rt, port: rt.proxy.address.port, adminUrl: `http://127.0.0.1:${rt.adminAddress.port}`, root, dir1, dir2, cadir, ca1, ca2, masters, tokenFile, config,
  };
}

export interface AdminAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown>;
}

/** One request to the admin listener; token: undefined = none sent. */
export function admin(ha: Ha, method: string, path: string, token?: string): Promise<AdminAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
    httpRequest(`${ha.adminUrl}${path}`, { method, headers, agent: false }, (res) => {
      let b = "";
      res.on("data", (d: Buffer) => (b += d.toString()));
      res.on("end", () => {
        let json: Record<string, unknown>;
        try {
          json = JSON.parse(b) as Record<string, unknown>;
        } catch {
          json = {};
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: b, json });
      });
    }).on("error", reject).end();
  });
}

export async function health(ha: Ha): Promise<{ status: number; report: HealthReport }> {
  const r = await admin(ha, "GET", "/health");
  return { status: r.status, report: r.json as unknown as HealthReport };
}

/** Fail the active CA ca1 over to ca2 (ca1's checks fail) and wait for the promotion hook to finish. */
export async function failOver(ha: Ha): Promise<void> {
  ha.ca1.healthy = false;
  await until(() => ha.rt.proxy.arbiter.active === "ca2" && ha.rt.proxy.events.list().some((e) => e.kind === "failover"), 10_000, "failover to ca2");
}

/** ca2 signs a cert in its cadir (as the active CA would), continuing from its current serial. */
export function signOn(ha: Ha, dir: string, certname: string, from: FakeCadir = ha.cadir): { serial: string; cadir: FakeCadir } {
  const c = from.clone();
  c.serial = parseInt(readFileSync(join(dir, "serial"), "utf8"), 16);
  const serial = c.sign(certname);
  c.writeTo(dir);
  return { serial, cadir: c };
}

export function serialOf(dir: string): string {
  return readFileSync(join(dir, "serial"), "utf8");
}
