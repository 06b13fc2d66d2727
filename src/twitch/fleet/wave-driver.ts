// The I/O around a wave of `fleet run` (the decisions are ./waves.ts): send a signed request for
// each batch the wave releases, feed it every verified reply (what is verified when:
// ./reply-gate.ts), time out silent nodes, ask open
// nodes again when they stay silent for reaskMs or the broker connection comes back (a node
// repeats its answer and never runs a request twice), and draw the progress line.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../../log.js";
import type { Identity } from "../broker/envelope.js";
import type { WireFilter } from "../broker/filter.js";
import type { Subjects } from "../broker/subjects.js";
import type { PuppetTrust } from "../broker/trust.js";
import type { RunOptions } from "../params.js";
import type { FleetReply } from "../broker/messages.js";
import { BrokerClient, subscribeReplies } from "./broker-client.js";
import { progressLine } from "./broker-report.js";
import { ReplyGate } from "./reply-gate.js";
import { Wave, type NodeRow, type WaveOptions } from "./waves.js";

export interface WaveRun {
  nc: NatsConnection;
  subjects: Subjects;
  identity: Identity;
  trust: PuppetTrust;
  nodes: string[];
  wave: WaveOptions;
  filter: WireFilter;
  options: RunOptions;
  ttlMs: number;
  reaskMs: number;
  /** Longest sleep between two passes when no reply wakes the loop. */
  tickMs: number;
  broadcast: boolean;
  progress: NodeJS.WritableStream | undefined;
  log: Logger;
  now?: () => number;
}

export async function driveWave(r: WaveRun): Promise<NodeRow[]> {
  const now = r.now ?? Date.now;
  const client = new BrokerClient(r.nc, r.subjects, r.identity);
  const w = new Wave(r.nodes, r.wave);
  let wake: (() => void) | undefined;
  // When each open node was last asked or last heard from.
  const contact = new Map<string, number>();
  const gate = new ReplyGate((certname, reason) => r.log.warn({ certname, reason }, "reply rejected"));
  const apply = (reply: FleetReply, at: number) => {
    contact.set(reply.certname, now());
    w.reply(reply, at);
    wake?.();
  };
  subscribeReplies(r.nc, r.subjects, r.trust, 1024 * 1024, r.log, (claim) => {
    const { id, certname } = claim.reply;
    // Not an answer to our requests from one of their targets: ignored, verified or not.
    if (!client.isOurs(id) || !client.targeted(id, certname)) return;
    const t = now();
    const reply = gate.offer(claim, t, w.stateOf(certname) === "asked");
    if (reply) apply(reply, t);
  });
  await r.nc.flush();
  void (async () => {
    for await (const s of r.nc.status()) {
      if (s.type !== "reconnect") continue;
      const open = w.open;
      const n = client.resend(new Set(open));
      for (const c of open) contact.set(c, now());
      r.log.warn({ resent: n }, "broker connection back: asked the open nodes again");
    }
  })();
  let lastReask = now();
  let lastTick = 0;
  let lastDraw = 0;
  while (!w.done) {
    const t = now();
    if (t - lastTick >= 50) {
      lastTick = t;
      // A held START matters only now: it decides whether the node is silent or running.
      for (const c of gate.held) {
        if (w.stateOf(c) !== "asked") gate.forget(c);
        else if (w.startOverdue(c, t)) {
          const s = gate.confirm(c);
          if (s) apply(s.reply, s.at);
        }
      }
      w.tick(t);
    }
    const batch = w.take(t);
    if (batch.length > 0) client.send(r.broadcast ? undefined : batch, r.filter, r.options, r.ttlMs, t);
    for (const c of batch) contact.set(c, t);
    if (t - lastReask >= 1000) {
      lastReask = t;
      const silent = w.open.filter((c) => t - (contact.get(c) ?? t) >= r.reaskMs);
      if (silent.length > 0) {
        client.resend(new Set(silent));
        for (const c of silent) contact.set(c, t);
        r.log.info({ nodes: silent.length }, "asked silent nodes again");
      }
    }
    if (r.progress && t - lastDraw >= 100) {
      lastDraw = t;
      r.progress.write(progressLine(w.rows));
    }
    if (w.done) break;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, r.tickMs);
      wake = () => {
        wake = undefined;
        clearTimeout(timer);
        // Coalesce the replies of one burst into one batch.
        setTimeout(resolve, 2);
      };
    });
    wake = undefined;
  }
  r.progress?.write("\r\x1b[K");
  return w.rows;
}
