// The demo's whole system in a kept state dir: the cluster of src/demo/cluster with `puppet-ha
// proxy` in front (sync in-process, admin token), a twitch for one demo node, and its first run.
// With two proxies: a 3-member etcd, proxy-1 and proxy-2 with `proxy.cluster`, haproxy (TCP) in front.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { stringify } from "yaml";
import { readTokenFile } from "../token.js";
import { runPuppetAgent, agentDirs, type AgentRunResult } from "./cluster/agent.js";
import { Cluster, FRONT_END_HOST } from "./cluster/cluster.js";
import { EtcdMembers } from "./cluster/etcd.js";
import { ProxySet } from "./cluster/proxy-set.js";
import { packageRoot, selfCliArgv, startFrontEnd } from "./cluster/frontend.js";
import { LOOPBACK, pollUntil, request } from "./cluster/net.js";
import type { PuppetSystem } from "./cluster/system.js";
import type { DemoClusterPorts, DemoPorts } from "./preflight.js";
import { DEMO_CONTROLLER, startDemoBroker, type DemoBroker } from "./broker.js";

export const DEMO_NODE = "demo-node";

/** The CA-state carry between the one-proxy file and etcd, loaded only with --proxies 2 (keeps the CLI's start light). */
async function loadStateCarry() {
  const [carry, store] = await Promise.all([import("./cluster/state-carry.js"), import("../proxy/control/etcd-store.js")]);
  return { fileToEtcd: carry.fileToEtcd, etcdToFile: carry.etcdToFile, stateKey: store.stateKey };
}
/** The two proxies' lease timing: a handover within ttl + loopWait (about 6 s). */
export const CLUSTER_TIMING = { ttl: "5s", loopWait: "1s", retryTimeout: "2s" };

export interface DemoOptions {
  stateDir: string;
  ports: DemoPorts;
  sys: PuppetSystem;
  readyTimeoutMs: number;
  withTwitch: boolean;
  /** Two: etcd, two proxies and a load balancer; needs clusterPorts. */
  proxies: 1 | 2;
  clusterPorts?: DemoClusterPorts;
  onInstance: (name: string, event: "starting" | "ready") => void;
  /** One line of news (e.g. the CA state carried between the one- and two-proxy modes). */
  say?: (line: string) => void;
}

const CLUSTER_NAME = "demo";

/** What the demo's /health says about the CA (tolerant: the admin app's shape is still growing). */
export interface CaView {
  active: string | undefined;
  epoch: number | undefined;
  failbackState: string | undefined;
  body: Record<string, unknown> | undefined;
}

export class Demo {
  twitch: { pid: number | null; url: string; tokenFile: string; child: ResultPromise } | undefined;
  /** With two proxies: the etcd members and the proxies behind the load balancer. */
  etcd: EtcdMembers | undefined;
  proxies: ProxySet | undefined;
  /** With `--broker`: the fleet broker the demo node's twitch joined. */
  broker: DemoBroker | undefined;
  private stopping: Promise<void> | undefined;

  constructor(readonly cluster: Cluster, readonly opts: DemoOptions) {}

  /** proxy-1's admin listener when there are two. */
  get adminUrl(): string { return `http://${LOOPBACK}:${this.opts.ports.admin}`; }
  get adminTokenFile(): string {
    return this.proxies?.tokenFile ?? this.cluster.frontEnd?.info.adminTokenFile ?? join(this.cluster.root, "frontend", "admin.token");
  }
  get proxyLog(): string {
    return this.proxies?.logFile("proxy-1") ?? this.cluster.frontEnd?.info.logFile ?? join(this.cluster.root, "frontend", "puppet-ha.log");
  }

  /** The one-proxy demo's CA state file (its proxy.stateDir). */
  private get singleProxyState(): string { return join(this.cluster.root, "frontend", "state", "arbiter.json"); }

  /** Writes every instance's config into the state dir (nothing runs yet: stop() works from here on). */
  static async create(opts: DemoOptions): Promise<Demo> {
    const cluster = await Cluster.create({
      frontEnd: opts.proxies === 2 ? "none" : "puppet-ha", root: opts.stateDir, ports: opts.ports, system: opts.sys,
      readyTimeoutMs: opts.readyTimeoutMs, onInstance: opts.onInstance,
    });
    return new Demo(cluster, opts);
  }

