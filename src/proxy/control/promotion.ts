// What happens when a standby is promoted (failover or admin switch), inside the write hold before
// held writes are released: record its sync lag (the worst-case loss window) and advance its serial
// by proxy.ca.serialGap at the new epoch through its sync agent. Neither may stop the promotion: an
// unreachable agent leaves a warning in /health and an event.
import { EventKind, type EventLog } from "../../health/events.js";
import type { Logger } from "../../log.js";
import type { PromotionEvent } from "./arbiter.js";
import type { SyncPeer } from "./sync-peer.js";

export interface PromotionRecord {
  /** The promoted CA's sync lag when it was promoted (undefined: unknown). */
  lagMs: number | undefined;
  /** Warnings of the last promotion, shown in /health arbiter.warnings until the next change. */
  warnings: string[];
}

export interface PromotionOptions {
  peer(worker: string): SyncPeer | undefined;
  serialGap(): number;
  /** Each call to the sync agent must finish within this (the held writes wait meanwhile). */
  timeoutMs(): number;
  events: EventLog;
  log: Logger;
  /** Called with the outcome (lag only for failovers; a failback was proven in sync). */
  record(r: Partial<PromotionRecord> & { warnings: string[] }): void;
}

export function promotionHook(o: PromotionOptions): (e: PromotionEvent) => Promise<void> {
  return async (e) => {
    if (e.cause === "failback") {
      // The final pull under the write hold proved both cadirs equal: no gap, no loss window.
      o.record({ warnings: [] });
      return;
    }
    const warnings: string[] = [];
    const peer = o.peer(e.to);
    let lagMs: number | undefined;
    let serial = "serial not advanced";
    if (!peer) {
      warnings.push(`${e.to} promoted at epoch ${e.epoch} without a serial advance: no sync agent is configured for it (sync section or proxy.ca.workers[].sync)`);
    } else {
      try {
        const s = await peer.status(o.timeoutMs());
        lagMs = s?.lagMs;
        if (!s) warnings.push(`sync lag of ${e.to} unknown at its promotion: its sync agent (${peer.where}) does not write its cadir`);
        else if (s.lagMs === undefined) warnings.push(`sync lag of ${e.to} unknown at its promotion (never in sync)`);
      } catch (err) {
        warnings.push(`sync lag of ${e.to} unknown at its promotion: ${(err as Error).message}`);
      }
      const gap = o.serialGap();
      try {
        const done = await peer.advanceSerial(gap, e.epoch, o.timeoutMs());
        serial = `serial ${done.before} -> ${done.after}`;
        o.log.warn({ ca: e.to, epoch: e.epoch, before: done.before, after: done.after, gap }, "promoted CA's serial advanced");
      } catch (err) {
        warnings.push(`${e.to} promoted at epoch ${e.epoch} without a serial advance (${peer.where}): ${(err as Error).message}`);
      }
    }
    o.log.warn({ from: e.from, to: e.to, epoch: e.epoch, lastFailoverLagMs: lagMs }, `worst-case loss window at this promotion: ${lagMs === undefined ? "unknown" : `${lagMs} ms`} (sync lag of ${e.to})`);
    for (const w of warnings) o.log.warn({ ca: e.to, epoch: e.epoch }, w);
    o.record({ lagMs, warnings });
    o.events.record(EventKind.failover, `${e.from} -> ${e.to} at epoch ${e.epoch} (${e.cause}: ${e.detail}); ${serial}; sync lag ${lagMs === undefined ? "unknown" : `${lagMs} ms`}${warnings.length ? `; WARNING: ${warnings.join("; ")}` : ""}`);
  };
}
