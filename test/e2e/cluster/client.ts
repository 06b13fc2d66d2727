// What e2e test files import: the running cluster's descriptor (from $PUPPET_HA_E2E_CLUSTER)
// plus typed calls to its owner's control API, agent runs and requests through the front end.
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { execa } from "execa";
import { DESCRIPTOR_ENV, type ClusterDescriptor, type FrontEndInfo, type InstanceName, type InstanceStatus } from "../../../src/demo/cluster/descriptor.js";
import { runPuppetAgent, type AgentRunOptions, type AgentRunResult } from "../../../src/demo/cluster/agent.js";
import { request, type RequestOptions, type SimpleResponse } from "../../../src/demo/cluster/net.js";
import type { Signal } from "../../../src/demo/cluster/puppetserver.js";
import { detectPuppetSystem } from "../../../src/demo/cluster/system.js";

export type { AgentRunOptions, AgentRunResult, ClusterDescriptor, FrontEndInfo, InstanceName, InstanceStatus, Signal };

export interface ClusterClient extends ClusterDescriptor {
  /** Sends a signal to a puppetserver (KILL/TERM also wait until it is gone). */
  kill(name: InstanceName, signal?: Signal): Promise<InstanceStatus>;
  pause(name: InstanceName): Promise<InstanceStatus>;
  resume(name: InstanceName): Promise<InstanceStatus>;
  /** Starts a stopped puppetserver again on its existing dirs (a CA keeps its possibly stale cadir). */
  start(name: InstanceName): Promise<InstanceStatus>;
  statuses(): Promise<InstanceStatus[]>;
  /** The live pid of a puppetserver (null when stopped). */
  pid(name: InstanceName): Promise<number | null>;
  currentFrontEnd(): Promise<FrontEndInfo & { pid: number | null }>;
  /**
   * Stops the front end and starts it again (same port), optionally as another kind, from a given
   * config file, or with extra environment variables for this start (e.g. `PATH` with fixtures first).
   */
  restartFrontEnd(opts?: { kind?: FrontEndInfo["kind"]; configFile?: string; env?: Record<string, string> }): Promise<FrontEndInfo & { pid: number | null }>;
  /** Signals the front end; HUP makes `puppet-ha proxy` reload its config file. */
  signalFrontEnd(signal: Signal | "HUP"): Promise<FrontEndInfo & { pid: number | null }>;
  /** `puppet agent -t` for certname through the front end (or opts.server/port). */
  runAgent(certname: string, opts?: AgentRunOptions): Promise<AgentRunResult>;
  /** `puppetserver ca <args> --config <admin puppet.conf>`: the CA CLI through the front end with the pp_cli_auth cert. */
  runCaCli(args: string[], timeoutMs?: number): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** HTTPS request through the front end; `asAdmin` presents the pp_cli_auth cert. */
  frontEndRequest(path: string, opts?: RequestOptions & { asAdmin?: boolean }): Promise<SimpleResponse>;
  /** Rewrites the autosign whitelist every CA reads on each CSR: true = "*", false = nothing. */
  setAutosign(on: boolean | string[]): Promise<void>;
  /** The lines of an instance's Jetty access log (empty when it has none yet). */
  accessLog(name: InstanceName): string[];
}

async function control<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const r = await request(base + path, {
    method, timeoutMs: 300_000,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "Content-Type": "application/json" } }),
  });
  const parsed = JSON.parse(r.body || "null") as T & { error?: string };
  if (r.status !== 200) throw new Error(`cluster control ${method} ${path}: ${r.status} ${parsed?.error ?? r.body}`);
  return parsed;
}

/** Reads the descriptor named by $PUPPET_HA_E2E_CLUSTER; throws a clear error when absent. */
export function loadCluster(): ClusterClient {
  const file = process.env[DESCRIPTOR_ENV];
  if (!file || !existsSync(file)) {
    throw new Error(`${DESCRIPTOR_ENV} is ${file ? `"${file}" (missing)` : "not set"}: run e2e tests with \`node scripts/run-tests.mjs e2e\`, which starts the cluster`);
  }
  const d = JSON.parse(readFileSync(file, "utf8")) as ClusterDescriptor;
  const sys = detectPuppetSystem();
  const c = d.controlUrl;
  const fe = () => control<FrontEndInfo & { pid: number | null }>(c, "GET", "/frontend");
  return {
    ...d,
    kill: (name, signal = "KILL") => control(c, "POST", `/instances/${name}/kill?signal=${signal}`),
    pause: (name) => control(c, "POST", `/instances/${name}/kill?signal=STOP`),
    resume: (name) => control(c, "POST", `/instances/${name}/kill?signal=CONT`),
    start: (name) => control(c, "POST", `/instances/${name}/start`),
    statuses: () => control(c, "GET", "/instances"),
    pid: async (name) => (await control<InstanceStatus[]>(c, "GET", "/instances")).find((s) => s.name === name)?.pid ?? null,
    currentFrontEnd: fe,
    restartFrontEnd: (opts = {}) => control(c, "POST", "/frontend/restart", opts),
    signalFrontEnd: (signal) => control(c, "POST", `/frontend/kill?signal=${signal}`),
    runAgent: (certname, opts = {}) =>
      runPuppetAgent(sys.puppet, d.agentsDir, certname, opts.server ?? d.frontEnd.host, opts.port ?? d.frontEnd.port, opts),
    runCaCli: async (args, timeoutMs = 60_000) => {
      const r = await execa(sys.puppetserverCli, ["ca", ...args, "--config", d.pki.adminPuppetConf], { reject: false, timeout: timeoutMs });
      return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
    frontEndRequest: (path, opts = {}) => request(`https://127.0.0.1:${d.frontEnd.port}${path}`, {
      ...opts,
      ca: readFileSync(d.pki.caBundle, "utf8"),
      ...(opts.asAdmin ? { cert: readFileSync(d.pki.adminCert, "utf8"), key: readFileSync(d.pki.adminKey, "utf8") } : {}),
    }),
    setAutosign: (on) => writeFile(d.autosignFile, on === true ? "*\n" : on === false ? "" : on.join("\n") + "\n"),
    accessLog: (name) => {
      const f = d.instances[name].accessLog;
      return existsSync(f) ? readFileSync(f, "utf8").split("\n").filter(Boolean) : [];
    },
  };
}