  /** Starts every JVM and the proxy (CA state in the state dir is reused), then the twitch. */
  async start(): Promise<void> {
    const cp = this.opts.clusterPorts;
    if (this.opts.proxies === 2 && cp) {
      this.etcd = new EtcdMembers(join(this.cluster.root, "etcd"), [
        { name: "etcd1", clientPort: cp.etcd1, peerPort: cp.etcdPeer1 },
        { name: "etcd2", clientPort: cp.etcd2, peerPort: cp.etcdPeer2 },
        { name: "etcd3", clientPort: cp.etcd3, peerPort: cp.etcdPeer3 },
      ]);
      this.opts.onInstance("etcd1-3", "starting");
      await this.etcd.start();
      this.opts.onInstance("etcd1-3", "ready");
    }
    await this.cluster.start();
    if (this.etcd && cp) {
      const { fileToEtcd, stateKey } = await loadStateCarry();
      const copied = await fileToEtcd(this.singleProxyState, this.etcd.endpoints[0] as string, stateKey(`/puppet-ha/${CLUSTER_NAME}`));
      if (copied) this.opts.say?.(`CA state of the one-proxy demo (${copied.active} active, epoch ${copied.epoch}) written to etcd`);
      this.proxies = new ProxySet({
        base: { ...this.cluster.frontEndContext, dir: join(this.cluster.root, "proxies") },
        members: [{ name: "proxy-1", port: cp.proxy1, adminPort: this.opts.ports.admin }, { name: "proxy-2", port: cp.proxy2, adminPort: cp.admin2 }],
        etcdEndpoints: this.etcd.endpoints, timing: CLUSTER_TIMING, clusterName: CLUSTER_NAME,
        // One sync between the two local cadirs (on a real site: `puppet-ha sync` on the CA hosts).
        syncOn: "proxy-1",
      });
      this.opts.onInstance("proxy-1, proxy-2, load balancer", "starting");
      await this.proxies.start();
      this.opts.onInstance("proxy-1, proxy-2, load balancer", "ready");
    }
    if (this.opts.withTwitch) await this.startTwitch();
  }

  /** `puppet agent -t` for certname through the proxy, isolated under <state>/agents/<certname>. */
  agent(certname: string, timeoutMs = 180_000): Promise<AgentRunResult> {
    return runPuppetAgent(this.opts.sys.puppet, this.cluster.agentsDir, certname, FRONT_END_HOST, this.opts.ports.frontEnd, { timeoutMs });
  }

  async caView(): Promise<CaView> {
    const r = await request(`${this.adminUrl}/health`, { timeoutMs: 3000 }).catch(() => undefined);
    let body: Record<string, unknown> | undefined;
    try {
      body = r ? JSON.parse(r.body) as Record<string, unknown> : undefined;
    } catch {
      body = undefined;
    }
    const arbiter = (body?.arbiter ?? {}) as { active?: unknown; epoch?: unknown; failback?: { state?: unknown } };
    return {
      active: typeof arbiter.active === "string" ? arbiter.active : undefined,
      epoch: typeof arbiter.epoch === "number" ? arbiter.epoch : undefined,
      failbackState: typeof arbiter.failback?.state === "string" ? arbiter.failback.state : undefined,
      body,
    };
  }

  /**
   * `--broker`, after the demo node's first run (its twitch joins with the node's own Puppet cert):
   * start the fleet broker, restart the twitch with a broker section and the one proxy with a
   * `fleet` section (the fleet's counts on its status page, "never reported" from the local cadirs).
   */
  async joinBroker(): Promise<DemoBroker> {
    const b = await startDemoBroker(this.opts.sys, this.cluster.servers.ca1.info.url, join(this.cluster.root, "broker"), [DEMO_NODE]);
    this.broker = b;
    const ssl = agentDirs(this.cluster.agentsDir, DEMO_NODE).ssldir;
    await this.stopTwitch();
    await this.startTwitch({
      urls: [b.url], allow: [DEMO_CONTROLLER],
      tls: { cert: join(ssl, "certs", `${DEMO_NODE}.pem`), key: join(ssl, "private_keys", `${DEMO_NODE}.pem`), ca: b.caFile, crl: b.crlFile },
    });
    const fe = this.cluster.frontEnd;
    if (fe?.info.kind === "puppet-ha") {
      this.opts.onInstance("proxy (with the fleet's counts)", "starting");
      await fe.stop();
      const fleet = { broker: { urls: [b.url], tls: { cert: b.controller.cert, key: b.controller.key, ca: b.caFile, crl: b.crlFile } } };
      try {
        this.cluster.frontEnd = await startFrontEnd("puppet-ha", { ...this.cluster.frontEndContext, fleet });
      } catch (err) {
        // The demo keeps its proxy whatever happens: back to the config without the fleet section.
        this.cluster.frontEnd = await startFrontEnd("puppet-ha", this.cluster.frontEndContext);
        throw err;
      }
      this.opts.onInstance("proxy (with the fleet's counts)", "ready");
    }
    return b;
  }

