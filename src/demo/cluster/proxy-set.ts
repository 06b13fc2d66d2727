// Several `puppet-ha proxy` processes with a `proxy.cluster` section (one CA decision in etcd)
// behind ONE name: haproxy in TCP mode as the L4 load balancer. Used by the e2e cluster test and
// `puppet-ha demo --proxies 2`; every process is started here and stopped by its PID.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { join } from "node:path";
import { haproxyTcpConfig } from "./haproxy-config.js";
import { launchFrontEnd, startFrontEnd, type FrontEndContext, type RunningFrontEnd } from "./frontend.js";
import { LOOPBACK, request } from "./net.js";
import type { Signal } from "./puppetserver.js";

export interface ProxySetMember {
  /** The proxy's member name (proxy.cluster.name). */
  name: string;
  port: number;
  adminPort: number;
}

export interface ProxySetOptions {
  /** The single front end's context (PKI, workers, masters, host); its `port` becomes the balancer's. */
  base: FrontEndContext;
  members: ProxySetMember[];
  etcdEndpoints: string[];
  /** proxy.cluster lease timing (Patroni's rule: loopWait + 2 x retryTimeout <= ttl). */
  timing: { ttl: string; loopWait: string; retryTimeout: string };
  clusterName?: string;
  /** The one member that runs the in-process sync between the CA workers' cadirs (default: none). */
  syncOn?: string;
}

/** What a proxy's /health says about the cluster (the fields the test and the demo read). */
export interface ClusterView {
  controller: string | null;
  isController: boolean;
  etcdUnreachableSince: string | null;
  members: { name: string; appliedEpoch: number }[];
  active: string | undefined;
  epoch: number | undefined;
}

export class ProxySet {
  readonly proxies = new Map<string, RunningFrontEnd>();
  balancer: RunningFrontEnd | undefined;
  readonly tokenFile: string;
  private readonly dir: string;

  constructor(private readonly o: ProxySetOptions) {
    this.dir = o.base.dir;
    this.tokenFile = join(this.dir, "admin.token");
  }

  get names(): string[] { return this.o.members.map((m) => m.name); }
  get balancerLog(): string { return join(this.dir, "balancer", "haproxy.log"); }
  private get balancerSocket(): string { return join(this.dir, "balancer", "haproxy.sock"); }
  adminUrl(name: string): string { return `http://${LOOPBACK}:${this.member(name).adminPort}`; }
  logFile(name: string): string { return join(this.dir, name, "puppet-ha.log"); }

  private member(name: string): ProxySetMember {
    const m = this.o.members.find((x) => x.name === name);
    if (!m) throw new Error(`no proxy "${name}" in this set (${this.names.join(", ")})`);
    return m;
  }

  /** Starts every proxy (together), then the balancer in front of them. */
  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    if (!existsSync(this.tokenFile)) await writeFile(this.tokenFile, randomBytes(24).toString("hex") + "\n", { mode: 0o600 });
    await Promise.all(this.names.map((n) => this.startProxy(n)));
    const dir = join(this.dir, "balancer");
    await mkdir(dir, { recursive: true });
    const configFile = join(dir, "haproxy.cfg");
    await writeFile(configFile, haproxyTcpConfig({
      bind: { host: LOOPBACK, port: this.o.base.port },
      servers: this.o.members.map((m) => ({ name: m.name, host: LOOPBACK, port: m.port })),
      statsSocket: this.balancerSocket,
    }));
    const info = { kind: "haproxy" as const, host: this.o.base.host, port: this.o.base.port, configFile, logFile: this.balancerLog };
    // -db: stay in the foreground, so this set owns the process and its exit.
    this.balancer = await launchFrontEnd({ ...this.o.base, dir }, info, this.o.base.sys.haproxy, ["-db", "-f", configFile], dir);
  }

  /** Starts one proxy (again: same dir, config, state dir and ports) and waits until it serves. */
  async startProxy(name: string): Promise<RunningFrontEnd> {
    const m = this.member(name);
    if (this.proxies.get(name)?.pid()) throw new Error(`proxy ${name} is running`);
    const p = await startFrontEnd("puppet-ha", {
      ...this.o.base, dir: join(this.dir, name), port: m.port, adminPort: m.adminPort, adminTokenFile: this.tokenFile,
      sync: this.o.syncOn === name,
      cluster: { name, clusterName: this.o.clusterName ?? "main", etcd: { endpoints: this.o.etcdEndpoints }, ...this.o.timing },
    });
    this.proxies.set(name, p);
    return p;
  }

  /** Signals one proxy; KILL and TERM wait until it has exited. Returns the PID it had. */
  async signal(name: string, sig: Signal): Promise<number | null> {
    const p = this.proxies.get(name);
    const pid = p?.pid() ?? null;
    if (!p || pid === null) throw new Error(`proxy ${name} is not running`);
    p.signal(sig);
    if (sig === "KILL" || sig === "TERM") await p.exited;
    return pid;
  }

  /** The cluster as one proxy's /health shows it (undefined when it does not answer). */
  async view(name: string): Promise<ClusterView | undefined> {
    const r = await request(`${this.adminUrl(name)}/health`, { timeoutMs: 3000 }).catch(() => undefined);
    if (!r) return undefined;
    const h = JSON.parse(r.body) as { cluster?: Omit<ClusterView, "active" | "epoch">; arbiter?: { active?: string; epoch?: number } };
    if (!h.cluster) return undefined;
    return { ...h.cluster, active: h.arbiter?.active, epoch: h.arbiter?.epoch };
  }

  /** The agents' connections the balancer has open to one proxy right now (`show sess` lines). */
  openConnections(name: string): Promise<string[]> {
    return new Promise((resolve, reject) => {
      let out = "";
      const s = createConnection(this.balancerSocket, () => s.write("show sess\n"));
      s.setTimeout(3000, () => s.destroy(new Error(`no answer on ${this.balancerSocket}`)));
      s.on("data", (d: Buffer) => { out += d.toString("utf8"); });
      s.on("error", reject);
      s.on("close", () => resolve(out.split("\n").filter((l) => l.includes(` srv=${name} `))));
    });
  }

  /** Stops the balancer, then every proxy, by PID (idempotent). */
  async stop(): Promise<void> {
    await this.balancer?.stop().catch(() => undefined);
    await Promise.all([...this.proxies.values()].map((p) => p.stop().catch(() => undefined)));
  }
}
