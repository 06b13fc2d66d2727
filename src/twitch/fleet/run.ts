// What `puppet-ha fleet twitch` runs: trigger puppet runs on many nodes through their twitch, at
// most --concurrency requests in flight, and report every node; exit 1 when any node failed.
import { readFileSync } from "node:fs";
import { FileAccessError, UsageError } from "../../errors.js";
import { parseDuration } from "../../config/units.js";
import { readTokenFile } from "../../token.js";
import { FleetFailedError } from "../errors.js";
import { checkEnvironment, parseTags } from "../params.js";
import type { ClientTls } from "./http.js";
import { runPool } from "./pool.js";
import { ProgressBar, resultJson, resultTable } from "./report.js";
import { fetchSignedCertnames, parseTarget, parseTargetsFile, selectTargets, type Target } from "./targets.js";
import { triggerNode, type FleetRequest, type NodeResult } from "./trigger.js";

export interface FleetCliOptions {
  targets?: string;
  caUrl?: string;
  match: string[];
  port: string;
  scheme?: "http" | "https";
  concurrency: string;
  splay?: boolean;
  wait?: boolean;
  noop?: boolean;
  tags?: string;
  environment?: string;
  timeout?: string;
  tokenFile?: string;
  cert?: string;
  key?: string;
  cacert?: string;
  json?: boolean;
  progress: boolean;
}

export interface FleetIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new FileAccessError(path, what, { cause });
  }
}

function intOption(value: string, flag: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}`);
  return Number(value);
}

function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Everything `fleet twitch` does after option parsing; returns the results (throws when some failed). */
export async function runFleet(o: FleetCliOptions, io: FleetIo): Promise<NodeResult[]> {
  if (!o.targets && !o.caUrl) throw new UsageError("give --targets FILE or --ca-url URL (or both)");
  if ((o.cert === undefined) !== (o.key === undefined)) throw new UsageError("--cert and --key go together");
  const concurrency = intOption(o.concurrency, "--concurrency", 1, 1000);
  const port = intOption(o.port, "--port", 1, 65535);
  const timeoutMs = o.timeout === undefined ? (o.wait ? 35 * 60_000 : 30_000) : parseDuration(o.timeout);
  if (timeoutMs === undefined || timeoutMs <= 0) throw new UsageError(`--timeout: not a duration: "${o.timeout}"`);
  const tags = o.tags === undefined ? [] : usage(() => parseTags(o.tags as string));
  const environment = o.environment === undefined ? undefined : usage(() => checkEnvironment(o.environment as string));
  const tls: ClientTls = {
    ...(o.cert ? { cert: readFile(o.cert, "client certificate") } : {}),
    ...(o.key ? { key: readFile(o.key, "client key") } : {}),
    ...(o.cacert ? { ca: readFile(o.cacert, "CA certificate") } : {}),
  };
  const token = o.tokenFile ? readTokenFile(o.tokenFile) : undefined;
  const defaults = { scheme: o.scheme ?? (o.cert ? "https" : "http"), port } as const;

  let targets: Target[] = [];
  if (o.targets) targets = parseTargetsFile(readFile(o.targets, "targets file").toString("utf8"), defaults);
  if (o.caUrl) {
    if (!o.cert) throw new UsageError("--ca-url needs an admin client cert (--cert, --key, --cacert)");
    const names = await fetchSignedCertnames(o.caUrl, tls, 30_000);
    targets.push(...names.map((n) => parseTarget(n, defaults)));
  }
  targets = selectTargets(targets, o.match);
  if (targets.length === 0) throw new UsageError("no target matches");

  const request: FleetRequest = {
    wait: o.wait === true, noop: o.noop === true, splay: o.splay === true, tags, environment, timeoutMs, token, tls,
  };
  const bar = o.progress && io.stderr.isTTY ? new ProgressBar(io.stderr, targets.length) : undefined;
  const results = await runPool(targets, concurrency, (t) => triggerNode(t, request), (r) => bar?.tick(r.ok));
  bar?.end();
  io.stdout.write(o.json ? resultJson(results) : resultTable(results, request.wait));
  const failed = results.filter((r) => !r.ok).length;
  if (failed > 0) throw new FleetFailedError(failed, results.length);
  return results;
}
