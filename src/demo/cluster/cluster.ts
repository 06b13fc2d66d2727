// Brings up the cluster of the e2e tests and the demo (ca1 primary CA, ca2 hot standby on a copy
// of ca1's cadir, m1/m2 compile masters, a TLS front end) under one root, and tears it down again.
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, rm, writeFile, copyFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ClusterDescriptor, InstanceInfo, InstanceName, PkiInfo } from "./descriptor.js";
import { detectPuppetSystem, type PuppetSystem } from "./system.js";
import { writeCodedir, writeInstanceConfig } from "./instance-config.js";
import { PuppetServer } from "./puppetserver.js";
import { buildPki, mintCert, writeAdminPuppetConf } from "./pki.js";
import { startFrontEnd, type FrontEndContext, type FrontEndKind, type RunningFrontEnd } from "./frontend.js";
import { freeLoopbackPorts, request } from "./net.js";

export interface ClusterOptions {
  /** "none": no front end here; the caller puts its own in front (frontEndContext), e.g. several proxies. */
  frontEnd?: FrontEndKind | "none";
  /** Budget for each readiness wait (JVMs on 2 busy cores take ~45 s). Default 300 s. */
  readyTimeoutMs?: number;
  /** Keep the temp root after teardown (logs for post-mortems). Default: keep only on failure. */
  keepRoot?: boolean;
  log?: (msg: string) => void;
  /** A kept root (the demo's state dir) instead of a temp one: never removed, its CA state reused. */
  root?: string;
  /** Fixed ports instead of free ones picked at start. */
  ports?: ClusterPorts;
  /** Told when an instance (or the front end) is started and when it answers (progress display). */
  onInstance?: (name: InstanceName | "front end", event: "starting" | "ready") => void;
  /** Checks the installed system (default: detectPuppetSystem with haproxy). */
  system?: PuppetSystem;
}

export type ClusterPorts = Record<InstanceName, number> & { frontEnd: number; admin: number };

const NAMES: InstanceName[] = ["ca1", "ca2", "m1", "m2"];
const MASTER_NICENESS = 10;
/** The host agents put in `server`/`ca_server`: a SAN of the front-end cert. */
export const FRONT_END_HOST = "localhost";

