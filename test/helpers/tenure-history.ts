// A history of controller tenures recorded from Election events, and the checker over it: no two
// tenures may overlap, where a tenure ends at its step-down or at its own deadline, whichever is first
// (isController() is false from the deadline on, whether or not the step-down timer has run yet).
import type { Election } from "../../src/proxy/control/election.js";

export interface Tenure {
  member: string;
  start: number;
  /** When it stepped down (undefined: still holding, or died holding). */
  end: number | undefined;
  /** Its last deadline. */
  deadline: number;
}

export class TenureHistory {
  readonly tenures: Tenure[] = [];

  /** Record every tenure of this contender. */
  watch(member: string, election: Election): void {
    let open: Tenure | undefined;
    election.on((e) => {
      if (e.kind === "elected") {
        open = { member, start: e.at, end: undefined, deadline: e.deadline };
        this.tenures.push(open);
      } else if (e.kind === "renewed" && open) open.deadline = e.deadline;
      else if (e.kind === "lost" && open) {
        open.end = e.at;
        open = undefined;
      }
    });
  }

  /** The member holding now (by its own view: tenure open and deadline not passed). */
  holderAt(now: number): string | undefined {
    return this.tenures.find((t) => t.start <= now && now < effectiveEnd(t))?.member;
  }

  /** Every pair of overlapping tenures, described; empty when the history is safe. */
  violations(): string[] {
    const out: string[] = [];
    const sorted = [...this.tenures].sort((a, b) => a.start - b.start);
    for (let i = 0; i < sorted.length; i++) {
      for (let j = i + 1; j < sorted.length; j++) {
        const a = sorted[i] as Tenure;
        const b = sorted[j] as Tenure;
        if (b.start < effectiveEnd(a)) {
          out.push(`${a.member} [${a.start}, ${effectiveEnd(a)}) overlaps ${b.member} [${b.start}, ${effectiveEnd(b)})`);
        }
      }
    }
    return out;
  }
}

function effectiveEnd(t: Tenure): number {
  return t.end === undefined ? t.deadline : Math.min(t.end, t.deadline);
}
