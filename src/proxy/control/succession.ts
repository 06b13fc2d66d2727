// When a new controller may start acting: not before its predecessor's own deadline could have
// passed. A free controller key does not prove that: etcd before 3.4.30 lets a deposed leader that
// resumes revoke the leases its clock says expired, live ones included (etcd-io/etcd#15247).
//
// Every confirmed renewal (and every election) of a holder also writes the marker key (no lease, it
// outlives revocation) in the same txn; a holder that steps down cleanly writes "released" there.
// The marker's mod revision is the predecessor's last confirmed renewal: it committed after that
// renewal started, and any answer served at that revision or later was received after the commit.
// So the predecessor's deadline (renewal start + ttl - margin) is before that answer's receipt + ttl.
import type { KeyValue } from "./etcd-codec.js";

/** An etcd answer this contender received: when, and the store revision it was served at. */
export interface Observation {
  at: number;
  revision: number;
}

export const markerKey = (controllerKey: string) => `${controllerKey}.last`;
export const heldMarker = (member: string) => `held:${member}`;
export const releasedMarker = (member: string) => `released:${member}`;

export class Succession {
  /** Answers of the last ttl, oldest first, plus the newest older one. */
  private readonly seen: Observation[] = [];

  constructor(private readonly ttlMs: number) {}

  /** Record an answer from etcd (received at `at`, served at `revision`). */
  observe(at: number, revision: number): void {
    this.seen.push({ at, revision });
    // Older answers only ever prove "act now"; the newest of them proves it for the most revisions.
    while (this.seen.length > 1 && (this.seen[1] as Observation).at <= at - this.ttlMs) this.seen.shift();
  }

  /**
   * When `member`, which now holds the key, may act, given the marker as it was just before its
   * election (undefined: no holder was ever recorded) and the time now. Its own earlier tenure (or a
   * dead process's of the same name) has ended: member names are unique in a cluster.
   */
  actFrom(marker: KeyValue | undefined, now: number, member: string): number {
    if (!marker || marker.value.startsWith("released:") || marker.value === heldMarker(member)) return now;
    return this.afterRevision(marker.modRevision, now);
  }

  /** The earliest receipt of an answer served at `revision` or later, + ttl (now + ttl if none). */
  afterRevision(revision: number, now: number): number {
    const first = this.seen.find((o) => o.revision >= revision);
    return Math.max(now, (first?.at ?? now) + this.ttlMs);
  }
}
