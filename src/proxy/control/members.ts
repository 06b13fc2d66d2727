// The member registry: each proxy publishes, under its own lease, what the controller must know
// before a guarded failback (the state it applied, its CA writes in flight, its hold acknowledgement)
// and what /health shows. A member whose lease expired vanishes from the registry with it.
import { LeaseExpiredError, StateError } from "../../errors.js";
import type { EtcdClient } from "./etcd.js";

export interface MemberRecord {
  name: string;
  /** Where its admin API listens (status, admin actions). */
  adminUrl: string;
  /** Epoch of the CA state it routes by. */
  appliedEpoch: number;
  /** Age of its view when published (ms since its last linearizable read), null before the first. */
  viewAgeMs: number | null;
  /** CA writes it has sent and not yet seen answered. */
  caWritesInFlight: number;
  /** Id of the write hold it acknowledges: it holds every CA write and has none in flight. */
  holdAck: string | null;
  /** Its clock when it published (ms since the epoch; informative only). */
  publishedAt: number;
}

export const membersPrefix = (prefix: string) => `${prefix}/members/`;
export const memberKey = (prefix: string, name: string) => `${membersPrefix(prefix)}${name}`;

/** Parse a member record; `where` names the key in the error. */
export function parseMember(text: string, where: string): MemberRecord {
  let v: Partial<MemberRecord>;
  try {
    v = JSON.parse(text) as Partial<MemberRecord>;
  } catch (cause) {
    throw new StateError(where, "member record is not valid JSON", { cause });
  }
  const nullableNumber = (x: unknown) => x === null || (typeof x === "number" && x >= 0);
  if (!v || typeof v.name !== "string" || typeof v.adminUrl !== "string" || !Number.isSafeInteger(v.appliedEpoch)
    || !nullableNumber(v.viewAgeMs) || !Number.isSafeInteger(v.caWritesInFlight) || (v.caWritesInFlight as number) < 0
    || !(v.holdAck === null || typeof v.holdAck === "string") || typeof v.publishedAt !== "number") {
    throw new StateError(where, "member record must be {name, adminUrl, appliedEpoch, viewAgeMs, caWritesInFlight, holdAck, publishedAt}");
  }
  return {
    name: v.name, adminUrl: v.adminUrl, appliedEpoch: v.appliedEpoch as number, viewAgeMs: v.viewAgeMs as number | null,
    caWritesInFlight: v.caWritesInFlight as number, holdAck: v.holdAck, publishedAt: v.publishedAt,
  };
}

export interface RegistryOptions {
  client: Pick<EtcdClient, "put">;
  prefix: string;
  name: string;
  /** This proxy's lease (Election.leaseId); publishing waits for one. */
  lease(): string | undefined;
}

export class MemberRegistry {
  constructor(private readonly opts: RegistryOptions) {}

  /** Publish this member's record bound to its lease; throws LeaseExpiredError without a lease. */
  async publish(rec: Omit<MemberRecord, "name">): Promise<void> {
    const lease = this.opts.lease();
    if (!lease) throw new LeaseExpiredError("(none yet)");
    const record: MemberRecord = { name: this.opts.name, ...rec };
    await this.opts.client.put(memberKey(this.opts.prefix, this.opts.name), JSON.stringify(record), lease);
  }
}

/**
 * The members a failback hold must wait for, and whether all acknowledged `holdId` with no CA write
 * in flight. Members not in the registry (lease expired) are not waited for here: their view deadline,
 * shorter than their lease, has passed, so they cannot forward a CA write any more (unless etcd
 * revoked the lease early: the controller also waits out gone-members.ts).
 */
export function holdAcknowledged(members: readonly MemberRecord[], holdId: string): { done: boolean; waitingFor: string[] } {
  const waitingFor = members.filter((m) => m.holdAck !== holdId || m.caWritesInFlight > 0).map((m) => m.name);
  return { done: waitingFor.length === 0, waitingFor };
}
