// A node's answer to one fleet message: verify it (./envelope.ts), admit it (./admission.ts),
// evaluate its filter on the cached facts, then NOOP, or START the agent through the same
// AgentRunner the HTTP trigger uses (same locks, one run at a time, disabled agent refused) and
// COMPLETE when it exits. Nothing is answered to a message that cannot be verified (only logged).
import type { Logger } from "../log.js";
import { AgentDisabledError, AlreadyRunningError } from "../errors.js";
import type { AgentRunner, RunResult } from "../runner.js";
import { admit, type AdmissionPolicy, type SeenRequests } from "./admission.js";
import { DroppedMessage, open, seal, type Identity } from "./envelope.js";
import { FilterError, mismatch, parseFilter, type NodeFacts } from "./filter.js";
import { BadMessageError, readRequest, type FleetReply, type FleetRequest, type RunReport } from "./messages.js";
import type { Subjects } from "./subjects.js";
import type { PuppetTrust } from "./trust.js";

export interface HandlerDeps {
  identity: Identity;
  trust: () => PuppetTrust;
  policy: AdmissionPolicy;
  maxMessageBytes: number;
  seen: SeenRequests;
  facts: () => NodeFacts;
  runner: AgentRunner;
  subjects: Subjects;
  publish: (subject: string, data: Uint8Array) => void;
  now: () => number;
  log: Logger;
  /** Called when a run started by a request has finished (facts refresh, status publish). */
  onRunDone?: (r: RunResult) => void;
  /**
   * How a message is opened (default ./envelope.ts open). A benchmark simulating many nodes in one
   * process shares one verification of a request among the nodes it names.
   */
  open?: typeof open;
}

export function runReport(r: RunResult): RunReport {
  return {
    exitCode: r.exitCode ?? null, status: r.status, outcome: r.summary?.outcome ?? null,
    changed: r.summary?.resources.changed ?? null, failed: r.summary?.resources.failed ?? null, total: r.summary?.resources.total ?? null,
    durationMs: r.summary?.durationSeconds !== undefined ? Math.round(r.summary.durationSeconds * 1000) : r.durationMs,
    message: r.message,
  };
}

export type HandleOutcome = "dropped" | "repeated" | "noop" | "refused" | "started";

export class RequestHandler {
  readonly #d: HandlerDeps;

  constructor(d: HandlerDeps) {
    this.#d = d;
  }

  /** Returns what was done, for logs and tests; never throws. */
  handle(data: Uint8Array): HandleOutcome {
    const d = this.#d;
    let req: FleetRequest;
    let signer: string;
    try {
      const opened = (d.open ?? open)(data, d.trust(), d.maxMessageBytes);
      signer = opened.signer.certname;
      req = readRequest(opened.payload);
    } catch (err) {
      if (err instanceof DroppedMessage || err instanceof BadMessageError) {
        d.log.warn({ reason: err instanceof DroppedMessage ? err.reason : "bad-request", detail: err.message, bytes: data.byteLength }, "fleet request dropped");
        return "dropped";
      }
      d.log.error({ err }, "fleet request dropped: unexpected error");
      return "dropped";
    }
    const a = admit(req, signer, d.policy, d.seen, d.now());
    if (a.act === "drop") {
      d.log.warn({ request: req.id, signer, reason: a.reason, detail: a.detail }, "fleet request dropped");
      return "dropped";
    }
    if (a.act === "seen") {
      // The same request again (a controller asking after a broker restart): never run twice,
      // but say again what we already said.
      if (a.last) this.#send(a.last);
      d.log.info({ request: req.id, signer, repeated: a.last?.kind ?? null }, "fleet request seen before; not run again");
      return "repeated";
    }
    let miss: string | undefined;
    try {
      miss = mismatch(parseFilter(req.filter), d.facts());
    } catch (err) {
      if (!(err instanceof FilterError)) throw err;
      this.#reply(req, "refused", { reason: `bad filter: ${err.message}` });
      return "refused";
    }
    if (miss !== undefined) {
      this.#reply(req, "noop", { reason: miss });
      return "noop";
    }
    let run: { id: string; done: Promise<RunResult> };
    try {
      run = d.runner.start(req.options, `fleet:${signer}`);
    } catch (err) {
      const reason = err instanceof AgentDisabledError ? `disabled: ${err.disabledMessage || "(no reason given)"}`
        : err instanceof AlreadyRunningError ? "already running" : `cannot start: ${(err as Error).message}`;
      this.#reply(req, "refused", { reason });
      d.log.info({ request: req.id, signer, reason }, "fleet request refused");
      return "refused";
    }
    d.log.info({ request: req.id, signer, run: run.id }, "fleet request: puppet run started");
    this.#reply(req, "start", {});
    void run.done.then((r) => {
      this.#reply(req, "complete", { run: runReport(r) });
      d.onRunDone?.(r);
    });
    return "started";
  }

  #reply(req: FleetRequest, kind: FleetReply["kind"], extra: Pick<FleetReply, "reason" | "run">): void {
    const reply: FleetReply = { id: req.id, certname: this.#d.identity.certname, kind, time: this.#d.now(), ...extra };
    this.#d.seen.answered(req.id, reply);
    this.#send(reply);
  }

  #send(reply: FleetReply): void {
    const d = this.#d;
    d.publish(d.subjects.reply(reply.id, reply.certname), seal(reply as unknown as Record<string, unknown>, d.identity));
  }
}
