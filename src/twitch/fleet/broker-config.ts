// What `puppet-ha fleet broker-config` does: write the nats-server config for the fleet (see
// ../broker/server-config.ts) for the controllers named and the nodes of a file or of the CA.
import { renameSync, writeFileSync } from "node:fs";
import { UsageError } from "../../errors.js";
import { parseSize } from "../../config/units.js";
import { ServerConfigError, renderServerConfig } from "../broker/server-config.js";
import { fetchSignedCertnames } from "./targets.js";
import { parseNodesFile, readText } from "./broker-options.js";
import type { FleetIo } from "./run.js";

export interface BrokerConfigCliOptions {
  cert?: string;
  key?: string;
  cacert?: string;
  controller: string[];
  nodes?: string;
  caUrl?: string;
  listen: string;
  storeDir: string;
  subjectPrefix: string;
  bucket: string;
  maxPayload: string;
  output?: string;
}

export async function runBrokerConfig(o: BrokerConfigCliOptions, io: FleetIo): Promise<string> {
  if (!o.cert || !o.key || !o.cacert) throw new UsageError("give the broker's own Puppet cert, key and the Puppet CA (--cert, --key, --cacert)");
  for (const [flag, p] of [["--cert", o.cert], ["--key", o.key], ["--cacert", o.cacert], ["--store-dir", o.storeDir]] as const) {
    if (!p.startsWith("/")) throw new UsageError(`${flag} must be an absolute path (nats-server resolves relative paths from its own directory): "${p}"`);
  }
  if (o.controller.length === 0) throw new UsageError("name at least one controller certname (--controller), the certs that may send requests");
  if (!o.nodes && !o.caUrl) throw new UsageError("give the nodes: --nodes FILE or --ca-url URL (signed certnames)");
  const maxPayload = parseSize(o.maxPayload);
  if (maxPayload === undefined || maxPayload < 1024) throw new UsageError(`--max-payload: not a size of at least 1KiB: "${o.maxPayload}"`);
  const nodes: string[] = [];
  if (o.nodes) nodes.push(...parseNodesFile(readText(o.nodes, "nodes file")));
  if (o.caUrl) {
    const tls = { cert: Buffer.from(readText(o.cert, "client certificate")), key: Buffer.from(readText(o.key, "client key")), ca: Buffer.from(readText(o.cacert, "CA certificate")) };
    nodes.push(...await fetchSignedCertnames(o.caUrl, tls, 30_000));
  }
  let text: string;
  try {
    text = renderServerConfig({
      listen: o.listen, cert: o.cert, key: o.key, ca: o.cacert, storeDir: o.storeDir,
      subjectPrefix: o.subjectPrefix, bucket: o.bucket, controllers: o.controller, nodes, maxPayload,
    });
  } catch (err) {
    if (err instanceof ServerConfigError) throw new UsageError(err.message);
    throw err;
  }
  if (o.output) {
    // Atomic: nats-server may be reloading from this file.
    writeFileSync(`${o.output}.tmp`, text, { mode: 0o644 });
    renameSync(`${o.output}.tmp`, o.output);
  } else {
    io.stdout.write(text);
  }
  return text;
}

