// The demo's fleet broker (issue 16), with `puppet-ha demo --broker`: a nats-server on loopback,
// started and stopped by its PID, configured as `puppet-ha fleet broker-config` would (Puppet CA
// client certificates, per-node permissions), with certificates minted by the demo's own CA; the
// demo node's twitch joins it and `fleet run` / `fleet status` over the broker can be tried.
import { execa } from "execa";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fetchCaFiles, mintCert, type MintedCert } from "./cluster/pki.js";
import type { PuppetSystem } from "./cluster/system.js";

/** The certname of the demo's fleet controller (`fleet run`, `fleet status`). */
export const DEMO_CONTROLLER = "demo-admin";

export interface NatsProcess {
  pid: number;
  port: number;
  /** SIGTERM by PID, resolves once it exited (idempotent). */
  stop(): Promise<void>;
}

/** `nats-server -c conf`; resolves once it is ready, with the port it listens on (the config may say -1). */
export function startNats(conf: string, bin = "nats-server", readyMs = 20_000): Promise<NatsProcess> {
  const child = execa(bin, ["-c", conf], { stdin: "ignore", stdout: "ignore", stderr: "pipe", reject: false });
  let exited = false;
  const gone = new Promise<void>((resolve) => child.once("exit", () => {
    exited = true;
    resolve();
  }));
  const stop = async () => {
    if (!exited && child.pid !== undefined) process.kill(child.pid, "SIGTERM");
    await gone;
  };
  return new Promise((resolve, reject) => {
    let text = "";
    let ready = false;
    const timer = setTimeout(() => void stop().then(() => reject(new Error(`nats-server not ready within ${readyMs} ms:\n${text.slice(-2000)}`))), readyMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${bin}: ${err.message} (install the nats-server package)`));
    });
    child.stderr.on("data", (c: Buffer) => {
      if (ready) return;
      text += c.toString();
      const m = /Listening for client connections on [^\s]*:(\d+)/.exec(text);
      if (m && text.includes("Server is ready") && child.pid !== undefined) {
        clearTimeout(timer);
        ready = true;
        resolve({ pid: child.pid, port: Number(m[1]), stop });
      }
    });
    void gone.then(() => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited:\n${text.slice(-2000)}`));
    });
  });
}

export interface DemoBroker {
  url: string;
  nats: NatsProcess;
  controller: MintedCert;
  caFile: string;
  crlFile: string;
}

/** Mint the broker's and the controller's certificates from the CA at caUrl, start nats-server, create the status bucket. */
export async function startDemoBroker(sys: PuppetSystem, caUrl: string, dir: string, nodes: string[]): Promise<DemoBroker> {
  // Loaded here, not with the demo command's definition (the CLI builds without zod or pino).
  const [{ DEFAULT_BUCKET, DEFAULT_PREFIX }, { renderServerConfig }, { connectBroker }, { bindBucket }, { createTwitchLogger }] = await Promise.all([
    import("../twitch/broker/config.js"), import("../twitch/broker/server-config.js"), import("../twitch/broker/connect.js"),
    import("../twitch/broker/status.js"), import("../twitch/log.js"),
  ]);
  await mkdir(join(dir, "js"), { recursive: true });
  const broker = await mintCert(sys, caUrl, "demo-broker", dir, ["DNS:localhost", "IP:127.0.0.1"]);
  const controller = await mintCert(sys, caUrl, DEMO_CONTROLLER, dir);
  const caFile = join(dir, "ca.pem");
  const crlFile = join(dir, "crl.pem");
  await fetchCaFiles(caUrl, caFile, crlFile);
  const conf = join(dir, "nats.conf");
  await writeFile(conf, renderServerConfig({
    listen: "127.0.0.1:-1", cert: broker.cert, key: broker.key, ca: caFile, storeDir: join(dir, "js"),
    subjectPrefix: DEFAULT_PREFIX, bucket: DEFAULT_BUCKET, controllers: [DEMO_CONTROLLER], nodes, maxPayload: 1024 * 1024,
  }));
  const nats = await startNats(conf);
  const url = `tls://127.0.0.1:${nats.port}`;
  try {
    // Nodes only write to the status bucket: the controller creates it, as the first `fleet status` would.
    const nc = await connectBroker({ urls: [url], cert: controller.cert, key: controller.key, ca: caFile, name: "demo" }, createTwitchLogger({ level: "silent", format: "json" }));
    await bindBucket(nc, DEFAULT_BUCKET, true).finally(() => nc.close());
  } catch (err) {
    await nats.stop();
    throw err;
  }
  return { url, nats, controller, caFile, crlFile };
}

/** The command lines the demo prints for the broker. */
export function brokerCommands(b: DemoBroker, cli: string, node: string): string[] {
  const flags = `--broker ${b.url} --cert ${b.controller.cert} --key ${b.controller.key} --cacert ${b.caFile} --crl ${b.crlFile}`;
  return [
    `  over the broker ${cli} fleet run ${flags} ${node}`,
    `  fleet status    ${cli} fleet status ${flags}`,
  ];
}
