// A test controller on the fleet broker: publishes hand-made (well or badly signed) requests and
// collects every verified reply, so tests can see exactly what nodes answer and what they do not.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { TestContext } from "node:test";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectBroker } from "../../../src/twitch/broker/connect.js";
import { identityFromPem, seal, type Identity } from "../../../src/twitch/broker/envelope.js";
import type { FleetReply, FleetRequest } from "../../../src/twitch/broker/messages.js";
import { subjects } from "../../../src/twitch/broker/subjects.js";
import { PuppetTrust } from "../../../src/twitch/broker/trust.js";
import { checkReply } from "../../../src/twitch/fleet/broker-client.js";
import { memoryLog, type Fleet, type Files } from "./broker-harness.js";

export const SUBJECTS = subjects("puppet-ha.fleet");

export interface TestController {
  nc: NatsConnection;
  identity: Identity;
  replies: FleetReply[];
  rejected: string[];
  request(o?: Partial<FleetRequest>): FleetRequest;
  publish(certname: string, data: Uint8Array): void;
  sealed(req: FleetRequest, id?: Identity): Uint8Array;
  /** Resolves with the replies to `id` once `pred` holds for them. */
  until(id: string, pred: (rs: FleetReply[]) => boolean): Promise<FleetReply[]>;
}

export function identityOf(f: Files): Identity {
  return identityFromPem(f.certname, readFileSync(f.cert, "utf8"), readFileSync(f.key, "utf8"));
}

export async function testController(t: TestContext, fleet: Fleet, who: Files = fleet.controller): Promise<TestController> {
  const { log } = memoryLog();
  const nc = await connectBroker({ urls: [fleet.url], cert: who.cert, key: who.key, ca: fleet.caFile, name: "test-controller" }, log);
  t.after(() => nc.close());
  const trust = PuppetTrust.fromFiles(fleet.caFile, fleet.crlFile);
  const replies: FleetReply[] = [];
  const rejected: string[] = [];
  const waiters = new Set<() => void>();
  nc.subscribe(SUBJECTS.allReplies, {
    callback: (_err, msg) => {
      const v = checkReply(msg.data, trust, 1 << 20);
      if (v.ok) replies.push(v.reply);
      else rejected.push(v.reason);
      for (const w of waiters) w();
    },
  });
  await nc.flush();
  const identity = identityOf(who);
  return {
    nc, identity, replies, rejected,
    request: (o = {}) => ({
      id: randomUUID(), time: Date.now(), ttl: 60_000, filter: {}, action: "run",
      options: { noop: false, tags: [], environment: undefined, splay: false }, ...o,
    }),
    publish: (certname, data) => nc.publish(SUBJECTS.node(certname), data),
    sealed: (req, id = identity) => seal(req as unknown as Record<string, unknown>, id),
    until: (id, pred) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`replies to ${id} not as expected: ${JSON.stringify(replies.filter((r) => r.id === id))}`));
      }, 15_000);
      const check = () => {
        const rs = replies.filter((r) => r.id === id);
        if (pred(rs)) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(rs);
        }
      };
      waiters.add(check);
      check();
    }),
  };
}
