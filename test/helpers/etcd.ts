// Real etcd members for tests: a 1- or 3-member cluster on loopback with its own data dirs,
// optionally TLS with client-cert auth; stop, kill -9, pause (SIGSTOP), resume, restart by PID.
// Teardown is registered at creation and always kills every member it started, by PID.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, request } from "undici";
import { createTestCa } from "./pki.js";
import type { EtcdTls } from "../../src/proxy/control/etcd.js";

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly pid: number | undefined;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL (kill -9), then wait for the exit. */
  kill(): Promise<void>;
  /** SIGSTOP: the process stays, answers nothing. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Start again on the same data dir and ports; resolves when it has started (not necessarily healthy). */
  restart(): Promise<void>;
}

export interface EtcdCluster {
  members: EtcdMember[];
  endpoints: string[];
  /** Client credentials (PEM) when the cluster runs with TLS and client-cert auth. */
  tls: EtcdTls | undefined;
  /** Resolves when `member` reports itself healthy (it has a leader and serves reads). */
  waitHealthy(member: EtcdMember, timeoutMs?: number): Promise<void>;
  /** The member that reports itself leader now (maintenance status), if one answers so. */
  leader(): Promise<EtcdMember | undefined>;
  /** Resolves with the leader the members other than `old` elected (e.g. after pausing `old`). */
  waitNewLeader(old: EtcdMember, timeoutMs?: number): Promise<EtcdMember>;
}

interface Ctx {
  after(fn: () => unknown): void;
}

export async function freePort(): Promise<number> {
  // etcd cannot listen on port 0 and advertise the port it got: ask the kernel for one first.
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** n free ports, all different (the kernel may hand out a port it has just freed again). */
export async function freePorts(n: number): Promise<number[]> {
  const taken = new Set<number>();
  while (taken.size < n) taken.add(await freePort());
  return [...taken];
}

export async function startEtcdCluster(t: Ctx, opts: { size?: 1 | 3; tls?: boolean } = {}): Promise<EtcdCluster> {
  const size = opts.size ?? 1;
  const root = mkdtempSync(join(tmpdir(), "puppet-ha-etcd-"));
  const children = new Set<ChildProcess>();
  t.after(async () => {
    for (const c of children) killChild(c);
    await Promise.all([...children].map(waitExit));
    rmSync(root, { recursive: true, force: true });
  });

  let tls: EtcdTls | undefined;
  const serverFiles: string[] = [];
  if (opts.tls) {
    const ca = createTestCa("etcd-test");
    const server = ca.issue("etcd-server", { sans: ["127.0.0.1", "localhost"] });
    const client = ca.issue("puppet-ha-proxy");
    for (const [f, pem] of [["ca.pem", ca.certPem], ["server.pem", server.certPem], ["server-key.pem", server.keyPem]] as const) {
      writeFileSync(join(root, f), pem, { mode: 0o600 });
      serverFiles.push(join(root, f));
    }
    tls = { ca: ca.certPem, cert: client.certPem, key: client.keyPem };
  }
  const scheme = tls ? "https" : "http";
  const specs: { name: string; client: number; peer: number }[] = [];
  const ports = await freePorts(2 * size);
  for (let i = 0; i < size; i++) {
    specs.push({ name: `etcd${i + 1}`, client: ports[2 * i] as number, peer: ports[2 * i + 1] as number });
  }
  const initialCluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peer}`).join(",");
  const agent = new Agent({ connect: tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {} });
  t.after(() => agent.close());

  const members = specs.map((s) => {
    const clientUrl = `${scheme}://127.0.0.1:${s.client}`;
    const dataDir = join(root, s.name);
    let child: ChildProcess | undefined;
    let started = false;
    const start = () => {
      const args = [
        "--name", s.name, "--data-dir", dataDir,
        "--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl,
        "--listen-peer-urls", `http://127.0.0.1:${s.peer}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${s.peer}`,
        "--initial-cluster", initialCluster, "--initial-cluster-token", `puppet-ha-test-${specs[0]?.client}`,
        "--initial-cluster-state", started ? "existing" : "new",
        "--heartbeat-interval", "100", "--election-timeout", "1000",
      ];
      if (tls) args.push("--cert-file", serverFiles[1] as string, "--key-file", serverFiles[2] as string, "--trusted-ca-file", serverFiles[0] as string, "--client-cert-auth");
      const log = openSync(join(root, `${s.name}.log`), "a");
      const c = spawn("etcd", args, { stdio: ["ignore", log, log] });
      closeSync(log);
      children.add(c);
      c.once("exit", () => children.delete(c));
      child = c;
      started = true;
    };
    start();
    const member: EtcdMember = {
      name: s.name,
      clientUrl,
      get pid() {
        return child?.pid;
      },
      async stop() {
        if (child && child.exitCode === null) {
          child.kill("SIGCONT");
          child.kill("SIGTERM");
          await waitExit(child);
        }
      },
      async kill() {
        if (child && child.exitCode === null) {
          child.kill("SIGKILL");
          await waitExit(child);
        }
      },
      pause: () => void child?.kill("SIGSTOP"),
      resume: () => void child?.kill("SIGCONT"),
      async restart() {
        await member.kill();
        start();
      },
    };
    return member;
  });

  const waitHealthy = async (m: EtcdMember, timeoutMs = 20_000) => {
    const until = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < until) {
      try {
        const res = await request(`${m.clientUrl}/health`, { dispatcher: agent, signal: AbortSignal.timeout(1000) });
        last = await res.body.text();
        if (res.statusCode === 200 && /"health":\s*"true"/.test(last)) return;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(100); // waiting for an external process to come up: there is no clock to inject
    }
    const log = readFileSync(join(root, `${m.name}.log`), "utf8").split("\n").slice(-15).join("\n");
    throw new Error(`etcd member ${m.name} not healthy within ${timeoutMs} ms (last: ${last})\n${log}`);
  };
  /** A member's own status: its ID and the leader's ID as it sees them; undefined when it does not answer. */
  const status = async (m: EtcdMember): Promise<{ member: string; leader: string } | undefined> => {
    try {
      const res = await request(`${m.clientUrl}/v3/maintenance/status`, { method: "POST", body: "{}", dispatcher: agent, signal: AbortSignal.timeout(500) });
      const j = (await res.body.json()) as { leader?: string; header?: { member_id?: string } };
      return j.header?.member_id && j.leader ? { member: j.header.member_id, leader: j.leader } : undefined;
    } catch {
      return undefined;
    }
  };
  const leader = async (): Promise<EtcdMember | undefined> => {
    for (const m of members) {
      const s = await status(m);
      if (s && s.member === s.leader) return m;
    }
    return undefined;
  };
  const waitNewLeader = async (old: EtcdMember, timeoutMs = 20_000): Promise<EtcdMember> => {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      for (const m of members.filter((x) => x !== old)) {
        const s = await status(m);
        if (s && s.member === s.leader) return m;
      }
      await sleep(50); // an election among external processes: there is no clock to inject
    }
    throw new Error(`no new etcd leader without ${old.name} within ${timeoutMs} ms`);
  };
  await Promise.all(members.map((m) => waitHealthy(m)));
  return { members, endpoints: members.map((m) => m.clientUrl), tls, waitHealthy, leader, waitNewLeader };
}

function killChild(c: ChildProcess): void {
  if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}

function waitExit(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => c.once("exit", () => resolve()));
}