  /** A twitch for the demo node with a bearer token, running the agent against the proxy. */
  private async startTwitch(broker?: Record<string, unknown>): Promise<void> {
    const dir = join(this.cluster.root, "twitch");
    await mkdir(dir, { recursive: true });
    const tokenFile = join(dir, "twitch.token");
    if (!existsSync(tokenFile)) await writeFile(tokenFile, randomBytes(24).toString("hex") + "\n", { mode: 0o600 });
    const d = agentDirs(this.cluster.agentsDir, DEMO_NODE);
    for (const p of [d.confdir, d.vardir, d.ssldir, d.publicdir, d.rundir, d.logdir]) await mkdir(p, { recursive: true });
    const port = String(this.opts.ports.frontEnd);
    const configFile = join(dir, "twitch.yaml");
    await writeFile(configFile, stringify({
      twitch: {
        listen: `${LOOPBACK}:${this.opts.ports.twitch}`,
        auth: { tokenFile },
        puppet: {
          command: [this.opts.sys.puppet],
          args: [
            "--confdir", d.confdir, "--vardir", d.vardir, "--ssldir", d.ssldir, "--publicdir", d.publicdir,
            "--rundir", d.rundir, "--logdir", d.logdir, "--certname", DEMO_NODE,
            "--server", FRONT_END_HOST, "--ca_server", FRONT_END_HOST, "--serverport", port, "--ca_port", port,
          ],
          timeout: "5m",
        },
        ...(broker ? { broker } : {}),
      },
      log: { level: "info", format: "json" },
    }));
    const log = { file: join(dir, "twitch.log"), append: true } as const;
    const [node, pre] = selfCliArgv();
    this.opts.onInstance("twitch", "starting");
    const child = execa(node, [...pre, "twitch", "-c", configFile], { cwd: packageRoot, stdin: "ignore", stdout: log, stderr: log, reject: false });
    let exited: string | undefined;
    void child.then((r) => { exited = `exited (${String(r.exitCode ?? r.signal)}), see ${log.file}`; });
    const url = `http://${LOOPBACK}:${this.opts.ports.twitch}`;
    this.twitch = { pid: child.pid ?? null, url, tokenFile, child };
    const token = readTokenFile(tokenFile, "twitch token file");
    await pollUntil(`twitch on ${url}`, async () => {
      const r = await request(`${url}/puppet/status`, { headers: { Authorization: `Bearer ${token}` }, timeoutMs: 2000 });
      return r.status === 200 ? true : undefined;
    }, { timeoutMs: 60_000, abort: () => exited });
    this.opts.onInstance("twitch", "ready");
  }

  private async stopTwitch(): Promise<void> {
    const t = this.twitch?.child;
    if (t && t.exitCode === null && t.signalCode === null) {
      t.kill("SIGTERM");
      const timer = setTimeout(() => t.kill("SIGKILL"), 10_000);
      await t.catch(() => undefined);
      clearTimeout(timer);
    }
  }

  /** Stops the twitch and every server the demo started, by their PIDs (idempotent). */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.stopTwitch();
      await this.broker?.nats.stop();
      await this.proxies?.stop();
      await this.cluster.stop();
      const endpoint = this.etcd?.endpoints[0];
      if (endpoint && this.proxies) {
        const { etcdToFile, stateKey } = await loadStateCarry();
        const copied = await etcdToFile(endpoint, stateKey(`/puppet-ha/${CLUSTER_NAME}`), this.singleProxyState).catch(() => undefined);
        if (copied) this.opts.say?.(`CA state of the cluster (${copied.active} active, epoch ${copied.epoch}) kept for the one-proxy demo`);
      }
      await this.etcd?.stop();
    })();
    return this.stopping;
  }
}