export class Cluster {
  readonly servers = {} as Record<InstanceName, PuppetServer>;
  frontEnd: RunningFrontEnd | undefined;
  pki: PkiInfo | undefined;
  failed = false;
  private frontEndCtx: FrontEndContext | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly sys: PuppetSystem,
    readonly root: string,
    readonly ports: { frontEnd: number; admin: number },
    private readonly opts: ClusterOptions,
  ) {}

  get codedir(): string { return join(this.root, "code"); }
  get autosignFile(): string { return join(this.root, "autosign.conf"); }
  get agentsDir(): string { return join(this.root, "agents"); }
  private log(msg: string): void { this.opts.log?.(msg); }

  /** Detects the installed Puppet, creates the temp root and every instance's config. */
  static async create(opts: ClusterOptions = {}): Promise<Cluster> {
    const sys = opts.system ?? detectPuppetSystem();
    const root = opts.root ?? await mkdtemp(join(tmpdir(), "puppet-ha-e2e-"));
    await mkdir(root, { recursive: true });
    const [p1, p2, p3, p4, fe, admin] = opts.ports
      ? [opts.ports.ca1, opts.ports.ca2, opts.ports.m1, opts.ports.m2, opts.ports.frontEnd, opts.ports.admin]
      : await freeLoopbackPorts(6) as [number, number, number, number, number, number];
    const c = new Cluster(sys, root, { frontEnd: fe, admin }, opts);
    await writeCodedir(c.codedir);
    await writeFile(c.autosignFile, "*\n");
    await mkdir(c.agentsDir, { recursive: true });
    const ports: Record<InstanceName, number> = { ca1: p1, ca2: p2, m1: p3, m2: p4 };
    for (const name of NAMES) {
      const info = await writeInstanceConfig({
        name, role: name.startsWith("ca") ? "ca" : "master", certname: name, port: ports[name],
        clusterRoot: root, codedir: c.codedir, autosignFile: c.autosignFile,
      }, sys);
      c.servers[name] = new PuppetServer(info, sys);
    }
    return c;
  }

  info(name: InstanceName): InstanceInfo { return this.servers[name].info; }

  /** What a front end needs (PKI, backends, ports), once start() has minted the certs. */
  get frontEndContext(): FrontEndContext {
    if (!this.frontEndCtx) throw new Error("the cluster has not started");
    return this.frontEndCtx;
  }

  /**
   * ca1, m1, m2 start together; once ca1 answers, the harness mints the front-end cert and ca2's
   * host cert from it, copies ca1's complete cadir for ca2 (a partial one makes a CA refuse to
   * start, an empty one makes it generate a NEW CA) and starts ca2, then the front end.
   * ca2 gets its host cert beforehand so it does not sign one for itself at first start: that
   * would use a serial ca1 will also use. On a kept root that has all this already, all four
   * start at once and ca2 keeps its own cadir (it may be newer than ca1's).
   */
  async start(): Promise<void> {
    const t = this.opts.readyTimeoutMs ?? 300_000;
    const { ca1, ca2, m1, m2 } = this.servers;
    const spawn = (s: PuppetServer, nice = 0) => { s.spawn(nice); this.opts.onInstance?.(s.info.name, "starting"); };
    // A kept root from an earlier run: ca2 already has its host cert and its own (maybe newer) cadir.
    const reuse = this.standbyComplete();
    try {
      // ca1 is on the critical path (ca2 needs its cadir): the masters get less CPU meanwhile.
      spawn(ca1);
      if (reuse) spawn(ca2);
      spawn(m1, reuse ? 0 : MASTER_NICENESS);
      spawn(m2, reuse ? 0 : MASTER_NICENESS);
      this.log(`started ca1${reuse ? ", ca2" : ""}, m1, m2 (root ${this.root}); waiting for ca1`);
      const ready = (s: PuppetServer) => s.waitReady(t).then(() => {
        this.log(`${s.info.name} ready`);
        this.opts.onInstance?.(s.info.name, "ready");
      });
      const mastersReady = Promise.all([ready(m1), ready(m2)]);
      mastersReady.catch(() => undefined); // awaited below; avoid an unhandled rejection meanwhile
      let standbyReady = reuse ? ready(ca2) : undefined;
      standbyReady?.catch(() => undefined);
      await ready(ca1);
      m1.unnice();
      m2.unnice();
      this.pki = await buildPki(this.sys, this.root, ca1.info);
      if (!reuse) {
        const host = await mintCert(this.sys, ca1.info.url, ca2.info.certname, join(this.root, "pki"));
        await mkdir(join(ca2.info.ssldir, "certs"), { recursive: true });
        await mkdir(join(ca2.info.ssldir, "private_keys"), { recursive: true, mode: 0o750 });
        await copyFile(host.cert, join(ca2.info.ssldir, "certs", `${ca2.info.certname}.pem`));
        await copyFile(host.key, join(ca2.info.ssldir, "private_keys", `${ca2.info.certname}.pem`));
        await rm(ca2.info.cadir, { recursive: true, force: true });
        await cp(ca1.info.cadir, ca2.info.cadir, { recursive: true, preserveTimestamps: true });
        spawn(ca2);
        standbyReady = ready(ca2);
        standbyReady.catch(() => undefined);
        this.log("certificates minted; ca2 started on a copy of ca1's cadir");
      }
      await mastersReady;
      this.frontEndCtx = {
        sys: this.sys, dir: join(this.root, "frontend"), host: FRONT_END_HOST,
        port: this.ports.frontEnd, adminPort: this.ports.admin, pki: this.pki,
        caWorkers: [ca1.info, ca2.info], masters: [m1.info, m2.info],
      };
      await writeAdminPuppetConf(this.pki, FRONT_END_HOST, this.ports.frontEnd);
      // The front end starts last, so its first health checks see every backend up.
      await standbyReady;
      if (this.opts.frontEnd === "none") return;
      this.opts.onInstance?.("front end", "starting");
      const fe = await startFrontEnd(this.opts.frontEnd ?? "puppet-ha", this.frontEndCtx);
      this.frontEnd = fe;
      this.opts.onInstance?.("front end", "ready");
      this.log(`cluster ready: front end ${fe.info.kind} on ${fe.info.host}:${fe.info.port}`);
    } catch (err) {
      this.failed = true;
      throw err;
    }
  }

  /** ca2 has a complete cadir and its host cert (left by an earlier start on this root). */
  private standbyComplete(): boolean {
    const { ca1, ca2 } = this.servers;
    return ["ca_crt.pem", "ca_key.pem", "serial", "inventory.txt"].every((f) => existsSync(join(ca2.info.cadir, f)))
      && existsSync(join(ca1.info.cadir, "ca_crt.pem"))
      && existsSync(join(ca2.info.ssldir, "certs", `${ca2.info.certname}.pem`));
  }

  /** Re-fetches the CRL file the front end loads from the first CA worker that answers. */
  async refreshCrl(): Promise<void> {
    if (!this.pki) return;
    for (const ca of [this.info("ca1"), this.info("ca2")]) {
      const r = await request(`${ca.url}/puppet-ca/v1/certificate_revocation_list/ca`, { timeoutMs: 3000 }).catch(() => undefined);
      if (r?.status === 200) {
        await writeFile(this.pki.crl, r.body);
        return;
      }
    }
  }

  /**
   * Stops the front end (if any) and starts one of `kind` on the same port, with the current
   * CRL (so revocations made since the last start are enforced by haproxy), optionally with
   * extra environment variables for this start only (e.g. PATH with fixture executables first).
   */
  async restartFrontEnd(kind: FrontEndKind, configFile?: string, env?: Record<string, string>): Promise<RunningFrontEnd> {
    if (!this.frontEndCtx) throw new Error("the cluster has not started");
    await this.frontEnd?.stop();
    await this.refreshCrl();
    this.frontEnd = undefined;
    this.frontEnd = await startFrontEnd(kind, { ...this.frontEndCtx, ...(configFile ? { configFile } : {}), ...(env ? { env } : {}) });
    return this.frontEnd;
  }

  descriptor(controlUrl: string, startupMs: number): ClusterDescriptor {
    if (!this.pki || !this.frontEnd) throw new Error("the cluster has not started");
    const instances = Object.fromEntries(NAMES.map((n) => [n, this.info(n)])) as Record<InstanceName, InstanceInfo>;
    return {
      version: 1, root: this.root, codedir: this.codedir, autosignFile: this.autosignFile,
      agentsDir: this.agentsDir, instances, frontEnd: this.frontEnd.info, pki: this.pki, controlUrl, startupMs,
    };
  }

  /** Idempotent teardown of every process; removes a temp root unless kept or failed. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.frontEnd?.stop().catch(() => undefined);
      await Promise.all(NAMES.map((n) => this.servers[n]?.stop().catch(() => undefined)));
      if (this.opts.root) return;
      if (this.failed || this.opts.keepRoot) this.log(`kept ${this.root} for inspection`);
      else await rm(this.root, { recursive: true, force: true });
    })();
    return this.stopping;
  }
}
