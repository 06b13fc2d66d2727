// What `puppet-ha fleet run` does: check every option before anything is sent, connect with the
// controller's Puppet identity, drive the wave (./wave-driver.ts), print a table or JSON; exit 1
// when any node failed, refused, did not answer or was not started.
import type { Logger } from "../../log.js";
import { UsageError } from "../../errors.js";
import { parseDuration } from "../../config/units.js";
import { FleetFailedError } from "../errors.js";
import { checkEnvironment, parseTags, type RunOptions } from "../params.js";
import { FilterError, parseFilter, type WireFilter } from "../broker/filter.js";
import { subjects } from "../broker/subjects.js";
import { expectedNodes, readText, resolveBroker, type BrokerCliOptions } from "./broker-options.js";
import { failedCount, waveJson, waveTable } from "./broker-report.js";
import type { FleetIo } from "./run.js";
import type { NodeRow } from "./waves.js";

export interface FleetRunCliOptions extends BrokerCliOptions {
  fact: string[];
  class: string[];
  inEnvironment?: string;
  canary?: string;
  concurrency?: string;
  maxFailures: string;
  startTimeout: string;
  timeout: string;
  ttl: string;
  reask: string;
  noop?: boolean;
  tags?: string;
  environment?: string;
  splay?: boolean;
  json?: boolean;
  progress: boolean;
}

function int(value: string, flag: string, min: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`${flag} must be a whole number of at least ${min}`);
  return Number(value);
}

function ms(value: string, flag: string): number {
  const v = parseDuration(value);
  if (v === undefined || v <= 0) throw new UsageError(`${flag}: not a duration: "${value}" (write it like 30s, 5m)`);
  return v;
}

function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export async function runFleetBroker(named: string[], o: FleetRunCliOptions, io: FleetIo, log: Logger, tickMs = 20): Promise<NodeRow[]> {
  const filter: WireFilter = {
    ...(o.fact.length ? { facts: o.fact } : {}),
    ...(o.class.length ? { classes: o.class } : {}),
    ...(o.inEnvironment !== undefined ? { environment: o.inEnvironment } : {}),
  };
  try {
    parseFilter(filter);
  } catch (err) {
    if (err instanceof FilterError) throw new UsageError(err.message);
    throw err;
  }
  const options: RunOptions = {
    noop: o.noop === true, splay: o.splay === true,
    tags: o.tags === undefined ? [] : usage(() => parseTags(o.tags as string)),
    environment: o.environment === undefined ? undefined : usage(() => checkEnvironment(o.environment as string)),
  };
  const b = await resolveBroker(o);
  const wave = {
    canary: o.canary === undefined ? b.fleet.canary : int(o.canary, "--canary", 0),
    concurrency: o.concurrency === undefined ? b.fleet.concurrency : int(o.concurrency, "--concurrency", 1),
    maxFailures: int(o.maxFailures, "--max-failures", 0),
    startTimeoutMs: ms(o.startTimeout, "--start-timeout"),
    runTimeoutMs: ms(o.timeout, "--timeout"),
  };
  const ttlMs = ms(o.ttl, "--ttl");
  const reaskMs = ms(o.reask, "--reask");
  const nodes = await expectedNodes(o, named, b);
  if (nodes.length === 0) throw new UsageError("no node matches");

  const [{ PuppetTrust, commonName }, { identityFromPem }, { connectBroker }, { X509Certificate }, { driveWave }] = await Promise.all([
    import("../broker/trust.js"), import("../broker/envelope.js"), import("../broker/connect.js"), import("node:crypto"), import("./wave-driver.js"),
  ]);
  const trust = PuppetTrust.fromFiles(b.ca, b.crl);
  const certPem = readText(b.cert, "client certificate");
  const identity = identityFromPem(commonName(new X509Certificate(certPem).subject) ?? "controller", certPem, readText(b.key, "client key"));
  const nc = await connectBroker({ urls: b.urls, cert: b.cert, key: b.key, ca: b.ca, name: `fleet-run:${identity.certname}` }, log);
  try {
    const started = Date.now();
    const rows = await driveWave({
      nc, subjects: subjects(b.subjectPrefix), identity, trust, nodes, wave, filter, options, ttlMs, reaskMs, tickMs, log,
      // One broadcast when the whole set goes at once and no node was named; else per-node subjects.
      broadcast: wave.canary === 0 && wave.concurrency >= nodes.length && named.length === 0 && o.certname.length === 0 && !o.nodes,
      progress: o.progress && io.stderr.isTTY === true ? io.stderr : undefined,
    });
    io.stdout.write(o.json ? waveJson(rows, Date.now() - started) : waveTable(rows));
    const failed = failedCount(rows);
    if (failed > 0) throw new FleetFailedError(failed, rows.length);
    return rows;
  } finally {
    await nc.close();
  }
}
