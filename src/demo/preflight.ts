// What must hold before the demo starts anything: the Debian packages it needs (installed when
// missing, like scripts/install-system-deps.sh, never starting a system puppetserver) and its
// fixed loopback ports free (a demo is easier to follow with ports one can type).
import { existsSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { execa } from "execa";
import { PuppetHaError, UsageError } from "../errors.js";
import type { ClusterPorts } from "./cluster/cluster.js";
import { LOOPBACK } from "./cluster/net.js";

/** What the demo runs: puppetserver (and its JVM), the agent, rsync for sync, openssl for certs. */
export const DEMO_PACKAGES = ["puppetserver", "puppet-agent", "rsync", "openssl"] as const;

const POLICY_RC_D = "/usr/sbin/policy-rc.d";

/** The packages that need installing, and how to do it in one line. Without root: exit 2. */
export class MissingPackagesError extends UsageError {
  constructor(readonly packages: string[]) {
    super(`missing Debian packages: ${packages.join(" ")}; run as root:\n  ${aptCommand(packages)}`);
  }
}

export function aptCommand(packages: string[]): string {
  return `apt-get update && apt-get install -y --no-install-recommends ${packages.join(" ")}`;
}

/** The packages of `wanted` that dpkg does not report as installed. */
export async function missingPackages(wanted: readonly string[] = DEMO_PACKAGES): Promise<string[]> {
  const missing: string[] = [];
  for (const p of wanted) {
    const r = await execa("dpkg-query", ["-W", "-f=${Status}", "--", p], { reject: false });
    if (r.exitCode !== 0 || !/install ok installed/.test(r.stdout)) missing.push(p);
  }
  return missing;
}

/**
 * Installs what is missing. The package's postinst would start a system puppetserver on
 * 0.0.0.0:8140 with a 1 GB heap (puppet-facts §1): a temporary policy-rc.d exiting 101 blocks
 * every service start during the install, and is removed again only if we created it.
 */
export async function ensurePackages(say: (line: string) => void, wanted: readonly string[] = DEMO_PACKAGES): Promise<void> {
  const missing = await missingPackages(wanted);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new MissingPackagesError(missing);
  const ownPolicy = !existsSync(POLICY_RC_D);
  if (ownPolicy) await writeFile(POLICY_RC_D, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    say(`installing ${missing.join(" ")} (apt-get, about 30 s)`);
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    await apt(["update", "-qq"], env);
    await apt(["install", "-y", "-qq", "--no-install-recommends", "--", ...missing], env);
  } finally {
    if (ownPolicy) await rm(POLICY_RC_D, { force: true });
  }
  // Belt and braces: a system puppetserver started anyway would hold memory (and maybe 8140).
  const active = await execa("systemctl", ["is-active", "--quiet", "puppetserver"], { reject: false });
  if (active.exitCode === 0) await execa("systemctl", ["stop", "puppetserver"], { reject: false });
  say(`installed ${missing.join(" ")}`);
}

async function apt(args: string[], env: Record<string, string>): Promise<void> {
  const r = await execa("apt-get", args, { reject: false, env, stdin: "ignore" });
  if (r.exitCode !== 0) {
    throw new PuppetHaError("E_INSTALL", `apt-get ${args.join(" ")} failed (exit ${String(r.exitCode)}): ${r.stderr.trim().split("\n").slice(-3).join(" ")}`);
  }
}

export interface DemoPorts extends ClusterPorts {
  twitch: number;
}

/** With `--proxies 2`: the two proxies (the load balancer takes `frontEnd`), proxy-2's admin, etcd. */
export interface DemoClusterPorts {
  proxy1: number;
  proxy2: number;
  admin2: number;
  etcd1: number;
  etcd2: number;
  etcd3: number;
  etcdPeer1: number;
  etcdPeer2: number;
  etcdPeer3: number;
}

/** The packages `--proxies 2` needs on top of DEMO_PACKAGES: etcd and the L4 load balancer. */
export const CLUSTER_PACKAGES = ["etcd-server", "haproxy"] as const;

/**
 * Defaults: proxy 8140 (Puppet's own port, so agents need no serverport), admin 8141, twitch
 * 2023 (puppet-twitch's), backends m1 18140, m2 18141, ca1 18142, ca2 18143 as in
 * config/puppet-ha.example.yaml. With a base port B: proxy B, admin B+1, twitch B+2, then
 * m1, m2, ca1, ca2 on B+3..B+6. With two proxies the load balancer takes the proxy's port.
 */
export function demoPorts(base?: number): DemoPorts {
  if (base === undefined) return { frontEnd: 8140, admin: 8141, twitch: 2023, m1: 18140, m2: 18141, ca1: 18142, ca2: 18143 };
  if (!Number.isInteger(base) || base < 1024 || base > 65535 - SPAN) throw new UsageError(`--base-port must be an integer from 1024 to ${65535 - SPAN}, not ${String(base)}`);
  return { frontEnd: base, admin: base + 1, twitch: base + 2, m1: base + 3, m2: base + 4, ca1: base + 5, ca2: base + 6 };
}

/** Ports B+7..B+15 with a base port; else proxies 18144, 18145, proxy-2's admin 8142, etcd 12379/22379/32379 (peers ...80). */
export function demoClusterPorts(base?: number): DemoClusterPorts {
  if (base === undefined) {
    return { proxy1: 18144, proxy2: 18145, admin2: 8142, etcd1: 12379, etcd2: 22379, etcd3: 32379, etcdPeer1: 12380, etcdPeer2: 22380, etcdPeer3: 32380 };
  }
  demoPorts(base);
  return {
    proxy1: base + 7, proxy2: base + 8, admin2: base + 9, etcd1: base + 10, etcd2: base + 11, etcd3: base + 12,
    etcdPeer1: base + 13, etcdPeer2: base + 14, etcdPeer3: base + 15,
  };
}

/** The highest offset from the base port any demo uses. */
const SPAN = 15;

const USE: Record<keyof DemoPorts | keyof DemoClusterPorts, string> = {
  frontEnd: "the proxy (or the load balancer in front of two)", admin: "the admin listener", twitch: "twitch",
  m1: "compile master m1", m2: "compile master m2", ca1: "CA worker ca1", ca2: "CA worker ca2",
  proxy1: "proxy-1", proxy2: "proxy-2", admin2: "proxy-2's admin listener",
  etcd1: "etcd member etcd1", etcd2: "etcd member etcd2", etcd3: "etcd member etcd3",
  etcdPeer1: "etcd1's peer port", etcdPeer2: "etcd2's peer port", etcdPeer3: "etcd3's peer port",
};

function canBind(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    s.listen(port, LOOPBACK, () => s.close(() => resolve(undefined)));
  });
}

/** Throws one UsageError naming every port that cannot be bound on 127.0.0.1, and what it was for. */
export async function checkPortsFree(ports: DemoPorts & Partial<DemoClusterPorts>): Promise<void> {
  const taken: string[] = [];
  for (const [key, port] of Object.entries(ports) as [keyof typeof USE, number][]) {
    const err = await canBind(port);
    if (err) taken.push(`${LOOPBACK}:${port} (for ${USE[key]}) is ${err === "EADDRINUSE" ? "already in use" : `not usable: ${err}`}`);
  }
  if (taken.length > 0) {
    throw new UsageError(`${taken.join("; ")}. Stop what uses it, or pick other ports with --base-port N (uses N..N+6, N..N+15 with --proxies 2)`);
  }
}
