// Which replies the controller verifies, and when. NOOP, REFUSED and COMPLETE decide a node's
// outcome: each is verified at once (certificate chain, signature, signer = claimed certname).
// A START decides nothing by itself: it only moves an asked node from the start timeout to the
// run timeout. So the first START of an asked node is held unverified, with its arrival time, and
// verified only if that move is ever needed: when the start timeout passes with no verified
// answer. A verified answer discards it unread (half the signature checks of a wave). A second
// START while one is held, and every other kind, is verified at once. A forged START therefore
// changes nothing: held, it fails its check at the start timeout (logged) and the node is
// no-answer exactly as without it; the genuine START behind it was verified on arrival.
import type { FleetReply } from "../broker/messages.js";

export type ReplyVerdict = { ok: true; reply: FleetReply } | { ok: false; reason: string };

/** A reply as it claims to be (shape checked, nothing verified) and how to verify it. */
export interface ClaimedReply {
  reply: FleetReply;
  verify(): ReplyVerdict;
}

export class ReplyGate {
  readonly #held = new Map<string, { claim: ClaimedReply; at: number }>();
  readonly #reject: (certname: string, reason: string) => void;

  constructor(reject: (certname: string, reason: string) => void) {
    this.#reject = reject;
  }

  /**
   * A reply from a node targeted by one of our requests; `asked`: that node has neither started
   * nor answered yet. Returns the verified reply to apply now, or undefined.
   */
  offer(claim: ClaimedReply, now: number, asked: boolean): FleetReply | undefined {
    const certname = claim.reply.certname;
    if (claim.reply.kind === "start") {
      // A START for a node already running or ended (a repeat after a re-ask) would change nothing.
      if (!asked) return undefined;
      if (!this.#held.has(certname)) {
        this.#held.set(certname, { claim, at: now });
        return undefined;
      }
    }
    const v = claim.verify();
    if (!v.ok) {
      this.#reject(certname, v.reason);
      return undefined;
    }
    this.#held.delete(certname);
    return v.reply;
  }

  /** Certnames with a START held unverified. */
  get held(): string[] {
    return [...this.#held.keys()];
  }

  /**
   * The start timeout of this node passed: verify its held START. Returns the verified START (to
   * apply at `at`, when it arrived), or undefined when there was none or it was forged.
   */
  confirm(certname: string): { reply: FleetReply; at: number } | undefined {
    const h = this.#held.get(certname);
    if (!h) return undefined;
    this.#held.delete(certname);
    const v = h.claim.verify();
    if (!v.ok) {
      this.#reject(certname, v.reason);
      return undefined;
    }
    return { reply: v.reply, at: h.at };
  }

  /** The node ended (timed out): nothing held for it matters any more. */
  forget(certname: string): void {
    this.#held.delete(certname);
  }
}
