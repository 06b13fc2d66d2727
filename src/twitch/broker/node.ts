// The node side of the fleet broker, started by `puppet-ha twitch` when twitch.broker is set:
// connects out to NATS with the node's Puppet cert (reconnecting forever), subscribes to the
// broadcast and its own request subject, answers through ./handler.ts, and after every agent run
// (triggered from anywhere, or scheduled: last_run_summary.yaml is watched) refreshes its facts
// and publishes its status record.
import { readFileSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { FileAccessError } from "../../errors.js";
import type { Logger } from "../log.js";
import type { TwitchConfig } from "../config.js";
import { exec } from "../exec.js";
import type { AgentRunner } from "../runner.js";
import { SeenRequests } from "./admission.js";
import type { BrokerConfig } from "./config.js";
import { connectBroker } from "./connect.js";
import { identityFromPem, type Identity } from "./envelope.js";
import { factsDigest, parseFacts, readNodeFacts } from "./facts.js";
import type { NodeFacts } from "./filter.js";
import { RequestHandler } from "./handler.js";
import { putStatus, statusRecord } from "./status.js";
import { inboxPrefix, isSubjectCertname, subjects } from "./subjects.js";
import { commonName, PuppetTrust } from "./trust.js";
import { X509Certificate } from "node:crypto";

export interface BrokerNode {
  certname: string;
  handler: RequestHandler;
  /** Resolves once connected and subscribed (nodes keep trying forever; tests wait on this). */
  ready: Promise<void>;
  /** Re-read facts and publish the status record now. */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

function read(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (cause) {
    throw new FileAccessError(path, what, { cause });
  }
}

export function loadIdentity(b: BrokerConfig): Identity {
  const certPem = read(b.tls.cert, "broker TLS certificate");
  const certname = commonName(new X509Certificate(certPem).subject);
  if (!certname || !isSubjectCertname(certname)) throw new FileAccessError(b.tls.cert, `certificate (its CN "${certname ?? ""}" is not a certname the broker subjects can carry)`);
  return identityFromPem(certname, certPem, read(b.tls.key, "broker TLS key"));
}

export async function startBrokerNode(
  b: BrokerConfig,
  puppet: Pick<TwitchConfig["puppet"], "command" | "args">,
  runner: AgentRunner,
  log: Logger,
  o: { now?: () => number } = {},
): Promise<BrokerNode> {
  const now = o.now ?? Date.now;
  const identity = loadIdentity(b);
  const loadTrust = () => PuppetTrust.fromFiles(b.tls.ca, b.tls.crl, now);
  let trust = loadTrust();
  const statedir = dirname(runner.paths.runLockFile);
  const sources = {
    certname: identity.certname, factsFile: b.factsFile,
    classesFile: b.classesFile ?? join(statedir, "classes.txt"), lastRunReport: b.lastRunReport ?? join(statedir, "last_run_report.yaml"),
  };
  let facts: NodeFacts = { certname: identity.certname, facts: {}, classes: new Set(), environment: undefined };
  const subj = subjects(b.subjectPrefix);
  let nc: NatsConnection | undefined;
  let closed = false;

  const loadFacts = async () => {
    facts = await readNodeFacts(sources);
    if (b.factsFile === undefined) {
      const [file, ...prefix] = puppet.command;
      const r = await exec(file as string, [...prefix, "facts", "show", "--render-as", "json", ...puppet.args], { timeoutMs: 120_000 }).result;
      if (r.exitCode === 0) facts = { ...facts, facts: parseFacts(r.stdout) };
      else log.warn({ exitCode: r.exitCode }, "puppet facts show failed; fact filters see no facts");
    }
  };

  const refresh = async () => {
    try {
      trust = loadTrust(); // the agent may have fetched a newer CRL
    } catch (err) {
      log.warn({ err }, "cannot reload the Puppet CA or CRL for the broker; keeping the old ones");
    }
    await loadFacts().catch((err: unknown) => log.warn({ err }, "cannot read facts, classes or environment"));
    if (!b.publishStatus || !nc) return;
    let last;
    try {
      last = runner.readSummary();
    } catch {
      last = undefined;
    }
    await putStatus(nc, b.statusBucket, statusRecord(identity.certname, last, factsDigest(facts), now()), identity)
      .catch((err: unknown) => log.warn({ err }, "cannot publish the fleet status record"));
  };

  const handler = new RequestHandler({
    identity, trust: () => trust,
    policy: { allow: b.allow, maxSkewMs: b.maxSkew, maxTtlMs: b.maxTtl },
    maxMessageBytes: b.maxMessageSize, seen: new SeenRequests(now), facts: () => facts, runner, subjects: subj,
    publish: (s, d) => nc?.publish(s, d), now, log,
  });

  // Any run (ours, the HTTP trigger's, the agent daemon's) ends by rewriting last_run_summary.yaml.
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  try {
    const file = basename(runner.paths.lastRunSummary);
    watcher = watch(dirname(runner.paths.lastRunSummary), (_e, name) => {
      if (name !== file) return;
      clearTimeout(debounce);
      debounce = setTimeout(() => void refresh(), 300);
    });
  } catch (err) {
    log.warn({ err, dir: dirname(runner.paths.lastRunSummary) }, "cannot watch the run summary; status is published after broker-triggered runs only");
  }

  await loadFacts().catch((err: unknown) => log.warn({ err }, "cannot read facts, classes or environment"));
  const ready = (async () => {
    nc = await connectBroker({
      urls: b.urls, cert: b.tls.cert, key: b.tls.key, ca: b.tls.ca, name: identity.certname,
      inboxPrefix: inboxPrefix(identity.certname), waitOnFirstConnect: true,
    }, log);
    if (closed) return void (await nc.close());
    const subs: Subscription[] = [subj.broadcast, subj.node(identity.certname)].map((s) =>
      (nc as NatsConnection).subscribe(s, { callback: (err, msg) => (err ? log.warn({ err }, "broker subscription error") : void handler.handle(msg.data)) }));
    await nc.flush();
    log.info({ certname: identity.certname, urls: b.urls, subjects: subs.map((s) => s.getSubject()) }, "joined the fleet broker");
    await refresh();
  })();
  ready.catch((err: unknown) => log.error({ err }, "fleet broker connection failed"));

  return {
    certname: identity.certname,
    handler,
    ready,
    refresh,
    close: async () => {
      closed = true;
      clearTimeout(debounce);
      watcher?.close();
      await nc?.close();
    },
  };
}
