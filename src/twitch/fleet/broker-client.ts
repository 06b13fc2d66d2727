// The controller's side of the broker: one signed request per batch of nodes (one signature, one
// publish per node subject, or one broadcast), and replies verified (when: ./reply-gate.ts): a
// trusted certificate, a good signature, and the signer's certname equal to the one it claims.
import { randomUUID } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../../log.js";
import { DroppedMessage, parseEnvelope, seal, verifyEnvelope, type Envelope, type Identity } from "../broker/envelope.js";
import type { WireFilter } from "../broker/filter.js";
import { BadMessageError, readReply, type FleetRequest } from "../broker/messages.js";
import type { Subjects } from "../broker/subjects.js";
import type { PuppetTrust } from "../broker/trust.js";
import type { RunOptions } from "../params.js";
import type { ClaimedReply, ReplyVerdict } from "./reply-gate.js";

export interface SentRequest {
  id: string;
  bytes: Uint8Array;
  /** undefined: broadcast. */
  certnames: ReadonlySet<string> | undefined;
}

/**
 * Most certnames one signed request names. The list travels to every node it names (the
 * signature binds a request to its targets, so it cannot be replayed to other nodes), so a big
 * batch is split: a signature is cheap, 1,000 names to 1,000 nodes are 20 MB.
 */
export const MAX_NAMES_PER_REQUEST = 64;

function verifyReply(env: Envelope, trust: PuppetTrust): ReplyVerdict {
  try {
    const { payload, signer } = verifyEnvelope(env, trust);
    const reply = readReply(payload);
    if (signer.certname !== reply.certname) return { ok: false, reason: `reply claims ${reply.certname} but is signed by ${signer.certname}` };
    return { ok: true, reply };
  } catch (err) {
    if (err instanceof DroppedMessage || err instanceof BadMessageError) return { ok: false, reason: err.message };
    throw err;
  }
}

/** What a reply message claims, from its shape alone (no cryptography yet), or why it is not one. */
export function claimReply(data: Uint8Array, trust: PuppetTrust, maxBytes: number): ClaimedReply | { reason: string } {
  let env: Envelope;
  try {
    env = parseEnvelope(data, maxBytes);
    return { reply: readReply(env.payload), verify: () => verifyReply(env, trust) };
  } catch (err) {
    if (err instanceof DroppedMessage || err instanceof BadMessageError) return { reason: err.message };
    throw err;
  }
}

/** Verify one reply message at once (pure apart from the trust's clock). */
export function checkReply(data: Uint8Array, trust: PuppetTrust, maxBytes: number): ReplyVerdict {
  const c = claimReply(data, trust, maxBytes);
  return "verify" in c ? c.verify() : { ok: false, reason: c.reason };
}

export class BrokerClient {
  readonly #nc: NatsConnection;
  readonly #subjects: Subjects;
  readonly #identity: Identity;
  readonly #sent = new Map<string, SentRequest>();

  constructor(nc: NatsConnection, subjects: Subjects, identity: Identity) {
    this.#nc = nc;
    this.#subjects = subjects;
    this.#identity = identity;
  }

  /** Sign requests for these nodes (undefined: one for every node on the broadcast subject) and send them. */
  send(certnames: string[] | undefined, filter: WireFilter, options: RunOptions, ttlMs: number, now: number): void {
    if (certnames !== undefined && certnames.length > MAX_NAMES_PER_REQUEST) {
      for (let i = 0; i < certnames.length; i += MAX_NAMES_PER_REQUEST) this.send(certnames.slice(i, i + MAX_NAMES_PER_REQUEST), filter, options, ttlMs, now);
      return;
    }
    const req: FleetRequest = {
      id: randomUUID(), time: now, ttl: ttlMs, action: "run", options,
      filter: certnames === undefined ? filter : { ...filter, certname: certnames },
    };
    const sent: SentRequest = { id: req.id, bytes: seal(req as unknown as Record<string, unknown>, this.#identity), certnames: certnames && new Set(certnames) };
    this.#sent.set(sent.id, sent);
    this.#publish(sent, certnames);
  }

  /** Send the same signed bytes again to the nodes still open (after the broker came back). */
  resend(open: ReadonlySet<string>): number {
    let n = 0;
    for (const s of this.#sent.values()) {
      const targets = s.certnames === undefined ? undefined : [...s.certnames].filter((c) => open.has(c));
      if (targets !== undefined && targets.length === 0) continue;
      this.#publish(s, targets);
      n += targets?.length ?? 1;
    }
    return n;
  }

  isOurs(id: string): boolean {
    return this.#sent.has(id);
  }

  /** Was this node a target of that request? (A broadcast targets everyone.) */
  targeted(id: string, certname: string): boolean {
    const s = this.#sent.get(id);
    return !!s && (s.certnames === undefined || s.certnames.has(certname));
  }

  #publish(s: SentRequest, certnames: readonly string[] | undefined): void {
    if (certnames === undefined) this.#nc.publish(this.#subjects.broadcast, s.bytes);
    else for (const c of certnames) this.#nc.publish(this.#subjects.node(c), s.bytes);
  }
}

/** Every message on the reply subjects, as claimed (the caller decides what to verify and when). */
export function subscribeReplies(
  nc: NatsConnection, subjects: Subjects, trust: PuppetTrust, maxBytes: number, log: Logger,
  onReply: (c: ClaimedReply) => void,
): void {
  nc.subscribe(subjects.allReplies, {
    callback: (err, msg) => {
      if (err) return log.warn({ err }, "reply subscription error");
      const c = claimReply(msg.data, trust, maxBytes);
      if (!("verify" in c)) return log.warn({ subject: msg.subject, reason: c.reason }, "reply rejected");
      onReply(c);
    },
  });
}
