// A real fleet broker for tests: a test Puppet CA, a nats-server on 127.0.0.1 (random port, TLS
// with client certs mapped to users, the permissions `fleet broker-config` generates, JetStream
// for the status bucket) stopped by PID, and broker nodes: twitch against a fake puppet plus the
// broker node side, each with its own certname, facts and classes.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { TestContext } from "node:test";
import { createLogger, type Logger } from "../../../src/log.js";
import { brokerSection } from "../../../src/twitch/broker/config.js";
import { startBrokerNode, type BrokerNode } from "../../../src/twitch/broker/node.js";
import { renderServerConfig } from "../../../src/twitch/broker/server-config.js";
import { runFleetBroker, type FleetRunCliOptions } from "../../../src/twitch/fleet/broker-run.js";
import { createTestCa, type Issued, type TestCa } from "../../helpers/pki.js";
import { startHarness, type Harness } from "./harness.js";

export interface Fleet {
  dir: string;
  ca: TestCa;
  caFile: string;
  crlFile: string;
  controller: Files;
  url: string;
  nats: { pid: () => number; stop: () => Promise<void>; start: () => Promise<void> };
  /** Files of a cert issued by the fleet CA (written on first use). */
  files(certname: string): Files;
}

export interface Files {
  certname: string;
  cert: string;
  key: string;
  issued: Issued;
}

export function memoryLog(): { log: Logger; lines: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString("utf8").split("\n").filter((l) => l !== ""));
      cb();
    },
  });
  return { log: createLogger({ level: "info", format: "json" }, out), lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

async function spawnNats(conf: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn("nats-server", ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  const port = await new Promise<number>((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error(`nats-server did not start:\n${text}`)), 15_000);
    child.stderr?.on("data", (c: Buffer) => {
      text += c.toString();
      const m = /Listening for client connections on [^\s]*:(\d+)/.exec(text);
      if (m && /Server is ready/.test(text)) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited ${code}:\n${text}`));
    });
  });
  child.stderr?.resume();
  return { child, port };
}

/** The nodes are listed in the broker config up front: certnames node1..nodeN.example and extra. */
export async function startFleet(t: TestContext, o: { nodes?: string[]; controllers?: string[] } = {}): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), "fleet-broker-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = createTestCa("fleet");
  const caFile = join(dir, "ca.pem");
  const crlFile = join(dir, "crl.pem");
  writeFileSync(caFile, ca.certPem);
  writeFileSync(crlFile, ca.crl());
  const cache = new Map<string, Files>();
  const files = (certname: string, sans?: string[]): Files => {
    let f = cache.get(certname);
    if (!f) {
      const issued = ca.issue(certname, sans ? { sans } : {});
      f = { certname, cert: join(dir, `${certname}.pem`), key: join(dir, `${certname}.key`), issued };
      writeFileSync(f.cert, issued.certPem);
      writeFileSync(f.key, issued.keyPem, { mode: 0o600 });
      cache.set(certname, f);
    }
    return f;
  };
  const broker = files("broker.example", ["localhost", "127.0.0.1", "broker.example"]);
  const controllers = o.controllers ?? ["controller.example"];
  const controller = files(controllers[0] as string);
  mkdirSync(join(dir, "js"));
  const text = (listen: string) => renderServerConfig({
    listen, cert: broker.cert, key: broker.key, ca: caFile, storeDir: join(dir, "js"), subjectPrefix: "puppet-ha.fleet",
    bucket: "puppet_ha_fleet", controllers, nodes: o.nodes ?? ["node1.example", "node2.example", "node3.example"], maxPayload: 1024 * 1024,
  });
  const conf = join(dir, "nats.conf");
  writeFileSync(conf, text("127.0.0.1:-1"));
  let child: ChildProcess | undefined;
  const stop = async () => {
    const c = child;
    child = undefined;
    if (c?.pid === undefined || c.exitCode !== null) return;
    const gone = new Promise((r) => c.once("exit", r));
    process.kill(c.pid, "SIGTERM");
    await gone;
  };
  t.after(stop);
  const first = await spawnNats(conf);
  child = first.child;
  // Restarts reuse the port so that clients reconnect to the same URL.
  writeFileSync(conf, text(`127.0.0.1:${first.port}`));
  return {
    dir, ca, caFile, crlFile, controller, files,
    url: `tls://127.0.0.1:${first.port}`,
    nats: {
      pid: () => child?.pid ?? 0,
      stop,
      start: async () => {
        child = (await spawnNats(conf)).child;
      },
    },
  };
}

export interface FleetNode {
  certname: string;
  twitch: Harness;
  broker: BrokerNode;
  logs: () => Record<string, unknown>[];
  factsFile: string;
  classesFile: string;
}

export async function startNode(
  t: TestContext, fleet: Fleet, certname: string,
  o: { facts?: Record<string, unknown>; classes?: string[]; allow?: string[]; now?: () => number } = {},
): Promise<FleetNode> {
  const twitch = await startHarness(t);
  const f = fleet.files(certname);
  const factsFile = join(twitch.fake.dir, "facts.json");
  const classesFile = join(twitch.fake.dir, "classes.txt");
  writeFileSync(factsFile, JSON.stringify(o.facts ?? { os: { family: "Debian" } }));
  writeFileSync(classesFile, (o.classes ?? ["settings"]).join("\n") + "\n");
  const cfg = brokerSection.parse({
    urls: [fleet.url], tls: { cert: f.cert, key: f.key, ca: fleet.caFile, crl: fleet.crlFile },
    allow: o.allow ?? ["controller.example", "controller2.example"], factsFile, classesFile,
  });
  const { log, lines } = memoryLog();
  const broker = await startBrokerNode(cfg, { command: [twitch.fake.bin], args: [] }, twitch.runner, log, o.now ? { now: o.now } : {});
  t.after(() => broker.close());
  await broker.ready;
  return { certname, twitch, broker, logs: lines, factsFile, classesFile };
}

export function runOptions(fleet: Fleet, extra: Partial<FleetRunCliOptions> = {}): FleetRunCliOptions {
  return {
    broker: [fleet.url], cert: fleet.controller.cert, key: fleet.controller.key, cacert: fleet.caFile, crl: fleet.crlFile,
    certname: [], fact: [], class: [], maxFailures: "0", startTimeout: "10s", timeout: "1m", ttl: "2m", reask: "2s", progress: false, json: true,
    ...extra,
  };
}

export async function fleetRun(fleet: Fleet, named: string[], extra: Partial<FleetRunCliOptions> = {}) {
  let out = "";
  const io = { stdout: { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream, stderr: process.stderr };
  const log = process.env.FLEET_TEST_LOG ? createLogger({ level: "debug", format: "text" }, process.stderr) : memoryLog().log;
  let error: unknown;
  try {
    await runFleetBroker(named, runOptions(fleet, extra), io, log, 5);
  } catch (err) {
    error = err;
  }
  return { json: JSON.parse(out || "{}") as { counts: Record<string, number>; results: Record<string, unknown>[] }, error };
}

