// Options shared by `fleet run` and `fleet status`: the broker, the controller's Puppet identity,
// and the expected node set (named nodes, a file, or the CA's signed certnames, narrowed by globs).
// Flags win over the `fleet` section of a config file given with -c.
import { readFileSync } from "node:fs";
import { FileAccessError, UsageError } from "../../errors.js";
import { matchesAny } from "../auth.js";
import type { FleetConfig } from "../broker/config.js";
import { isSubjectCertname } from "../broker/subjects.js";
import { fetchSignedCertnames } from "./targets.js";

export interface BrokerCliOptions {
  config?: string;
  broker: string[];
  cert?: string;
  key?: string;
  cacert?: string;
  crl?: string;
  nodes?: string;
  caUrl?: string;
  certname: string[];
  subjectPrefix?: string;
  bucket?: string;
}

export interface ResolvedBroker {
  urls: string[];
  cert: string;
  key: string;
  ca: string;
  crl: string | undefined;
  subjectPrefix: string;
  bucket: string;
  fleet: FleetConfig;
}

export function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (cause) {
    throw new FileAccessError(path, what, { cause });
  }
}

export async function resolveBroker(o: BrokerCliOptions): Promise<ResolvedBroker> {
  const { fleetSection } = await import("../broker/config.js");
  let fleet = fleetSection.parse({});
  if (o.config !== undefined) {
    const { loadConfigFile } = await import("../../config/load.js");
    fleet = loadConfigFile(o.config).fleet ?? fleet;
  }
  const urls = o.broker.length > 0 ? o.broker : [...(fleet.broker?.urls ?? [])];
  if (urls.length === 0) throw new UsageError("give --broker URL (or a config with fleet.broker)");
  for (const u of urls) if (!/^(tls|nats):\/\/[^/@\s]+$/.test(u)) throw new UsageError(`--broker: not a NATS URL like tls://nats.example.com:4222: "${u}"`);
  const cert = o.cert ?? fleet.broker?.tls.cert;
  const key = o.key ?? fleet.broker?.tls.key;
  const ca = o.cacert ?? fleet.broker?.tls.ca;
  if (!cert || !key || !ca) throw new UsageError("the broker needs the controller's Puppet cert, key and CA (--cert, --key, --cacert or fleet.broker.tls)");
  const subjectPrefix = o.subjectPrefix ?? fleet.subjectPrefix;
  const bucket = o.bucket ?? fleet.statusBucket;
  return { urls, cert, key, ca, crl: o.crl ?? fleet.broker?.tls.crl, subjectPrefix, bucket, fleet };
}

/** One certname a line, `#` comments, blank lines skipped. */
export function parseNodesFile(text: string): string[] {
  const out: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (line === "") return;
    if (!isSubjectCertname(line)) throw new UsageError(`nodes file line ${i + 1}: not a certname: "${line.slice(0, 80)}"`);
    out.push(line);
  });
  return out;
}

/** Named nodes, else the file and/or the CA's list; then the certname globs; duplicates dropped. */
export async function expectedNodes(o: BrokerCliOptions, named: readonly string[], b: ResolvedBroker): Promise<string[]> {
  let names: string[] = [...named];
  for (const n of names) if (!isSubjectCertname(n)) throw new UsageError(`not a certname: "${n.slice(0, 80)}"`);
  if (names.length === 0) {
    if (!o.nodes && !o.caUrl) throw new UsageError("name the nodes, or give --nodes FILE or --ca-url URL");
    if (o.nodes) names.push(...parseNodesFile(readText(o.nodes, "nodes file")));
    if (o.caUrl) {
      const tls = { cert: Buffer.from(readText(b.cert, "client certificate")), key: Buffer.from(readText(b.key, "client key")), ca: Buffer.from(readText(b.ca, "CA certificate")) };
      names.push(...(await fetchSignedCertnames(o.caUrl, tls, 30_000)).filter(isSubjectCertname));
    }
  }
  if (o.certname.length > 0) names = names.filter((n) => matchesAny(n, o.certname));
  return [...new Set(names)];
}
