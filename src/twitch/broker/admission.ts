// Whether a node acts on a verified request: the signer's certname is allowlisted, the request is
// neither expired nor from the future beyond the allowed skew, its ttl is within bounds, and its id
// was not seen before (replay). Seen ids are kept until their request expires, so the cache holds
// at most the requests of one ttl window. Pure apart from the injected clock.
import { matchesAny } from "../auth.js";
import type { FleetReply, FleetRequest } from "./messages.js";

export interface AdmissionPolicy {
  allow: readonly string[];
  maxSkewMs: number;
  maxTtlMs: number;
}

export type Admission =
  | { act: "handle" }
  | { act: "drop"; reason: "signer-not-allowed" | "expired" | "future" | "ttl-too-long"; detail: string }
  /** Seen before: never run again; `last` is the answer already given, if any, to send again. */
  | { act: "seen"; last: FleetReply | undefined };

interface Seen {
  expires: number;
  last: FleetReply | undefined;
}

export class SeenRequests {
  readonly #seen = new Map<string, Seen>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  get size(): number {
    return this.#seen.size;
  }

  get(id: string): Seen | undefined {
    const s = this.#seen.get(id);
    return s && s.expires >= this.#now() ? s : undefined;
  }

  add(id: string, expires: number): void {
    this.#prune();
    this.#seen.set(id, { expires, last: undefined });
  }

  /** Remember the latest answer for a request, to repeat it when the request comes again. */
  answered(id: string, reply: FleetReply): void {
    const s = this.#seen.get(id);
    if (s) s.last = reply;
  }

  #prune(): void {
    const now = this.#now();
    // Insertion order is close to expiry order: stop at the first live entry (get() checks anyway).
    for (const [id, s] of this.#seen) {
      if (s.expires >= now) break;
      this.#seen.delete(id);
    }
  }
}

export function admit(req: FleetRequest, signer: string, policy: AdmissionPolicy, seen: SeenRequests, now: number): Admission {
  if (!matchesAny(signer, policy.allow)) return { act: "drop", reason: "signer-not-allowed", detail: `signer ${signer} is not on broker.allow` };
  if (req.ttl > policy.maxTtlMs) return { act: "drop", reason: "ttl-too-long", detail: `ttl ${req.ttl} ms is above ${policy.maxTtlMs} ms` };
  if (req.time > now + policy.maxSkewMs) return { act: "drop", reason: "future", detail: `sent ${req.time - now} ms in the future` };
  if (req.time + req.ttl < now - policy.maxSkewMs) return { act: "drop", reason: "expired", detail: `expired ${now - req.time - req.ttl} ms ago` };
  const s = seen.get(req.id);
  if (s) return { act: "seen", last: s.last };
  seen.add(req.id, req.time + req.ttl + policy.maxSkewMs);
  return { act: "handle" };
}
