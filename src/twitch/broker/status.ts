// Fleet status records: after every agent run a node puts its last-run summary and a small facts
// digest, signed, under its certname in a JetStream key-value bucket; `fleet status` reads the
// newest record of every key. The record shape and the reading of a bucket live here.
import type { NatsConnection } from "@nats-io/transport-node";
import type { KV } from "@nats-io/kv";
import type { LastRun } from "../summary.js";
import { DroppedMessage, open, seal, type Identity } from "./envelope.js";
import { kvSubject } from "./subjects.js";
import type { PuppetTrust } from "./trust.js";

export interface StatusRecord {
  certname: string;
  /** When the node published this record, ms since the epoch. */
  published: number;
  lastRun: {
    time: string | null;
    outcome: string;
    exitCode: number;
    changed: number;
    failed: number;
    total: number;
    durationSeconds: number | null;
  } | null;
  facts: Record<string, string>;
}

export function statusRecord(certname: string, last: LastRun | undefined, facts: Record<string, string>, now: number): StatusRecord {
  return {
    certname,
    published: now,
    lastRun: last === undefined ? null : {
      time: last.time ?? null, outcome: last.outcome, exitCode: last.exitCode, changed: last.resources.changed,
      failed: last.resources.failed, total: last.resources.total, durationSeconds: last.durationSeconds ?? null,
    },
    facts,
  };
}

/** The bucket, bound without API calls a node's broker permissions would refuse. */
export async function bindBucket(nc: NatsConnection, bucket: string, create: boolean): Promise<KV> {
  const [{ jetstream }, { Kvm }] = await Promise.all([import("@nats-io/jetstream"), import("@nats-io/kv")]);
  const js = jetstream(nc, { checkAPI: false });
  const kvm = new Kvm(js);
  return create ? kvm.create(bucket, { history: 1 }) : kvm.open(bucket);
}

/**
 * A node's put of its record: a plain JetStream publish to `$KV.<bucket>.<certname>` awaiting the
 * stream's ack, which is all a KV put is. Nodes thereby load neither @nats-io/jetstream nor
 * @nats-io/kv (a few MB of idle RSS on every node); controllers read through the KV library.
 */
export async function putStatus(nc: NatsConnection, bucket: string, record: StatusRecord, id: Identity, timeoutMs = 10_000): Promise<void> {
  const reply = await nc.request(kvSubject(bucket, record.certname), seal(record as unknown as Record<string, unknown>, id), { timeout: timeoutMs });
  const ack = JSON.parse(Buffer.from(reply.data).toString("utf8") || "{}") as { error?: { description?: string }; seq?: number };
  if (ack.error || typeof ack.seq !== "number") throw new Error(`status bucket ${bucket} refused the record: ${ack.error?.description ?? "no ack"}`);
}

export interface ReadStatus {
  records: StatusRecord[];
  /** Keys whose value failed verification, or was signed by another certname than its key. */
  rejected: { key: string; reason: string }[];
}

/**
 * What one bucket entry verified to, by key: reused by the next read while the entry's revision is
 * the same (and the caller keeps the same trust), so a periodic reader verifies only what changed.
 */
export type StatusCache = Map<string, StatusEntry>;
export interface StatusEntry { revision: number; record?: StatusRecord; rejected?: string }

/** One bucket entry verified: signed by the certname of its key, with a payload naming that certname. */
export function verifyEntry(e: { key: string; value: Uint8Array; revision: number }, trust: PuppetTrust, maxBytes: number): StatusEntry {
  try {
    const { payload, signer } = open(e.value, trust, maxBytes);
    if (signer.certname !== e.key || payload.certname !== e.key) throw new DroppedMessage("bad-signature", `signed by ${signer.certname}`);
    return { revision: e.revision, record: payload as unknown as StatusRecord };
  } catch (err) {
    return { revision: e.revision, rejected: (err as Error).message };
  }
}

/** Every key's newest value, verified; stops when the watcher has delivered the initial values. */
export async function readAllStatus(kv: KV, trust: PuppetTrust, maxBytes: number, cache?: StatusCache): Promise<ReadStatus & { verified: number }> {
  const out = { records: [] as StatusRecord[], rejected: [] as ReadStatus["rejected"], verified: 0 };
  const seen: StatusCache = new Map();
  const st = await kv.status();
  if (st.values === 0) {
    cache?.clear();
    return out;
  }
  const iter = await kv.watch();
  for await (const e of iter) {
    if (e.operation === "PUT") {
      let entry = cache?.get(e.key);
      if (entry?.revision !== e.revision) {
        out.verified++;
        entry = verifyEntry(e, trust, maxBytes);
      }
      seen.set(e.key, entry);
      if (entry.record) out.records.push(entry.record);
      else out.rejected.push({ key: e.key, reason: entry.rejected ?? "" });
    }
    if (e.delta === 0) break;
  }
  iter.stop();
  if (cache) {
    cache.clear();
    for (const [k, v] of seen) cache.set(k, v);
  }
  return out;
}
