// The pluggable TLS front end agents talk to: haproxy (e2e baseline, benchmarks) or `puppet-ha
// proxy` (the product). Both take the same context and are ready when an HTTPS status request
// through them answers 200.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";
import { stringify } from "yaml";
import type { FrontEndInfo, InstanceInfo, PkiInfo } from "./descriptor.js";
import type { PuppetSystem } from "./system.js";
import { haproxyConfig } from "./haproxy-config.js";
import { LOOPBACK, pollUntil, request } from "./net.js";
import { tailFile, type Signal } from "./puppetserver.js";
import { BUNDLED, bundleEntry } from "../../version.js";

export type FrontEndKind = FrontEndInfo["kind"];

export interface FrontEndContext {
  sys: PuppetSystem;
  /** Directory for the front end's config, log and state. */
  dir: string;
  /** The name agents use (a SAN of the front-end cert) and the port it listens on. */
  host: string;
  port: number;
  /** A second free port (puppet-ha's admin listener). */
  adminPort: number;
  pki: PkiInfo;
  caWorkers: InstanceInfo[];
  masters: InstanceInfo[];
  /** Use this config (haproxy.cfg or puppet-ha YAML) instead of the generated one; it must listen on `port`. */
  configFile?: string;
  /** Extra environment of the front-end process (e.g. a PATH with failure-injecting fixtures first). */
  env?: Record<string, string>;
  /** puppet-ha only: a `proxy.cluster` section (several proxies sharing one CA decision in etcd). */
  cluster?: Record<string, unknown>;
  /** puppet-ha only: run the in-process sync between the CA workers' cadirs (default true). */
  sync?: boolean;
  /** puppet-ha only: the admin token file (default `<dir>/admin.token`; proxies of one cluster share one). */
  adminTokenFile?: string;
  /** puppet-ha only: a `fleet` section (the fleet broker's counts on the status page). */
  fleet?: Record<string, unknown>;
}

export interface RunningFrontEnd {
  info: FrontEndInfo;
  pid(): number | null;
  /** Resolves when the process has exited (by itself, a signal, or stop()). */
  exited: Promise<void>;
  signal(sig: Signal): void;
  stop(): Promise<void>;
}

/** The package root, and how to start this package's own CLI: from source through tsx, or compiled. */
export const packageRoot = fileURLToPath(new URL("../../../", import.meta.url));
export function selfCliArgv(): [string, string[]] {
  // The package's bundle runs its entry; a checkout runs src/ through tsx or the built dist/.
  if (BUNDLED) return [process.execPath, [fileURLToPath(bundleEntry())]];
  const fromSource = import.meta.url.endsWith(".ts");
  const entry = join(packageRoot, fromSource ? "src/cli.ts" : "dist/cli.js");
  return [process.execPath, fromSource ? ["--import", "tsx", entry] : [entry]];
}

const backend = (i: InstanceInfo) => ({ name: i.name, host: i.host, port: i.port });

export async function writeHaproxyConfig(ctx: FrontEndContext): Promise<string> {
  const certKeyPem = join(ctx.dir, "frontend-cert-key.pem");
  await writeFile(certKeyPem, (await readFile(ctx.pki.frontEndCert, "utf8")) + (await readFile(ctx.pki.frontEndKey, "utf8")), { mode: 0o600 });
  const file = join(ctx.dir, "haproxy.cfg");
  await writeFile(file, haproxyConfig({
    bind: { host: LOOPBACK, port: ctx.port },
    certKeyPem, caFile: ctx.pki.caBundle, crlFile: ctx.pki.crl,
    caWorkers: ctx.caWorkers.map(backend), masters: ctx.masters.map(backend),
    statsSocket: join(ctx.dir, "haproxy.sock"),
  }));
  return file;
}

/**
 * The puppet-ha YAML for `puppet-ha proxy -c FILE`, following config/puppet-ha.example.yaml:
 * short health checks, manual failback, an admin token (its file is in the descriptor) and
 * in-process sync between the two CA workers' local cadirs (work and backup dirs under `dir`).
 */
