// Starts twitch: resolves Puppet's lock and summary paths, builds the auth policy, and serves
// the app over HTTP (token or loopback only) or HTTPS with the node's own Puppet cert (mTLS).
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { FileAccessError, ListenError, errnoText } from "../errors.js";
import type { Logger } from "./log.js";
import { listenerNames } from "../request-origin.js";
import { keyFileWarning, TokenFile } from "../token.js";
import { createTwitchApp } from "./app.js";
import type { AuthPolicy } from "./auth.js";
import type { TwitchConfig } from "./config.js";
import { isLoopbackHost } from "./config-check.js";
import { PuppetSettingsError } from "./errors.js";
import { exec } from "./exec.js";
import { configPrintArgv, parseConfigPrint } from "./params.js";
import { RateLimiter } from "./ratelimit.js";
import { AgentRunner, type PuppetPaths, type RunnerOptions } from "./runner.js";

/** Paths from config; the missing ones from `puppet config print ... --section agent`. */
export async function resolvePuppetPaths(cfg: TwitchConfig, log: Logger): Promise<PuppetPaths> {
  const p = cfg.puppet;
  if (p.runLockFile && p.disabledLockFile && p.lastRunSummary) {
    return { runLockFile: p.runLockFile, disabledLockFile: p.disabledLockFile, lastRunSummary: p.lastRunSummary };
  }
  const [file, args] = configPrintArgv(p.command, p.args);
  const r = await exec(file, args, { timeoutMs: 120_000 }).result;
  if (r.failed) {
    const why = r.timedOut ? "timed out" : r.exitCode !== undefined ? `exit code ${r.exitCode}: ${r.stderr.trim().split("\n")[0] ?? ""}` : r.spawnError ?? `killed by ${r.signal}`;
    throw new PuppetSettingsError(`cannot ask puppet for its lock file paths (${[file, ...args].join(" ")}): ${why}`);
  }
  const values = parseConfigPrint(r.stdout);
  const pick = (given: string | undefined, setting: string): string => {
    const v = given ?? values.get(setting);
    if (!v || !v.startsWith("/")) throw new PuppetSettingsError(`puppet config print gave no path for ${setting}`);
    return v;
  };
  const paths = {
    runLockFile: pick(p.runLockFile, "agent_catalog_run_lockfile"),
    disabledLockFile: pick(p.disabledLockFile, "agent_disabled_lockfile"),
    lastRunSummary: pick(p.lastRunSummary, "lastrunfile"),
  };
  log.info(paths, "puppet paths");
  return paths;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new FileAccessError(path, what, { cause });
  }
}

function tlsOptions(tls: NonNullable<TwitchConfig["auth"]["tls"]>): https.ServerOptions {
  return {
    cert: readPem(tls.cert, "TLS certificate"),
    key: readPem(tls.key, "TLS key"),
    ca: readPem(tls.ca, "CA certificate"),
    ...(tls.crl ? { crl: readPem(tls.crl, "CRL") } : {}),
    // Ask for a cert but let token-only callers connect; app.ts refuses unverified certs.
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: "TLSv1.2",
  };
}

/** The certname (subject CN) of the node's own cert, a name callers use in Host. */
function certnameOf(pem: Buffer): string | undefined {
  try {
    return /(?:^|\n)CN=([^\n]+)/.exec(new X509Certificate(pem).subject)?.[1];
  } catch {
    return undefined;
  }
}

export interface TwitchServer {
  url: string;
  runner: AgentRunner;
  server: http.Server;
  /** Re-read cert, key, CA and CRL (after each run and on SIGHUP). */
  reloadTls(): void;
  /** SIGHUP: re-read the token file and the TLS files; a bad file is logged and the old one kept. */
  reload(): void;
  close(): Promise<void>;
}

export type RunnerOverrides = Partial<Pick<RunnerOptions, "probe" | "random" | "sleep" | "now">>;

export async function startTwitch(
  cfg: TwitchConfig,
  log: Logger,
  overrides: RunnerOverrides & { now?: () => number; paths?: PuppetPaths } = {},
): Promise<TwitchServer> {
  const { auth } = cfg;
  if (!auth.tokenFile && !auth.tls && !isLoopbackHost(cfg.listen.host)) {
    throw new ListenError(`twitch without auth binds loopback only, not ${cfg.listen.host}`);
  }
  const warn = (message: string) => log.warn(message);
  const token = auth.tokenFile ? new TokenFile(auth.tokenFile, { what: "token file", warn }) : undefined;
  const policy: AuthPolicy = { token, mtls: auth.tls !== undefined, allow: auth.allow };
  const certname = auth.tls ? certnameOf(tlsOptions(auth.tls).cert as Buffer) : undefined; // fails at start on unreadable files
  const keyWarning = auth.tls ? keyFileWarning(auth.tls.key, "twitch TLS key") : undefined;
  if (keyWarning) warn(keyWarning);
  const paths = overrides.paths ?? (await resolvePuppetPaths(cfg, log));
  const reloadTls = () => {
    // Called only after the listener exists (after a run, or on SIGHUP).
    if (!auth.tls || !(server instanceof https.Server)) return;
    try {
      server.setSecureContext(tlsOptions(auth.tls));
    } catch (err) {
      log.warn({ err }, "cannot reload TLS files; keeping the old ones");
    }
  };
  const runner = new AgentRunner({
    command: cfg.puppet.command, args: cfg.puppet.args, paths, timeoutMs: cfg.puppet.timeout,
    splayMaxMs: cfg.splayMax, log, ...overrides, onRunFinished: reloadTls,
  });
  const limiter = new RateLimiter({ max: cfg.rateLimit.max, per: cfg.rateLimit.per, ...(overrides.now ? { now: overrides.now } : {}) });
  const hostNames = listenerNames(cfg.listen.host, cfg.allowedHosts, [certname]);
  const app = createTwitchApp({ runner, policy, limiter, log, hostNames });
  const server: http.Server = auth.tls ? https.createServer(tlsOptions(auth.tls), app) : http.createServer(app);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new ListenError(`cannot listen on ${cfg.listen.host}:${cfg.listen.port}: ${errnoText(err) ?? String(err)}`, { cause: err })));
    server.listen(cfg.listen.port, cfg.listen.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const url = `${auth.tls ? "https" : "http"}://${host}:${addr.port}`;
  log.info({ url, auth: [policy.token ? "token" : "", policy.mtls ? "mtls" : ""].filter(Boolean).join("+") || "none (loopback)" }, "twitch listening");
  return {
    url,
    runner,
    server,
    reloadTls,
    reload() {
      try {
        token?.reload();
      } catch (err) {
        log.warn({ err }, "cannot reload the token file; keeping the old token");
      }
      reloadTls();
      log.info("reloaded the token and TLS files");
    },
    close: () => new Promise<void>((resolve) => {
      runner.shutdown();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
