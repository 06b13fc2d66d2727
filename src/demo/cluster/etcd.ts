// The demo's etcd: three members of Debian's etcd-server on loopback with fixed ports and data
// dirs in the state dir (a second run keeps the CA state in etcd), started and stopped by PID.
// Three, not one: the demo shows the topology of docs/cluster.md, where one etcd member may die.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { LOOPBACK, pollUntil, request } from "./net.js";
import { tailFile } from "./puppetserver.js";

export const ETCD_BINARY = "/usr/bin/etcd";

export interface EtcdMemberSpec {
  name: string;
  clientPort: number;
  peerPort: number;
}

interface Running {
  child: ResultPromise;
  exited: Promise<void>;
  note: string | undefined;
}

export class EtcdMembers {
  private readonly running = new Map<string, Running>();

  constructor(private readonly dir: string, private readonly specs: EtcdMemberSpec[], private readonly binary = ETCD_BINARY) {}

  get endpoints(): string[] { return this.specs.map((s) => `http://${LOOPBACK}:${s.clientPort}`); }
  logFile(name: string): string { return join(this.dir, `${name}.log`); }
  pid(name: string): number | null {
    const r = this.running.get(name);
    return r && r.note === undefined ? r.child.pid ?? null : null;
  }

  /** The argument vector of one member (a data dir that exists already makes etcd ignore the initial-* flags). */
  args(s: EtcdMemberSpec): string[] {
    const peer = (p: EtcdMemberSpec) => `http://${LOOPBACK}:${p.peerPort}`;
    const client = `http://${LOOPBACK}:${s.clientPort}`;
    return [
      "--name", s.name, "--data-dir", join(this.dir, s.name),
      "--listen-client-urls", client, "--advertise-client-urls", client,
      "--listen-peer-urls", peer(s), "--initial-advertise-peer-urls", peer(s),
      "--initial-cluster", this.specs.map((p) => `${p.name}=${peer(p)}`).join(","),
      "--initial-cluster-token", "puppet-ha-demo", "--initial-cluster-state", "new",
    ];
  }

  /** Starts every member and waits until each reports itself healthy (a leader is elected). */
  async start(timeoutMs = 60_000): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const s of this.specs) {
      const child = execa(this.binary, this.args(s), {
        stdin: "ignore", stdout: { file: this.logFile(s.name), append: true }, stderr: { file: this.logFile(s.name), append: true }, reject: false,
      });
      const r: Running = { child, exited: Promise.resolve(), note: undefined };
      r.exited = child.then((x) => { r.note = x.signal ? `killed by ${x.signal}` : `exited with code ${String(x.exitCode)}`; });
      this.running.set(s.name, r);
    }
    await Promise.all(this.specs.map((s) => pollUntil(`etcd member ${s.name} on ${LOOPBACK}:${s.clientPort}`, async () => {
      const h = await request(`http://${LOOPBACK}:${s.clientPort}/health`, { timeoutMs: 2000 });
      return h.status === 200 && /"health":\s*"true"/.test(h.body) ? true : undefined;
    }, { timeoutMs, intervalMs: 200, abort: () => this.running.get(s.name)?.note }).catch((err: Error) => {
      throw new Error(`${err.message}\n--- last lines of ${this.logFile(s.name)}:\n${tailFile(this.logFile(s.name))}`, { cause: err });
    })));
  }

  /** Stops every member by PID: TERM, then KILL after 10 s (idempotent). */
  async stop(): Promise<void> {
    await Promise.all([...this.running.values()].map(async (r) => {
      if (r.note !== undefined) return;
      r.child.kill("SIGCONT");
      r.child.kill("SIGTERM");
      const t = setTimeout(() => r.child.kill("SIGKILL"), 10_000);
      await r.exited;
      clearTimeout(t);
    }));
  }
}
