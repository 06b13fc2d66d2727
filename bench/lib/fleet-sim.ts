// Simulated fleet nodes for the fleet-broker benchmark: one process runs many nodes, each with its
// own certname and key, behind one NATS connection. Every node is the real node-side code
// (RequestHandler: verify, admit, filter, START/COMPLETE) with a stand-in runner whose "puppet
// run" takes runMs; after each run the node puts its signed status record in the bucket.
// argv: spec.json (see SimSpec). Writes "ready" to spec.readyFile once subscribed.
import { readFileSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { pino } from "pino";
import { SeenRequests } from "../../src/twitch/broker/admission.js";
import { connectBroker } from "../../src/twitch/broker/connect.js";
import { identityFromPem, open, type Opened } from "../../src/twitch/broker/envelope.js";
import { RequestHandler } from "../../src/twitch/broker/handler.js";
import { putStatus, statusRecord } from "../../src/twitch/broker/status.js";
import { subjects } from "../../src/twitch/broker/subjects.js";
import { PuppetTrust } from "../../src/twitch/broker/trust.js";
import { AlreadyRunningError } from "../../src/twitch/errors.js";
import type { AgentRunner, RunResult } from "../../src/twitch/runner.js";
import type { RunOptions } from "../../src/twitch/params.js";

export interface SimSpec {
  url: string;
  ca: string;
  tlsCert: string;
  tlsKey: string;
  nodes: { certname: string; certPem: string; keyPem: string }[];
  runMs: number;
  prefix: string;
  bucket: string;
  allow: string[];
  readyFile: string;
}

const spec = JSON.parse(readFileSync(process.argv[2] as string, "utf8")) as SimSpec;
const log = pino({ level: "error" });
const nc = await connectBroker({ urls: [spec.url], cert: spec.tlsCert, key: spec.tlsKey, ca: spec.ca, name: `sim-${process.pid}` }, log);
const trust = PuppetTrust.fromFiles(spec.ca, undefined);
const subj = subjects(spec.prefix);
// One request names up to 64 nodes, most of them in this process: verify its bytes once here (on
// real machines each node verifies its own copy, on its own CPU). Failures are not remembered.
const verifiedRequests = new Map<string, Opened>();
const openShared: typeof open = (data, t, maxBytes) => {
  const key = Buffer.from(data).toString("latin1");
  let o = verifiedRequests.get(key);
  if (!o) {
    o = open(data, t, maxBytes);
    if (verifiedRequests.size > 1000) verifiedRequests.clear();
    verifiedRequests.set(key, o);
  }
  return o;
};

for (const n of spec.nodes) {
  const identity = identityFromPem(n.certname, n.certPem, n.keyPem);
  let busy = false;
  const runner = {
    start(options: RunOptions, caller: string) {
      if (busy) throw new AlreadyRunningError();
      busy = true;
      const startedAt = Date.now();
      const done = new Promise<RunResult>((resolve) => setTimeout(() => {
        busy = false;
        resolve({
          id: randomUUID(), caller, options, ok: true, status: "success", exitCode: 0, message: "no changes", splayMs: 0,
          startedAt: new Date(startedAt).toISOString(), durationMs: Date.now() - startedAt, summary: undefined,
        });
      }, spec.runMs));
      return { id: randomUUID(), done };
    },
  } as unknown as AgentRunner;
  const handler = new RequestHandler({
    identity, trust: () => trust, policy: { allow: spec.allow, maxSkewMs: 30_000, maxTtlMs: 600_000 }, maxMessageBytes: 65536,
    seen: new SeenRequests(Date.now), facts: () => ({ certname: n.certname, facts: { os: { family: "Debian" } }, classes: new Set(["base"]), environment: "production" }),
    runner, subjects: subj, publish: (s, d) => nc.publish(s, d), now: Date.now, log, open: openShared,
    onRunDone: (r) => {
      const last = { time: new Date().toISOString(), durationSeconds: r.durationMs / 1000, outcome: "unchanged" as const, exitCode: 0 as const,
        resources: { changed: 0, failed: 0, outOfSync: 0, skipped: 0, total: 9 }, changes: 0, events: { failure: 0, success: 0, total: 0 }, configVersion: undefined, puppetVersion: "7.23.0" };
      void putStatus(nc, spec.bucket, statusRecord(n.certname, last, { "os.family": "Debian" }, Date.now()), identity).catch(() => undefined);
    },
  });
  nc.subscribe(subj.node(n.certname), { callback: (_e, m) => void handler.handle(m.data) });
}
await nc.flush();
writeFileSync(spec.readyFile, "ready\n");
process.on("SIGTERM", () => void nc.close().finally(() => process.exit(0)));
