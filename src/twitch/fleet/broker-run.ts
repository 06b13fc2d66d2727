// What `puppet-ha fleet run` does: trigger puppet runs over the broker in waves (./waves.ts),
// verify every reply, send requests again to the open nodes when the broker connection comes
// back (nodes never run a request twice), print a table or JSON; exit 1 when any node failed.
import type { Logger } from "../../log.js";
import { UsageError } from "../../errors.js";
import { parseDuration } from "../../config/units.js";
import { FleetFailedError } from "../errors.js";
import { checkEnvironment, parseTags, type RunOptions } from "../params.js";
import { FilterError, parseFilter, type WireFilter } from "../broker/filter.js";
import { subjects } from "../broker/subjects.js";
import { BrokerClient, subscribeReplies } from "./broker-client.js";
import { expectedNodes, readText, resolveBroker, type BrokerCliOptions } from "./broker-options.js";
import { failedCount, progressLine, waveJson, waveTable } from "./broker-report.js";
import type { FleetIo } from "./run.js";
import { Wave, type NodeRow } from "./waves.js";

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

  const [{ PuppetTrust }, { identityFromPem }, { connectBroker }] = await Promise.all([
    import("../broker/trust.js"), import("../broker/envelope.js"), import("../broker/connect.js"),
  ]);
  const trust = PuppetTrust.fromFiles(b.ca, b.crl);
  const certPem = readText(b.cert, "client certificate");
  const { commonName } = await import("../broker/trust.js");
  const { X509Certificate } = await import("node:crypto");
  const identity = identityFromPem(commonName(new X509Certificate(certPem).subject) ?? "controller", certPem, readText(b.key, "client key"));
  const nc = await connectBroker({ urls: b.urls, cert: b.cert, key: b.key, ca: b.ca, name: `fleet-run:${identity.certname}` }, log);
  try {
    const subj = subjects(b.subjectPrefix);
    const client = new BrokerClient(nc, subj, identity);
    const w = new Wave(nodes, wave);
    let wake: (() => void) | undefined;
    // When each open node was last asked or last heard from: silent ones are asked again (after a
    // broker restart a node may have missed the request, or we its answer, before subscriptions
    // were back on the new server); a node repeats its answer and never runs a request twice.
    const contact = new Map<string, number>();
    subscribeReplies(nc, subj, trust, 1024 * 1024, log, (r) => {
      if (!client.isOurs(r.id) || !client.targeted(r.id, r.certname)) return;
      contact.set(r.certname, Date.now());
      w.reply(r, Date.now());
      wake?.();
    });
    await nc.flush();
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "reconnect") {
          const n = client.resend(new Set(w.open));
          for (const c of w.open) contact.set(c, Date.now());
          log.warn({ resent: n }, "broker connection back: asked the open nodes again");
        }
      }
    })();
    const tty = o.progress && io.stderr.isTTY === true;
    const started = Date.now();
    // One broadcast when the whole set goes at once and no node was named; else per-node subjects.
    const broadcast = wave.canary === 0 && wave.concurrency >= nodes.length && named.length === 0 && o.certname.length === 0 && !o.nodes;
    let lastReask = started;
    let lastTick = 0;
    let lastDraw = 0;
    while (!w.done) {
      const now = Date.now();
      if (now - lastTick >= 50) {
        lastTick = now;
        w.tick(now);
      }
      const batch = w.take(now);
      if (batch.length > 0) client.send(broadcast ? undefined : batch, filter, options, ttlMs, now);
      for (const c of batch) contact.set(c, now);
      if (now - lastReask >= 1000) {
        lastReask = now;
        const silent = w.open.filter((c) => now - (contact.get(c) ?? now) >= reaskMs);
        if (silent.length > 0) {
          client.resend(new Set(silent));
          for (const c of silent) contact.set(c, now);
          log.info({ nodes: silent.length }, "asked silent nodes again");
        }
      }
      if (tty && now - lastDraw >= 100) {
        lastDraw = now;
        io.stderr.write(progressLine(w.rows));
      }
      if (w.done) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, tickMs);
        wake = () => {
          wake = undefined;
          clearTimeout(t);
          // Coalesce the replies of one burst into one batch.
          setTimeout(resolve, 2);
        };
      });
      wake = undefined;
    }
    if (tty) io.stderr.write("\r\x1b[K");
    const rows = w.rows;
    io.stdout.write(o.json ? waveJson(rows, Date.now() - started) : waveTable(rows));
    const failed = failedCount(rows);
    if (failed > 0) throw new FleetFailedError(failed, rows.length);
    return rows;
  } finally {
    await nc.close();
  }
}