export async function writePuppetHaConfig(ctx: FrontEndContext): Promise<string> {
  const file = join(ctx.dir, "puppet-ha.yaml");
  const stateDir = join(ctx.dir, "state");
  await mkdir(stateDir, { recursive: true });
  const tokenFile = ctx.adminTokenFile ?? adminTokenFile(ctx.dir);
  if (!existsSync(tokenFile)) await writeFile(tokenFile, randomBytes(24).toString("hex") + "\n", { mode: 0o600 });
  const worker = (i: InstanceInfo) => ({ name: i.name, url: i.url });
  await writeFile(file, stringify({
    proxy: {
      listen: `${LOOPBACK}:${ctx.port}`,
      tls: { cert: ctx.pki.frontEndCert, key: ctx.pki.frontEndKey, ca: ctx.pki.caBundle, crl: ctx.pki.crl },
      ca: { workers: ctx.caWorkers.map(worker), failback: "manual", crlRefresh: "10s" },
      masters: { workers: ctx.masters.map(worker) },
      health: { interval: "500ms", timeout: "1s", rise: 2, fall: 2 },
      stateDir,
      ...(ctx.cluster ? { cluster: ctx.cluster } : {}),
    },
    admin: { listen: `${LOOPBACK}:${ctx.adminPort}`, tokenFile },
    ...(ctx.sync === false ? {} : { sync: {
      cadirs: Object.fromEntries(ctx.caWorkers.map((i) => [i.name, i.cadir])),
      backupDir: join(ctx.dir, "sync-backups"),
      workDir: join(ctx.dir, "sync-work"),
      // The watch and the proxy's CA-write trigger do the work; a daily cron pass keeps tests
      // deterministic (the e2e tier proves the fast path without a cron pass landing by chance).
      schedule: "0 3 * * *",
    } }),
    ...(ctx.fleet ? { fleet: ctx.fleet } : {}),
    log: { level: "info", format: "json" },
  }));
  return file;
}

/** The admin bearer token of the puppet-ha front end (created once, kept across restarts). */
export const adminTokenFile = (dir: string): string => join(dir, "admin.token");

/** Starts `cmd` as a front end logging to info.logFile; resolves once HTTPS through info.port answers 200. */
export async function launchFrontEnd(ctx: FrontEndContext, info: FrontEndInfo, cmd: string, args: string[], cwd: string): Promise<RunningFrontEnd> {
  const log = { file: info.logFile, append: true } as const;
  const child: ResultPromise = execa(cmd, args, {
    cwd, stdin: "ignore", stdout: log, stderr: log, reject: false, ...(ctx.env ? { env: ctx.env } : {}),
  });
  let exitNote: string | undefined;
  const exited = child.then((r) => { exitNote = r.signal ? `killed by ${r.signal}` : `exited with code ${String(r.exitCode)}`; });
  const ca = await readFile(ctx.pki.caBundle, "utf8");
  try {
    // Through the front end, verifying its cert against the Puppet CA, to a master.
    await pollUntil(`front end ${info.kind} on ${LOOPBACK}:${info.port}`, async () => {
      const r = await request(`https://${LOOPBACK}:${info.port}/status/v1/simple`, { ca, timeoutMs: 2000 });
      return r.status === 200 ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200, abort: () => exitNote });
  } catch (err) {
    child.kill("SIGKILL");
    await exited;
    throw new Error(`${(err as Error).message}\n--- last lines of ${info.logFile}:\n${tailFile(info.logFile)}`, { cause: err });
  }
  return {
    info,
    exited,
    pid: () => (exitNote ? null : child.pid ?? null),
    signal: (sig) => { if (child.pid && !exitNote) process.kill(child.pid, `SIG${sig}`); },
    stop: async () => {
      if (!exitNote) {
        child.kill("SIGCONT");
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/** Starts the chosen front end and waits until it serves. */
export async function startFrontEnd(kind: FrontEndKind, ctx: FrontEndContext): Promise<RunningFrontEnd> {
  await mkdir(ctx.dir, { recursive: true });
  const logFile = join(ctx.dir, `${kind}.log`);
  if (kind === "haproxy") {
    // The generated config also writes the cert+key PEM a hand-written config may point at.
    const generated = await writeHaproxyConfig(ctx);
    const configFile = ctx.configFile ?? generated;
    const info: FrontEndInfo = { kind, host: ctx.host, port: ctx.port, configFile, logFile };
    // -db: stay in the foreground, so the harness owns the process and its exit.
    return launchFrontEnd(ctx, info, ctx.sys.haproxy, ["-db", "-f", configFile], ctx.dir);
  }
  const configFile = ctx.configFile ?? (await writePuppetHaConfig(ctx));
  const info: FrontEndInfo = {
    kind, host: ctx.host, port: ctx.port, adminUrl: `http://${LOOPBACK}:${ctx.adminPort}`,
    adminTokenFile: ctx.adminTokenFile ?? adminTokenFile(ctx.dir), stateDir: join(ctx.dir, "state"), configFile, logFile,
  };
  const [node, pre] = selfCliArgv();
  return launchFrontEnd(ctx, info, node, [...pre, "proxy", "-c", configFile], packageRoot);
}
