// The NATS subjects of the fleet, in one place: requests (broadcast and per certname), replies
// (per request id and certname), per-node inboxes, and the status bucket's keys.
import { createHash } from "node:crypto";

/** A certname usable as NATS subject tokens and a KV key: dot-separated words of [A-Za-z0-9_-]. */
export const CERTNAME = /^[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63}){0,15}$/;
/** A subject prefix: one or more tokens of [A-Za-z0-9_-]. */
export const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
/** A request id: one subject token. */
export const REQUEST_ID = /^[A-Za-z0-9_-]{8,64}$/;

export function isSubjectCertname(certname: string): boolean {
  return CERTNAME.test(certname);
}

export interface Subjects {
  broadcast: string;
  node(certname: string): string;
  reply(requestId: string, certname: string): string;
  /** What a controller subscribes to for every reply. */
  allReplies: string;
  /** What a node may publish replies on (permission pattern). */
  nodeReplies(certname: string): string;
}

export function subjects(prefix: string): Subjects {
  return {
    broadcast: `${prefix}.req.all`,
    node: (certname) => `${prefix}.req.node.${certname}`,
    reply: (id, certname) => `${prefix}.reply.${id}.${certname}`,
    allReplies: `${prefix}.reply.>`,
    nodeReplies: (certname) => `${prefix}.reply.*.${certname}`,
  };
}

/**
 * A node's private inbox prefix (for JetStream acks): hashed, because `_INBOX_web1.>` would also
 * cover `_INBOX_web1.example.com...` and the broker permission must name one node only.
 */
export function inboxPrefix(certname: string): string {
  return `_INBOX_${createHash("sha256").update(certname).digest("hex").slice(0, 24)}`;
}

/** The JetStream subject a KV put of `key` in `bucket` publishes to. */
export function kvSubject(bucket: string, key: string): string {
  return `$KV.${bucket}.${key}`;
}
