// The fleet's counts on the proxy's status page: with a `fleet.broker` section the proxy reads the
// broker's status bucket every minute (each new or changed record verified once, as `fleet status` does: signed by the
// certname of its key) and keeps how many nodes report, how their last runs went and how many
// fell silent; given the signed certnames (./signed-certnames.ts), also how many never reported. A
// broker that is down only shows as an error on the page; the proxy never waits for it.
import { statSync } from "node:fs";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../log.js";
import type { FleetConfig } from "../broker/config.js";
import type { StatusCache, StatusRecord } from "../broker/status.js";
import type { FleetReport as FleetCounts } from "../../health/report.js";
import type { SignedCertnames } from "./signed-certnames.js";

export type { FleetCounts };

/** Pure: the counts of verified records at `now`. */
export function fleetCounts(records: readonly StatusRecord[], rejected: number, silentAfterMs: number, now: number): Omit<FleetCounts, "readAt" | "error"> {
  const c = { reporting: records.length, ok: 0, changed: 0, failed: 0, silent: 0, rejected, silentAfterMs };
  for (const r of records) {
    const last = r.lastRun;
    const seen = Math.max(r.published, last?.time ? Date.parse(last.time) : 0);
    if (now - seen > silentAfterMs) c.silent++;
    else if (last && last.failed > 0) c.failed++;
    else if (last && last.changed > 0) c.changed++;
    else c.ok++;
  }
  return c;
}

export const FLEET_COUNTS_EVERY_MS = 60_000;

export class FleetCountsWatcher {
  readonly #cfg: FleetConfig & { broker: NonNullable<FleetConfig["broker"]> };
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #signed: SignedCertnames | undefined;
  #signedError = "";
  #nc: NatsConnection | undefined;
  #timer: NodeJS.Timeout | undefined;
  #counts: FleetCounts;
  #stopped = false;
  /** Verified bucket entries by key and revision, valid while the CA and CRL files are unchanged. */
  readonly #cache: StatusCache = new Map();
  #trustStamp = "";
  /** How many entries the last read verified (the others were unchanged since the read before). */
  lastVerified = 0;

  constructor(cfg: FleetConfig & { broker: NonNullable<FleetConfig["broker"]> }, log: Logger, now: () => number = Date.now, signed?: SignedCertnames) {
    this.#cfg = cfg;
    this.#log = log;
    this.#now = now;
    this.#signed = signed;
    this.#counts = { reporting: 0, ok: 0, changed: 0, failed: 0, silent: 0, rejected: 0, silentAfterMs: cfg.silentAfter, readAt: undefined, error: undefined };
  }

  /** Read now, then every `everyMs` (the timer does not keep the process alive). */
  start(everyMs = FLEET_COUNTS_EVERY_MS): this {
    const tick = () => {
      void this.refresh().finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(tick, everyMs).unref();
      });
    };
    tick();
    return this;
  }

  get counts(): FleetCounts {
    return this.#counts;
  }

  /** One read of the whole bucket; never throws (the error is kept in the counts). */
  async refresh(): Promise<FleetCounts> {
    const b = this.#cfg.broker;
    try {
      const [{ connectBroker }, { bindBucket, readAllStatus }, { PuppetTrust }] = await Promise.all([
        import("../broker/connect.js"), import("../broker/status.js"), import("../broker/trust.js"),
      ]);
      this.#nc ??= await connectBroker({ urls: b.urls, cert: b.tls.cert, key: b.tls.key, ca: b.tls.ca, name: "proxy-status-page", connectTimeoutMs: 5000 }, this.#log);
      const kv = await bindBucket(this.#nc, this.#cfg.statusBucket, false);
      // The trust is read again each time (the CRL changes); a new CA or CRL file verifies every entry again.
      const stamp = [b.tls.ca, b.tls.crl].map((f) => { const st = f ? statSync(f, { throwIfNoEntry: false }) : undefined; return `${st?.mtimeMs}:${st?.size}:${st?.ino}`; }).join("|");
      if (stamp !== this.#trustStamp) this.#cache.clear();
      this.#trustStamp = stamp;
      const { records, rejected, verified } = await readAllStatus(kv, PuppetTrust.fromFiles(b.tls.ca, b.tls.crl), 1024 * 1024, this.#cache);
      this.lastVerified = verified;
      const never = await this.#neverReported(records);
      this.#counts = {
        ...fleetCounts(records, rejected.length, this.#cfg.silentAfter, this.#now()), ...(never === undefined ? {} : { neverReported: never }),
        readAt: new Date(this.#now()).toISOString(), error: undefined,
      };
    } catch (err) {
      this.#log.warn({ err }, "cannot read the fleet status bucket for the status page");
      this.#counts = { ...this.#counts, error: (err as Error).message };
    }
    return this.#counts;
  }

  /** Signed certnames without a verified record; undefined without a source or when it cannot be read (logged). */
  async #neverReported(records: readonly StatusRecord[]): Promise<number | undefined> {
    if (!this.#signed) return undefined;
    try {
      const signed = await this.#signed.read();
      const reporting = new Set(records.map((r) => r.certname));
      let n = 0;
      for (const name of signed) if (!reporting.has(name)) n++;
      this.#signedError = "";
      return n;
    } catch (err) {
      // Once per distinct failure, not every minute.
      if ((err as Error).message !== this.#signedError) this.#log.warn({ err, cadir: this.#signed.cadir }, "cannot read the signed certnames for the status page's never-reported count");
      this.#signedError = (err as Error).message;
      return undefined;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#nc?.close().catch(() => undefined);
  }
}
